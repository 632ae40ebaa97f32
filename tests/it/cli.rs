//! Configuration, URLs and credentials as the command line sees them.

use std::path::Path;

use crate::deploy::INIT;
use crate::harness::{Kind, PASSWORD, Project, TestDb, postgres, safemig};

/// A copy of examples/blog in `to`, without its SQLite file.
pub(crate) fn copy_example(to: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/blog");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", example.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = std::fs::remove_file(to.join("prisma/dev.db"));
}

#[test]
fn readme_quick_start_deploys_the_example_to_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    copy_example(tmp.path());
    let run = safemig(tmp.path(), &["deploy"]).expect(0);
    assert!(
        run.stdout.contains("3 migrations applied"),
        "{}",
        run.stdout
    );
    assert!(
        tmp.path().join("prisma/dev.db").is_file(),
        "file:./dev.db is relative to schema.prisma"
    );
    let status = safemig(tmp.path(), &["status"]).expect(0);
    assert!(
        status.stdout.contains("Database is up to date."),
        "{}",
        status.stdout
    );
}

/// Prisma's SQLite table rebuilds turn foreign keys off first; inside a transaction that is
/// ignored, and dropping the referenced table would cascade-delete the referencing rows.
#[test]
fn sqlite_table_rebuild_keeps_referencing_rows() {
    let tmp = tempfile::tempdir().unwrap();
    copy_example(tmp.path());
    let rebuild = tmp
        .path()
        .join("prisma/migrations/20240402083000_make_bio_required");
    let parked = tmp.path().join("parked");
    std::fs::rename(&rebuild, &parked).unwrap();
    safemig(tmp.path(), &["deploy"]).expect(0);

    let db = TestDb::sqlite_file(&tmp.path().join("prisma/dev.db"));
    db.exec("INSERT INTO \"User\" (id, email) VALUES (1, 'a@example.com'); INSERT INTO \"Post\" (id, title, body, \"authorId\") VALUES (1, 't', 'b', 1);");
    std::fs::rename(&parked, &rebuild).unwrap();
    let run = safemig(tmp.path(), &["deploy"]).expect(0);
    assert!(
        run.stdout
            .contains("Applied 20240402083000_make_bio_required (transactional"),
        "{}",
        run.stdout
    );
    assert_eq!(
        db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM \"Post\"")
            .as_deref(),
        Some("1"),
        "the rebuild deleted posts"
    );
    assert_eq!(db.scalar("SELECT bio FROM \"User\"").as_deref(), Some(""));
}

#[test]
fn url_from_dotenv_and_the_variable_schema_prisma_names() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("prisma/migrations/20240101000000_init")).unwrap();
    std::fs::write(
        tmp.path()
            .join("prisma/migrations/20240101000000_init/migration.sql"),
        INIT,
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("prisma/schema.prisma"),
        "datasource db {\n  provider = \"sqlite\"\n  url      = env(\"APP_DATABASE\")\n}\n",
    )
    .unwrap();
    let run = safemig(tmp.path(), &["deploy"]).expect(2);
    assert!(
        run.stderr.contains("APP_DATABASE is not set"),
        "{}",
        run.stderr
    );
    std::fs::write(tmp.path().join(".env"), "APP_DATABASE=\"file:./app.db\"\n").unwrap();
    safemig(tmp.path(), &["deploy"]).expect(0);
    assert!(tmp.path().join("prisma/app.db").is_file());
}

/// `--config FILE` as Prisma means it, the Prisma config file (a user of Prisma types
/// `safemig deploy --config prisma.config.ts`), told from safemig's environments file by
/// the extension; listed only on the commands it means something to. Before, `--config`
/// always named the environments file, so a Prisma config it named was never read.
#[test]
fn config_names_a_prisma_config_file_or_the_environments_file() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    example_with_a_config_elsewhere(project);
    // Not where Prisma looks for a config: without --config, no project.
    safemig(project, &["status"]).expect(2);
    let run = safemig(project, &["deploy", "--config", "deploy/prisma.config.ts"]).expect(0);
    assert!(
        run.stdout.contains("2 migrations applied"),
        "{}",
        run.stdout
    );
    // Its relative SQLite path opens from its folder, as Prisma 7 runs its engine there.
    assert!(project.join("deploy/dev.db").is_file());
    // Before the command name too.
    safemig(project, &["--config", "deploy/prisma.config.ts", "status"]).expect(0);
    config_names_the_environments_file_by_its_extension(project);
    config_names_nothing_else(project);
}

