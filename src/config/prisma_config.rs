//! The Prisma config file (`prisma.config.ts` and its variants), read without running Node.
//!
//! Prisma 6 made it optional and Prisma 7 required it: the database URL may no longer sit
//! in the schema. safemig reads its common static forms ([`super::js`] says which):
//!
//! ```ts
//! import "dotenv/config";                    // loads ./.env (Prisma 7 loads none itself)
//! import { defineConfig, env } from "prisma/config";
//! const url = process.env.DATABASE_URL ?? "file:./dev.db";
//! export default defineConfig({
//!   schema: "prisma/schema.prisma",          // or path.join("prisma", "schema.prisma")
//!   migrations: { path: "prisma/migrations" },
//!   datasource: { url },                     // or env("DATABASE_URL"), process.env.X!, "…"
//! });
//! ```
//!
//! A value it cannot read without executing the file (a function call) is kept as
//! [`Value::Computed`], and using it is an error that names the flag or variable to pass
//! instead. A Prisma 8 config (`definePrismaConfig({ orm: … })`) describes a project that no
//! longer uses `_prisma_migrations`: it is recognised and never read as Prisma 7's.

use std::path::{Path, PathBuf};

use super::js::{self, Consts, Parsed, Parser};
use crate::Error;
use crate::files;

/// Prisma 7.10's discovery order: `prisma7.config.*` (kept by projects that moved to
/// Prisma 8) before `prisma.config.*`, each in the working directory, then in `.config/`.
const NAMES: [&str; 4] = [
    "prisma7.config",
    ".config/prisma7",
    "prisma.config",
    ".config/prisma",
];
/// The extensions Prisma loads a config file with (also what makes `--config FILE` name one).
pub const EXTENSIONS: [&str; 6] = ["js", "ts", "mjs", "cjs", "mts", "cts"];

/// A value of the config, as far as it can be read without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string literal (or a path built from string literals).
    Text(String),
    /// `env("NAME")`, Prisma's, which fails when the variable is unset or empty.
    Env(String),
    /// `process.env.NAME`: `undefined` when the variable is unset.
    ProcessEnv(String),
    /// `left ?? right`: `right` when `left` is undefined; with `||` (`when_empty`), also
    /// when it is empty.
    Or {
        left: Box<Value>,
        right: Box<Value>,
        when_empty: bool,
    },
    /// Something only Node could evaluate; the source text, for the message.
    Computed(String),
}

impl Value {
    /// `left ?? right`, or `left || right` when `when_empty`.
    pub fn or(left: Value, right: Value, when_empty: bool) -> Value {
        Value::Or {
            left: Box::new(left),
            right: Box::new(right),
            when_empty,
        }
    }

    /// The first variable the value reads, for a message about a missing one.
    pub fn variable(&self) -> Option<&str> {
        match self {
            Value::Env(name) | Value::ProcessEnv(name) => Some(name),
            Value::Or { left, right, .. } => left.variable().or_else(|| right.variable()),
            Value::Text(_) | Value::Computed(_) => None,
        }
    }
}

/// The value as it could be written in the file, for messages.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(text) => write!(f, "{text:?}"),
            Value::Env(name) => write!(f, "env({name:?})"),
            Value::ProcessEnv(name) => write!(f, "process.env.{name}"),
            Value::Or {
                left,
                right,
                when_empty,
            } => write!(
                f,
                "{left} {} {right}",
                if *when_empty { "||" } else { "??" }
            ),
            Value::Computed(text) => f.write_str(text),
        }
    }
}

/// What safemig reads of a Prisma 7 (or 6) config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrismaConfig {
    pub path: PathBuf,
    /// Named by `--config` rather than found: Prisma then runs its schema engine, which
    /// opens a relative SQLite path, in the file's folder instead of the working directory.
    pub named: bool,
    pub schema: Option<Value>,
    pub migrations_path: Option<Value>,
    pub datasource_url: Option<Value>,
    /// The `.env` files the config loads through dotenv, in the order it loads them, each a
    /// path relative to the working directory: `import "dotenv/config"` loads
    /// `DOTENV_CONFIG_PATH`, else `.env`; `config()` / `dotenv.config({ path })` its `path`,
    /// else `.env`. Prisma 7 loads no `.env` itself, nor does Prisma 6 with a config file.
    pub env_files: Vec<Value>,
}

