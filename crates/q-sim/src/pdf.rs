//! Minimal PDF text extraction: finds content streams (inflating
//! `FlateDecode` ones), then reads the strings shown by `Tj`, `TJ`, `'` and
//! `"` inside `BT … ET`. Enough for the text PDFs Business Central renders
//! with standard fonts; CID fonts with custom encodings come out as raw bytes.

/// Why a PDF could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// Missing `%PDF-` header.
    #[error("missing %PDF- header")]
    NotPdf,
    /// A stream could not be inflated.
    #[error("corrupt flate stream")]
    BadStream,
    /// No text shown anywhere.
    #[error("no text objects found")]
    NoText,
}

/// Extracts the text of a PDF.
pub fn extract_text(bytes: &[u8]) -> Result<String, PdfError> {
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    let mut out = String::new();
    let mut pos = 0;
    while let Some(s) = find(bytes, b"stream", pos) {
        // Skip the `endstream` keyword itself.
        if s >= 3 && &bytes[s - 3..s] == b"end" {
            pos = s + 6;
            continue;
        }
        let dict_start = rfind(&bytes[..s], b"obj").map(|p| p + 3).unwrap_or(0);
        let dict = &bytes[dict_start..s];
        let mut data_start = s + 6;
        if bytes.get(data_start) == Some(&b'\r') {
            data_start += 1;
        }
        if bytes.get(data_start) == Some(&b'\n') {
            data_start += 1;
        }
        let Some(end) = find(bytes, b"endstream", data_start) else {
            break;
        };
        pos = end + 9;
        let data = trim_eol(&bytes[data_start..end]);
        if contains(dict, b"/Image")
            || contains(dict, b"/XRef")
            || contains(dict, b"/ObjStm")
            || contains(dict, b"/Length1")
            || contains(dict, b"/Metadata")
            || contains(dict, b"/FontFile")
        {
            continue;
        }
        let content = if contains(dict, b"/FlateDecode") {
            miniz_oxide::inflate::decompress_to_vec_zlib(data).map_err(|_| PdfError::BadStream)?
        } else if contains(dict, b"/Filter") {
            continue; // other filters (DCT, LZW, ...) carry no text we read
        } else {
            data.to_vec()
        };
        read_content(&content, &mut out);
    }
    let text = out
        .split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if text.is_empty() {
        return Err(PdfError::NoText);
    }
    Ok(text)
}

fn trim_eol(d: &[u8]) -> &[u8] {
    let mut e = d.len();
    while e > 0 && (d[e - 1] == b'\n' || d[e - 1] == b'\r') {
        e -= 1;
    }
    &d[..e]
}

fn find(h: &[u8], n: &[u8], from: usize) -> Option<usize> {
    if from >= h.len() {
        return None;
    }
    h[from..]
        .windows(n.len())
        .position(|w| w == n)
        .map(|p| p + from)
}

fn rfind(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).rposition(|w| w == n)
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    find(h, n, 0).is_some()
}

enum Tok {
    Str(Vec<u8>),
    Num(f64),
    ArrOpen,
    ArrClose,
}

/// Tokenises a content stream and appends the shown text.
fn read_content(c: &[u8], out: &mut String) {
    let mut i = 0;
    let mut in_text = false;
    let mut operands: Vec<Tok> = Vec::new();
    let mut line = String::new();
    while i < c.len() {
        let b = c[i];
        match b {
            b' ' | b'\n' | b'\r' | b'\t' | 0x0c | 0 => i += 1,
            b'%' => {
                while i < c.len() && c[i] != b'\n' && c[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' => {
                let (s, n) = literal(&c[i..]);
                operands.push(Tok::Str(s));
                i += n;
            }
            b'<' if c.get(i + 1) == Some(&b'<') => {
                i += 2; // dictionaries (inline image params, marked content) are skipped
                operands.clear();
            }
            b'>' => i += 1,
            b'<' => {
                let end = c[i..]
                    .iter()
                    .position(|&x| x == b'>')
                    .map(|p| p + i)
                    .unwrap_or(c.len());
                let hex: Vec<u8> = c[i + 1..end]
                    .iter()
                    .copied()
                    .filter(|x| x.is_ascii_hexdigit())
                    .collect();
                let mut bytes = Vec::new();
                for ch in hex.chunks(2) {
                    let s = std::str::from_utf8(ch).unwrap_or("0");
                    let v = u8::from_str_radix(&format!("{s:0<2}"), 16).unwrap_or(0);
                    bytes.push(v);
                }
                operands.push(Tok::Str(bytes));
                i = end + 1;
            }
            b'[' => {
                operands.push(Tok::ArrOpen);
                i += 1;
            }
            b']' => {
                operands.push(Tok::ArrClose);
                i += 1;
            }
            b'/' => {
                i += 1;
                while i < c.len() && !is_delim(c[i]) {
                    i += 1;
                }
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => {
                let st = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == b'.') {
                    i += 1;
                }
                let n = std::str::from_utf8(&c[st..i])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                operands.push(Tok::Num(n));
            }
            _ => {
                let st = i;
                while i < c.len() && !is_delim(c[i]) {
                    i += 1;
                }
                if i == st {
                    i += 1;
                    continue;
                }
                let op = String::from_utf8_lossy(&c[st..i]).into_owned();
                match op.as_str() {
                    "BT" => in_text = true,
                    "ET" => {
                        in_text = false;
                        flush(&mut line, out);
                    }
                    "Tj" | "'" | "\"" if in_text => {
                        if op != "Tj" {
                            flush(&mut line, out);
                        }
                        if let Some(Tok::Str(s)) =
                            operands.iter().rev().find(|t| matches!(t, Tok::Str(_)))
                        {
                            line.push_str(&decode(s));
                        }
                    }
                    "TJ" if in_text => {
                        for t in &operands {
                            match t {
                                Tok::Str(s) => line.push_str(&decode(s)),
                                // A large negative kerning is a word gap.
                                Tok::Num(n) if *n < -200.0 => line.push(' '),
                                _ => {}
                            }
                        }
                    }
                    "Td" | "TD" | "T*" | "Tm" if in_text => {
                        let new_line = match (op.as_str(), operands.as_slice()) {
                            ("Td" | "TD", [.., Tok::Num(_), Tok::Num(ty)]) => *ty != 0.0,
                            _ => true,
                        };
                        if new_line {
                            flush(&mut line, out);
                        } else if !line.is_empty() {
                            line.push(' ');
                        }
                    }
                    _ => {}
                }
                operands.clear();
            }
        }
    }
    flush(&mut line, out);
}

fn flush(line: &mut String, out: &mut String) {
    if !line.trim().is_empty() {
        out.push_str(line.trim());
        out.push('\n');
    }
    line.clear();
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\n'
            | b'\r'
            | b'\t'
            | 0x0c
            | 0
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'/'
            | b'%'
            | b'{'
            | b'}'
    )
}

