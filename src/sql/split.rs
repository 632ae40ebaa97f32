//! Splits a script into the statements the server would see, with their byte spans.

use std::ops::Range;

use super::Dialect;
use super::classify::{StatementKind, classify};
use super::lexer::{Lexer, Token, TokenKind};

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement from its first to its last code token, without the terminator.
    pub sql: &'a str,
    /// Where `sql` lies in the script.
    pub span: Range<usize>,
    /// The statement with the comments and whitespace before it and its terminator. The
    /// chunks of a script are contiguous from byte 0; trivia after the last statement
    /// belongs to the last chunk.
    pub chunk: Range<usize>,
    /// 1-based line of the statement's first byte.
    pub line: usize,
    pub kind: StatementKind,
}

/// How many leading words classification and block detection look at.
const WORDS: usize = 8;

/// What the splitter tracks inside the statement being read.
#[derive(Default)]
struct Current {
    body: Option<Range<usize>>,
    parens: usize,
    /// Depth of `BEGIN … END` / `CASE … END` inside a trigger or routine body.
    blocks: usize,
    /// An `END` was read; whether it closes a block depends on the next word.
    pending_end: bool,
    /// Whether the statement can hold a `BEGIN … END` body with inner terminators:
    /// `None` until its leading words decide.
    compound: Option<bool>,
    words: [Range<usize>; WORDS],
    word_count: usize,
}

impl Current {
    fn word<'s>(&self, src: &'s str, i: usize) -> Option<&'s str> {
        (i < self.word_count).then(|| &src[self.words[i].clone()])
    }

    fn is_open(&self) -> bool {
        self.parens > 0 || self.blocks > 0
    }

    /// Feeds one code token (not trivia, not a terminator at depth 0).
    fn push(&mut self, src: &str, tok: Token) {
        match &mut self.body {
            Some(body) => body.end = tok.end,
            None => self.body = Some(tok.start..tok.end),
        }
        let text = &src[tok.start..tok.end];
        if self.pending_end {
            self.pending_end = false;
            if tok.kind == TokenKind::Word
                && is_any(text, &["IF", "LOOP", "WHILE", "REPEAT", "FOR"])
            {
                return; // `END IF` & co. close constructs that were never counted.
            }
            self.blocks = self.blocks.saturating_sub(1);
            if tok.kind == TokenKind::Word && text.eq_ignore_ascii_case("CASE") {
                return; // `END CASE` closes the CASE counted when it opened.
            }
        }
        match tok.kind {
            TokenKind::OpenParen => self.parens += 1,
            TokenKind::CloseParen => self.parens = self.parens.saturating_sub(1),
            TokenKind::Word => self.push_word(src, tok.start..tok.end),
            _ => {}
        }
    }

    fn push_word(&mut self, src: &str, range: Range<usize>) {
        let text = &src[range.clone()];
        if self.parens == 0 && self.word_count < WORDS {
            self.words[self.word_count] = range;
            self.word_count += 1;
            self.decide_compound(src);
        }
        if self.compound == Some(true) {
            if is_any(text, &["BEGIN", "CASE"]) {
                self.blocks += 1;
            } else if text.eq_ignore_ascii_case("END") {
                self.pending_end = true;
            }
        }
    }

    /// Trigger, procedure, function and event bodies may be `BEGIN … END` blocks whose
    /// inner statements end with `;`, as may MariaDB's `BEGIN NOT ATOMIC … END`.
    fn decide_compound(&mut self, src: &str) {
        if self.compound.is_some() {
            return;
        }
        let first = self.word(src, 0).unwrap_or_default();
        let latest = self.word(src, self.word_count - 1).unwrap_or_default();
        if first.eq_ignore_ascii_case("BEGIN") {
            if self.word_count == 2 {
                let anonymous_block = latest.eq_ignore_ascii_case("NOT");
                self.compound = Some(anonymous_block);
                if anonymous_block {
                    self.blocks = 1;
                }
            }
        } else if !first.eq_ignore_ascii_case("CREATE") {
            self.compound = Some(false);
        } else if is_any(latest, &["TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"]) {
            self.compound = Some(true);
        } else if self.word_count == WORDS
            || is_any(
                latest,
                &[
                    "TABLE",
                    "VIEW",
                    "INDEX",
                    "UNIQUE",
                    "SCHEMA",
                    "DATABASE",
                    "SEQUENCE",
                    "TYPE",
                    "DOMAIN",
                    "EXTENSION",
                    "ROLE",
                    "USER",
                    "POLICY",
                    "RULE",
                ],
            )
        {
            self.compound = Some(false);
        }
    }
}

