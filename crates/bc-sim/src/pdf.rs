//! A minimal, valid PDF 1.4 writer: standard Helvetica with WinAnsiEncoding,
//! hand-built objects and a byte-exact xref table, so `pdftotext` and Q
//! Business can extract the text.

/// Encodes text as Windows-1252 (WinAnsi) and escapes PDF string syntax;
/// characters outside the code page become `?`.
fn winansi(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let b = match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                c as u8
            }
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            'Š' => 0x8a,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            'š' => 0x9a,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        };
        out.push(b);
    }
    out
}

/// Builds a PDF with the given lines of text (new page every 50 lines).
pub fn text_pdf(lines: &[String]) -> Vec<u8> {
    let pages: Vec<&[String]> = if lines.is_empty() {
        vec![&[][..]]
    } else {
        lines.chunks(50).collect()
    };
    let n = pages.len();
    // Objects: 1 catalog, 2 pages, 3 font, then per page: page obj, content obj.
    let mut objs: Vec<Vec<u8>> = Vec::new();
    objs.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
    objs.push(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    for (i, chunk) in pages.iter().enumerate() {
        objs.push(
            format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>", 5 + 2 * i)
                .into_bytes(),
        );
        let mut content = b"BT /F1 10 Tf 14 TL 50 800 Td\n".to_vec();
        for l in chunk.iter() {
            content.push(b'(');
            content.extend_from_slice(&winansi(l));
            content.extend_from_slice(b") Tj T*\n");
        }
        content.extend_from_slice(b"ET");
        let mut o = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        o.extend_from_slice(&content);
        o.extend_from_slice(b"\nendstream");
        objs.push(o);
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objs.len());
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xref_offsets_point_at_objects() {
        let pdf = text_pdf(&["Invoice 103001".into(), "Müller & Söhne (GmbH)".into()]);
        // Latin-1 view keeps byte offsets (one char per byte).
        let s: String = pdf.iter().map(|b| *b as char).collect();
        assert!(s.starts_with("%PDF-1.4"));
        let xref_at: usize = s
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[xref_at..].starts_with(b"xref"));
        let row = pdf[xref_at..].split(|b| *b == b'\n').nth(3).unwrap();
        let first: usize = std::str::from_utf8(&row[..10]).unwrap().parse().unwrap();
        assert!(pdf[first..].starts_with(b"1 0 obj"));
        assert!(pdf.windows(3).any(|w| w == b"M\xfcl"));
    }
}
