//! Prisma's migration checksum: SHA-256 of the script, stored as lowercase hex.

use sha2::{Digest, Sha256};

/// The checksum Prisma stores for a script: SHA-256 of its bytes, 64 lowercase hex digits.
pub fn checksum(script: &str) -> String {
    hex(&Sha256::digest(script.as_bytes()), 2)
}

/// Whether a stored checksum belongs to `script`.
///
/// Prisma accepts the script as is and with its line endings converted either way, so a
/// checkout with different `core.autocrlf` settings does not look edited. Rows written by
/// old Prisma versions hold a hex form without zero padding (each byte as `{:x}`), which is
/// accepted too.
pub fn matches(stored: &str, script: &str) -> bool {
    let lf = script.replace("\r\n", "\n");
    let crlf = script.replace('\n', "\r\n");
    [script, lf.as_str(), crlf.as_str()].iter().any(|variant| {
        let digest = Sha256::digest(variant.as_bytes());
        stored == hex(&digest, 2) || stored == hex(&digest, 1)
    })
}

/// Hex with each byte written at least `min_width` digits wide.
fn hex(bytes: &[u8], min_width: usize) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:0min_width$x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_test_vector() {
        assert_eq!(
            checksum("hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[test]
    fn line_ending_variants_match() {
        let lf = "CREATE TABLE a (x int);\nCREATE TABLE b (y int);\n";
        let crlf = lf.replace('\n', "\r\n");
        assert!(matches(&checksum(lf), &crlf));
        assert!(matches(&checksum(&crlf), lf));
        assert!(!matches(&checksum(lf), "CREATE TABLE a (x bigint);\n"));
    }

    #[test]
    fn legacy_unpadded_form_matches() {
        // SHA-256("hello") has the bytes 0x0e and 0x04; the legacy form drops their zeros.
        let legacy = "2cf24dba5fb0a3e26e83b2ac5b9e29e1b161e5c1fa7425e7343362938b9824";
        assert!(legacy.len() < 64);
        assert!(matches(legacy, "hello"));
        assert!(!matches(&legacy[1..], "hello"));
    }
}
