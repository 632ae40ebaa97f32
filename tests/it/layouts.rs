//! Project layouts Prisma users have, one example each under `examples/`: safemig finds
//! the schema, the migrations folder and the URL as Prisma does, with no flags.

use std::path::Path;

use crate::harness::{Kind, TestDb, safemig, safemig_command, to_run};

/// A copy of `examples/NAME`, without a database left from a manual run.
fn example(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", source.display()))
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    for db in ["dev.db", "database/dev.db", "prisma/schema/dev.db"] {
        let _ = std::fs::remove_file(tmp.path().join(db));
    }
    tmp
}

/// `status`, `deploy`, `status` in the project, without flags; returns where the SQLite
/// database ended up.
fn deploys_without_flags(project: &Path, database: &str) {
    let run = safemig(project, &["status"]).expect(8);
    assert!(run.stdout.contains("2 pending."), "{}", run.stdout);
    safemig(project, &["deploy"]).expect(0);
    safemig(project, &["status"]).expect(0);
    assert!(
        project.join(database).is_file(),
        "the database is not at {database}"
    );
}

/// Prisma 7: the URL in `prisma.config.ts` (`env("DATABASE_URL")`), the schema and the
/// migrations at paths relative to it.
#[test]
fn prisma_7_config_file() {
    let project = example("prisma7-config");
    deploys_without_flags(project.path(), "dev.db");
}

/// Prisma 6: `package.json`'s `"prisma": { "schema": … }`.
#[test]
fn package_json_names_the_schema() {
    let project = example("package-json");
    deploys_without_flags(project.path(), "database/dev.db");
}

/// A multi-file schema: a folder of `.prisma` files, the datasource in one of them, the
/// migrations inside the folder.
#[test]
fn multi_file_schema() {
    let project = example("multi-file-schema");
    deploys_without_flags(project.path(), "prisma/schema/dev.db");
}

/// `directUrl`: the app's `url` goes through a pooler or Prisma Accelerate (`prisma://`,
/// which migrations cannot use); migrations use `directUrl`, as Prisma Migrate does.
#[test]
fn direct_url_is_what_migrations_use() {
    let project = example("direct-url");
    let db = TestDb::new(Kind::Postgres);
    let run = |args: &[&str]| {
        to_run(
            safemig_command(project.path(), args)
                .env(
                    "DATABASE_URL",
                    "prisma://accelerate.prisma-data.net/?api_key=not-for-migrations",
                )
                .env("DIRECT_URL", &db.url)
                .output()
                .unwrap(),
        )
    };
    run(&["status"]).expect(8);
    run(&["deploy"]).expect(0);
    run(&["status"]).expect(0);
    assert!(db.has_table("Post"));
}

/// A Prisma 8 config is recognised and not read as a Prisma 7 one: the project is read
/// from the defaults, with a note.
#[test]
fn a_prisma_8_config_is_not_read() {
    let project = example("prisma7-config");
    std::fs::write(
        project.path().join("prisma.config.ts"),
        "import { definePrismaConfig } from \"prisma-next/config\";\n\
         export default definePrismaConfig({ orm: ormConfig({ db: { connection: env(\"DATABASE_URL\") } }) });\n",
    )
    .unwrap();
    let run = safemig(project.path(), &["status"]).expect(2);
    assert!(
        run.stderr
            .contains("prisma.config.ts is a Prisma 8 config (definePrismaConfig)"),
        "{}",
        run.stderr
    );
    // Without its config, the project has no schema at a default place, so no migrations.
    assert!(
        run.stderr.contains("prisma/migrations does not exist"),
        "{}",
        run.stderr
    );
    // Renamed as Prisma 8 projects keep their Prisma 7 setup, it is read again.
    std::fs::write(
        project.path().join("prisma7.config.ts"),
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prisma7-config/prisma.config.ts"),
        )
        .unwrap(),
    )
    .unwrap();
    safemig(project.path(), &["status"]).expect(8);
}

/// A value only Node could compute: the error names the flag to pass instead, which then
/// works.
#[test]
fn a_computed_config_value_names_the_flag_to_pass() {
    let project = example("prisma7-config");
    let config = project.path().join("prisma.config.ts");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("schema: \"db/schema.prisma\"", "schema: schemaPath()");
    std::fs::write(&config, text).unwrap();
    let run = safemig(project.path(), &["status"]).expect(2);
    assert!(
        run.stderr.contains("sets `schema` to `schemaPath()`")
            && run.stderr.contains("next: pass --schema PATH instead"),
        "{}",
        run.stderr
    );
    safemig(project.path(), &["--schema", "db/schema.prisma", "status"]).expect(8);
}

/// Prisma checks the datasource's provider against the URL even without a
/// `migration_lock.toml` (P1012).
#[test]
fn the_datasource_provider_is_checked_without_a_lock_file() {
    let project = example("package-json");
    std::fs::remove_file(
        project
            .path()
            .join("database/migrations/migration_lock.toml"),
    )
    .unwrap();
    let schema = project.path().join("database/schema.prisma");
    let text = std::fs::read_to_string(&schema)
        .unwrap()
        .replace("provider = \"sqlite\"", "provider = \"postgresql\"");
    std::fs::write(&schema, text).unwrap();
    let run = safemig(project.path(), &["deploy"]).expect(2);
    assert!(
        run.stderr.contains("error[P1012]")
            && run.stderr.contains("says provider = \"postgresql\""),
        "{}",
        run.stderr
    );
    assert!(!project.path().join("database/dev.db").exists());
}
