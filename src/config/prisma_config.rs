//! The Prisma config file (`prisma.config.ts` and its variants), read without running Node.
//!
//! Prisma 6 made it optional and Prisma 7 required it: the database URL may no longer sit
//! in the schema. safemig reads its common static forms:
//!
//! ```ts
//! import "dotenv/config";
//! import { defineConfig, env } from "prisma/config";
//! export default defineConfig({
//!   schema: "prisma/schema.prisma",          // or path.join("prisma", "schema.prisma")
//!   migrations: { path: "prisma/migrations" },
//!   datasource: { url: env("DATABASE_URL") }, // or process.env.DATABASE_URL, or "…"
//! });
//! ```
//!
//! A value it cannot read without executing the file (a variable, a function call) is kept
//! as [`Value::Computed`], and using it is an error that names the flag or variable to
//! pass instead. A Prisma 8 config (`definePrismaConfig({ orm: … })`) describes a project
//! that no longer uses `_prisma_migrations`: it is recognised and never read as Prisma 7's.

use std::path::{Path, PathBuf};

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
const EXTENSIONS: [&str; 6] = ["js", "ts", "mjs", "cjs", "mts", "cts"];

/// A value of the config, as far as it can be read without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string literal (or a path built from string literals).
    Text(String),
    /// `env("NAME")` or `process.env.NAME`: the variable's value.
    Env(String),
    /// Something only Node could evaluate; the source text, for the message.
    Computed(String),
}

/// What safemig reads of a Prisma 7 (or 6) config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrismaConfig {
    pub path: PathBuf,
    pub schema: Option<Value>,
    pub migrations_path: Option<Value>,
    pub datasource_url: Option<Value>,
}

impl PrismaConfig {
    /// The folder paths in the config are relative to.
    pub fn folder(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
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

/// Reads a config file's text.
pub fn read(path: &Path, text: &str) -> Found {
    let code = without_comments(text);
    if code.contains("definePrismaConfig") || code.contains("ormConfig(") {
        return Found::PrismaNext(path.to_path_buf());
    }
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut config = PrismaConfig {
        path: path.to_path_buf(),
        ..PrismaConfig::default()
    };
    let Some(start) = config_object_start(&code) else {
        return Found::Config(config);
    };
    let mut parser = Parser {
        src: code.as_bytes(),
        pos: start,
        folder: &folder,
    };
    for (key, value) in parser.object() {
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

/// The code with `//` and `/* */` comments blanked out (strings kept).
fn without_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => {
                let end = string_end(bytes, i);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                out.push(b' ');
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The index just past the string literal starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

enum Parsed {
    Value(Value),
    Object(Vec<(String, Parsed)>),
}

/// A reader of the subset of JavaScript object literals Prisma configs are written in.
struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    /// The config file's folder: what `__dirname` and `import.meta.dirname` are.
    folder: &'a Path,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += found as usize;
        found
    }

    fn identifier(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.pos;
        while self.pos < self.src.len()
            && (self.src[self.pos].is_ascii_alphanumeric() || b"_$.".contains(&self.src[self.pos]))
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into())
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        if !b"'\"`".contains(&quote) {
            return None;
        }
        let start = self.pos;
        self.pos = string_end(self.src, start);
        let inner = &self.src[start + 1..self.pos.saturating_sub(1).max(start + 1)];
        if quote == b'`' && inner.windows(2).any(|w| w == b"${") {
            return None;
        }
        Some(String::from_utf8_lossy(inner).replace("\\\\", "\\"))
    }

    /// `{ key: value, … }`: the keys and what can be read of their values.
    fn object(&mut self) -> Vec<(String, Parsed)> {
        let mut fields = Vec::new();
        if !self.eat(b'{') {
            return fields;
        }
        loop {
            if self.eat(b'}') || self.peek().is_none() {
                return fields;
            }
            if self.eat(b',') {
                continue;
            }
            let key = match self.string() {
                Some(key) => key,
                None => match self.identifier() {
                    Some(key) => key,
                    None => {
                        // Spread (`...base`) or something else: skip it.
                        self.skip_value();
                        continue;
                    }
                },
            };
            if !self.eat(b':') {
                // Shorthand `{ schema }`: a variable's value.
                fields.push((key.clone(), Parsed::Value(Value::Computed(key))));
                continue;
            }
            let value = if self.peek() == Some(b'{') {
                Parsed::Object(self.object())
            } else {
                Parsed::Value(self.value())
            };
            fields.push((key, value));
        }
    }

    /// A value other than an object.
    fn value(&mut self) -> Value {
        let start = self.pos;
        let read = self.static_value();
        // Anything after the static part (`"a" + b`) makes it computed.
        let end_ok = matches!(self.peek(), Some(b',' | b'}') | None);
        match read {
            Some(value) if end_ok => value,
            _ => {
                self.pos = start;
                self.skip_value();
                let text = String::from_utf8_lossy(&self.src[start..self.pos]);
                Value::Computed(text.trim().to_string())
            }
        }
    }

    fn static_value(&mut self) -> Option<Value> {
        if let Some(text) = self.string() {
            return Some(Value::Text(text));
        }
        let name = self.identifier()?;
        match name.as_str() {
            "env" => {
                if !self.eat(b'(') {
                    return None;
                }
                let variable = self.string()?;
                self.eat(b')').then_some(Value::Env(variable))
            }
            "process.env" => {
                // process.env["NAME"]
                if !self.eat(b'[') {
                    return None;
                }
                let variable = self.string()?;
                self.eat(b']').then_some(Value::Env(variable))
            }
            _ if name.starts_with("process.env.") => {
                Some(Value::Env(name["process.env.".len()..].to_string()))
            }
            "path.join" | "path.resolve" | "join" | "resolve" => {
                if !self.eat(b'(') {
                    return None;
                }
                let mut path = PathBuf::new();
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    if self.eat(b',') {
                        continue;
                    }
                    match self.string() {
                        Some(part) => path.push(part),
                        None => match self.identifier()?.as_str() {
                            "__dirname" | "import.meta.dirname" => path.push(self.folder),
                            _ => return None,
                        },
                    }
                }
                Some(Value::Text(path.to_string_lossy().into_owned()))
            }
            _ => None,
        }
    }

    /// Skips one value: up to the next `,` or `}` outside brackets and strings.
    fn skip_value(&mut self) {
        let mut depth = 0usize;
        while self.pos < self.src.len() {
            match self.src[self.pos] {
                b'\'' | b'"' | b'`' => {
                    self.pos = string_end(self.src, self.pos);
                    continue;
                }
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => return,
                b')' | b']' | b'}' => depth -= 1,
                b',' if depth == 0 => return,
                _ => {}
            }
            self.pos += 1;
        }
    }
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
        assert_eq!(found.datasource_url, Some(Value::Env("DIRECT_URL".into())));
        let bracket =
            config(r#"export default defineConfig({ datasource: { url: process.env["DB"] } })"#);
        assert_eq!(bracket.datasource_url, Some(Value::Env("DB".into())));
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
