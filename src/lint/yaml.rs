//! YAML read into a small tree that keeps line numbers, resolving anchors, aliases and
//! `<<` merge keys as compose files use them.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// A YAML node with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Scalar { value: String, line: usize },
    Seq { items: Vec<Yaml>, line: usize },
    Map { entries: Vec<Entry>, line: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Yaml,
}

impl Yaml {
    pub fn line(&self) -> usize {
        match self {
            Yaml::Scalar { line, .. } | Yaml::Seq { line, .. } | Yaml::Map { line, .. } => *line,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The entry for `key` of a mapping.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Yaml::Map { entries, .. } => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.entry(key).map(|e| &e.value)
    }
}

/// A node being built.
enum Open {
    Seq(Vec<Yaml>, usize, usize),
    /// Entries, a key waiting for its value, line, anchor.
    Map(Vec<Entry>, Option<(String, usize)>, usize, usize),
}

/// Parses the first document of `text`.
pub fn parse(text: &str) -> Result<Yaml, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Yaml> = HashMap::new();
    let mut root: Option<Yaml> = None;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| e.to_string())?;
        let line = mark.line();
        let done = match event {
            Event::StreamEnd | Event::DocumentEnd => break,
            Event::Scalar(value, _, anchor, _) => Some((Yaml::Scalar { value, line }, anchor)),
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or("an alias refers to an unknown anchor")?;
                Some((node, 0))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq(Vec::new(), line, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Open::Map(Vec::new(), None, line, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items, line, anchor)) => Some((Yaml::Seq { items, line }, anchor)),
                _ => return Err("unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(entries, _, line, anchor)) => Some((
                    Yaml::Map {
                        entries: merge(entries),
                        line,
                    },
                    anchor,
                )),
                _ => return Err("unbalanced mapping".into()),
            },
            _ => None,
        };
        let Some((node, anchor)) = done else { continue };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(entries, pending, ..)) => match pending.take() {
                Some((key, line)) => entries.push(Entry {
                    key,
                    line,
                    value: node,
                }),
                None => {
                    let key = node
                        .as_str()
                        .ok_or("a mapping key is not a plain value")?
                        .to_string();
                    *pending = Some((key, node.line()));
                }
            },
        }
    }
    root.ok_or_else(|| "the file is empty".into())
}

/// Applies `<<` merge keys: entries of the merged mappings that the mapping does not set.
fn merge(entries: Vec<Entry>) -> Vec<Entry> {
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.key == "<<");
    for merged in merges {
        let sources = match merged.value {
            Yaml::Seq { items, .. } => items,
            other => vec![other],
        };
        for source in sources {
            if let Yaml::Map { entries, .. } = source {
                for entry in entries {
                    if !own.iter().any(|e| e.key == entry.key) {
                        own.push(entry);
                    }
                }
            }
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_anchors_and_merge_keys() {
        let text = "x-common: &common\n  restart: always\n  init: true\nservices:\n  web:\n    <<: *common\n    init: false\n    command: [\"node\", \"server.js\"]\n";
        let doc = parse(text).unwrap();
        let web = doc.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("restart").unwrap().as_str(), Some("always"));
        assert_eq!(web.get("init").unwrap().as_str(), Some("false"));
        assert_eq!(web.entry("command").unwrap().line, 8);
        assert_eq!(doc.entry("services").unwrap().line, 4);
    }
}