impl PrismaConfig {
    /// The folder paths in the config are relative to.
    pub fn folder(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The folder a relative SQLite path of `datasource.url` opens from: the one Prisma 7
    /// runs its schema engine in, the `--config` file's folder, else the working directory
    /// (measured with Prisma 7.10.1: `tests/it/prisma.rs`).
    pub fn engine_folder(&self) -> PathBuf {
        if self.named {
            self.folder()
        } else {
            PathBuf::from(".")
        }
    }
}

/// The config file found in `cwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    None,
    /// Prisma 7 or 6.
    Config(PrismaConfig),
    /// Prisma 8's: recognised, not read.
    PrismaNext(PathBuf),
}

/// Finds and reads the config file, in Prisma's order.
pub fn discover(cwd: &Path) -> Result<Found, Error> {
    for name in NAMES {
        for extension in EXTENSIONS {
            let path = cwd.join(format!("{name}.{extension}"));
            let Some(bytes) = files::read(&path, files::CONFIG_LIMIT)? else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            return Ok(read(&path, &text));
        }
    }
    Ok(Found::None)
}

/// Reads the config file `--config` names (it must exist).
pub fn load(path: &Path) -> Result<Found, Error> {
    let bytes = files::read_existing(path, files::CONFIG_LIMIT)?;
    Ok(match read(path, &String::from_utf8_lossy(&bytes)) {
        Found::Config(config) => Found::Config(PrismaConfig {
            named: true,
            ..config
        }),
        other => other,
    })
}

/// Reads a config file's text.
pub fn read(path: &Path, text: &str) -> Found {
    let code = js::without_comments(text);
    if code.contains("definePrismaConfig") || code.contains("ormConfig(") {
        return Found::PrismaNext(path.to_path_buf());
    }
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let consts = js::top_level_consts(&code, &folder);
    let mut config = PrismaConfig {
        path: path.to_path_buf(),
        env_files: dotenv_files(&code, &folder, &consts),
        ..PrismaConfig::default()
    };
    let Some(start) = config_object_start(&code) else {
        return Found::Config(config);
    };
    for (key, value) in Parser::new(&code, start, &folder, &consts).object() {
        match (key.as_str(), value) {
            ("schema", Parsed::Value(v)) => config.schema = Some(v),
            ("migrations", Parsed::Object(fields)) => {
                config.migrations_path = field(fields, "path");
            }
            ("datasource", Parsed::Object(fields)) => {
                config.datasource_url = field(fields, "url");
            }
            ("migrations" | "datasource", Parsed::Value(v)) => {
                // A computed object: what it holds is unknown.
                let computed = Some(Value::Computed(match v {
                    Value::Computed(text) => text,
                    _ => String::new(),
                }));
                if key == "migrations" {
                    config.migrations_path = computed;
                } else {
                    config.datasource_url = computed;
                }
            }
            _ => {}
        }
    }
    Found::Config(config)
}

fn field(fields: Vec<(String, Parsed)>, name: &str) -> Option<Value> {
    fields
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| match v {
            Parsed::Value(v) => v,
            Parsed::Object(_) => Value::Computed("{ … }".into()),
        })
}

/// Where the config's object literal begins: the argument of `defineConfig(`, else what
/// `export default` (or `module.exports =`) is.
fn config_object_start(code: &str) -> Option<usize> {
    let after = |needle: &str| code.find(needle).map(|i| i + needle.len());
    let from = after("defineConfig(")
        .or_else(|| after("export default"))
        .or_else(|| after("module.exports ="))
        .or_else(|| after("module.exports="))?;
    let offset = code[from..].find(|c: char| !c.is_whitespace())?;
    (code.as_bytes()[from + offset] == b'{').then_some(from + offset)
}

