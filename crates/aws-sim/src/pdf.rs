//! Minimal PDF text extraction: indexes objects (object streams included),
//! maps fonts to their ToUnicode CMaps, finds content streams (inflating
//! `FlateDecode` ones), then reads the strings shown by `Tj`, `TJ`, `'` and
//! `"` inside `BT … ET`, decoding through the font's CMap (Type0 / Identity-H
//! fonts) or WinAnsiEncoding (standard fonts). Fonts without a ToUnicode map
//! and non-Flate filters (LZW, ASCII85) are not decoded.

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

/// One indirect object: its dictionary (or whole body) and raw stream data.
struct Obj {
    num: u32,
    dict: Vec<u8>,
    stream: Option<Vec<u8>>,
}

/// Object number written before the `obj` keyword at `at` (`12 0 obj`).
fn obj_number(b: &[u8], at: usize) -> Option<u32> {
    let mut i = at;
    let skip_ws = |i: &mut usize| {
        while *i > 0 && b[*i - 1].is_ascii_whitespace() {
            *i -= 1;
        }
    };
    let digits = |i: &mut usize| {
        let end = *i;
        while *i > 0 && b[*i - 1].is_ascii_digit() {
            *i -= 1;
        }
        (*i < end)
            .then(|| std::str::from_utf8(&b[*i..end]).ok()?.parse::<u32>().ok())
            .flatten()
    };
    skip_ws(&mut i);
    digits(&mut i)?; // generation
    skip_ws(&mut i);
    digits(&mut i)
}

/// Every `N G obj … endobj`, objects inside object streams included.
fn objects(bytes: &[u8]) -> Vec<Obj> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(at) = find(bytes, b"obj", pos) {
        pos = at + 3;
        if at >= 3 && &bytes[at - 3..at] == b"end" {
            continue;
        }
        let Some(num) = obj_number(bytes, at) else {
            continue;
        };
        let body_end = find(bytes, b"endobj", pos).unwrap_or(bytes.len());
        let body = &bytes[pos..body_end];
        let stream_kw = (0..body.len().saturating_sub(5))
            .find(|&i| body[i..].starts_with(b"stream") && !(i >= 3 && &body[i - 3..i] == b"end"));
        match stream_kw {
            Some(sk) => {
                let mut ds = sk + 6;
                if body.get(ds) == Some(&b'\r') {
                    ds += 1;
                }
                if body.get(ds) == Some(&b'\n') {
                    ds += 1;
                }
                let de = find(body, b"endstream", ds).unwrap_or(body.len());
                out.push(Obj {
                    num,
                    dict: body[..sk].to_vec(),
                    stream: Some(trim_eol(&body[ds..de]).to_vec()),
                });
            }
            None => out.push(Obj {
                num,
                dict: body.to_vec(),
                stream: None,
            }),
        }
        pos = body_end;
    }
    let mut embedded = Vec::new();
    for o in &out {
        if contains(&o.dict, b"/ObjStm")
            && let Ok(Some(data)) = decoded(o)
        {
            embedded.extend(object_stream(&o.dict, &data));
        }
    }
    out.extend(embedded);
    out
}

/// Integer value of `/Key n` in a dictionary.
fn dict_int(dict: &[u8], key: &[u8]) -> Option<usize> {
    let at = find(dict, key, 0)? + key.len();
    let rest = &dict[at..];
    let s: String = rest
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    s.parse().ok()
}

/// Objects stored in a (decoded) object stream.
fn object_stream(dict: &[u8], data: &[u8]) -> Vec<Obj> {
    let (Some(n), Some(first)) = (dict_int(dict, b"/N"), dict_int(dict, b"/First")) else {
        return Vec::new();
    };
    let header = String::from_utf8_lossy(&data[..first.min(data.len())]).into_owned();
    let nums: Vec<usize> = header
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let pairs: Vec<(usize, usize)> = nums
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1]))
        .take(n)
        .collect();
    let mut out = Vec::new();
    for (i, (num, off)) in pairs.iter().enumerate() {
        let start = first + off;
        let end = pairs.get(i + 1).map_or(data.len(), |p| first + p.1);
        if start <= end && end <= data.len() {
            out.push(Obj {
                num: *num as u32,
                dict: data[start..end].to_vec(),
                stream: None,
            });
        }
    }
    out
}

/// Decoded stream data: `None` for filters that carry no text we read.
fn decoded(o: &Obj) -> Result<Option<Vec<u8>>, PdfError> {
    let Some(data) = &o.stream else {
        return Ok(None);
    };
    if contains(&o.dict, b"/FlateDecode") {
        miniz_oxide::inflate::decompress_to_vec_zlib(data)
            .map(Some)
            .map_err(|_| PdfError::BadStream)
    } else if contains(&o.dict, b"/Filter") {
        Ok(None)
    } else {
        Ok(Some(data.clone()))
    }
}

