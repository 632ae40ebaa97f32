//! A statement's words as a cursor, for the few statement shapes safemig reads closer
//! than its leading keywords (what a statement targets, what it locks).

use super::Dialect;
use super::lexer::{Lexer, TokenKind};

/// The identifiers and keywords of a statement, with quotes removed, as a cursor.
pub(super) struct Words {
    pub(super) words: Vec<String>,
    pub(super) pos: usize,
}

impl Words {
    pub(super) fn new(sql: &str, dialect: Dialect) -> Self {
        let mut words = Vec::new();
        for tok in Lexer::new(sql, dialect) {
            let text = &sql[tok.start..tok.end];
            match tok.kind {
                TokenKind::Word => words.push(text.to_string()),
                TokenKind::QuotedIdentifier => {
                    let quote = text.chars().next().unwrap_or('"');
                    let close = if quote == '[' { ']' } else { quote };
                    let inner = text
                        .strip_prefix(quote)
                        .and_then(|t| t.strip_suffix(close))
                        .unwrap_or(text);
                    words.push(inner.replace(&format!("{close}{close}"), &close.to_string()));
                }
                TokenKind::String if dialect == Dialect::Mysql => {}
                kind if kind.is_trivia() => {}
                _ => words.push(text.to_string()),
            }
        }
        Words { words, pos: 0 }
    }

    pub(super) fn peek(&self) -> Option<&str> {
        self.words.get(self.pos).map(String::as_str)
    }

    pub(super) fn is(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|w| w.eq_ignore_ascii_case(keyword))
    }

    /// Consumes `keyword` if it is next.
    pub(super) fn eat(&mut self, keyword: &str) -> bool {
        let found = self.is(keyword);
        self.pos += found as usize;
        found
    }

    /// Consumes `keywords` if they are next, all of them; otherwise nothing.
    pub(super) fn eat_sequence(&mut self, keywords: &[&str]) -> bool {
        let found = keywords.iter().enumerate().all(|(i, k)| {
            self.words
                .get(self.pos + i)
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
        });
        if found {
            self.pos += keywords.len();
        }
        found
    }

    pub(super) fn eat_all(&mut self, keywords: &[&str]) {
        while keywords.iter().any(|k| self.eat(k)) {}
    }

    /// Consumes `IF [NOT] EXISTS`.
    pub(super) fn eat_if_exists(&mut self) {
        if self.eat("IF") {
            self.eat("NOT");
            self.eat("EXISTS");
        }
    }

    /// A possibly schema-qualified name; returns its last part.
    pub(super) fn name(&mut self) -> Option<String> {
        let mut name = self.words.get(self.pos)?.clone();
        self.pos += 1;
        while self.peek() == Some(".") {
            self.pos += 1;
            name = self.words.get(self.pos)?.clone();
            self.pos += 1;
        }
        Some(name)
    }

    /// Names separated by commas (`DROP TABLE a, b`).
    pub(super) fn names(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(name) = self.name() {
            names.push(name);
            if !self.eat(",") {
                break;
            }
        }
        names
    }
}
