//! Fuzzes the SQL splitter on every dialect: it must never panic, and its chunks must
//! cover the input exactly, each statement lying inside its chunk with the right line.
//!
//! Run: `cargo fuzz run split -- -max_total_time=600` (from the repository root; on stable
//! Rust, prefix with `RUSTC_BOOTSTRAP=1`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use safemig::sql::{Dialect, normalize, split};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    for dialect in Dialect::ALL {
        let statements = split(input, dialect);
        let mut at = 0;
        for stmt in &statements {
            assert_eq!(stmt.chunk.start, at, "chunks must be contiguous");
            assert!(stmt.chunk.start <= stmt.span.start && stmt.span.end <= stmt.chunk.end);
            assert!(!stmt.sql.is_empty());
            assert_eq!(stmt.sql, &input[stmt.span.clone()]);
            assert_eq!(stmt.line, 1 + input[..stmt.span.start].matches('\n').count());
            at = stmt.chunk.end;
        }
        if statements.is_empty() {
            // Nothing but comments, whitespace and terminators.
            let code = normalize(input, dialect);
            assert!(code.chars().all(|c| c == ';' || c == ' '), "{code:?}");
        } else {
            assert_eq!(at, input.len(), "the last chunk must end the input");
        }
    }
});
