//! Generated document attachments: files of the kinds people attach in BC
//! (delivery notes as text, signed PDFs, Word letters, Excel price lists,
//! CSV exports, HTML mails, photos), attached to sales invoices, customers
//! and items, with real file structures (PDF 1.4, Office Open XML zips,
//! PNG) so that text extraction downstream is exercised for real.

use crate::datagen::{Ctx, company_name, set_code};

/// The parent of generated attachment `pos`: (`parentType` wire value,
/// entity set, position in that set).
pub fn parent(ctx: &Ctx, pos: u64) -> (&'static str, &'static str, u64) {
    let (ty, set) = match pos % 4 {
        0 | 1 => ("Sales_x0020_Invoice", "salesInvoices"),
        2 => ("Customer", "customers"),
        _ => ("Item", "items"),
    };
    (ty, set, pos * 7 % ctx.base_count(set).max(1))
}

/// The parent's id.
pub fn parent_id(ctx: &Ctx, pos: u64) -> uuid::Uuid {
    let (_, set, p) = parent(ctx, pos);
    ctx.id(set_code(set).unwrap_or(1), p, 0)
}

const KINDS: &[&str] = &["txt", "pdf", "docx", "xlsx", "csv", "html", "png"];

/// File name of generated attachment `pos`.
pub fn file_name(ctx: &Ctx, pos: u64) -> String {
    let (_, set, p) = parent(ctx, pos);
    let stem = match set {
        "salesInvoices" => "delivery-note",
        "customers" => "customer-agreement",
        _ => "item-spec",
    };
    format!(
        "{stem}-{}.{}",
        p + 1,
        KINDS[(pos % KINDS.len() as u64) as usize]
    )
}

/// The text every kind of file carries (what extraction must find).
pub fn text_lines(ctx: &Ctx, pos: u64) -> Vec<String> {
    vec![
        format!("Delivery note {}", pos + 1),
        format!("Company: {}", company_name(ctx.company as usize)),
        "Received in good order.".to_string(),
    ]
}

/// Content of generated attachment `pos`, in the format its name says.
pub fn content(ctx: &Ctx, pos: u64) -> Vec<u8> {
    let lines = text_lines(ctx, pos);
    let name = file_name(ctx, pos);
    let ext = name.rsplit('.').next().unwrap_or("txt");
    match ext {
        "pdf" => crate::pdf::text_pdf(&lines),
        "docx" => {
            let body: String = lines
                .iter()
                .map(|l| format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", xml_escape(l)))
                .collect();
            stored_zip(&[
                ("[Content_Types].xml", CONTENT_TYPES.as_bytes().to_vec()),
                (
                    "word/document.xml",
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
                    )
                    .into_bytes(),
                ),
            ])
        }
        "xlsx" => {
            let si: String = lines
                .iter()
                .map(|l| format!("<si><t>{}</t></si>", xml_escape(l)))
                .collect();
            let rows: String = (0..lines.len())
                .map(|i| {
                    format!(
                        "<row r=\"{}\"><c r=\"A{}\" t=\"s\"><v>{i}</v></c></row>",
                        i + 1,
                        i + 1
                    )
                })
                .collect();
            stored_zip(&[
                ("[Content_Types].xml", CONTENT_TYPES.as_bytes().to_vec()),
                (
                    "xl/sharedStrings.xml",
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">{si}</sst>").into_bytes(),
                ),
                (
                    "xl/worksheets/sheet1.xml",
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>{rows}</sheetData></worksheet>").into_bytes(),
                ),
            ])
        }
        "csv" => {
            let mut s = String::from("line,text\r\n");
            for (i, l) in lines.iter().enumerate() {
                s.push_str(&format!("{},\"{}\"\r\n", i + 1, l.replace('"', "\"\"")));
            }
            s.into_bytes()
        }
        "html" => format!(
            "<!DOCTYPE html><html><head><title>{}</title></head><body>{}</body></html>",
            xml_escape(&lines[0]),
            lines
                .iter()
                .map(|l| format!("<p>{}</p>", xml_escape(l)))
                .collect::<String>()
        )
        .into_bytes(),
        "png" => PNG_1X1.to_vec(),
        _ => (lines.join("\r\n") + "\r\n").into_bytes(),
    }
}

/// The MIME type BC serves a file with, from its name.
pub fn mime_of(file_name: &str) -> &'static str {
    match file_name.rsplit('.').next().unwrap_or("") {
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv" => "text/csv",
        "html" => "text/html",
        "png" => "image/png",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>";

/// A 1×1 transparent PNG.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive with stored (uncompressed) entries (Office Open XML files are zips).
pub fn stored_zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // version made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&0u16.to_le_bytes()); // method: stored
            h.extend_from_slice(&0u32.to_le_bytes()); // time, date
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
                h.extend_from_slice(&0u32.to_le_bytes()); // external attrs
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    let cd_len = central.len() as u32;
    out.extend(central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            seed: 7,
            env: 0,
            company: 0,
            scale: 100,
            custom_count: 0,
        }
    }

    #[test]
    fn every_kind_is_a_real_file() {
        let c = ctx();
        let mut seen = std::collections::BTreeSet::new();
        for pos in 0..KINDS.len() as u64 {
            let name = file_name(&c, pos);
            let ext = name.rsplit('.').next().unwrap().to_string();
            let b = content(&c, pos);
            match ext.as_str() {
                "pdf" => assert!(b.starts_with(b"%PDF-")),
                "docx" | "xlsx" => {
                    assert!(b.starts_with(b"PK\x03\x04"));
                    assert!(b.windows(4).any(|w| w == b"PK\x05\x06"));
                }
                "png" => assert!(b.starts_with(b"\x89PNG")),
                _ => assert!(String::from_utf8(b).unwrap().contains("Delivery note")),
            }
            seen.insert(ext);
        }
        assert_eq!(seen.len(), KINDS.len());
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
