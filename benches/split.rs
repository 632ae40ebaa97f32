//! Splitting throughput over the whole corpus, per dialect, in MB/s.
//!
//! Compared against: `sqlparser`'s tokenizer on the same files (the crate the splitter
//! would otherwise be built on; tokenizing alone, without any statement logic), so the
//! numbers say what the hand-written lexer costs or saves. Run: `cargo bench --bench split`.

#[path = "../tests/it/corpus_location.rs"]
mod corpus_location;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use safemig::sql::{Dialect, split};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::tokenizer::Tokenizer;

/// Every migration.sql of the corpus for `provider`, concatenated per file; `None` when
/// the corpus is missing.
fn corpus(provider: &str) -> Option<Vec<String>> {
    let root = corpus_location::corpus_dir()?;
    let mut scripts = Vec::new();
    for project in std::fs::read_dir(&root).unwrap().flatten() {
        let migrations = project.path().join("migrations");
        let lock =
            std::fs::read_to_string(migrations.join("migration_lock.toml")).unwrap_or_default();
        if !lock.contains(&format!("\"{provider}\"")) {
            continue;
        }
        for migration in std::fs::read_dir(&migrations).unwrap().flatten() {
            if let Ok(sql) = std::fs::read_to_string(migration.path().join("migration.sql")) {
                scripts.push(sql);
            }
        }
    }
    assert!(!scripts.is_empty(), "no {provider} corpus");
    Some(scripts)
}

fn bench(c: &mut Criterion) {
    for (provider, dialect) in [
        ("postgresql", Dialect::Postgres),
        ("mysql", Dialect::Mysql),
        ("sqlite", Dialect::Sqlite),
    ] {
        let Some(scripts) = corpus(provider) else {
            return;
        };
        let bytes: usize = scripts.iter().map(String::len).sum();
        let mut group = c.benchmark_group(format!("split/{provider}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("safemig::sql::split", |b| {
            b.iter(|| {
                scripts
                    .iter()
                    .map(|s| split(s, dialect).len())
                    .sum::<usize>()
            })
        });
        group.bench_function("sqlparser tokenizer (baseline)", |b| {
            b.iter(|| {
                scripts
                    .iter()
                    .map(|s| {
                        let tokens = match dialect {
                            Dialect::Postgres => {
                                Tokenizer::new(&PostgreSqlDialect {}, s).tokenize()
                            }
                            Dialect::Mysql => Tokenizer::new(&MySqlDialect {}, s).tokenize(),
                            Dialect::Sqlite => Tokenizer::new(&SQLiteDialect {}, s).tokenize(),
                        };
                        tokens.map(|t| t.len()).unwrap_or(0)
                    })
                    .sum::<usize>()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
