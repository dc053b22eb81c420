//! Reading BC's JSON as BC writes it, and writing it as Markdown text.
//!
//! BC's wire quirks: a blank enum is `"_x0020_"` (the XML escape of a space),
//! an empty GUID is all zeros, an empty date is `"0001-01-01"`. All three
//! mean "no value" and must never reach a document as if they were data.
//! Limits belong to destinations (`Destination::fit`), not to rendering.

use bcq_bc::{Field, Record};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// What reading a record needs of its representation: `serde_json::Value`
/// (exports, files, tests) and [`bcq_bc::Record`] (the sync) read the same.
pub trait Fields {
    /// The string field `name`, as BC sent it.
    fn str_of(&self, name: &str) -> Option<&str>;
    /// The number field `name` as JSON read it.
    fn number_of(&self, name: &str) -> Option<&serde_json::Number>;
    /// The boolean field `name`.
    fn bool_of(&self, name: &str) -> Option<bool>;
    /// The rows of the array field `name` (expanded lines); an item that is
    /// not an object reads as an empty row.
    fn rows_of(&self, name: &str) -> Option<Vec<&Self>>;
}

impl Fields for Value {
    fn str_of(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_str()
    }

    fn number_of(&self, name: &str) -> Option<&serde_json::Number> {
        self.get(name)?.as_number()
    }

    fn bool_of(&self, name: &str) -> Option<bool> {
        self.get(name)?.as_bool()
    }

    fn rows_of(&self, name: &str) -> Option<Vec<&Self>> {
        self.get(name)?.as_array().map(|a| a.iter().collect())
    }
}

impl Fields for Record {
    fn str_of(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_str()
    }

    fn number_of(&self, name: &str) -> Option<&serde_json::Number> {
        match self.get(name)? {
            Field::Number(n) => Some(n),
            _ => None,
        }
    }

    fn bool_of(&self, name: &str) -> Option<bool> {
        self.get(name)?.as_bool()
    }

