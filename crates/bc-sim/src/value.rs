//! Field values, records and their JSON wire format.
//!
//! Records are written straight into a byte buffer (no `serde_json::Value`
//! trees) because one 20,000-entity page with lines is several million fields.

use crate::schema::{EntityType, Kind};
use base64::Engine;
use chrono::{DateTime, NaiveDate};
use uuid::Uuid;

/// One property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A string owned by the record.
    Str(String),
    /// A string from a word list.
    S(&'static str),
    /// `Edm.Guid`.
    Guid(Uuid),
    /// `Edm.Date`.
    Date(NaiveDate),
    /// `Edm.DateTimeOffset` as Unix milliseconds.
    Dt(i64),
    /// `Edm.Decimal`.
    Dec(f64),
    /// `Edm.Int32` / `Edm.Int64`.
    Int(i64),
    /// `Edm.Boolean`.
    Bool(bool),
    /// An enum member literal (`_x0020_` for blank, as BC sends it).
    Enum(&'static str),
    /// No value (only streams).
    Null,
}

impl Val {
    /// The string content, for string-like values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::S(s) | Val::Enum(s) => Some(s),
            _ => None,
        }
    }
    /// The numeric content, for numbers.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Dec(d) => Some(*d),
            Val::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// The empty date BC sends (`0001-01-01`).
pub fn empty_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default()
}

/// The default (empty) value BC sends for a property kind.
pub fn default_for(kind: Kind) -> Val {
    let s = crate::schema::Schema::get();
    match kind {
        Kind::String => Val::S(""),
        Kind::Guid => Val::Guid(Uuid::nil()),
        Kind::Date => Val::Date(empty_date()),
        Kind::DateTime => Val::Dt(EMPTY_DT),
        Kind::Decimal => Val::Dec(0.0),
        Kind::Int32 | Kind::Int64 => Val::Int(0),
        Kind::Boolean => Val::Bool(false),
        Kind::Stream => Val::Null,
        Kind::Enum(_) => Val::Enum(
            s.enum_members(kind)
                .and_then(|m| m.first().copied())
                .unwrap_or("_x0020_"),
        ),
    }
}

/// `0001-01-01T00:00:00Z` in Unix milliseconds (BC's empty DateTime).
pub const EMPTY_DT: i64 = -62_135_596_800_000;

/// A generated or stored entity: values aligned with the type's properties.
#[derive(Debug, Clone)]
pub struct Record {
    /// Values in property order.
    pub vals: Vec<Val>,
    /// Row version, feeds the etag; bumped by every change.
    pub version: u64,
}

impl Record {
    /// A record with every property at BC's empty value.
    pub fn blank(t: &EntityType) -> Record {
        Record {
            vals: t.props.iter().map(|p| default_for(p.kind)).collect(),
            version: 0,
        }
    }
    /// Sets a property by name (panics on a generator typo, caught by tests).
    pub fn set(&mut self, t: &EntityType, name: &str, v: Val) {
        self.vals[t.must(name)] = v;
    }
    /// Reads a property by name.
    pub fn get(&self, t: &EntityType, name: &str) -> &Val {
        &self.vals[t.must(name)]
    }
}

/// Formats a DateTimeOffset like BC: milliseconds with trailing zeros cut
/// (`19:19:22.37Z`, `19:19:22Z`).
pub fn fmt_dt(ms: i64, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let dt = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    write_ymd(out, dt.year(), dt.month(), dt.day());
    out.push(b'T');
    push2(out, dt.hour());
    out.push(b':');
    push2(out, dt.minute());
    out.push(b':');
    push2(out, dt.second());
    let mut frac = ms.rem_euclid(1000) as u32;
    if frac != 0 {
        out.push(b'.');
        let mut digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let mut n = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            n -= 1;
        }
        digits[n..].fill(0);
        out.extend_from_slice(&digits[..n]);
    }
    out.push(b'Z');
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Writes `YYYY-MM-DD` without the formatting machinery (hot path).
fn write_ymd(out: &mut Vec<u8>, y: i32, m: u32, d: u32) {
    let y = y.clamp(0, 9999) as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
}

/// DateTimeOffset as a `String`.
pub fn dt_string(ms: i64) -> String {
    let mut v = Vec::new();
    fmt_dt(ms, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

/// Writes a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes one value in BC's JSON shape.
pub fn write_val(out: &mut Vec<u8>, v: &Val) {
    use std::io::Write;
    match v {
        Val::Str(s) => write_str(out, s),
        Val::S(s) | Val::Enum(s) => write_str(out, s),
        Val::Guid(g) => {
            out.push(b'"');
            let mut buf = [0u8; 36];
            out.extend_from_slice(g.hyphenated().encode_lower(&mut buf).as_bytes());
            out.push(b'"');
        }
        Val::Date(d) => {
            use chrono::Datelike;
            out.push(b'"');
            write_ymd(out, d.year(), d.month(), d.day());
            out.push(b'"');
        }
        Val::Dt(ms) => {
            out.push(b'"');
            fmt_dt(*ms, out);
            out.push(b'"');
        }
        Val::Dec(d) => {
            // Rust's shortest round-trip float display matches BC's "336", "77.28".
            let _ = write!(out, "{d}");
        }
        Val::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Val::Null => out.extend_from_slice(b"null"),
    }
}

/// BC's weak etag: `W/"` + base64(`'<len>;<digits>;00;'`) + `"`, derived from
/// the record id and its row version so that any change changes it.
pub fn etag(id: &Uuid, version: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes().iter().chain(version.to_le_bytes().iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let digits = format!("{h}{:02}", version % 100);
    let raw = format!("'{};{};00;'", digits.len(), digits);
    format!(
        "W/\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Rounds to cents (amounts in BC's demo data are 2-decimal).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_trims_trailing_zeros_like_bc() {
        // 2025-03-05T19:19:22.37Z appears in the captured customers page.
        let ms = DateTime::parse_from_rfc3339("2025-03-05T19:19:22.370Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(dt_string(ms), "2025-03-05T19:19:22.37Z");
        assert_eq!(dt_string(ms - 370), "2025-03-05T19:19:22Z");
        assert_eq!(dt_string(ms - 270), "2025-03-05T19:19:22.1Z");
        assert_eq!(dt_string(ms - 369), "2025-03-05T19:19:22.001Z");
        let mut o = Vec::new();
        write_val(&mut o, &default_for(Kind::Date));
        write_val(&mut o, &default_for(Kind::Guid));
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "\"0001-01-01\"\"00000000-0000-0000-0000-000000000000\""
        );
    }

    #[test]
    fn etag_has_bc_shape_and_changes_with_version() {
        let id = Uuid::from_u128(7);
        let a = etag(&id, 0);
        assert!(a.starts_with("W/\"Jz"));
        assert_ne!(a, etag(&id, 1));
    }

    #[test]
    fn decimals_print_like_bc() {
        let mut o = Vec::new();
        write_val(&mut o, &Val::Dec(336.0));
        o.push(b' ');
        write_val(&mut o, &Val::Dec(round2(3036.60)));
        assert_eq!(String::from_utf8(o).unwrap(), "336 3036.6");
    }
}