/// Reads a literal string starting at `(`; returns bytes and consumed length.
fn literal(c: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < c.len() {
        let b = c[i];
        match b {
            b'(' => {
                if depth > 0 {
                    out.push(b);
                }
                depth += 1;
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (out, i + 1);
                }
                out.push(b);
            }
            b'\\' => {
                i += 1;
                match c.get(i) {
                    Some(b'n') => out.push(b'\n'),
                    Some(b'r') => out.push(b'\r'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'b') => out.push(8),
                    Some(b'f') => out.push(12),
                    Some(b'\r') | Some(b'\n') => {}
                    Some(d @ b'0'..=b'7') => {
                        let mut v = u32::from(d - b'0');
                        let mut k = 0;
                        while k < 2 && matches!(c.get(i + 1), Some(b'0'..=b'7')) {
                            i += 1;
                            v = v * 8 + u32::from(c[i] - b'0');
                            k += 1;
                        }
                        out.push(v as u8);
                    }
                    Some(&o) => out.push(o),
                    None => {}
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    (out, c.len())
}

/// WinAnsiEncoding (Windows-1252) bytes 0x80–0x9F; the rest is Latin-1.
const WIN_ANSI_80: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Decodes string bytes: UTF-16BE with BOM, else WinAnsiEncoding (what the
/// standard fonts of generated documents, Business Central's included, use).
fn decode(s: &[u8]) -> String {
    if s.starts_with(&[0xfe, 0xff]) {
        let u: Vec<u16> = s[2..]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        return String::from_utf16_lossy(&u);
    }
    s.iter()
        .map(|&b| {
            if (0x80..0xa0).contains(&b) {
                WIN_ANSI_80[usize::from(b - 0x80)]
            } else {
                char::from(b)
            }
        })
        .collect()
}

/// Builds a small valid one-page PDF showing `lines` (Helvetica), with the
/// content stream optionally Flate-compressed. Used by tests and handy for
/// anyone who needs a real PDF.
pub fn make_pdf(lines: &[&str], compress: bool) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 72 720 Td 14 TL\n");
    for l in lines {
        let esc = l
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({esc}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let (stream, filter) = if compress {
        (
            miniz_oxide::deflate::compress_to_vec_zlib(content.as_bytes(), 6),
            " /Filter /FlateDecode",
        )
    } else {
        (content.into_bytes(), "")
    };
    let mut pdf: Vec<u8> = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let objs: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        {
            let mut v = format!("<< /Length {}{} >>\nstream\n", stream.len(), filter).into_bytes();
            v.extend_from_slice(&stream);
            v.extend_from_slice(b"\nendstream");
            v
        },
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    for (n, o) in objs.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", n + 1).as_bytes());
        pdf.extend_from_slice(o);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n",
            objs.len() + 1,
            xref
        )
        .as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_flate_pdfs() {
        for compress in [false, true] {
            let pdf = make_pdf(&["Invoice 103001", "Total (EUR) 1,234.50"], compress);
            assert_eq!(
                extract_text(&pdf).unwrap(),
                "Invoice 103001\nTotal (EUR) 1,234.50"
            );
        }
    }

    #[test]
    fn hand_written_tj_array_and_hex() {
        let pdf = b"%PDF-1.1\n1 0 obj\n<< /Length 60 >>\nstream\nBT [(Hel) -10 (lo) -500 (World)] TJ 0 -14 Td <414243> Tj ET\nendstream\nendobj\n%%EOF";
        assert_eq!(extract_text(pdf).unwrap(), "Hello World\nABC");
    }

    #[test]
    fn win_ansi_and_escapes() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<< /Length 40 >>\nstream\nBT (M\xfcller \\(GmbH\\) \x80 5 \\101) Tj ET\nendstream\nendobj\n";
        assert_eq!(
            extract_text(pdf).unwrap(),
            "M\u{fc}ller (GmbH) \u{20ac} 5 A"
        );
    }

    #[test]
    fn rejects_non_pdf_and_textless() {
        assert_eq!(extract_text(b"hello"), Err(PdfError::NotPdf));
        assert_eq!(extract_text(&make_pdf(&[], false)), Err(PdfError::NoText));
        let bad = b"%PDF-1.4\n1 0 obj << /Filter /FlateDecode /Length 3 >>\nstream\nabc\nendstream endobj";
        assert_eq!(extract_text(bad), Err(PdfError::BadStream));
    }
}