    fn rows_of(&self, name: &str) -> Option<Vec<&Self>> {
        static EMPTY: Record = Record::new();
        match self.get(name)? {
            Field::Array(items) => Some(
                items
                    .iter()
                    .map(|i| match i {
                        Field::Object(r) => r,
                        _ => &EMPTY,
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// A string field, or `None` when missing, null, empty, a blank enum, an
/// empty GUID or an empty date.
pub fn text<'a, R: Fields + ?Sized>(record: &'a R, field: &str) -> Option<&'a str> {
    let s = record.str_of(field)?;
    if s.trim().is_empty() || s == "_x0020_" || s == EMPTY_GUID || s == "0001-01-01" {
        None
    } else {
        Some(s)
    }
}

/// An enum field decoded to readable text (`_x0020_` becomes a space and
/// is then treated as blank; `In_x0020_Review` becomes `In Review`),
/// borrowed from the record when it holds no `_x0020_`.
pub fn enum_str<'a, R: Fields + ?Sized>(record: &'a R, field: &str) -> Option<Cow<'a, str>> {
    text(record, field).map(|s| {
        if s.contains("_x0020_") {
            Cow::Owned(s.replace("_x0020_", " ").trim().to_string())
        } else {
            Cow::Borrowed(s.trim())
        }
    })
}

/// A number field (BC's Edm.Decimal travels as a JSON number).
pub fn number<R: Fields + ?Sized>(record: &R, field: &str) -> Option<f64> {
    record.number_of(field)?.as_f64()
}

/// A boolean field.
pub fn boolean<R: Fields + ?Sized>(record: &R, field: &str) -> Option<bool> {
    record.bool_of(field)
}

/// An Edm.Date field, `None` for BC's empty date.
pub fn date<R: Fields + ?Sized>(record: &R, field: &str) -> Option<NaiveDate> {
    parse_date(text(record, field)?)
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` reads it. BC's form, exactly ten
/// ASCII bytes, is read directly (chrono's format interpreter cost 1,250
/// instructions a date, six dates an invoice); any other text goes to
/// chrono, so that what it accepts and refuses stays the same.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// An Edm.DateTimeOffset field, `None` for BC's empty value.
pub fn datetime<R: Fields + ?Sized>(record: &R, field: &str) -> Option<DateTime<Utc>> {
    let s = text(record, field)?;
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    // BC writes 0001-01-01T00:00:00Z for "never".
    (t.timestamp() > 0).then_some(t)
}

/// Text safe for a one-line field: control characters (including newlines)
/// become spaces, runs of whitespace collapse, and the result is cut to
/// `max_chars` with an ellipsis marker when longer.
pub fn one_line(s: &str, max_chars: usize) -> String {
    // Most values are short printable ASCII with single inner spaces: they
    // come out as they are.
    let b = s.as_bytes();
    let plain = b.len() <= max_chars
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && b.iter().all(|c| (b' '..=b'~').contains(c))
        && !s.contains("  ");
    if plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    let mut last_space = true;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    truncate_chars(out, max_chars)
}

/// Whether `s` has more than `max_chars` characters. The characters are
/// counted only when `s` has more bytes than that: a character is at least
/// one byte, so a string of at most `max_chars` bytes always fits.
pub fn chars_over(s: &str, max_chars: usize) -> bool {
    s.len() > max_chars && s.chars().count() > max_chars
}

/// Cuts `s` in place to at most `max_chars` characters (see
/// [`truncate_chars`]); true if it was cut.
pub fn cut_chars(s: &mut String, max_chars: usize) -> bool {
    if !chars_over(s, max_chars) {
        return false;
    }
    *s = truncate_chars(std::mem::take(s), max_chars);
    true
}

/// Cuts a string to at most `max_chars` characters, ending with `…` when cut.
pub fn truncate_chars(s: String, max_chars: usize) -> String {
    if !chars_over(&s, max_chars) {
        return s;
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Markdown's active characters inside a line: links and images (`[`,
/// `]`), HTML and autolinks (`<`, `>`), code (`` ` ``), emphasis (`*`,
/// `_`, `~`), table cells (`|`) and the escape itself (`\`). Characters
/// active only at the start of a line (`#`, `-`, `>`, digits and `.`) need
/// nothing: a value never starts a line.
fn md_active(c: char) -> bool {
    matches!(
        c,
        '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '<' | '>' | '|'
    )
}

/// Appends a BC value as Markdown text that renders as exactly that text:
/// every active character is backslash-escaped (an `_` inside a word is
/// inert and stays), control characters other than tab are dropped, and a
/// line break becomes `line_break` (`<br>` in a table cell or list item,
/// a space in a heading or sentence), so that no value can start a line,
/// make a link, an image or HTML, or end its cell. Only bcq makes links
/// (the citation). A bare URL or email stays as its text, which a renderer
/// may autolink to itself.
fn push_md_value(out: &mut String, s: &str, line_break: &str) {
    let plain = |c: char| !md_active(c) && (!c.is_control() || c == '\t');
    if s.chars().all(plain) {
        out.push_str(s);
        return;
    }
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push_str(line_break),
            '_' if prev.is_some_and(char::is_alphanumeric)
                && chars.peek().is_some_and(|n| n.is_alphanumeric()) =>
            {
                out.push('_')
            }
            c if md_active(c) => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
        prev = Some(c);
    }
}

/// Appends `s` as text inside a Markdown table cell or list item (see
/// `push_md_value`; line breaks become `<br>`).
pub fn push_md_cell(out: &mut String, s: &str) {
    push_md_value(out, s, "<br>");
}

/// Appends an Edm.Date as `2025-03-01`.
pub fn push_date(out: &mut String, d: NaiveDate) {
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

/// Appends an Edm.DateTimeOffset as `2025-03-05 19:19 UTC`.
pub fn push_datetime(out: &mut String, t: DateTime<Utc>) {
    push_date(out, t.date_naive());
    let _ = write!(out, " {:02}:{:02} UTC", t.hour(), t.minute());
}

/// Appends `s` as inline Markdown text in a heading or a sentence (see
/// `push_md_value`; line breaks become spaces).
pub fn push_md_text(out: &mut String, s: &str) {
    push_md_value(out, s, " ");
}

/// The decimal digits of `n`, written at the end of `buf` (u128::MAX has
/// 39 digits), without the formatting machinery.
fn decimal_digits(n: u128, buf: &mut [u8; 40]) -> &[u8] {
    let mut n = n;
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[start..]
}

/// Appends `n` in decimal, without the formatting machinery (rendering
/// writes tens of numbers per document).
pub fn push_uint(out: &mut String, n: u64) {
    let mut buf = [0u8; 40];
    for d in decimal_digits(u128::from(n), &mut buf) {
        out.push(char::from(*d));
    }
}

/// Appends an amount with two decimals and thousands separators: `12,345.60`.
pub fn push_amount(out: &mut String, v: f64) {
    let cents = (v.abs() * 100.0).round() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    let mut buf = [0u8; 40];
    let digits = decimal_digits(whole, &mut buf);
    if v < 0.0 {
        out.push('-');
    }
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(char::from(*d));
    }
    out.push('.');
    out.push(char::from(b'0' + (frac / 10) as u8));
    out.push(char::from(b'0' + (frac % 10) as u8));
}

/// Appends a quantity without needless decimals: `3`, `2.5`.
pub fn push_quantity(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        if v < 0.0 {
            out.push('-');
        }
        push_uint(out, v.abs() as u64);
    } else {
        let start = out.len();
        let _ = write!(out, "{v:.5}");
        let kept = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a `push_*` formatter appends to an empty string.
    fn written(f: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        f(&mut out);
        out
    }

    #[test]
    fn dates_read_as_chrono_reads_them() {
        for s in [
            "2023-11-29",
            "0001-01-01",
            "0000-01-01",
            "9999-12-31",
            "2024-02-29",
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-32",
            "2023-1-5",
            "+2023-01-05",
            "2023-01-05x",
            "2023/01/05",
            "20a3-01-05",
            "2023-01-0 ",
            "",
            "１２３４-01-01",
        ] {
            assert_eq!(
                parse_date(s),
                NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn chars_over_counts_characters_not_bytes() {
        assert!(!chars_over("abc", 3));
        assert!(chars_over("abc", 2));
        // Four bytes, two characters.
        assert!(!chars_over("éé", 2));
        assert!(!chars_over("éé", 3));
        assert!(chars_over("éé", 1));
        assert!(!chars_over("", 0));
        assert!(chars_over("a", 0));
        let mut s = "éé".to_string();
        assert!(!cut_chars(&mut s, 2));
        assert_eq!(s, "éé");
        let mut s = "abcd".to_string();
        assert!(cut_chars(&mut s, 3));
        assert_eq!(s, "ab…");
    }

    #[test]
    fn bc_blank_values_are_none() {
        let r = json!({"a":"_x0020_","b":"00000000-0000-0000-0000-000000000000","c":"0001-01-01","d":"","e":null,"f":"x",
                       "t":"0001-01-01T00:00:00Z","s":"In_x0020_Review"});
        for f in ["a", "b", "c", "d", "e", "missing"] {
            assert_eq!(text(&r, f), None, "{f}");
        }
        assert_eq!(text(&r, "f"), Some("x"));
        assert_eq!(datetime(&r, "t"), None);
        assert_eq!(date(&r, "c"), None);
        assert_eq!(enum_str(&r, "s").as_deref(), Some("In Review"));
        assert!(matches!(enum_str(&r, "f"), Some(Cow::Borrowed("x"))));
    }

    #[test]
    fn one_line_strips_controls_and_truncates() {
        assert_eq!(one_line("a\u{0}b\n\n c\t", 100), "a b c");
        assert_eq!(one_line("Adatum Corporation", 100), "Adatum Corporation");
        assert_eq!(one_line(" a  b ", 100), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        let long = "é".repeat(3000);
        let cut = one_line(&long, 2048);
        assert_eq!(cut.chars().count(), 2048);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn amounts_and_quantities_read_well() {
        let amount = |v| written(|o| push_amount(o, v));
        let quantity = |v| written(|o| push_quantity(o, v));
        assert_eq!(amount(1234567.891), "1,234,567.89");
        assert_eq!(amount(-0.5), "-0.50");
        assert_eq!(amount(999.999), "1,000.00");
        assert_eq!(quantity(3.0), "3");
        assert_eq!(quantity(2.5), "2.5");
        assert_eq!(amount(7.05), "7.05");
        assert_eq!(amount(0.0), "0.00");
        // Whole quantities and row numbers are written without `fmt`, the
        // same as `fmt` writes them.
        for v in [0.0, -0.0, 1.0, -3.0, 10.0, 123456789.0, -999999999999999.0] {
            assert_eq!(quantity(v), format!("{}", v as i64), "{v}");
        }
        for n in [0, 9, 10, 99, 100, 1234567, u64::MAX] {
            assert_eq!(written(|o| push_uint(o, n)), n.to_string());
        }
    }

    #[test]
    fn dates_read_as_chrono_formats_them() {
        for s in [
            "2025-03-05T19:19:22.273Z",
            "0999-12-31T23:05:00Z",
            "2024-02-29T00:00:00+02:00",
        ] {
            let t = DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
            let mut out = String::from("x");
            push_datetime(&mut out, t);
            assert_eq!(out, format!("x{}", t.format("%Y-%m-%d %H:%M UTC")), "{s}");
            assert_eq!(
                written(|o| push_date(o, t.date_naive())),
                t.format("%Y-%m-%d").to_string(),
                "{s}"
            );
        }
    }

    #[test]
    fn formatters_append_to_what_is_there() {
        let mut out = String::from("total ");
        push_amount(&mut out, -1234.5);
        out.push(' ');
        push_quantity(&mut out, 2.25);
        out.push(' ');
        push_quantity(&mut out, 10.0);
        out.push(' ');
        push_md_cell(&mut out, "a|b");
        out.push(' ');
        push_md_text(&mut out, "p\u{0}q\n");
        assert_eq!(out, "total -1,234.50 2.25 10 a\\|b pq ");
    }

    #[test]
    fn md_cell_escapes_pipes_and_newlines() {
        assert_eq!(written(|o| push_md_cell(o, "a|b\r\nc\u{7}")), "a\\|b<br>c");
    }

    #[test]
    fn hostile_values_render_as_the_text_they_are() {
        let cell = |s| written(|o| push_md_cell(o, s));
        let text = |s| written(|o| push_md_text(o, s));
        assert_eq!(
            cell("[click](javascript:alert(1))"),
            "\\[click\\](javascript:alert(1))"
        );
        assert_eq!(cell("![x](http://e/i.png)"), "!\\[x\\](http://e/i.png)");
        assert_eq!(
            cell("<script>alert(1)</script>"),
            "\\<script\\>alert(1)\\</script\\>"
        );
        assert_eq!(
            cell("<img src=x onerror=alert(1)>"),
            "\\<img src=x onerror=alert(1)\\>"
        );
        assert_eq!(
            cell("**bold** `code` ~~s~~ \\"),
            "\\*\\*bold\\*\\* \\`code\\` \\~\\~s\\~\\~ \\\\"
        );
        // A value cannot start a line: no heading, list or quote of its own.
        assert_eq!(
            text("x\n# Heading\n- item\n> quote"),
            "x # Heading - item \\> quote"
        );
        assert_eq!(cell("x\n# Heading"), "x<br># Heading");
        // Underscores inside words are inert and stay; at word edges they are escaped.
        assert_eq!(cell("ADATUM_CORP _x_"), "ADATUM_CORP \\_x\\_");
        // Ordinary values pass unchanged.
        for v in [
            "Adatum Corporation",
            "info0@example.com",
            "1,234.50",
            "CRONUS USA, Inc.",
            "S-INV-103001 (copy)",
            "Desk #737",
        ] {
            assert_eq!(cell(v), v);
        }
    }
}
