//! A reader for the subset of JavaScript and TypeScript Prisma config files are written in,
//! so that safemig needs no Node: object literals whose values are string literals,
//! `env("NAME")`, `process.env.NAME`, `path.join(…)` of literals, top-level `const`s
//! initialised by those, and what real projects add around them — TypeScript's non-null
//! assertion (`process.env.DATABASE_URL!`) and `as string`, and a default
//! (`process.env.DATABASE_URL ?? "file:./dev.db"`, or `||`). Anything else is
//! [`Value::Computed`]: kept as text for the message that names the flag to pass instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::prisma_config::Value;

/// The top-level `const`s of a file, by name: what an identifier in the config object means.
pub(super) type Consts = HashMap<String, Value>;

/// A field's value: a value, or a nested object literal.
pub(super) enum Parsed {
    Value(Value),
    Object(Vec<(String, Parsed)>),
}

/// The code with `//` and `/* */` comments blanked out (strings kept).
pub(super) fn without_comments(text: &str) -> String {
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

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$'
}

/// The contents of every string literal of `code` without `${…}`, in order.
pub(super) fn string_literals(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let no_consts = Consts::new();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if b"'\"`".contains(&bytes[i]) {
            let mut parser = Parser::new(code, i, Path::new(""), &no_consts);
            found.extend(parser.string());
            i = parser.pos.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// The `const NAME = value` declarations outside any bracket, each initialiser read with
/// the `const`s declared before it (`const url = process.env.DATABASE_URL ?? fallback`).
pub(super) fn top_level_consts(code: &str, folder: &Path) -> Consts {
    let bytes = code.as_bytes();
    let mut consts = Consts::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => {
                i = string_end(bytes, i);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'c' if depth == 0
                && bytes[i..].starts_with(b"const")
                && (i == 0 || !is_identifier_byte(bytes[i - 1]))
                && bytes.get(i + 5).is_some_and(u8::is_ascii_whitespace) =>
            {
                let mut parser = Parser::new(code, i + 5, folder, &consts);
                if let Some((name, value)) = parser.declaration() {
                    consts.insert(name, value);
                }
                // The scan goes on after the keyword: it tracks brackets itself, so an
                // initialiser it could not read hides no later declaration.
                i += 5;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    consts
}

/// Reads values at a position of the code.
pub(super) struct Parser<'a> {
    src: &'a [u8],
    pub(super) pos: usize,
    /// The config file's folder: what `__dirname` and `import.meta.dirname` are.
    folder: &'a Path,
    consts: &'a Consts,
}

impl<'a> Parser<'a> {
    pub(super) fn new(code: &'a str, pos: usize, folder: &'a Path, consts: &'a Consts) -> Self {
        Parser {
            src: code.as_bytes(),
            pos,
            folder,
            consts,
        }
    }

    fn skip_space(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.src.get(self.pos).copied()
    }

    pub(super) fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += found as usize;
        found
    }

    /// Consumes `text` (after spaces) if it comes next; else moves nowhere, so that a line
    /// break after a value still ends it.
    fn eat_str(&mut self, text: &str) -> bool {
        let start = self.pos;
        self.skip_space();
        let found = self.src[self.pos..].starts_with(text.as_bytes());
        if found {
            self.pos += text.len();
        } else {
            self.pos = start;
        }
        found
    }

    /// A name, dots included (`process.env.DATABASE_URL`, `path.join`).
    fn identifier(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.pos;
        while self.pos < self.src.len()
            && (is_identifier_byte(self.src[self.pos]) || self.src[self.pos] == b'.')
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into())
    }

    pub(super) fn string(&mut self) -> Option<String> {
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

    /// After `const`: `NAME [: Type] = value`. `None` for a destructuring pattern.
    fn declaration(&mut self) -> Option<(String, Value)> {
        let name = self.identifier().filter(|n| !n.contains('.'))?;
        if self.eat(b':') {
            // A type annotation: skipped up to the `=` (not `=>`, `==`).
            let assignment = |at: usize, src: &[u8]| {
                src[at] == b'=' && !matches!(src.get(at + 1), Some(b'>' | b'='))
            };
            while self.pos < self.src.len() && !assignment(self.pos, self.src) {
                self.pos += 1;
            }
        }
        if !self.eat(b'=') {
            return None;
        }
        let value = match self.value() {
            // Only its first line, for a message: an unreadable initialiser may run on.
            Value::Computed(text) => {
                Value::Computed(text.lines().next().unwrap_or_default().trim().to_string())
            }
            value => value,
        };
        Some((name, value))
    }

    /// `{ key: value, … }`: the keys and what can be read of their values.
    pub(super) fn object(&mut self) -> Vec<(String, Parsed)> {
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
            let Some(key) = self.string().or_else(|| self.identifier()) else {
                // Spread (`...base`) or something else: skipped.
                self.skip_value();
                continue;
            };
            if !self.eat(b':') {
                // Shorthand `{ url }`: the `const` of that name.
                let value = self.consts.get(&key).cloned();
                fields.push((
                    key.clone(),
                    Parsed::Value(value.unwrap_or(Value::Computed(key))),
                ));
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

    /// A value other than an object literal; what cannot be read is [`Value::Computed`].
    pub(super) fn value(&mut self) -> Value {
        let start = self.pos;
        match self.expression() {
            Some(value) if self.at_end_of_value() => value,
            // Anything after the readable part (`"a" + b`) makes it computed.
            _ => {
                self.pos = start;
                self.skip_value();
                let text = String::from_utf8_lossy(&self.src[start..self.pos]);
                Value::Computed(text.trim().to_string())
            }
        }
    }

    /// Whether the value ends here: at `,`, `}`, `)`, `;`, a line break or the end.
    fn at_end_of_value(&self) -> bool {
        let rest = &self.src[self.pos..];
        match rest.iter().position(|b| !b.is_ascii_whitespace()) {
            None => true,
            Some(next) => {
                matches!(rest[next], b',' | b'}' | b')' | b';') || rest[..next].contains(&b'\n')
            }
        }
    }

    /// `operand [!] [as Type] [?? value | || value]`.
    fn expression(&mut self) -> Option<Value> {
        let left = self.operand()?;
        self.type_assertions();
        let when_empty = if self.eat_str("??") {
            false
        } else if self.eat_str("||") {
            true
        } else {
            return Some(left);
        };
        let right = self.expression()?;
        Some(Value::or(left, right, when_empty))
    }

    /// TypeScript's `!` (non-null) and `as Type`, which change nothing at run time.
    fn type_assertions(&mut self) {
        loop {
            let rest = &self.src[self.pos..];
            let next = rest.iter().position(|b| !b.is_ascii_whitespace());
            match next.map(|n| (n, &rest[n..])) {
                Some((n, [b'!', after, ..])) if *after != b'=' => self.pos += n + 1,
                Some((n, [b'!'])) => self.pos += n + 1,
                Some((n, [b'a', b's', after, ..])) if after.is_ascii_whitespace() => {
                    self.pos += n + 2;
                    self.identifier();
                    // A union type, `as string | undefined`; `||` is an operator.
                    while !self.src[self.pos..].trim_ascii_start().starts_with(b"||")
                        && self.eat_str("|")
                    {
                        self.identifier();
                    }
                }
                _ => return,
            }
        }
    }

    fn operand(&mut self) -> Option<Value> {
        if let Some(text) = self.string() {
            return Some(Value::Text(text));
        }
        let name = self.identifier()?;
        match name.as_str() {
            "env" => {
                if self.peek() == Some(b'<') {
                    // `env<Env>("NAME")`: the type argument is skipped.
                    let close = self.src[self.pos..].iter().position(|&b| b == b'>')?;
                    self.pos += close + 1;
                }
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
                self.eat(b']').then_some(Value::ProcessEnv(variable))
            }
            _ if name.starts_with("process.env.") => {
                Some(Value::ProcessEnv(name["process.env.".len()..].to_string()))
            }
            "path.join" | "path.resolve" | "join" | "resolve" => self.joined_path(),
            _ => self.consts.get(&name).cloned(),
        }
    }

    /// After `path.join`: `(…)` of literals and `__dirname`.
    fn joined_path(&mut self) -> Option<Value> {
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

    /// Skips one value: up to the next `,`, `;` or unmatched closing bracket outside
    /// brackets and strings.
    pub(super) fn skip_value(&mut self) {
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
                b',' | b';' if depth == 0 => return,
                _ => {}
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(code: &str) -> Value {
        let consts = top_level_consts(code, Path::new("/app"));
        let start = code.rfind("url:").expect("a url field") + 4;
        Parser::new(code, start, Path::new("/app"), &consts).value()
    }

    #[test]
    fn non_null_assertions_and_as_are_skipped() {
        let env = Value::ProcessEnv("DATABASE_URL".into());
        assert_eq!(value("{ url: process.env.DATABASE_URL! }"), env);
        assert_eq!(value("{ url: process.env.DATABASE_URL!, }"), env);
        assert_eq!(value("{ url: process.env.DATABASE_URL as string }"), env);
        assert_eq!(
            value("{ url: process.env.DATABASE_URL as string | undefined }"),
            env
        );
        assert_eq!(
            value("{ url: env<Env>('DATABASE_URL') }"),
            Value::Env("DATABASE_URL".into())
        );
        // `!=` is a comparison, not an assertion.
        assert!(matches!(
            value("{ url: process.env.A != 'x' }"),
            Value::Computed(_)
        ));
    }

    #[test]
    fn defaults_with_nullish_coalescing_and_or() {
        assert_eq!(
            value("{ url: process.env.DATABASE_URL ?? \"file:./dev.db\" }"),
            Value::or(
                Value::ProcessEnv("DATABASE_URL".into()),
                Value::Text("file:./dev.db".into()),
                false
            )
        );
        assert_eq!(
            value("{ url: process.env.A || process.env.B\n  || 'file:./c.db' }"),
            Value::or(
                Value::ProcessEnv("A".into()),
                Value::or(
                    Value::ProcessEnv("B".into()),
                    Value::Text("file:./c.db".into()),
                    true
                ),
                true
            )
        );
        assert!(matches!(
            value("{ url: process.env.A ?? getDefault() }"),
            Value::Computed(text) if text == "process.env.A ?? getDefault()"
        ));
    }

    #[test]
    fn top_level_consts_are_followed() {
        let code = r#"import { defineConfig, env } from "prisma/config";
            const fallback = "file:./dev.db"
            export const url: string = process.env.DATABASE_URL ?? fallback;
            const computed = readUrl()
            function f() { const url = "inner, not top level"; }
            const { a } = { a: 1 };
            export default defineConfig({ datasource: { url: url } });"#;
        let consts = top_level_consts(code, Path::new("/app"));
        assert_eq!(
            consts.get("url"),
            Some(&Value::or(
                Value::ProcessEnv("DATABASE_URL".into()),
                Value::Text("file:./dev.db".into()),
                false
            ))
        );
        assert_eq!(
            consts.get("computed"),
            Some(&Value::Computed("readUrl()".into()))
        );
        assert!(!consts.contains_key("a"));
        assert_eq!(value(code), consts["url"]);
    }

    #[test]
    fn shorthand_fields_name_consts() {
        let code =
            "const url = env(\"DATABASE_URL\");\nexport default { datasource: { url, other } }";
        let consts = top_level_consts(code, Path::new("/app"));
        let start = code.find("{ url").unwrap();
        let fields = Parser::new(code, start, Path::new("/app"), &consts).object();
        let values: Vec<(&str, &Value)> = fields
            .iter()
            .map(|(k, v)| match v {
                Parsed::Value(v) => (k.as_str(), v),
                Parsed::Object(_) => panic!("{k} is an object"),
            })
            .collect();
        assert_eq!(
            values,
            [
                ("url", &Value::Env("DATABASE_URL".into())),
                ("other", &Value::Computed("other".into()))
            ]
        );
    }

    #[test]
    fn string_literals_in_order() {
        assert_eq!(
            string_literals("import 'dotenv/config';\nconst a = `x${b}`, c = \"d\";"),
            ["dotenv/config", "d"]
        );
    }
}
