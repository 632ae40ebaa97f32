//! The library's top-level modules form no cycle: "each layer calls only the ones below
//! it" (ARCHITECTURE.md) stays true, and every module can be understood and tested with
//! only what is below it. A module's references are the `crate::name` paths in its code
//! (its own file and every file of its folder), comments and test modules left out.
//! And no file of `src/` grows past 800 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` with the top-level modules its code names.
fn references() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        // A module is its file (`error.rs`), its folder (`drift/`), or both (`error.rs`
        // with its submodules in `error/`).
        if path.is_dir() {
            modules.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            modules.entry(name).or_default().push(path);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, files)| {
            let mut used = BTreeSet::new();
            for file in files {
                let code = code_of(&std::fs::read_to_string(file).unwrap());
                for referenced in crate_paths(&code) {
                    if names.contains(&referenced) && referenced != *name {
                        used.insert(referenced);
                    }
                }
            }
            (name.clone(), used)
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The file without comments and without its test module (by convention the last item,
/// after `#[cfg(test)]`).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment after every `crate::`, including inside `use crate::{a, b::c}`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(inner.split(',').map(|part| ident(part.trim())));
        } else {
            found.push(ident(rest));
        }
    }
    found
}

/// A cycle through `start`, if there is one: the modules in order.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    // Depth-first search for a path back to `start`.
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in &graph[&module] {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = references();
    assert!(graph.len() > 20, "modules found: {:?}", graph.keys());
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| cycle.join(" -> "))
        .collect();
    assert!(
        cycles.is_empty(),
        "the top-level modules form cycles (a lower module names a higher one):\n{}",
        cycles.join("\n")
    );
}

/// The test itself finds a cycle where there is one.
#[test]
fn a_cycle_is_found_and_named() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("error", &["status"][..]),
        ("status", &["deploy"]),
        ("deploy", &["error"]),
        ("text", &[]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_string(), uses.iter().map(|u| u.to_string()).collect()))
    .collect();
    assert_eq!(
        cycle_from(&graph, "error").unwrap(),
        ["error", "status", "deploy", "error"]
    );
    assert_eq!(cycle_from(&graph, "text"), None);
    assert_eq!(
        crate_paths("use crate::{engine::Engine, status};\nlet x = crate::text::count(1, \"a\");"),
        ["engine", "status", "text"]
    );
}

/// A module kept as a file with its submodules in a folder of the same name (`error.rs`
/// and `error/`) is read whole: the file's references and the folder's.
#[test]
fn a_module_file_and_its_folder_are_read_together() {
    let graph = references();
    let error = &graph["error"];
    // `error.rs` re-exports the exit codes; `error/deploy.rs` summarizes a failed row's logs.
    assert!(error.contains("exit_code"), "error names: {error:?}");
    assert!(error.contains("history"), "error names: {error:?}");
}

/// No file of `src/` is over 800 lines (issue 23): a file that long holds more than one
/// job. Its functions' length is clippy's `too_many_lines` (clippy.toml).
#[test]
fn no_source_file_is_over_800_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            (lines > 800).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over 800 lines:\n{}",
        long.join("\n")
    );
}
