//! Timestamps as stored in the file.
//!
//! Stored as RFC 3339 text with nanoseconds and a `Z`: fixed width, so the
//! text sorts like the instant, readable with the `sqlite3` shell, and
//! lossless for BC's `lastModifiedDateTime` (which carries sub-second
//! digits; truncating them would make a cursor `gt` filter re-read or skip
//! records modified within the same second).

use chrono::{DateTime, SecondsFormat, Utc};

/// The stored text form of `t`.
pub(crate) fn encode(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses a stored timestamp; the error text says why it is not one.
pub(crate) fn decode(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an rfc 3339 timestamp ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_sub_second_digits_and_sorts_as_text() {
        let a = decode("2024-03-01T10:00:00.1234567Z").unwrap();
        let b = decode("2024-03-01T10:00:00.9Z").unwrap();
        let c = decode("2024-03-01T10:00:01Z").unwrap();
        for t in [a, b, c] {
            assert_eq!(decode(&encode(t)).unwrap(), t);
        }
        assert_eq!(encode(a), "2024-03-01T10:00:00.123456700Z");
        assert!(encode(a) < encode(b) && encode(b) < encode(c));
    }

    #[test]
    fn rejects_non_timestamps() {
        assert!(decode("yesterday").unwrap_err().contains("yesterday"));
    }
}
