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

/// Writes the example's config with `datasource: { DATASOURCE }`, after `prelude` (imports,
/// `const`s).
fn write_config(project: &Path, prelude: &str, datasource: &str) {
    std::fs::write(
        project.join("prisma.config.ts"),
        format!(
            "import {{ defineConfig, env }} from \"prisma/config\";\n{prelude}\n\
             export default defineConfig({{\n  schema: \"db/schema.prisma\",\n  \
             migrations: {{ path: \"db/migrations\" }},\n  datasource: {{ {datasource} }},\n}});\n"
        ),
    )
    .unwrap();
}

/// safemig in `project` with `DATABASE_URL` set to `url`.
fn safemig_with_url(project: &Path, url: &str, args: &[&str]) -> crate::harness::Run {
    to_run(
        safemig_command(project, args)
            .env("DATABASE_URL", url)
            .output()
            .unwrap(),
    )
}

/// The config forms real Prisma 7 projects write, which safemig refused (exit 2) before
/// it read them: TypeScript's non-null assertion, a `const` given by shorthand, and a
/// default for an unset variable (`??`; `||` also for an empty one). `prisma.rs` checks
/// that the real Prisma 7 reaches the same database with each.
#[test]
fn prisma_7_config_forms_real_projects_write() {
    let forms = [
        ("", "url: process.env.DATABASE_URL!"),
        ("const url = env(\"DATABASE_URL\");", "url"),
        (
            "",
            "url: process.env.DATABASE_URL ?? \"file:./fallback.db\"",
        ),
        (
            "",
            "url: process.env.DATABASE_URL || \"file:./fallback.db\"",
        ),
    ];
    for (prelude, datasource) in forms {
        let project = example("prisma7-config");
        std::fs::remove_file(project.path().join(".env")).unwrap();
        write_config(project.path(), prelude, datasource);
        safemig_with_url(project.path(), "file:./from-env.db", &["deploy"]).expect(0);
        assert!(
            project.path().join("from-env.db").is_file(),
            "{prelude} {datasource}: the database is not where DATABASE_URL points"
        );
    }

    // The variable unset: the default. Set but empty: the default after `||`, but an empty
    // URL after `??` (Prisma 7: "Connection url is empty").
    let project = example("prisma7-config");
    std::fs::remove_file(project.path().join(".env")).unwrap();
    write_config(project.path(), "", forms[2].1);
    safemig(project.path(), &["deploy"]).expect(0);
    assert!(project.path().join("fallback.db").is_file());
    let run = safemig_with_url(project.path(), "", &["status"]).expect(2);
    assert!(run.stderr.contains("DATABASE_URL"), "{}", run.stderr);
    std::fs::remove_file(project.path().join("fallback.db")).unwrap();
    write_config(project.path(), "", forms[3].1);
    safemig_with_url(project.path(), "", &["deploy"]).expect(0);
    assert!(project.path().join("fallback.db").is_file());

    // `env("X") ?? …` fails when X is unset, as Prisma's `env` throws before `??` applies.
    write_config(
        project.path(),
        "",
        "url: env(\"DATABASE_URL\") ?? \"file:./fallback.db\"",
    );
    let run = safemig(project.path(), &["status"]).expect(2);
    assert!(run.stderr.contains("DATABASE_URL"), "{}", run.stderr);
}

/// With a config file, Prisma 7 reads no `.env` file itself (nor does Prisma 6 with one):
/// only what the config loads through dotenv (`import "dotenv/config"`: `./.env`). safemig
/// used to read `.env` in three folders whatever the config said, so it could reach a
/// database Prisma would not. Measured with Prisma 7.10.1 in `prisma.rs`.
#[test]
fn with_a_config_only_the_env_files_it_loads_are_read() {
    let project = example("prisma7-config");
    let config = project.path().join("prisma.config.ts");
    let with_import = std::fs::read_to_string(&config).unwrap();
    let without_import = with_import.replace("import \"dotenv/config\";\n", "");
    assert_ne!(with_import, without_import);

    std::fs::write(&config, &without_import).unwrap();
    let run = safemig(project.path(), &["status"]).expect(2);
    assert!(
        run.stderr
            .contains("; .env defines it, but prisma.config.ts does not load it")
            && run
                .stderr
                .contains("next: load it in prisma.config.ts as Prisma 7 needs too (`import \"dotenv/config\"` loads ./.env"),
        "{}",
        run.stderr
    );
    assert!(!project.path().join("dev.db").exists());

    // A `.env` beside the schema is not read either, even with the import (which loads
    // ./.env only); `config({ path })` from dotenv loads it.
    std::fs::rename(project.path().join(".env"), project.path().join("db/.env")).unwrap();
    std::fs::write(&config, &with_import).unwrap();
    let run = safemig(project.path(), &["status"]).expect(2);
    assert!(run.stderr.contains("db/.env defines it"), "{}", run.stderr);
    std::fs::write(
        &config,
        with_import.replace(
            "import \"dotenv/config\";",
            "import { config } from \"dotenv\";\nconfig({ path: \"db/.env\" });",
        ),
    )
    .unwrap();
    safemig(project.path(), &["deploy"]).expect(0);
    // The URL (file:./dev.db) opens from the working directory, where Prisma 7 runs its
    // engine for a config it finds.
    assert!(project.path().join("dev.db").is_file());
}

