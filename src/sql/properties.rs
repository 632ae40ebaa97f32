//! Property: splitting a concatenation of statements gives back those statements, whatever
//! quoting, comments and bodies they hold.

use proptest::prelude::*;

use super::{Dialect, StatementKind, normalize, split};

/// Text that looks dangerous inside quotes and comments: terminators, quote characters,
/// comment openers, dollar signs, newlines, non-ASCII.
fn nasty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a",
            "Z",
            "0",
            " ",
            ";",
            "'",
            "\"",
            "`",
            "\\",
            "-",
            "--",
            "/",
            "*",
            "/*",
            "#",
            "$",
            "$$",
            "(",
            ")",
            "\n",
            "\r\n",
            "\t",
            "é",
            "✓",
            "BEGIN",
            "END",
            "CASE",
            "DELIMITER",
        ]),
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn quoted(content: &str, quote: char, backslash_escapes: bool) -> String {
    let mut out = String::from(quote);
    for c in content.chars() {
        if backslash_escapes && c == '\\' {
            out.push_str("\\\\");
        } else if c == quote {
            out.push(quote);
            out.push(quote);
        } else {
            out.push(c);
        }
    }
    out.push(quote);
    out
}

/// One fragment of a statement's body: never starts or ends a statement by itself.
fn fragment(dialect: Dialect) -> BoxedStrategy<String> {
    let mysql = dialect == Dialect::Mysql;
    let words = prop::sample::select(vec![
        "x", "tbl", "a1", "VALUES", "1", "2.5", "FROM", "=", "+", ",",
    ])
    .prop_map(String::from);
    let string = nasty_text().prop_map(move |t| quoted(&t, '\'', mysql));
    let double = nasty_text().prop_map(move |t| quoted(&t, '"', mysql));
    let line_comment = nasty_text().prop_map(|t| format!("-- {}\n", t.replace(['\n', '\r'], " ")));
    let block_comment = nasty_text().prop_map(|t| format!("/* {} */", t.replace(['*', '/'], "")));
    let parens = nasty_text().prop_map(move |t| format!("(x; {} ; y)", quoted(&t, '\'', mysql)));
    let mut options = vec![
        words.boxed(),
        string.boxed(),
        double.boxed(),
        line_comment.boxed(),
        block_comment.boxed(),
        parens.boxed(),
    ];
    match dialect {
        Dialect::Postgres => {
            options.push(
                nasty_text()
                    .prop_map(|t| format!("$$ {} $$", t.replace('$', "")))
                    .boxed(),
            );
            options.push(
                nasty_text()
                    .prop_map(|t| format!("$fn$ {}$$ $fn$", t.replace('$', "")))
                    .boxed(),
            );
            options.push(
                nasty_text()
                    .prop_map(|t| format!("E{}", quoted(&t, '\'', true)))
                    .boxed(),
            );
            options.push(Just("/* outer /* nested; */ still comment; */".to_string()).boxed());
        }
        Dialect::Mysql => {
            options.push(nasty_text().prop_map(|t| quoted(&t, '`', false)).boxed());
            options.push(
                nasty_text()
                    .prop_map(|t| format!("# {}\n", t.replace(['\n', '\r'], " ")))
                    .boxed(),
            );
        }
        Dialect::Sqlite => {
            options.push(nasty_text().prop_map(|t| quoted(&t, '`', false)).boxed());
            options.push(
                nasty_text()
                    .prop_map(|t| format!("[{}]", t.replace(']', "")))
                    .boxed(),
            );
        }
    }
    prop::strategy::Union::new(options).boxed()
}

/// A statement: a leading keyword, fragments, and a final word (so no trivia at its ends).
fn plain_statement(dialect: Dialect) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "SELECT",
            "INSERT INTO t",
            "UPDATE t SET",
            "CREATE TABLE t",
        ]),
        prop::collection::vec(fragment(dialect), 0..6),
    )
        .prop_map(|(head, fragments)| format!("{head} {} x", fragments.join(" ")))
}

