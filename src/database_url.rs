//! Database URLs as Prisma writes them, with the password kept out of every rendering.

use crate::error::ConfigError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::Error;
use crate::provider::Provider;

/// A parsed database URL. `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct DatabaseUrl {
    provider: Provider,
    location: Location,
    redacted: String,
}

#[derive(Clone)]
enum Location {
    Server(Url),
    File(PathBuf),
}

/// Prisma's default `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl DatabaseUrl {
    /// Parses a URL. Relative SQLite paths are resolved against `sqlite_base`, the folder
    /// of `schema.prisma`, as Prisma resolves them. `origin` names where the URL came from,
    /// for error messages.
    pub fn parse(raw: &str, sqlite_base: &Path, origin: &str) -> Result<Self, Error> {
        let raw = raw.trim();
        let invalid = |reason: String| {
            Error::Config(ConfigError::InvalidUrl {
                origin: origin.to_string(),
                reason,
            })
        };
        if let Some(rest) = raw
            .strip_prefix("file:")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(invalid(
                    "the SQLite URL names no file (expected file:./dev.db)".into(),
                ));
            }
            // Lexically tidied (`prisma/./dev.db` → `prisma/dev.db`), for messages.
            let path: PathBuf = sqlite_base
                .join(path)
                .components()
                .filter(|c| *c != std::path::Component::CurDir)
                .collect();
            return Ok(DatabaseUrl {
                provider: Provider::Sqlite,
                redacted: format!("file:{}", path.display()),
                location: Location::File(path),
            });
        }
        let scheme = raw.split(':').next().unwrap_or_default();
        let provider = match Provider::from_url_scheme(scheme) {
            Some(provider) => provider,
            None if !raw.contains(':') => {
                return Err(invalid(
                    "it has no scheme (expected postgresql://, mysql:// or file:)".into(),
                ));
            }
            None => {
                return Err(Error::Config(ConfigError::UnsupportedScheme {
                    scheme: scheme.to_string(),
                }));
            }
        };
        // Never echo the URL itself: it may hold a password.
        let url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it names no host".into()));
        }
        let mut redacted = url.clone();
        if url.password().is_some() {
            let _ = redacted.set_password(Some(crate::redact::MASK));
        }
        let redacted = redact_query(redacted);
        Ok(DatabaseUrl {
            provider,
            location: Location::Server(url),
            redacted,
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The URL of a server database (PostgreSQL, MySQL). Holds the password: use it to
    /// connect, never to print.
    pub fn server_url(&self) -> Option<&Url> {
        match &self.location {
            Location::Server(url) => Some(url),
            Location::File(_) => None,
        }
    }

    /// The file of a SQLite database.
    pub fn file(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            Location::Server(_) => None,
        }
    }

    /// The server's host (without IPv6 brackets) and port, for a server URL.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let url = self.server_url()?;
        let host = url
            .host_str()
            .unwrap_or("localhost")
            .trim_matches(['[', ']']);
        Some((
            host.to_string(),
            url.port().unwrap_or(self.provider.default_port()),
        ))
    }

    /// The database name of a server URL (PostgreSQL defaults it to the user name).
    pub fn database_name(&self) -> Option<String> {
        let url = self.server_url()?;
        let name = percent_decode(url.path().trim_start_matches('/'));
        Some(if name.is_empty() {
            percent_decode(url.username())
        } else {
            name
        })
    }

    /// The schema that holds the history, where the provider has schemas.
    pub fn schema(&self) -> Option<String> {
        self.provider
            .has_schemas()
            .then(|| self.param("schema").unwrap_or_else(|| "public".into()))
    }

    /// How every message names this database, the same way in every line safemig prints:
    /// `PostgreSQL database `app` (schema `public`) at db:5432`, `SQLite database
    /// prisma/dev.db`. Never holds credentials.
    pub fn describe(&self) -> String {
        let noun = self.provider.database_noun();
        match &self.location {
            Location::File(path) => format!("{noun} {}", crate::text::path(path)),
            Location::Server(_) => {
                let (host, port) = self.host_port().unwrap_or_default();
                let name = self.database_name().unwrap_or_default();
                let schema = self
                    .schema()
                    .map(|s| format!(" (schema `{}`)", crate::text::escaped(&s)))
                    .unwrap_or_default();
                format!(
                    "{noun} `{}`{schema} at {host}:{port}",
                    crate::text::escaped(&name)
                )
            }
        }
    }

    /// A query parameter of a server URL.
    pub fn param(&self, key: &str) -> Option<String> {
        self.server_url()?
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// `connect_timeout` in seconds, as Prisma reads it; 0 means no limit.
    pub fn connect_timeout(&self) -> Option<Duration> {
        match self
            .param("connect_timeout")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
            None => Some(DEFAULT_CONNECT_TIMEOUT),
        }
    }

    /// The URL with its password replaced by `****`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The same server, login and options, with another database: where drift replays the
    /// migrations folder.
    pub fn with_database(&self, name: &str) -> Option<DatabaseUrl> {
        let mut url = self.server_url()?.clone();
        url.set_path(&format!(
            "/{}",
            percent_encoding::utf8_percent_encode(name, NAME)
        ));
        DatabaseUrl::parse(url.as_str(), Path::new("/"), "a scratch database").ok()
    }

    /// The same server, login and options, for the tenant `name`: the schema `name` where
    /// the provider has schemas (PostgreSQL), else the database `name` (MySQL); `None` for
    /// a file (SQLite tenants are files of their own).
    pub fn for_tenant(&self, name: &str) -> Option<DatabaseUrl> {
        if !self.provider.has_schemas() {
            return self.with_database(name);
        }
        let mut url = self.server_url()?.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "schema")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("schema", name);
        DatabaseUrl::parse(url.as_str(), Path::new("/"), "a tenant").ok()
    }

    /// A SQLite database in `file` (an absolute path).
    pub fn sqlite_file(file: &Path) -> DatabaseUrl {
        DatabaseUrl {
            provider: Provider::Sqlite,
            location: Location::File(file.to_path_buf()),
            redacted: format!("file:{}", file.display()),
        }
    }
}

