//! Text of Office Open XML files (docx, xlsx, pptx): a minimal zip reader
//! (central directory, stored or deflated entries) and the XML parts that
//! hold the text. Legacy binary Office files (OLE) are not parsed.

use crate::extract::strip_markup;

/// Why an Office file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OoxmlError {
    /// Not a zip archive (legacy binary `.doc`/`.xls`/`.ppt` land here).
    #[error("not an office open xml (zip) file")]
    NotZip,
    /// Broken archive structure.
    #[error("corrupt zip archive: {0}")]
    Corrupt(&'static str),
    /// Entry compressed with a method other than stored/deflate.
    #[error("unsupported zip compression method {0}")]
    Method(u16),
    /// The part holding the text is missing.
    #[error("missing part {0}")]
    MissingPart(&'static str),
}

fn u16le(b: &[u8], at: usize) -> Result<u16, OoxmlError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(OoxmlError::Corrupt("truncated"))
}
fn u32le(b: &[u8], at: usize) -> Result<u32, OoxmlError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(OoxmlError::Corrupt("truncated"))
}

/// Entries of a zip archive: (name, decompressed bytes).
pub fn read_zip(b: &[u8]) -> Result<Vec<(String, Vec<u8>)>, OoxmlError> {
    if !b.starts_with(b"PK\x03\x04") {
        return Err(OoxmlError::NotZip);
    }
    let eocd = (0..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))
        .ok_or(OoxmlError::Corrupt("no end of central directory"))?;
    let count = u16le(b, eocd + 10)? as usize;
    let mut p = u32le(b, eocd + 16)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if !b.get(p..).is_some_and(|s| s.starts_with(b"PK\x01\x02")) {
            return Err(OoxmlError::Corrupt("bad central directory entry"));
        }
        let method = u16le(b, p + 10)?;
        let csize = u32le(b, p + 20)? as usize;
        let name_len = u16le(b, p + 28)? as usize;
        let extra_len = u16le(b, p + 30)? as usize;
        let comment_len = u16le(b, p + 32)? as usize;
        let local = u32le(b, p + 42)? as usize;
        let name = String::from_utf8_lossy(
            b.get(p + 46..p + 46 + name_len)
                .ok_or(OoxmlError::Corrupt("truncated name"))?,
        )
        .into_owned();
        p += 46 + name_len + extra_len + comment_len;
        if !b.get(local..).is_some_and(|s| s.starts_with(b"PK\x03\x04")) {
            return Err(OoxmlError::Corrupt("bad local header"));
        }
        let start = local + 30 + u16le(b, local + 26)? as usize + u16le(b, local + 28)? as usize;
        let data = b
            .get(start..start + csize)
            .ok_or(OoxmlError::Corrupt("truncated entry"))?;
        let bytes = match method {
            0 => data.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec(data)
                .map_err(|_| OoxmlError::Corrupt("bad deflate stream"))?,
            m => return Err(OoxmlError::Method(m)),
        };
        out.push((name, bytes));
    }
    Ok(out)
}

fn slide_number(name: &str) -> u32 {
    name.trim_start_matches("ppt/slides/slide")
        .trim_end_matches(".xml")
        .parse()
        .unwrap_or(u32::MAX)
}

/// Text of a docx (`MS_WORD`), xlsx (`MS_EXCEL`) or pptx (`PPT`).
pub fn extract(content_type: &str, b: &[u8]) -> Result<String, OoxmlError> {
    let entries = read_zip(b)?;
    let text_of = |e: &(String, Vec<u8>)| strip_markup(&String::from_utf8_lossy(&e.1), false);
    let parts: Vec<&(String, Vec<u8>)> = match content_type {
        "MS_WORD" => {
            let d = entries
                .iter()
                .find(|e| e.0 == "word/document.xml")
                .ok_or(OoxmlError::MissingPart("word/document.xml"))?;
            vec![d]
        }
        "MS_EXCEL" => {
            let mut v: Vec<_> = entries
                .iter()
                .filter(|e| e.0 == "xl/sharedStrings.xml")
                .collect();
            if v.is_empty() && !entries.iter().any(|e| e.0.starts_with("xl/")) {
                return Err(OoxmlError::MissingPart("xl/workbook.xml"));
            }
            v.extend(
                entries
                    .iter()
                    .filter(|e| e.0.starts_with("xl/worksheets/") && e.0.ends_with(".xml")),
            );
            v
        }
        _ => {
            let mut v: Vec<_> = entries
                .iter()
                .filter(|e| e.0.starts_with("ppt/slides/slide") && e.0.ends_with(".xml"))
                .collect();
            if v.is_empty() {
                return Err(OoxmlError::MissingPart("ppt/slides/slide1.xml"));
            }
            v.sort_by_key(|e| slide_number(&e.0));
            v
        }
    };
    Ok(parts
        .iter()
        .map(|e| text_of(e))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Builds a zip archive (entries deflated) — for tests and fixtures.
pub fn make_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let comp = miniz_oxide::deflate::compress_to_vec(data, 6);
        let offset = out.len() as u32;
        let mut h = Vec::new();
        h.extend_from_slice(b"PK\x03\x04");
        h.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0]); // version, flags, method 8, time, date
        h.extend_from_slice(&0u32.to_le_bytes()); // crc (not checked by readers here)
        h.extend_from_slice(&(comp.len() as u32).to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&comp);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&(comp.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, internal attrs, external attrs (4)
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docx_xlsx_pptx() {
        let docx = make_zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document><w:body><w:p><w:r><w:t>Item card</w:t></w:r></w:p><w:p><w:r><w:t>Bicycle &amp; helmet</w:t></w:r></w:p></w:body></w:document>"),
        ]);
        assert_eq!(
            extract("MS_WORD", &docx).unwrap(),
            "Item card Bicycle & helmet"
        );
        let xlsx = make_zip(&[
            ("xl/workbook.xml", b"<workbook/>"),
            (
                "xl/sharedStrings.xml",
                b"<sst><si><t>Customer</t></si><si><t>Adatum</t></si></sst>",
            ),
        ]);
        assert_eq!(extract("MS_EXCEL", &xlsx).unwrap(), "Customer Adatum");
        let pptx = make_zip(&[
            ("ppt/slides/slide10.xml", b"<p:sld><a:t>ten</a:t></p:sld>"),
            ("ppt/slides/slide2.xml", b"<p:sld><a:t>two</a:t></p:sld>"),
        ]);
        assert_eq!(extract("PPT", &pptx).unwrap(), "two\nten");
        assert_eq!(
            extract("MS_WORD", b"\xd0\xcf\x11\xe0legacy"),
            Err(OoxmlError::NotZip)
        );
        assert_eq!(
            extract("MS_WORD", &pptx),
            Err(OoxmlError::MissingPart("word/document.xml"))
        );
    }
}
