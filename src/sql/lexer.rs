//! A byte-level SQL tokenizer that knows exactly as much of each dialect as statement
//! boundaries depend on: quoting, comments, dollar quoting and the client's delimiter.
//!
//! Why hand-written rather than `sqlparser`'s tokenizer: the executor needs byte offsets
//! (to hash statements and resume in the middle of a file), the tokenizer must accept every
//! input without failing (an unterminated quote in a migration file is the server's error to
//! report, not ours, and spans must still cover the input), MySQL's client-side `DELIMITER`
//! changes what ends a statement mid-stream, and MySQL's `/*! … */` comments are code.
//! `sqlparser` reports line/column locations, stops at the first lexical error and knows
//! none of the last two. Everything here is ASCII-driven, so scanning bytes of UTF-8 text
//! never splits a character.

use super::Dialect;

/// What a token is, as far as splitting cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Whitespace,
    /// `-- …`, and `# …` on MySQL.
    LineComment,
    /// `/* … */` (nested on PostgreSQL).
    BlockComment,
    /// MySQL's `/*! … */` / `/*M! … */`: a comment to other databases, code to MySQL.
    ConditionalComment,
    /// An unquoted identifier, keyword or number.
    Word,
    /// `"…"`, `` `…` `` or SQLite's `[…]`.
    QuotedIdentifier,
    /// `'…'`, `E'…'`, or MySQL's `"…"`.
    String,
    /// PostgreSQL `$$ … $$` / `$tag$ … $tag$`.
    DollarString,
    /// The statement terminator in effect (`;`, or what `DELIMITER` set on MySQL).
    Delimiter,
    OpenParen,
    CloseParen,
    /// Any other punctuation or operator character.
    Punct,
}

impl TokenKind {
    /// Whitespace and comments: text the server ignores.
    pub fn is_trivia(self) -> bool {
        matches!(
            self,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Streams tokens over a script. The delimiter is mutable because MySQL's `DELIMITER`
/// directive changes it between statements.
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    dialect: Dialect,
    delimiter: Vec<u8>,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, dialect: Dialect) -> Self {
        Lexer {
            src: src.as_bytes(),
            pos: 0,
            dialect,
            delimiter: b";".to_vec(),
        }
    }

    /// Continues lexing from `pos`, which must be a token boundary.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub fn set_delimiter(&mut self, delimiter: &[u8]) {
        self.delimiter = delimiter.to_vec();
    }

    pub fn delimiter_is_default(&self) -> bool {
        self.delimiter == b";"
    }

    fn peek(&self, offset: usize) -> Option<u8> {
        self.src.get(self.pos + offset).copied()
    }

    fn at_delimiter(&self) -> bool {
        !self.delimiter.is_empty() && self.src[self.pos..].starts_with(&self.delimiter)
    }

