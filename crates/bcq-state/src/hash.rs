//! The content hash that decides whether a document changed.

use sha2::{Digest, Sha256};

/// SHA-256 of a rendered document's bytes.
///
/// The engine hashes exactly what it would send to Q (content, title and
/// attributes serialised together), so any change Q would see changes the
/// hash, and an unchanged record is not pushed again.
pub fn content_hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_sha256_vectors() {
        // FIPS 180-2 test vectors.
        let empty = content_hash(b"");
        assert_eq!(
            empty[..4],
            [0xe3, 0xb0, 0xc4, 0x42],
            "sha256(\"\") starts e3b0c442"
        );
        assert_eq!(empty[28..], [0x78, 0x52, 0xb8, 0x55]);
        let abc = content_hash(b"abc");
        assert_eq!(abc[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(abc[28..], [0xf2, 0x00, 0x15, 0xad]);
        assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
    }
}
