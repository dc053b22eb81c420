//! The destinations bcq can write to: the one place that lists them. A new
//! destination is a crate implementing `bcq_core::destination` and one line
//! here; nothing else in the command line names it.

use bcq_core::destination::DestinationKind;

/// Every kind of destination; the first is the default.
pub static KINDS: &[&dyn DestinationKind] = &[&bcq_q::KIND, &bcq_bedrock::KIND];

/// The kind `key` names (`qbusiness`, `bedrock-kb`).
pub fn kind(key: &str) -> Option<&'static dyn DestinationKind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.key().eq_ignore_ascii_case(key))
}
