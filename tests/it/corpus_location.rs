//! Where the real-world corpus (`../shared/corpus`, or `SAFEMIG_CORPUS`) is, for every test
//! and benchmark that replays it. Shared by path with the library's unit tests, the kill
//! test and the benchmarks.
//!
//! A fresh clone may not have the corpus beside it: the corpus tests then return early with
//! a notice (and `scripts/test` says loudly that they did not run), so everything else
//! still runs. Under `CI=true` a missing corpus fails them instead: CI always has it.

use std::path::PathBuf;

/// The corpus folder, or `None` (after a notice on stderr) when it is missing outside CI.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SAFEMIG_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("README.md").is_file() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    assert!(
        !ci,
        "the corpus is missing at {} and CI=true requires it: clone the project with ../shared beside it, or set SAFEMIG_CORPUS",
        dir.display()
    );
    eprintln!(
        "NOTICE: the corpus is missing at {}; this corpus test did not run (set SAFEMIG_CORPUS=/path/to/corpus, or clone with ../shared beside the project)",
        dir.display()
    );
    None
}