/// Writes `url = env("DATABASE_URL")` into the example's datasource block.
fn add_url_to_the_schema(project: &Path) {
    let schema = project.join("db/schema.prisma");
    let text = std::fs::read_to_string(&schema).unwrap().replace(
        "provider = \"sqlite\"",
        "provider = \"sqlite\"\n  url      = env(\"DATABASE_URL\")",
    );
    std::fs::write(&schema, text).unwrap();
}

/// Prisma 7 refuses a URL in the schema when the config sets one (P1012); safemig used the
/// config's and ignored the schema's.
#[test]
fn a_url_in_the_schema_beside_the_configs_is_refused() {
    let project = example("prisma7-config");
    add_url_to_the_schema(project.path());
    let run = safemig(project.path(), &["status"]).expect(2);
    assert!(
        run.stderr.contains("error[P1012]")
            && run.stderr.contains("Prisma 7 refuses a URL in the schema")
            && run
                .stderr
                .contains("next: remove `url` from the datasource"),
        "{}",
        run.stderr
    );
    // An explicit --url is not ambiguous.
    safemig(project.path(), &["status", "--url", "file:./dev.db"]).expect(8);
}

/// A Prisma 6 project with a config file and the URL in the schema: read as Prisma 6 reads
/// it, with a note saying where the URL came from, since Prisma 7 would refuse it.
#[test]
fn a_schema_url_beside_a_config_is_noted() {
    let project = example("prisma7-config");
    std::fs::write(
        project.path().join("prisma.config.ts"),
        "import { defineConfig } from \"prisma/config\";\n\
         export default defineConfig({ schema: \"db/schema.prisma\", migrations: { path: \"db/migrations\" } });\n",
    )
    .unwrap();
    add_url_to_the_schema(project.path());
    let run = safemig_with_url(project.path(), "file:./dev.db", &["deploy"]).expect(0);
    assert!(
        run.stderr.contains(
            "note: the database URL comes from `url` in the datasource of db/schema.prisma, as Prisma 6 reads it"
        ),
        "{}",
        run.stderr
    );
    // Relative to the schema's folder, as Prisma 6 resolves a schema's URL.
    assert!(project.path().join("db/dev.db").is_file());
}

/// Where Prisma 7.10.1 opens a relative SQLite path from a config in `.config/` (measured
/// in `prisma.rs`): its schema engine runs in the working directory when Prisma finds the
/// file, in the file's folder when `--config` names it. safemig used the file's folder in
/// both cases.
#[test]
fn relative_sqlite_paths_of_a_config_in_dot_config() {
    let project = example("prisma7-config");
    std::fs::remove_file(project.path().join("prisma.config.ts")).unwrap();
    std::fs::remove_file(project.path().join(".env")).unwrap();
    std::fs::create_dir(project.path().join(".config")).unwrap();
    std::fs::write(
        project.path().join(".config/prisma.ts"),
        "import { defineConfig } from \"prisma/config\";\n\
         export default defineConfig({\n  schema: \"../db/schema.prisma\",\n  \
         migrations: { path: \"../db/migrations\" },\n  datasource: { url: \"file:./dev.db\" },\n});\n",
    )
    .unwrap();
    safemig(project.path(), &["deploy"]).expect(0);
    assert!(project.path().join("dev.db").is_file());
    assert!(!project.path().join(".config/dev.db").exists());

    std::fs::remove_file(project.path().join("dev.db")).unwrap();
    safemig(project.path(), &["deploy", "--config", ".config/prisma.ts"]).expect(0);
    assert!(project.path().join(".config/dev.db").is_file());
    assert!(!project.path().join("dev.db").exists());
}