/// A trigger or routine with a body whose inner statements end with `;`.
fn compound_statement(dialect: Dialect) -> BoxedStrategy<String> {
    let inner = prop::collection::vec(plain_statement(dialect), 1..4);
    match dialect {
        Dialect::Postgres => inner
            .prop_map(|stmts| {
                format!(
                    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC {}; SELECT CASE WHEN true THEN 1 END; END",
                    stmts.join("; ")
                )
            })
            .boxed(),
        Dialect::Mysql => inner
            .prop_map(|stmts| {
                format!(
                    "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN\n  {};\n  IF x THEN SET y = CASE WHEN a THEN 1 END; END IF;\n  lbl: LOOP LEAVE lbl; END LOOP lbl;\n  BEGIN SET z = 1; END;\nEND",
                    stmts.join(";\n  ")
                )
            })
            .boxed(),
        Dialect::Sqlite => inner
            .prop_map(|stmts| {
                format!(
                    "CREATE TEMP TRIGGER trg AFTER UPDATE ON t BEGIN {}; UPDATE u SET v = CASE WHEN 1 THEN 2 END; END",
                    stmts.join("; ")
                )
            })
            .boxed(),
    }
}

fn statement(dialect: Dialect) -> impl Strategy<Value = String> {
    prop_oneof![4 => plain_statement(dialect), 1 => compound_statement(dialect)]
}

/// Whitespace and comments between statements.
fn trivia() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\n",
        " ",
        "\r\n",
        "\n\n-- between; statements\n",
        "/* gap; */ ",
        "\t",
    ])
    .prop_map(String::from)
}

fn script(dialect: Dialect) -> impl Strategy<Value = (Vec<String>, String)> {
    (
        prop::collection::vec((statement(dialect), trivia()), 0..6),
        any::<bool>(),
        trivia(),
    )
        .prop_map(|(parts, final_terminator, lead)| {
            let mut script = lead;
            let count = parts.len();
            for (i, (stmt, gap)) in parts.iter().enumerate() {
                script.push_str(stmt);
                if i + 1 < count || final_terminator {
                    script.push(';');
                }
                script.push_str(gap);
            }
            (parts.into_iter().map(|(s, _)| s).collect(), script)
        })
}

fn check(dialect: Dialect, expected: &[String], script: &str) -> Result<(), TestCaseError> {
    let got = split(script, dialect);
    let texts: Vec<&str> = got.iter().map(|s| s.sql).collect();
    prop_assert_eq!(
        &texts,
        &expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let mut at = 0;
    for stmt in &got {
        prop_assert_eq!(stmt.chunk.start, at, "chunks are contiguous");
        prop_assert!(stmt.chunk.start <= stmt.span.start && stmt.span.end <= stmt.chunk.end);
        prop_assert_eq!(
            stmt.line,
            1 + script[..stmt.span.start].matches('\n').count()
        );
        prop_assert_ne!(stmt.kind, StatementKind::ClientDirective);
        at = stmt.chunk.end;
    }
    if !got.is_empty() {
        prop_assert_eq!(at, script.len(), "the last chunk ends the input");
    }
    // Normalizing is idempotent: removing comments and folding whitespace leaves text that
    // reads as the same tokens.
    for stmt in &got {
        let once = normalize(stmt.sql, dialect);
        prop_assert_eq!(normalize(&once, dialect), once.clone());
        prop_assert_eq!(once.trim(), once.as_str());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn postgres_statements_round_trip((expected, script) in script(Dialect::Postgres)) {
        check(Dialect::Postgres, &expected, &script)?;
    }

    #[test]
    fn mysql_statements_round_trip((expected, script) in script(Dialect::Mysql)) {
        check(Dialect::Mysql, &expected, &script)?;
    }

    #[test]
    fn sqlite_statements_round_trip((expected, script) in script(Dialect::Sqlite)) {
        check(Dialect::Sqlite, &expected, &script)?;
    }

    #[test]
    fn arbitrary_input_never_panics_and_chunks_cover_it(input in "\\PC{0,200}", pick in 0usize..3) {
        let dialect = Dialect::ALL[pick];
        let got = split(&input, dialect);
        let mut at = 0;
        for stmt in &got {
            prop_assert_eq!(stmt.chunk.start, at);
            prop_assert_eq!(stmt.sql, &input[stmt.span.clone()]);
            at = stmt.chunk.end;
        }
        prop_assert!(got.is_empty() || at == input.len());
    }
}