/// Referenced object number after `key` (`/ToUnicode 12 0 R`).
fn dict_ref(dict: &[u8], key: &[u8]) -> Option<u32> {
    let at = find(dict, key, 0)? + key.len();
    let toks: Vec<&[u8]> = dict[at..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .take(3)
        .collect();
    if toks.len() == 3 && toks[2].starts_with(b"R") {
        std::str::from_utf8(toks[0]).ok()?.parse().ok()
    } else {
        None
    }
}

/// A ToUnicode CMap: source code bytes → text.
#[derive(Debug, Default, Clone)]
struct CMap {
    code_len: usize,
    map: std::collections::HashMap<u32, String>,
}

fn hex_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(a) = rest.find(['<', '[', ']']) {
        let c = rest.as_bytes()[a];
        if c == b'<' {
            let Some(b) = rest[a..].find('>') else { break };
            out.push(
                rest[a + 1..a + b]
                    .chars()
                    .filter(|c| c.is_ascii_hexdigit())
                    .collect(),
            );
            rest = &rest[a + b + 1..];
        } else {
            out.push(char::from(c).to_string());
            rest = &rest[a + 1..];
        }
    }
    out
}

fn utf16_hex(h: &str) -> String {
    let units: Vec<u16> = h
        .as_bytes()
        .chunks(4)
        .filter_map(|c| u16::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect();
    String::from_utf16_lossy(&units)
}

impl CMap {
    fn parse(data: &[u8]) -> CMap {
        let s = String::from_utf8_lossy(data);
        let mut cm = CMap::default();
        let hex = |h: &str| u32::from_str_radix(h, 16).unwrap_or(0);
        for sec in s.split("beginbfchar").skip(1) {
            let body = sec.split("endbfchar").next().unwrap_or("");
            let t = hex_tokens(body);
            for pair in t.chunks(2).filter(|p| p.len() == 2) {
                cm.code_len = cm.code_len.max(pair[0].len() / 2);
                cm.map.insert(hex(&pair[0]), utf16_hex(&pair[1]));
            }
        }
        for sec in s.split("beginbfrange").skip(1) {
            let body = sec.split("endbfrange").next().unwrap_or("");
            let t = hex_tokens(body);
            let mut i = 0;
            while i + 2 < t.len() {
                let (lo, hi) = (hex(&t[i]), hex(&t[i + 1]));
                cm.code_len = cm.code_len.max(t[i].len() / 2);
                if t[i + 2] == "[" {
                    let mut j = i + 3;
                    let mut code = lo;
                    while j < t.len() && t[j] != "]" {
                        cm.map.insert(code, utf16_hex(&t[j]));
                        code += 1;
                        j += 1;
                    }
                    i = j + 1;
                } else {
                    let base: Vec<u16> = t[i + 2]
                        .as_bytes()
                        .chunks(4)
                        .filter_map(|c| u16::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
                        .collect();
                    for (k, code) in (lo..=hi.min(lo + 0xffff)).enumerate() {
                        let mut units = base.clone();
                        if let Some(last) = units.last_mut() {
                            *last = last.wrapping_add(k as u16);
                        }
                        cm.map.insert(code, String::from_utf16_lossy(&units));
                    }
                    i += 3;
                }
            }
        }
        cm.code_len = cm.code_len.clamp(1, 4);
        cm
    }

    fn decode(&self, s: &[u8]) -> String {
        s.chunks(self.code_len)
            .map(|c| {
                let code = c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
                self.map.get(&code).cloned().unwrap_or_default()
            })
            .collect()
    }
}

/// Font resource names (`/F1`) whose font has a ToUnicode CMap.
fn font_cmaps(objs: &[Obj]) -> std::collections::HashMap<String, CMap> {
    let by_num: std::collections::HashMap<u32, &Obj> = objs.iter().map(|o| (o.num, o)).collect();
    let mut out = std::collections::HashMap::new();
    for o in objs {
        let Some(at) = find(&o.dict, b"/Font", 0) else {
            continue;
        };
        let rest = &o.dict[at + 5..];
        let trimmed: &[u8] = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
        // `/Font << /F1 5 0 R >>` inline, or `/Font 9 0 R` pointing at that dictionary.
        let entries: Vec<u8> = if trimmed.starts_with(b"<<") {
            let end = find(trimmed, b">>", 0).unwrap_or(trimmed.len());
            trimmed[2..end].to_vec()
        } else if let Some(n) = dict_ref(&o.dict[at..], b"/Font") {
            by_num.get(&n).map(|d| d.dict.clone()).unwrap_or_default()
        } else {
            continue;
        };
        let toks: Vec<&[u8]> = entries
            .split(|b| b.is_ascii_whitespace() || *b == b'<' || *b == b'>')
            .filter(|t| !t.is_empty())
            .collect();
        for w in toks.windows(4) {
            if let (Some(name), true) = (w[0].strip_prefix(b"/"), w[3] == b"R") {
                let font = std::str::from_utf8(w[1])
                    .ok()
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(|n| by_num.get(&n));
                let cmap = font
                    .and_then(|f| dict_ref(&f.dict, b"/ToUnicode"))
                    .and_then(|n| by_num.get(&n))
                    .and_then(|c| decoded(c).ok().flatten())
                    .map(|d| CMap::parse(&d));
                if let Some(cm) = cmap {
                    out.insert(String::from_utf8_lossy(name).into_owned(), cm);
                }
            }
        }
    }
    out
}

/// Extracts the text of a PDF.
pub fn extract_text(bytes: &[u8]) -> Result<String, PdfError> {
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    let objs = objects(bytes);
    let fonts = font_cmaps(&objs);
    let mut out = String::new();
    for o in &objs {
        let dict = &o.dict;
        if o.stream.is_none()
            || contains(dict, b"/Image")
            || contains(dict, b"/XRef")
            || contains(dict, b"/ObjStm")
            || contains(dict, b"/Length1")
            || contains(dict, b"/Metadata")
            || contains(dict, b"/FontFile")
            || contains(dict, b"/CMapName")
        {
            continue;
        }
        if let Some(content) = decoded(o)? {
            read_content(&content, &fonts, &mut out);
        }
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

fn contains(h: &[u8], n: &[u8]) -> bool {
    find(h, n, 0).is_some()
}

enum Tok {
    Str(Vec<u8>),
    Num(f64),
    ArrOpen,
    ArrClose,
    Name(String),
}

/// Tokenises a content stream and appends the shown text.
fn read_content(c: &[u8], fonts: &std::collections::HashMap<String, CMap>, out: &mut String) {
    let mut font: Option<&CMap> = None;
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
                let st = i + 1;
                i += 1;
                while i < c.len() && !is_delim(c[i]) {
                    i += 1;
                }
                operands.push(Tok::Name(String::from_utf8_lossy(&c[st..i]).into_owned()));
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
                    "Tf" => {
                        font = operands.iter().rev().find_map(|t| match t {
                            Tok::Name(n) => fonts.get(n),
                            _ => None,
                        });
                    }
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
                            line.push_str(&show(font, s));
                        }
                    }
                    "TJ" if in_text => {
                        for t in &operands {
                            match t {
                                Tok::Str(s) => line.push_str(&show(font, s)),
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

/// Text of a shown string: through the font's ToUnicode CMap when it has one.
fn show(font: Option<&CMap>, s: &[u8]) -> String {
    match font {
        Some(cm) => cm.decode(s),
        None => decode(s),
    }
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
    fn type0_font_with_to_unicode_cmap_and_object_stream() {
        // Identity-H glyph ids 0x0003.. mapped by bfchar/bfrange; the font dict
        // lives in a compressed object stream as modern writers emit it.
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Adobe-Identity-UCS def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n2 beginbfchar <0003> <0020> <0010> <00DC> endbfchar\n2 beginbfrange <0024> <0026> <0041> <0030> <0031> [<0078> <0079>] endbfrange\nendcmap end end";
        let font_dicts = b"<< /Type /Font /Subtype /Type0 /BaseFont /ABC+Calibri /Encoding /Identity-H /ToUnicode 6 0 R >>";
        let objstm_body = {
            let mut v = b"5 0 ".to_vec();
            let first = v.len();
            v.extend_from_slice(font_dicts);
            (v, first)
        };
        let objstm = miniz_oxide::deflate::compress_to_vec_zlib(&objstm_body.0, 6);
        let content = b"BT /F2 11 Tf <00240025000300260010> Tj 0 -12 Td <00300031> Tj ET";
        let mut pdf = b"%PDF-1.5\n".to_vec();
        pdf.extend_from_slice(b"3 0 obj\n<< /Type /Page /Resources << /Font << /F2 5 0 R >> >> /Contents 4 0 R >>\nendobj\n");
        pdf.extend_from_slice(
            format!("4 0 obj\n<< /Length {} >>\nstream\n", content.len()).as_bytes(),
        );
        pdf.extend_from_slice(content);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf.extend_from_slice(
            format!("6 0 obj\n<< /Length {} >>\nstream\n", cmap.len()).as_bytes(),
        );
        pdf.extend_from_slice(cmap);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf.extend_from_slice(format!("7 0 obj\n<< /Type /ObjStm /N 1 /First {} /Filter /FlateDecode /Length {} >>\nstream\n", objstm_body.1, objstm.len()).as_bytes());
        pdf.extend_from_slice(&objstm);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        assert_eq!(extract_text(&pdf).unwrap(), "AB C\u{dc}\nxy");
    }

    #[test]
    fn rejects_non_pdf_and_textless() {
        assert_eq!(extract_text(b"hello"), Err(PdfError::NotPdf));
        assert_eq!(extract_text(&make_pdf(&[], false)), Err(PdfError::NoText));
        let bad = b"%PDF-1.4\n1 0 obj << /Filter /FlateDecode /Length 3 >>\nstream\nabc\nendstream endobj";
        assert_eq!(extract_text(bad), Err(PdfError::BadStream));
    }
}
