//! Puts the git commit into `safemig --version` (`safemig 0.1.0 (1a2b3c4d5 2026-11-25)`,
//! as `cargo --version` does), so a bug report or a container image names the exact source.
//!
//! The commit comes from `SAFEMIG_GIT_COMMIT` when set (a build from a copy without `.git`,
//! such as the Containerfile's build context), else from `git` in a checkout, else from the
//! `.cargo_vcs_info.json` that `cargo package` writes (what `cargo install safemig` builds
//! from; it has no date). Without any of them the version is the bare crate version.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=SAFEMIG_GIT_COMMIT");
    let commit = std::env::var("SAFEMIG_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(from_git)
        .or_else(from_cargo_vcs_info);
    let version = env!("CARGO_PKG_VERSION");
    let long = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_string(),
    };
    println!("cargo::rustc-env=SAFEMIG_LONG_VERSION={long}");
}

/// `1a2b3c4d5 2026-11-25` from the checkout's HEAD, and a rebuild whenever HEAD moves.
fn from_git() -> Option<String> {
    // HEAD changes on checkout; its reflog on every commit, checkout and reset (also in a
    // worktree, where both live apart from the shared refs).
    for file in ["HEAD", "logs/HEAD"] {
        let path = git(&["rev-parse", "--path-format=absolute", "--git-path", file])?;
        if Path::new(&path).exists() {
            println!("cargo::rerun-if-changed={path}");
        }
    }
    git(&["log", "-1", "--format=%h %cs", "--abbrev=9"])
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// `{"git": {"sha1": "…"}}`, written by `cargo package` into the packaged crate.
fn from_cargo_vcs_info() -> Option<String> {
    let text = std::fs::read_to_string(".cargo_vcs_info.json").ok()?;
    let start = text.find("\"sha1\"")? + "\"sha1\"".len();
    let sha = text[start..].split('"').nth(1)?;
    (sha.len() >= 9 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha[..9].to_string())
}