fn is_any(word: &str, candidates: &[&str]) -> bool {
    candidates.iter().any(|c| word.eq_ignore_ascii_case(c))
}

/// Splits `src` into statements the way the `dialect`'s server and client read them.
///
/// Never fails: unterminated quotes or comments run to the end of input, and whatever the
/// input, the returned chunks are contiguous from byte 0 and only trivia follows the last.
pub fn split(src: &str, dialect: Dialect) -> Vec<Statement<'_>> {
    let mut statements = Vec::new();
    split_each(src, dialect, |stmt| statements.push(stmt));
    statements
}

/// [`split`], handing each statement to `each` as it is found instead of collecting them:
/// a 50 MB data migration has half a million statements.
pub fn split_each<'a>(src: &'a str, dialect: Dialect, mut each: impl FnMut(Statement<'a>)) {
    let mut lexer = Lexer::new(src, dialect);
    // The latest statement is held back: trivia after the last one belongs to its chunk.
    let mut held: Option<Statement<'a>> = None;
    let mut emit = |stmt: Statement<'a>| {
        if let Some(previous) = held.replace(stmt) {
            each(previous);
        }
    };
    let mut chunk_start = 0;
    let mut cur = Current::default();
    let mut lines = LineCounter::new(src);

    while let Some(tok) = lexer.next() {
        if cur.body.is_none()
            && dialect.delimiter_directive()
            && tok.kind == TokenKind::Word
            && let Some((line_end, delimiter)) = delimiter_directive(src, tok)
        {
            emit(Statement {
                sql: src[tok.start..line_end].trim_end(),
                span: tok.start..src[..line_end].trim_end().len(),
                chunk: chunk_start..line_end,
                line: lines.line_of(tok.start),
                kind: StatementKind::ClientDirective,
            });
            lexer.seek(line_end);
            lexer.set_delimiter(delimiter.as_bytes());
            chunk_start = line_end;
            continue;
        }
        match tok.kind {
            kind if kind.is_trivia() => {}
            TokenKind::Delimiter => {
                // An `END` directly before the terminator closes its block.
                if cur.pending_end {
                    cur.pending_end = false;
                    cur.blocks = cur.blocks.saturating_sub(1);
                }
                // Inside a body or parentheses, `;` is part of the statement. A custom
                // `DELIMITER` exists precisely so that it always ends one.
                if cur.is_open() && lexer.delimiter_is_default() {
                    cur.push(src, tok);
                    continue;
                }
                if let Some(body) = cur.body.take() {
                    let chunk = chunk_start..tok.end;
                    emit(finish(src, dialect, &cur, body, chunk, &mut lines));
                    chunk_start = tok.end;
                }
                cur = Current::default();
            }
            _ => cur.push(src, tok),
        }
    }
    if let Some(body) = cur.body.take() {
        emit(finish(
            src,
            dialect,
            &cur,
            body,
            chunk_start..src.len(),
            &mut lines,
        ));
    }
    if let Some(mut last) = held {
        last.chunk.end = src.len();
        each(last);
    }
}

fn finish<'a>(
    src: &'a str,
    dialect: Dialect,
    cur: &Current,
    body: Range<usize>,
    chunk: Range<usize>,
    lines: &mut LineCounter,
) -> Statement<'a> {
    let words: Vec<&str> = (0..cur.word_count)
        .filter_map(|i| cur.word(src, i))
        .collect();
    Statement {
        sql: &src[body.clone()],
        line: lines.line_of(body.start),
        kind: classify(dialect, &words, cur.compound == Some(true)),
        span: body,
        chunk,
    }
}

/// Recognises the MySQL client's `DELIMITER xyz` line; returns where the line ends and the
/// new delimiter.
fn delimiter_directive(src: &str, tok: Token) -> Option<(usize, &str)> {
    if !src[tok.start..tok.end].eq_ignore_ascii_case("DELIMITER") {
        return None;
    }
    let rest = &src[tok.end..];
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let line_end = rest.find('\n').map_or(src.len(), |i| tok.end + i);
    let delimiter = src[tok.end..line_end].split_whitespace().next()?;
    Some((line_end, delimiter))
}