/// The prisma7-config example in `project`, and a Prisma config for it in `deploy/`,
/// where Prisma does not look for one.
fn example_with_a_config_elsewhere(project: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prisma7-config/db");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&example)
        .arg(project)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::create_dir(project.join("deploy")).unwrap();
    std::fs::write(
        project.join("deploy/prisma.config.ts"),
        "import { defineConfig } from \"prisma/config\";\n\
         export default defineConfig({\n  schema: \"../db/schema.prisma\",\n  \
         migrations: { path: \"../db/migrations\" },\n  datasource: { url: \"file:./dev.db\" },\n});\n",
    )
    .unwrap();
}

/// `--config` names the environments file by its extension, alone or beside a Prisma
/// config, before or after the command name.
fn config_names_the_environments_file_by_its_extension(project: &Path) {
    let other = project.join("other.db");
    std::fs::write(
        project.join("envs.toml"),
        format!("[environments.other]\nurl = \"file:{}\"\n", other.display()),
    )
    .unwrap();
    let both = [
        "deploy",
        "--env",
        "other",
        "--config",
        "envs.toml",
        "--config",
        "deploy/prisma.config.ts",
    ];
    safemig(project, &both).expect(0);
    assert!(other.is_file());
    safemig(
        project,
        &["check"][..]
            .iter()
            .chain(&both[3..])
            .copied()
            .collect::<Vec<_>>(),
    )
    .expect(0);
    safemig(
        project,
        &[
            "--config",
            "envs.toml",
            "check",
            "--config",
            "deploy/prisma.config.ts",
        ],
    )
    .expect(0);
}