/// The `.env` files the code loads through dotenv (see [`PrismaConfig::env_files`]).
fn dotenv_files(code: &str, folder: &Path, consts: &Consts) -> Vec<Value> {
    let literals = js::string_literals(code);
    let mut files = Vec::new();
    if literals
        .iter()
        .any(|l| l == "dotenv/config" || l == "dotenv/config.js")
    {
        // An import runs before the code around it, whatever its place.
        files.push(Value::or(
            Value::ProcessEnv("DOTENV_CONFIG_PATH".into()),
            Value::Text(".env".into()),
            true,
        ));
    }
    if !literals.iter().any(|l| l == "dotenv") {
        return files;
    }
    // `config()` imported from "dotenv", `dotenv.config()`, `require("dotenv").config()`.
    for (at, call) in code.match_indices("config(") {
        let before = &code[..at];
        let member = before.ends_with("dotenv.") || before.ends_with(").");
        let bare = !before.ends_with(|c: char| c.is_ascii_alphanumeric() || "_$.".contains(c));
        if !(member || bare) {
            continue;
        }
        let arguments = at + call.len();
        let mut parser = Parser::new(code, arguments, folder, consts);
        let path = if parser.eat(b')') {
            Some(Value::Text(".env".into()))
        } else if code[arguments..].trim_start().starts_with('{') {
            match parser.object().into_iter().find(|(key, _)| key == "path") {
                None => Some(Value::Text(".env".into())),
                Some((_, Parsed::Value(value))) => Some(value),
                Some((_, Parsed::Object(_))) => None,
            }
        } else {
            None
        };
        files.push(path.unwrap_or_else(|| Value::Computed(format!("{call}…)"))));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> PrismaConfig {
        match read(Path::new("/app/prisma.config.ts"), text) {
            Found::Config(config) => config,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prisma_7_static_forms() {
        let found = config(
            r#"import "dotenv/config";
            import { defineConfig, env } from "prisma/config";
            // schema: "commented/out.prisma",
            export default defineConfig({
              schema: "db/schema.prisma", /* the schema */
              migrations: {
                path: 'db/migrations',
                seed: `tsx db/seed.ts`,
              },
              engine: "classic",
              datasource: { url: env("DATABASE_URL"), shadowDatabaseUrl: env('SHADOW') },
            });"#,
        );
        assert_eq!(found.schema, Some(Value::Text("db/schema.prisma".into())));
        assert_eq!(
            found.migrations_path,
            Some(Value::Text("db/migrations".into()))
        );
        assert_eq!(
            found.datasource_url,
            Some(Value::Env("DATABASE_URL".into()))
        );
    }

    #[test]
    fn process_env_path_join_and_plain_objects() {
        let found = config(
            r#"import path from "node:path";
            import type { PrismaConfig } from "prisma";
            export default {
              schema: path.join(__dirname, "prisma", "schema"),
              datasource: { url: process.env.DIRECT_URL },
            } satisfies PrismaConfig;"#,
        );
        assert_eq!(found.schema, Some(Value::Text("/app/prisma/schema".into())));
        assert_eq!(
            found.datasource_url,
            Some(Value::ProcessEnv("DIRECT_URL".into()))
        );
        let bracket =
            config(r#"export default defineConfig({ datasource: { url: process.env["DB"] } })"#);
        assert_eq!(bracket.datasource_url, Some(Value::ProcessEnv("DB".into())));
    }

    #[test]
    fn computed_values_are_kept_as_such() {
        let found = config(
            r#"const base = "prisma";
            export default defineConfig({
              schema: `${base}/schema.prisma`,
              migrations: { path: base + "/migrations" },
              datasource: { url: getUrl() },
            });"#,
        );
        assert_eq!(
            found.schema,
            Some(Value::Computed("`${base}/schema.prisma`".into()))
        );
        assert_eq!(
            found.migrations_path,
            Some(Value::Computed("base + \"/migrations\"".into()))
        );
        assert_eq!(
            found.datasource_url,
            Some(Value::Computed("getUrl()".into()))
        );
    }

    /// The forms of issue 20, item 6, as real projects write them.
    #[test]
    fn forms_real_prisma_7_projects_write() {
        let non_null = config(
            r#"import "dotenv/config";
            import { defineConfig } from "prisma/config";
            export default defineConfig({
              schema: "prisma/schema.prisma",
              datasource: { url: process.env.DATABASE_URL! },
            });"#,
        );
        assert_eq!(
            non_null.datasource_url,
            Some(Value::ProcessEnv("DATABASE_URL".into()))
        );
        let shorthand = config(
            r#"import { defineConfig, env } from "prisma/config";
            const url = env("DATABASE_URL");
            export default defineConfig({ datasource: { url } });"#,
        );
        assert_eq!(
            shorthand.datasource_url,
            Some(Value::Env("DATABASE_URL".into()))
        );
        let default = config(
            r#"export default defineConfig({
              datasource: { url: process.env.DATABASE_URL ?? "file:./dev.db" },
            });"#,
        );
        assert_eq!(
            default.datasource_url,
            Some(Value::or(
                Value::ProcessEnv("DATABASE_URL".into()),
                Value::Text("file:./dev.db".into()),
                false
            ))
        );
        assert_eq!(
            default.datasource_url.unwrap().variable(),
            Some("DATABASE_URL")
        );
    }

    #[test]
    fn the_env_files_dotenv_loads() {
        let dotenv_config = |text: &str| config(text).env_files;
        let default_path = Value::or(
            Value::ProcessEnv("DOTENV_CONFIG_PATH".into()),
            Value::Text(".env".into()),
            true,
        );
        assert_eq!(
            dotenv_config("import 'dotenv/config';\nexport default defineConfig({})"),
            std::slice::from_ref(&default_path)
        );
        assert_eq!(
            dotenv_config("require(\"dotenv/config\");\nmodule.exports = {}"),
            [default_path]
        );
        assert_eq!(
            dotenv_config(
                "import { config } from \"dotenv\";\nconfig({ path: \".env.local\" });\nconfig();\nexport default defineConfig({})"
            ),
            [Value::Text(".env.local".into()), Value::Text(".env".into())]
        );
        assert_eq!(
            dotenv_config(
                "import dotenv from 'dotenv';\ndotenv.config({ path: path.resolve(__dirname, '.env.test'), quiet: true });"
            ),
            [Value::Text("/app/.env.test".into())]
        );
        assert!(matches!(
            dotenv_config("import dotenv from 'dotenv';\ndotenv.config(options);").as_slice(),
            [Value::Computed(_)]
        ));
        // No dotenv: nothing is loaded, whatever else is called `config`.
        assert_eq!(
            dotenv_config(
                "// import 'dotenv/config'\nimport { defineConfig } from 'prisma/config';\nexport default defineConfig({ datasource: { url: env('DATABASE_URL') } })"
            ),
            []
        );
    }

    #[test]
    fn a_named_config_runs_the_engine_in_its_folder() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(".config")).unwrap();
        let path = tmp.path().join(".config/prisma.ts");
        std::fs::write(
            &path,
            "export default { datasource: { url: 'file:./dev.db' } }",
        )
        .unwrap();
        let Found::Config(named) = load(&path).unwrap() else {
            panic!("not read as a config")
        };
        assert!(named.named);
        assert_eq!(named.engine_folder(), tmp.path().join(".config"));
        let Found::Config(found) = discover(tmp.path()).unwrap() else {
            panic!("not found")
        };
        assert!(!found.named);
        assert_eq!(found.engine_folder(), Path::new("."));
        assert!(load(&tmp.path().join("missing.ts")).is_err());
    }

    #[test]
    fn prisma_8_configs_are_recognised_not_read() {
        let text = r#"import { definePrismaConfig } from "prisma-next/config";
            export default definePrismaConfig({ orm: ormConfig({ db: { connection: env("DATABASE_URL") }, migrations: { dir: "migrations" } }) });"#;
        assert_eq!(
            read(Path::new("/app/prisma.config.ts"), text),
            Found::PrismaNext("/app/prisma.config.ts".into())
        );
    }

    #[test]
    fn discovery_prefers_prisma7_configs() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("prisma.config.ts"),
            "export default definePrismaConfig({ orm: {} })",
        )
        .unwrap();
        std::fs::create_dir(tmp.path().join(".config")).unwrap();
        std::fs::write(
            tmp.path().join(".config/prisma7.mjs"),
            r#"export default defineConfig({ schema: "old/schema.prisma" })"#,
        )
        .unwrap();
        match discover(tmp.path()).unwrap() {
            Found::Config(config) => {
                assert!(config.path.ends_with(".config/prisma7.mjs"));
                assert_eq!(config.schema, Some(Value::Text("old/schema.prisma".into())));
            }
            other => panic!("{other:?}"),
        }
    }
}