/// Turns byte offsets into line numbers, scanning the script once in order.
struct LineCounter<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(src: &'a str) -> Self {
        LineCounter {
            src: src.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// Offsets must not decrease between calls.
    fn line_of(&mut self, offset: usize) -> usize {
        self.line += self.src[self.pos..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = offset;
        self.line
    }
}

/// The statement's code with comments removed and every run of whitespace made one space:
/// what stays the same when only formatting or line endings change.
pub fn normalize(sql: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut gap = false;
    for tok in Lexer::new(sql, dialect) {
        if tok.kind.is_trivia() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push_str(&sql[tok.start..tok.end]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str, dialect: Dialect) -> Vec<&str> {
        split(src, dialect).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn simple_statements_and_missing_final_terminator() {
        assert_eq!(
            texts(
                "CREATE TABLE a (x int);\nINSERT INTO a VALUES (1)",
                Dialect::Postgres
            ),
            ["CREATE TABLE a (x int)", "INSERT INTO a VALUES (1)"]
        );
    }

    #[test]
    fn comment_only_and_empty_files_have_no_statements() {
        for dialect in Dialect::ALL {
            assert!(split("", dialect).is_empty());
            assert!(split("-- nothing\n/* here */\n  ;\n", dialect).is_empty());
        }
    }

    #[test]
    fn chunks_cover_the_input() {
        let src = "-- lead\nA;  B ;\r\n-- tail\n";
        let stmts = split(src, Dialect::Sqlite);
        assert_eq!(stmts[0].chunk, 0..10);
        assert_eq!(stmts[1].chunk.start, 10);
        assert_eq!(stmts[1].chunk.end, src.len());
        assert_eq!(stmts[1].line, 2);
    }

    #[test]
    fn mysql_trigger_body_without_delimiter() {
        let src = "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN\n  IF NEW.x > 0 THEN\n    SET NEW.y = CASE WHEN NEW.x > 1 THEN 2 ELSE 1 END;\n  END IF;\n  LOOP LEAVE; END LOOP;\nEND;\nSELECT 1;";
        let stmts = texts(src, Dialect::Mysql);
        assert_eq!(stmts.len(), 2, "{stmts:#?}");
        assert!(stmts[0].ends_with("END"));
        assert_eq!(stmts[1], "SELECT 1");
    }

    #[test]
    fn mysql_delimiter_directive() {
        let src =
            "DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\nSELECT 2;";
        let stmts = split(src, Dialect::Mysql);
        let kinds: Vec<_> = stmts.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                StatementKind::ClientDirective,
                StatementKind::Ddl,
                StatementKind::ClientDirective,
                StatementKind::Dml
            ]
        );
        assert_eq!(stmts[1].sql, "CREATE PROCEDURE p() BEGIN SELECT 1; END");
        assert_eq!(stmts[3].sql, "SELECT 2");
    }

    #[test]
    fn sqlite_trigger_with_case() {
        let src = "CREATE TRIGGER t AFTER UPDATE ON a BEGIN UPDATE b SET v = CASE WHEN 1 THEN 2 END; DELETE FROM c; END;\nPRAGMA foreign_keys=ON;";
        let stmts = split(src, Dialect::Sqlite);
        assert_eq!(stmts.len(), 2);
        assert_eq!(stmts[1].kind, StatementKind::ForeignKeysPragma);
    }

    #[test]
    fn postgres_do_block_and_begin_atomic() {
        let src = "DO $$ BEGIN PERFORM 1; END $$;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\nSELECT 3;";
        assert_eq!(texts(src, Dialect::Postgres).len(), 3);
    }

    #[test]
    fn mariadb_anonymous_block() {
        let src = "BEGIN NOT ATOMIC DECLARE x INT; SET x = 1; END;\nSELECT 1;";
        assert_eq!(texts(src, Dialect::Mysql).len(), 2);
    }

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        let src = "CREATE RULE r AS ON INSERT TO a DO ALSO (INSERT INTO b VALUES (1); INSERT INTO c VALUES (2));\nSELECT 1;";
        assert_eq!(texts(src, Dialect::Postgres).len(), 2);
    }

    #[test]
    fn line_numbers_with_crlf_and_non_ascii() {
        let src = "-- données\r\nINSERT INTO t VALUES ('é;è');\r\n\r\nSELECT '✓';";
        let stmts = split(src, Dialect::Postgres);
        assert_eq!(stmts.len(), 2);
        assert_eq!((stmts[0].line, stmts[1].line), (2, 4));
        assert_eq!(stmts[0].sql, "INSERT INTO t VALUES ('é;è')");
    }

    #[test]
    fn normalize_drops_comments_and_formatting() {
        assert_eq!(
            normalize("CREATE  TABLE a (\r\n  x int -- c\n)", Dialect::Postgres),
            "CREATE TABLE a ( x int )"
        );
    }
}