/// Any other file is refused, as is a second file of one kind, and the commands it means
/// nothing to do not take `--config`.
fn config_names_nothing_else(project: &Path) {
    let run = safemig(project, &["status", "--config", "safemig.yaml"]).expect(2);
    assert!(
        run.stderr.contains(
            "safemig.yaml is neither a Prisma config file (.ts, .mts, .cts, .js, .mjs, .cjs) nor a safemig environments file (.toml)"
        ),
        "{}",
        run.stderr
    );
    let run = safemig(
        project,
        &[
            "status", "--config", "a.ts", "--config", "a.toml", "--config", "b.mjs",
        ],
    )
    .expect(2);
    assert!(
        run.stderr
            .contains("--config names a Prisma config file twice (a.ts and b.mjs)"),
        "{}",
        run.stderr
    );
    // Where it means nothing, it is not an option.
    for args in [
        &["split", "x.sql", "--config", "a.ts"][..],
        &["completions", "bash", "--config", "a.toml"],
        &["man", "--config", "a.toml"],
        &["lint", "compose", "compose.yaml", "--config", "a.toml"],
    ] {
        let run = safemig(project, args).expect(2);
        assert!(
            run.stderr.contains("unexpected argument '--config'"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // drill takes the project's options for --during-migration only.
    let run = safemig(project, &["drill", "--config", "a.toml", "--", "true"]).expect(2);
    assert!(
        run.stderr
            .contains("`--config` names the database of `drill --during-migration`"),
        "{}",
        run.stderr
    );
    let run = safemig(project, &["--config", "a.toml", "split", "x.sql"]).expect(2);
    assert!(
        run.stderr
            .contains("`--config` is an option of status, deploy, resolve, run, drift, repair, snapshot, check and serve, not of `split`"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_url_names_what_was_looked_for() {
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    let run = safemig(
        project.dir.path(),
        &["--dir", dir.to_str().unwrap(), "status"],
    )
    .expect(2);
    assert!(
        run.stderr.contains("no database URL") && run.stderr.contains("DATABASE_URL"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("next: pass --url"), "{}", run.stderr);
}

#[test]
fn bad_urls_never_echo_the_password() {
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    let dir = dir.to_str().unwrap();
    let bad = format!("postgresql://app:{PASSWORD}@[::1/app");
    let run = safemig(project.dir.path(), &["--url", &bad, "--dir", dir, "status"]).expect(2);
    assert!(run.stderr.contains("is not valid"), "{}", run.stderr);

    let run = safemig(
        project.dir.path(),
        &["--url", "sqlserver://db:1433", "--dir", dir, "status"],
    )
    .expect(2);
    assert!(
        run.stderr.contains("`sqlserver:` are not supported"),
        "{}",
        run.stderr
    );

    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("postgresql://app:{PASSWORD}@127.0.0.1:{port}/app");
    let run = safemig(
        project.dir.path(),
        &["--url", &closed, "--dir", dir, "deploy"],
    )
    .expect(3);
    assert!(
        run.stderr
            .contains("error[P1001]: cannot connect to PostgreSQL database `app`"),
        "{}",
        run.stderr
    );
}

#[test]
fn wrong_password_and_missing_database_on_a_real_server() {
    let server = postgres();
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    let dir = dir.to_str().unwrap();
    let wrong = format!(
        "postgresql://postgres:Wr0ng-{PASSWORD}@127.0.0.1:{}/postgres",
        server.port
    );
    let run = safemig(
        project.dir.path(),
        &["--url", &wrong, "--dir", dir, "deploy"],
    )
    .expect(3);
    assert!(
        run.stderr.contains("password authentication failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Wr0ng"), "{}", run.stderr);

    let missing = server.url("no_such_database");
    let run = safemig(
        project.dir.path(),
        &["--url", &missing, "--dir", dir, "deploy"],
    )
    .expect(3);
    assert!(
        run.stderr.contains("`no_such_database`") && run.stderr.contains("does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn postgres_schema_parameter_is_honoured() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let url = format!("{}?schema=tenant_one", db.url);
    let dir = project.migrations();
    let dir = dir.to_str().unwrap();
    safemig(project.dir.path(), &["--url", &url, "--dir", dir, "deploy"]).expect(0);
    let tables = db.rows(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_name IN ('users', '_prisma_migrations') ORDER BY 2",
    );
    let tenant = |t: &str| vec![Some("tenant_one".to_string()), Some(t.to_string())];
    assert_eq!(tables, [tenant("_prisma_migrations"), tenant("users")]);
    safemig(project.dir.path(), &["--url", &url, "--dir", dir, "status"]).expect(0);
    // The default schema is still empty.
    safemig(
        project.dir.path(),
        &["--url", &db.url, "--dir", dir, "status"],
    )
    .expect(8);
}

#[test]
fn migrations_folder_problems_are_usage_errors() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);

    let run = safemig(
        project.dir.path(),
        &["--url", &db.url, "--dir", "nowhere/migrations", "deploy"],
    )
    .expect(2);
    assert!(
        run.stderr.contains("nowhere/migrations does not exist"),
        "{}",
        run.stderr
    );

    std::fs::create_dir(project.migrations().join("20240102000000_empty")).unwrap();
    let run = project.safemig(&db, &["deploy"]).expect(2);
    assert!(
        run.stderr.contains("error[P3015]") && run.stderr.contains("20240102000000_empty"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir(project.migrations().join("20240102000000_empty")).unwrap();

    assert!(
        !db.sqlite_path().exists(),
        "nothing is written before the folder is valid"
    );

    // Not UTF-8: as Prisma ≥ 6.6, read with U+FFFD and applied, with a warning naming the
    // file and the offset; the checksum is the decoded text's.
    std::fs::create_dir(project.migrations().join("20240103000000_latin1")).unwrap();
    std::fs::write(
        project
            .migrations()
            .join("20240103000000_latin1/migration.sql"),
        b"-- caf\xe9\n",
    )
    .unwrap();
    let run = project.safemig(&db, &["deploy"]).expect(0);
    assert!(
        run.stderr.contains(
            "20240103000000_latin1/migration.sql is not valid UTF-8 (first invalid byte at offset 6)"
        ),
        "{}",
        run.stderr
    );
    let stored = db.scalar(
        "SELECT checksum FROM _prisma_migrations WHERE migration_name = '20240103000000_latin1'",
    );
    assert_eq!(
        stored,
        Some(safemig::checksum::checksum("-- caf\u{fffd}\n"))
    );
    project.safemig(&db, &["status"]).expect(0);
}

/// `SAFEMIG_FAILPOINT` works only in test builds: a build without the `failpoints` feature,
/// as the shipped binaries (scripts/dist), `cargo build --release` and `cargo install` are,
/// ignores it and deploys normally.
#[test]
fn builds_without_the_failpoints_feature_ignore_safemig_failpoint() {
    let shipped = crate::install::dist().host_binary();

    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    let db = TestDb::new(Kind::Sqlite);
    // The test build honours the failpoint: it dies right after the history INSERT.
    project.deploy_killed_at(&db, "after_insert:1");

    let plain = TestDb::new(Kind::Sqlite);
    let dir = project.migrations();
    let output = std::process::Command::new(shipped)
        .args([
            "--url",
            &plain.url,
            "--dir",
            dir.to_str().unwrap(),
            "deploy",
        ])
        .env("SAFEMIG_FAILPOINT", "after_insert:1")
        .output()
        .unwrap();
    let run = crate::harness::to_run(output).expect(0);
    assert!(
        run.stdout.contains("Applied 20240101000000_init"),
        "{}",
        run.stdout
    );
    assert!(plain.history().iter().all(|h| h.finished));
}

/// A named pipe or a device where a file should be: refused at once, never read (a read
/// would block forever, or run until memory is gone). A symbolic link loop as the
/// migrations folder is named as such.
#[test]
fn non_regular_files_are_refused_without_reading_them() {
    use crate::harness::run_within;
    use std::time::Duration;
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    let script = project
        .migrations()
        .join("20240101000000_init/migration.sql");
    let lock = project.migrations().join("migration_lock.toml");
    let limit = Duration::from_secs(30);
    let mkfifo = |path: &Path| {
        std::fs::remove_file(path).unwrap();
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    };

    mkfifo(&script);
    for command in ["status", "deploy"] {
        let run = run_within(&mut project.command(&db, &[command]), limit).expect(2);
        assert!(
            run.stderr
                .contains("migration.sql is a named pipe (FIFO), not a regular file"),
            "{}",
            run.stderr
        );
    }
    std::fs::remove_file(&script).unwrap();
    for device in ["/dev/zero", "/dev/urandom"] {
        std::os::unix::fs::symlink(device, &script).unwrap();
        let run = run_within(&mut project.command(&db, &["deploy"]), limit).expect(2);
        assert!(
            run.stderr
                .contains("is a character device, not a regular file"),
            "{}",
            run.stderr
        );
        std::fs::remove_file(&script).unwrap();
    }
    std::fs::write(&script, INIT).unwrap();

    let lock_text = std::fs::read_to_string(&lock).unwrap();
    mkfifo(&lock);
    let run = run_within(&mut project.command(&db, &["status"]), limit).expect(2);
    assert!(
        run.stderr.contains("migration_lock.toml is a named pipe"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(&lock).unwrap();
    std::fs::write(&lock, lock_text).unwrap();

    let looped = project.dir.path().join("looped");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let run = run_within(
        &mut crate::harness::safemig_command(
            project.dir.path(),
            &[
                "--url",
                &db.url,
                "--dir",
                looped.to_str().unwrap(),
                "status",
            ],
        ),
        limit,
    )
    .expect(2);
    assert!(
        run.stderr.contains("looped is a symbolic link loop"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("does not exist"), "{}", run.stderr);
    project.safemig(&db, &["deploy"]).expect(0);
}

/// `snapshot --output null` in a folder where `null` is a character device (as
/// `/dev/null` is) writes through it; the old atomic rename replaced the device with a
/// regular file, which as root on `/dev/null` broke every process on the machine.
/// `-` is stdout, and a folder is refused with exit 2 before anything is written.
#[test]
fn snapshot_output_never_replaces_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let null = dir.join("null");
    nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("mknod needs root (CAP_MKNOD), as the test suite runs");
    let url = &format!("file:{}", dir.join("a.db").display());
    TestDb::sqlite_file(&dir.join("a.db")).exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");

    let run = safemig(dir, &["snapshot", "--url", url, "--output", "null"]).expect(0);
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(kind.is_char_device(), "null was replaced: {kind:?}");
    assert!(run.stderr.contains("to null"), "{}", run.stderr);

    let stdout = safemig(dir, &["snapshot", "--url", url, "--output", "-"]).expect(0);
    assert!(
        stdout.stdout.contains("\"format_version\""),
        "{}",
        stdout.stdout
    );
    assert!(!dir.join("-").exists());

    std::fs::create_dir(dir.join("folder")).unwrap();
    let refused = safemig(dir, &["snapshot", "--url", url, "--output", "folder"]).expect(2);
    assert!(
        refused
            .stderr
            .contains("cannot write to folder: it is a folder"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_dir(dir.join("folder")).unwrap().count(), 0);
}
