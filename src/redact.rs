//! Masking credentials in text safemig prints, by structure rather than by value.
//!
//! Replacing every occurrence of the password's text corrupts output and leaks by context:
//! with the password `postgres`, `"provider": "postgresql"` became `"****ql"`; with `null`,
//! JSON turned invalid; with `MySQL`, "**** database" gave it away. What carries a
//! credential has a shape, and only the credential part of that shape is masked:
//!
//! - URLs with user info: `scheme://user:PASSWORD@host`;
//! - key/value pairs whose key names a secret, as in connection strings, query strings and
//!   environment assignments: `password=…`, `sslpassword=…`, `PGPASSWORD=…`,
//!   `Password='…';`, and command-line flags `--password …` / `--password=…`;
//! - SQL that sets a password and that a server may echo in an error:
//!   `IDENTIFIED BY '…'`, `PASSWORD '…'`.

/// The mask that replaces a credential.
pub const MASK: &str = "****";

/// Masks every credential [`redact`] recognises in `text`.
pub fn redact(text: &str) -> String {
    let text = redact_url_passwords(text);
    let text = redact_secret_values(&text);
    redact_sql_passwords(&text)
}

/// `scheme://user:password@` → `scheme://user:****@`.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Whether a key (of `key=value` or a `--key` flag) names a credential.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key",
    ]
    .iter()
    .any(|word| key.ends_with(word))
}

/// `password=value`, `--password value`, `--password=value`: the value is masked.
fn redact_secret_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_key_char(bytes[i]) || (i > 0 && is_key_char(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let key_start = i;
        while i < bytes.len() && is_key_char(bytes[i]) {
            i += 1;
        }
        let key = text[key_start..i].trim_start_matches('-');
        if !is_secret_key(key) {
            continue;
        }
        let flag = text[key_start..].starts_with("--");
        let value_start = match bytes.get(i) {
            Some(b'=') => i + 1,
            // `--password VALUE`: a flag's value is the next word.
            Some(b' ') if flag => i + 1,
            _ => continue,
        };
        let value_end = value_end(text, value_start);
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            let quoted = matches!(bytes[value_start], b'\'' | b'"');
            if quoted {
                out.push(bytes[value_start] as char);
            }
            out.push_str(MASK);
            if quoted && value_end - value_start >= 2 && bytes[value_end - 1] == bytes[value_start]
            {
                out.push(bytes[value_start] as char);
            }
            copied = value_end;
        }
        i = value_end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Where a value starting at `start` ends: a quoted value at its closing quote, otherwise
/// at whitespace or a separator of connection strings and query strings.
fn value_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    match bytes.get(start) {
        Some(&quote @ (b'\'' | b'"')) => bytes[start + 1..]
            .iter()
            .position(|&b| b == quote)
            .map_or(bytes.len(), |p| start + 1 + p + 1),
        _ => bytes[start..]
            .iter()
            .position(|&b| {
                b.is_ascii_whitespace() || matches!(b, b'&' | b';' | b',' | b'\'' | b'"')
            })
            .map_or(bytes.len(), |p| start + p),
    }
}

/// `IDENTIFIED BY 'secret'` and `PASSWORD 'secret'` in SQL a server echoes.
fn redact_sql_passwords(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let keyword = ["IDENTIFIED BY ", "PASSWORD "].into_iter().find(|k| {
            upper.as_bytes()[i..].starts_with(k.as_bytes())
                && (i == 0 || !is_key_char(bytes[i - 1]))
        });
        let Some(keyword) = keyword else {
            i += 1;
            continue;
        };
        let start = i + keyword.len();
        if !matches!(bytes.get(start), Some(b'\'' | b'"')) {
            i = start;
            continue;
        }
        let quote = bytes[start] as char;
        out.push_str(&text[copied..start]);
        out.push(quote);
        out.push_str(MASK);
        out.push(quote);
        copied = value_end(text, start);
        i = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked_by_structure() {
        assert_eq!(
            redact("psql -d postgresql://app:s3cret@db:5432/app -c 'SELECT 1' redis://:pw@cache"),
            "psql -d postgresql://app:****@db:5432/app -c 'SELECT 1' redis://:****@cache"
        );
        assert_eq!(
            redact("http://example.com/a@b and \"mysql://u:p@h/db\""),
            "http://example.com/a@b and \"mysql://u:****@h/db\""
        );
    }

    #[test]
    fn secret_key_values_and_flags() {
        assert_eq!(
            redact("host=db password=hunter2 user=app"),
            "host=db password=**** user=app"
        );
        assert_eq!(
            redact("Server=db;Password='a b';Database=x"),
            "Server=db;Password='****';Database=x"
        );
        assert_eq!(
            redact("postgresql://db/app?sslpassword=k3y&schema=public"),
            "postgresql://db/app?sslpassword=****&schema=public"
        );
        assert_eq!(
            redact("env PGPASSWORD=pw node app.js --db-password hunter2 --api-token=abc"),
            "env PGPASSWORD=**** node app.js --db-password **** --api-token=****"
        );
        assert_eq!(
            redact("données é PASSWORD ✓ password=é"),
            "données é PASSWORD ✓ password=****"
        );
        // A word that merely contains "password" is left alone.
        assert_eq!(
            redact("password authentication failed for user \"app\""),
            "password authentication failed for user \"app\""
        );
    }

    #[test]
    fn sql_passwords() {
        assert_eq!(
            redact("near 'IDENTIFIED BY 's3cret'' at line 1"),
            "near 'IDENTIFIED BY '****'' at line 1"
        );
        assert_eq!(
            redact("CREATE ROLE app LOGIN PASSWORD 'x'; SELECT 1"),
            "CREATE ROLE app LOGIN PASSWORD '****'; SELECT 1"
        );
    }

    /// The failures substring masking caused: words that happen to be the password are
    /// printed as they are.
    #[test]
    fn text_that_equals_a_password_is_not_touched() {
        for text in [
            "{\n  \"provider\": \"postgresql\",\n  \"logs\": null,\n  \"state\": \"applied\"\n}",
            "MySQL database `app` at db:3306",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    proptest::proptest! {
        /// Any text: no panic (byte offsets stay on character boundaries), and text without
        /// a credential shape comes back unchanged.
        #[test]
        fn any_text(text in "\\PC*") {
            let redacted = redact(&text);
            let shapeless = !text.contains("://") && !text.contains('=')
                && !text.to_ascii_uppercase().contains("PASSWORD")
                && !text.to_ascii_uppercase().contains("IDENTIFIED BY")
                && !text.contains("--");
            if shapeless {
                proptest::prop_assert_eq!(redacted, text);
            }
        }
    }
}
