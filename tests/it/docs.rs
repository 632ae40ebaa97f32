//! The documentation's links: every relative link in README.md, CONTRIBUTING.md,
//! ARCHITECTURE.md and docs/**/*.md names a file or folder of the repository, and every
//! `#anchor` into a Markdown file names one of its headings. Pages move and headings get
//! renamed; a link that then points nowhere is found here, not by a reader.
//!
//! The Markdown reading is deliberately small: inline links `[text](target)` (images
//! too) and reference definitions `[name]: target`, outside fenced code blocks and code
//! spans; anchors as GitHub makes them from headings. Links with a scheme (`https:`,
//! `mailto:`) are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A link that does not resolve: where it is, and why.
#[derive(Debug, PartialEq, Eq)]
struct Broken {
    file: PathBuf,
    line: usize,
    target: String,
    reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: ({}) {}",
            self.file.display(),
            self.line,
            self.target,
            self.reason
        )
    }
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["README.md", "CONTRIBUTING.md", "ARCHITECTURE.md"]
        .iter()
        .map(|name| root.join(name))
        .collect();
    markdown_files(&root.join("docs"), &mut files);
    assert!(
        files.len() > 3,
        "no Markdown files under {}/docs",
        root.display()
    );
    let broken = check(&files);
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The checker itself: a missing file, a missing heading in another page and in the same
/// page are each reported; links in code, with a scheme, or to existing headings are not.
#[test]
fn the_link_check_finds_missing_files_and_headings() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.md");
    let other = dir.path().join("other.md");
    std::fs::write(&other, "# Other page\n\n## The `safemig.toml` file\n").unwrap();
    std::fs::write(
        &page,
        "# Page\n\n\
         [ok](other.md#the-safemigtoml-file) [self](#page) [web](https://example.com/x)\n\
         [gone](missing.md)\n\
         `[in code](missing.md)`\n\
         ```\n[in a block](missing.md)\n```\n\
         [no heading](other.md#nowhere) [no heading here](#nowhere)\n\
         [ref]: ./missing-too.md\n",
    )
    .unwrap();
    let found: Vec<(usize, String)> = check(&[page])
        .into_iter()
        .map(|b| (b.line, b.target))
        .collect();
    assert_eq!(
        found,
        vec![
            (4, "missing.md".to_string()),
            (9, "other.md#nowhere".to_string()),
            (9, "#nowhere".to_string()),
            (10, "./missing-too.md".to_string()),
        ]
    );
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    let text = "# safemig\n## From a crash-looping Prisma container to a fixed setup\n\
                ### `.env` files\n## Credentials, output and files\n## Next steps\n## Next steps\n\
                ```\n# not a heading\n```\n";
    let anchors = anchors(text);
    for expected in [
        "safemig",
        "from-a-crash-looping-prisma-container-to-a-fixed-setup",
        "env-files",
        "credentials-output-and-files",
        "next-steps",
        "next-steps-1",
    ] {
        assert!(anchors.contains(expected), "{expected}: {anchors:?}");
    }
    assert!(!anchors.contains("not-a-heading"), "{anchors:?}");
}

/// Every `.md` file under `dir`, recursively.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The broken links of `files`, in order.
fn check(files: &[PathBuf]) -> Vec<Broken> {
    let mut headings: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut broken = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for (line, target) in links(&text) {
            if let Err(reason) = resolve(file, &target, &mut headings) {
                broken.push(Broken {
                    file: file.clone(),
                    line,
                    target,
                    reason,
                });
            }
        }
    }
    broken
}

/// Whether `target`, written in `file`, names an existing file or folder and, for an
/// anchor into a Markdown file, one of its headings.
fn resolve(
    file: &Path,
    target: &str,
    headings: &mut BTreeMap<PathBuf, BTreeSet<String>>,
) -> Result<(), String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let linked = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(path)
    };
    if !linked.exists() {
        return Err(format!("{} does not exist", linked.display()));
    }
    let Some(anchor) = anchor else {
        return Ok(());
    };
    if linked.extension().is_none_or(|e| e != "md") {
        // An anchor into a source file (`#L10`) is GitHub's viewer's, not a heading.
        return Ok(());
    }
    let known = headings
        .entry(linked.clone())
        .or_insert_with(|| anchors(&std::fs::read_to_string(&linked).unwrap_or_default()));
    if known.contains(anchor) {
        Ok(())
    } else {
        Err(format!("{} has no heading #{anchor}", linked.display()))
    }
}

/// The relative link targets of a Markdown text with their 1-based lines: inline links
/// and reference definitions, outside code. Targets with a scheme are left out.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        if let Some(target) = reference_definition(&line) {
            out.push((number, target));
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            out.push((number, target.trim_matches(['<', '>']).to_string()));
            rest = &rest[end..];
        }
    }
    out.retain(|(_, target)| !target.is_empty() && !target.contains(':'));
    out
}

/// `[name]: target` at the start of a line.
fn reference_definition(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (_, after) = rest.split_once("]:")?;
    after.split_whitespace().next().map(str::to_string)
}

/// The lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match fence {
            Some(open) if trimmed.starts_with(open) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => out.push((i + 1, line)),
        }
    }
    out
}

/// `line` with its code spans (between equal runs of backticks) blanked out.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let ticks = &rest[start..start + run];
        let after = &rest[start + run..];
        match after.find(ticks) {
            Some(end) => rest = &after[end + run..],
            None => {
                out.push_str(&rest[start..]);
                return out;
            }
        }
        out.push(' ');
    }
    out.push_str(rest);
    out
}

/// The anchors GitHub gives the headings of a Markdown text: the heading's text in lower
/// case, spaces as hyphens, punctuation other than `-` and `_` dropped; a repeated one
/// gets `-1`, `-2`, ….
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let Some(heading) = line
            .strip_prefix('#')
            .map(|h| h.trim_start_matches('#'))
            .filter(|h| h.starts_with(' '))
        else {
            continue;
        };
        let slug: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    out
}