    /// Advances to the end of the line, leaving the newline for the whitespace token.
    fn skip_line(&mut self) {
        while let Some(b) = self.peek(0) {
            if b == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Consumes a quoted run that started one byte before `self.pos`, up to and including
    /// `close`. A doubled `close` is an escaped quote; with `backslash`, `\x` is an escape.
    /// An unterminated run ends at the end of input.
    fn skip_quoted(&mut self, close: u8, backslash: bool) {
        while let Some(b) = self.peek(0) {
            self.pos += 1;
            if backslash && b == b'\\' {
                if self.peek(0).is_some() {
                    self.pos += 1;
                }
            } else if b == close {
                if self.peek(0) == Some(close) {
                    self.pos += 1;
                } else {
                    return;
                }
            }
        }
    }

    /// Consumes a block comment whose `/*` is already consumed.
    fn skip_block_comment(&mut self) {
        let nested = self.dialect.nests_block_comments();
        let mut depth = 1usize;
        while let Some(b) = self.peek(0) {
            if b == b'*' && self.peek(1) == Some(b'/') {
                self.pos += 2;
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else if nested && b == b'/' && self.peek(1) == Some(b'*') {
                self.pos += 2;
                depth += 1;
            } else {
                self.pos += 1;
            }
        }
    }

    /// At a `$`: the length of a PostgreSQL dollar-quote opening tag (`$$`, `$tag$`) here.
    fn dollar_tag_len(&self) -> Option<usize> {
        let rest = &self.src[self.pos + 1..];
        for (i, &b) in rest.iter().enumerate() {
            if b == b'$' {
                return Some(i + 2);
            }
            let continues_tag = if i == 0 {
                b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
            } else {
                is_word_byte(b)
            };
            if !continues_tag {
                return None;
            }
        }
        None
    }

    /// Whether `b` continues an unquoted identifier in this dialect.
    fn is_word_byte(&self, b: u8) -> bool {
        is_word_byte(b) && (b != b'$' || self.dialect.dollar_in_identifiers())
    }

    fn lex_word(&mut self) {
        let custom_delimiter = !self.delimiter_is_default();
        while let Some(b) = self.peek(0) {
            if !self.is_word_byte(b) {
                break;
            }
            if custom_delimiter && self.at_delimiter() {
                break;
            }
            self.pos += 1;
        }
    }

    /// A string prefix such as `E`, `N`, `X`, `B`, `U&` or MySQL's `_utf8mb4` directly before a
    /// quote: returns whether the string that follows takes backslash escapes.
    fn prefixed_string_escapes(&self, word: &[u8]) -> Option<bool> {
        if self.peek(0) != Some(b'\'') {
            return None;
        }
        self.dialect.string_prefix_escapes(word)
    }
}

/// Bytes that continue an unquoted identifier. Non-ASCII bytes count, so identifiers in
/// any script stay whole.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let start = self.pos;
        let b = self.peek(0)?;
        let dialect = self.dialect;
        let kind = if self.at_delimiter() {
            self.pos += self.delimiter.len();
            TokenKind::Delimiter
        } else if b.is_ascii_whitespace() {
            while self.peek(0).is_some_and(|b| b.is_ascii_whitespace()) {
                self.pos += 1;
            }
            TokenKind::Whitespace
        } else if self.line_comment_starts() {
            self.skip_line();
            TokenKind::LineComment
        } else if b == b'/' && self.peek(1) == Some(b'*') {
            self.pos += 2;
            let conditional = dialect.conditional_comments()
                && (self.peek(0) == Some(b'!')
                    || (self.peek(0) == Some(b'M') && self.peek(1) == Some(b'!')));
            self.skip_block_comment();
            if conditional {
                TokenKind::ConditionalComment
            } else {
                TokenKind::BlockComment
            }
        } else if b == b'\'' {
            self.pos += 1;
            self.skip_quoted(b'\'', dialect.backslash_escapes());
            TokenKind::String
        } else if b == b'"' {
            self.pos += 1;
            if dialect.double_quoted_strings() {
                self.skip_quoted(b'"', dialect.backslash_escapes());
                TokenKind::String
            } else {
                self.skip_quoted(b'"', false);
                TokenKind::QuotedIdentifier
            }
        } else if b == b'`' && dialect.backtick_identifiers() {
            self.pos += 1;
            self.skip_quoted(b'`', false);
            TokenKind::QuotedIdentifier
        } else if b == b'[' && dialect.bracket_identifiers() {
            self.pos += 1;
            while let Some(b) = self.peek(0) {
                self.pos += 1;
                if b == b']' {
                    break;
                }
            }
            TokenKind::QuotedIdentifier
        } else if b == b'$' && dialect.dollar_quoted_strings() {
            if let Some(tag_len) = self.dollar_tag_len() {
                let tag = &self.src[self.pos..self.pos + tag_len];
                let body_start = self.pos + tag_len;
                self.pos = match find(&self.src[body_start..], tag) {
                    Some(i) => body_start + i + tag_len,
                    None => self.src.len(),
                };
                TokenKind::DollarString
            } else {
                // A positional parameter such as `$1`.
                self.pos += 1;
                while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                TokenKind::Punct
            }
        } else if self.is_word_byte(b) {
            self.lex_word();
            let word = &self.src[start..self.pos];
            if let Some(backslash) = self.prefixed_string_escapes(word) {
                self.pos += 1;
                self.skip_quoted(b'\'', backslash);
                TokenKind::String
            } else {
                TokenKind::Word
            }
        } else if b == b'(' {
            self.pos += 1;
            TokenKind::OpenParen
        } else if b == b')' {
            self.pos += 1;
            TokenKind::CloseParen
        } else {
            // Advance by a whole character so token boundaries stay on UTF-8 boundaries.
            self.pos += 1;
            while self.peek(0).is_some_and(|b| (b & 0xC0) == 0x80) {
                self.pos += 1;
            }
            TokenKind::Punct
        };
        Some(Token {
            kind,
            start,
            end: self.pos,
        })
    }
}

impl Lexer<'_> {
    /// `--` starts a comment, except on MySQL when no whitespace or control character (or
    /// the end of input) follows: `1--1` is arithmetic there. MySQL also has `#` comments.
    fn line_comment_starts(&self) -> bool {
        match (self.peek(0), self.peek(1)) {
            (Some(b'-'), Some(b'-')) => {
                !self.dialect.dash_comments_need_space()
                    || self
                        .peek(2)
                        .is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            }
            (Some(b'#'), _) => self.dialect.hash_comments(),
            _ => false,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str, dialect: Dialect) -> Vec<(TokenKind, &str)> {
        Lexer::new(sql, dialect)
            .filter(|t| t.kind != TokenKind::Whitespace)
            .map(|t| (t.kind, &sql[t.start..t.end]))
            .collect()
    }

    #[test]
    fn postgres_dollar_quotes_and_parameters() {
        let toks = kinds("SELECT $1, $$a;b$$, $fn$ x $$ y $fn$", Dialect::Postgres);
        assert_eq!(toks[1], (TokenKind::Punct, "$1"));
        assert_eq!(toks[3], (TokenKind::DollarString, "$$a;b$$"));
        assert_eq!(toks[5], (TokenKind::DollarString, "$fn$ x $$ y $fn$"));
    }

    #[test]
    fn identifiers_with_dollar_are_not_dollar_quotes() {
        let toks = kinds("a$b$ ;", Dialect::Postgres);
        assert_eq!(toks[0], (TokenKind::Word, "a$b$"));
    }

    #[test]
    fn escape_strings_per_dialect() {
        assert_eq!(
            kinds(r"E'it\'s' ;", Dialect::Postgres)[0],
            (TokenKind::String, r"E'it\'s'")
        );
        // In a standard PostgreSQL string a backslash is an ordinary character.
        assert_eq!(
            kinds(r"'a\' ;", Dialect::Postgres)[0],
            (TokenKind::String, r"'a\'")
        );
        assert_eq!(
            kinds(r"'a\';' ;", Dialect::Mysql)[0],
            (TokenKind::String, r"'a\';'")
        );
        assert_eq!(
            kinds(r#""a\"b" ;"#, Dialect::Mysql)[0],
            (TokenKind::String, r#""a\"b""#)
        );
    }

    #[test]
    fn comments_per_dialect() {
        assert_eq!(
            kinds("/* a /* b */ c */ x", Dialect::Postgres)[0].0,
            TokenKind::BlockComment
        );
        assert_eq!(
            kinds("/* a /* b */ c */ x", Dialect::Mysql)[1],
            (TokenKind::Word, "c")
        );
        assert_eq!(
            kinds("# hi\nx", Dialect::Mysql)[0].0,
            TokenKind::LineComment
        );
        assert_eq!(kinds("# hi\nx", Dialect::Postgres)[0].0, TokenKind::Punct);
        assert_eq!(kinds("1--1", Dialect::Mysql).len(), 4);
        assert_eq!(
            kinds("/*!40101 SET x=1 */", Dialect::Mysql)[0].0,
            TokenKind::ConditionalComment
        );
    }

    #[test]
    fn unterminated_constructs_run_to_the_end() {
        for (sql, dialect) in [
            ("'abc", Dialect::Postgres),
            ("$$abc", Dialect::Postgres),
            ("/* abc", Dialect::Sqlite),
            ("`abc", Dialect::Mysql),
            ("[abc", Dialect::Sqlite),
        ] {
            let toks: Vec<_> = Lexer::new(sql, dialect).collect();
            assert_eq!(toks.len(), 1, "{sql}");
            assert_eq!(toks[0].end, sql.len());
        }
    }

    #[test]
    fn custom_delimiter_ends_words() {
        let mut lexer = Lexer::new("END$$ x", Dialect::Mysql);
        lexer.set_delimiter(b"$$");
        let toks: Vec<_> = lexer.collect();
        assert_eq!(toks[0].kind, TokenKind::Word);
        assert_eq!(toks[0].end, 3);
        assert_eq!(toks[1].kind, TokenKind::Delimiter);
    }
}
