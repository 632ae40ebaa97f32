//! The nastiest real constructs of `../shared/corpus/`, split as their servers read them.

use super::{Dialect, StatementKind, split};

/// A corpus file, or `None` when the corpus is missing outside CI (the test then returns).
fn corpus_file(path: &str) -> Option<String> {
    let file = super::corpus_location::corpus_dir()?
        .join(path)
        .join("migration.sql");
    Some(std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
}

#[test]
fn slenderaac_trigger_bodies_without_delimiter() {
    let Some(sql) = corpus_file("slenderaac-mysql/migrations/000000000000_init_from_canary") else {
        return;
    };
    let stmts = split(&sql, Dialect::Mysql);
    let triggers: Vec<_> = stmts
        .iter()
        .filter(|s| s.sql.starts_with("CREATE TRIGGER"))
        .collect();
    assert_eq!(triggers.len(), 2);
    for trigger in &triggers {
        assert!(trigger.sql.ends_with("END"), "{}", trigger.sql);
        assert_eq!(trigger.kind, StatementKind::Ddl);
    }
    // The three inner INSERTs stay inside the first trigger.
    assert_eq!(
        triggers[0].sql.matches("INSERT INTO `guild_ranks`").count(),
        3
    );
    assert!(
        stmts
            .iter()
            .all(|s| !s.sql.starts_with("INSERT INTO `guild_ranks`"))
    );
    assert!(stmts.iter().all(|s| !s.sql.starts_with("END")));
    assert_eq!(triggers[0].line, 371);
}

#[test]
fn slenderaac_procedures_with_if_blocks() {
    let Some(sql) =
        corpus_file("slenderaac-mysql/migrations/20231205053918_squashed_migrations_0_2_0")
    else {
        return;
    };
    let stmts = split(&sql, Dialect::Mysql);
    let procedures: Vec<_> = stmts
        .iter()
        .filter(|s| s.sql.starts_with("CREATE PROCEDURE"))
        .collect();
    assert_eq!(procedures.len(), 3);
    for procedure in &procedures {
        assert!(procedure.sql.ends_with("END"), "{}", procedure.sql);
        assert!(procedure.sql.contains("END IF;"));
        assert!(procedure.sql.contains("DEALLOCATE PREPARE stmt;"));
    }
    assert!(
        procedures[1]
            .sql
            .contains("SET @ddl = CONCAT(@ddl, 'UNIQUE ');")
    );
    // Nothing of a body leaks out as a statement of its own.
    for leaked in ["PREPARE", "EXECUTE", "DEALLOCATE", "SET @", "IF ", "END"] {
        assert!(stmts.iter().all(|s| !s.sql.starts_with(leaked)), "{leaked}");
    }
    assert!(
        stmts
            .iter()
            .filter(|s| s.sql.starts_with("CALL AddColumnIfNotExists"))
            .count()
            >= 9
    );
}

#[test]
fn evolution_api_conditional_ddl_through_prepare() {
    let Some(sql) = corpus_file(
        "evolution-api-mysql/migrations/20250510035200_add_wavoip_token_to_settings_table",
    ) else {
        return;
    };
    let stmts = split(&sql, Dialect::Mysql);
    let firsts: Vec<&str> = stmts
        .iter()
        .map(|s| s.sql.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        firsts,
        ["SET", "SET", "PREPARE", "EXECUTE", "DEALLOCATE", "ALTER"]
    );
    assert!(stmts[..5].iter().all(|s| s.kind == StatementKind::Other));
    assert_eq!(stmts[5].kind, StatementKind::Ddl);
    // The `;` inside the quoted DDL does not end the statement.
    assert!(
        stmts[1]
            .sql
            .ends_with("'SELECT \"Column already exists\";'\n)"),
        "{}",
        stmts[1].sql
    );
}

#[test]
fn trigger_dev_do_block_with_arrays_and_comments() {
    let Some(sql) = corpus_file(
        "trigger-dev-postgresql/migrations/20231024122736_runtime_environment_shortcodes",
    ) else {
        return;
    };
    let stmts = split(&sql, Dialect::Postgres);
    assert_eq!(stmts.len(), 1, "{stmts:#?}");
    assert!(stmts[0].sql.starts_with("DO $$") && stmts[0].sql.ends_with("$$"));
    assert_eq!((stmts[0].line, stmts[0].kind), (2, StatementKind::Other));
}

#[test]
fn trigger_dev_concurrent_indexes_and_own_transactions() {
    let Some(corpus) = super::corpus_location::corpus_dir() else {
        return;
    };
    let migrations = corpus.join("trigger-dev-postgresql/migrations");
    let (mut concurrent, mut transactional) = (0, 0);
    for entry in std::fs::read_dir(migrations).unwrap().flatten() {
        let Ok(sql) = std::fs::read_to_string(entry.path().join("migration.sql")) else {
            continue;
        };
        let kinds: Vec<_> = split(&sql, Dialect::Postgres)
            .iter()
            .map(|s| s.kind)
            .collect();
        if kinds.contains(&StatementKind::NoTransaction) {
            concurrent += 1;
            // Prisma can only run these because each is alone in its file.
            assert_eq!(kinds.len(), 1, "{}", entry.path().display());
        }
        transactional += kinds.contains(&StatementKind::TransactionControl) as usize;
    }
    // The corpus README: 71 single-statement CONCURRENTLY files, 13 with BEGIN/COMMIT.
    assert_eq!((concurrent, transactional), (71, 13));
}

#[test]
fn hatchet_plpgsql_function_and_trigger() {
    let Some(sql) = corpus_file("hatchet-postgresql/migrations/20240216133745_v0_11_0") else {
        return;
    };
    let stmts = split(&sql, Dialect::Postgres);
    let function = stmts
        .iter()
        .find(|s| {
            s.sql
                .starts_with("CREATE OR REPLACE FUNCTION prevent_internal_name_or_slug")
        })
        .unwrap();
    assert!(
        function.sql.ends_with("LANGUAGE plpgsql"),
        "{}",
        function.sql
    );
    assert_eq!(function.line, 292);
    let trigger = stmts
        .iter()
        .find(|s| s.sql.starts_with("CREATE TRIGGER check_name_or_slug"))
        .unwrap();
    assert!(trigger.sql.contains("EXECUTE FUNCTION") || trigger.sql.contains("EXECUTE PROCEDURE"));
}

#[test]
fn pingvin_share_table_rebuild() {
    let Some(sql) =
        corpus_file("pingvin-share-sqlite/migrations/20221013212615_cascade_delete_on_share")
    else {
        return;
    };
    let kinds: Vec<_> = split(&sql, Dialect::Sqlite)
        .iter()
        .map(|s| s.kind)
        .collect();
    use StatementKind::*;
    assert_eq!(
        kinds,
        [
            ForeignKeysPragma,
            Ddl,
            Dml,
            Ddl,
            Ddl,
            Other,
            ForeignKeysPragma
        ]
    );
}