/// What must be escaped in a database name inside a URL's path.
const NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'-')
    .remove(b'.');

/// Decodes `%XX` escapes in a URL component (user names, passwords, database names).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Masks query parameters that carry secrets (`sslpassword`, …).
fn redact_query(mut url: Url) -> String {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.contains("password") {
                crate::redact::MASK.into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<DatabaseUrl, Error> {
        DatabaseUrl::parse(raw, Path::new("/app/prisma"), "--url")
    }

    #[test]
    fn passwords_are_redacted_everywhere() {
        let url =
            parse("postgresql://app:s%3Dcret@db:5432/app?schema=tenant&sslpassword=k3y").unwrap();
        assert_eq!(url.provider(), Provider::Postgres);
        let shown = format!("{url} {url:?}");
        assert!(
            !shown.contains("s%3Dcret") && !shown.contains("s=cret"),
            "{shown}"
        );
        assert!(!shown.contains("k3y"), "{shown}");
        assert!(shown.contains("app:****@db:5432/app"), "{shown}");
        assert_eq!(url.param("schema").as_deref(), Some("tenant"));
    }

    #[test]
    fn sqlite_paths_resolve_against_the_schema_folder() {
        let url = parse("file:./dev.db").unwrap();
        assert_eq!(url.provider(), Provider::Sqlite);
        assert_eq!(url.file(), Some(Path::new("/app/prisma/dev.db")));
        assert_eq!(
            parse("file:/data/app.db?connection_limit=1")
                .unwrap()
                .file(),
            Some(Path::new("/data/app.db"))
        );
    }

    #[test]
    fn unsupported_and_invalid_urls() {
        assert!(matches!(
            parse("sqlserver://x"),
            Err(Error::Config(ConfigError::UnsupportedScheme { .. }))
        ));
        assert!(matches!(
            parse("localhost:5432"),
            Err(Error::Config(ConfigError::UnsupportedScheme { .. }))
        ));
        assert!(matches!(
            parse("just-a-name"),
            Err(Error::Config(ConfigError::InvalidUrl { .. }))
        ));
        let Err(Error::Config(ConfigError::InvalidUrl { reason, .. })) =
            parse("postgresql://u:pw@[bad/db")
        else {
            panic!("expected an invalid URL error");
        };
        assert!(!reason.contains("pw"));
    }
}
