//! `safemig.toml`: named environments (production, staging, …), each a database URL named
//! by an environment variable, its migrations folder, and what `check` (and later `serve`)
//! looks at there: drift and tenants.
//!
//! ```toml
//! [environments.production]
//! url = "env:PROD_DATABASE_URL"        # the variable holding the URL; no password in the file
//! dir = "prisma/migrations"            # relative to this file's folder
//! schema = "prisma/schema.prisma"
//! drift = { against = "folder", shadow = "env:SHADOW_URL", every = "1h" }
//! tenants = { pattern = "tenant_*" }   # or list = [...], query = "SELECT ...", files = "*.db"
//! strict = true                        # edited, missing, out-of-order migrations: exit 7
//! ```
//!
//! The file is read strictly: an unknown key is an error naming it and its line, since a
//! misspelt `tenant` silently checking one database instead of a thousand would be worse
//! than no check. Variables are read when an environment is used ([`Environment::url`]),
//! so a file may name environments whose variables only some machines have.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::Error;
use crate::error::ConfigError;
use crate::files;

/// The file's name, looked for in the working directory.
pub const FILE_NAME: &str = "safemig.toml";

/// A parsed `safemig.toml`.
#[derive(Debug, Clone)]
pub struct Environments {
    /// The file read.
    pub path: PathBuf,
    /// By name, in name order.
    pub environments: BTreeMap<String, Environment>,
}

/// One environment of `safemig.toml`, as written (variables not yet read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// `None` only when the tenants are SQLite files, each its own database.
    pub url: Option<UrlSetting>,
    /// The migrations folder, resolved against the file's folder; `None`: found as without
    /// `safemig.toml` (the Prisma config, the schema's folder, `prisma/migrations`).
    pub dir: Option<PathBuf>,
    /// The Prisma schema, resolved against the file's folder.
    pub schema: Option<PathBuf>,
    pub drift: Option<DriftSetting>,
    pub tenants: Option<Tenants>,
    /// `strict = true`: `status` and `check` call edited, missing and out-of-order
    /// migrations `inconsistent` (exit 7) instead of noting them.
    pub strict: bool,
    /// The file's folder, against which tenant files are found.
    pub folder: PathBuf,
    /// The file, for messages.
    pub file: PathBuf,
}

/// Where an environment's URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSetting {
    /// `url = "env:NAME"`: the variable `NAME`.
    Variable(String),
    /// A URL written in the file; accepted, with a warning when it is a server's (it
    /// usually carries a password).
    Literal(String),
}

/// `drift = { against = …, shadow = …, every = … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftSetting {
    pub against: DriftAgainst,
    /// `shadow = "env:NAME"`: the server the folder is replayed on (drift's
    /// `--shadow-url`), for a login that cannot create databases.
    pub shadow: Option<UrlSetting>,
    /// `every = "1h"`: how often `serve` compares; `check` compares on every run.
    pub every: Option<Duration>,
}

/// What the environment's schema is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftAgainst {
    /// `"folder"`: the migrations folder, replayed into a scratch database.
    Folder,
    /// `"environment:NAME"`: another environment of the file.
    Environment(String),
    /// `"snapshot:PATH"`: a file from `safemig snapshot`, relative to the file's folder.
    Snapshot(PathBuf),
}

impl DriftAgainst {
    /// `folder`, `environment:NAME` or `snapshot:PATH` (relative to `folder`); `Ok(None)`
    /// for any other text, an error for `environment:` without a name.
    pub fn parse(text: &str, folder: &Path) -> Result<Option<DriftAgainst>, String> {
        Ok(Some(if text == "folder" {
            DriftAgainst::Folder
        } else if let Some(other) = text.strip_prefix("environment:") {
            let other = other.trim();
            if other.is_empty() {
                return Err("\"environment:\" names no environment".into());
            }
            DriftAgainst::Environment(other.to_string())
        } else if let Some(path) = text.strip_prefix("snapshot:") {
            DriftAgainst::Snapshot(folder.join(path.trim()))
        } else {
            return Ok(None);
        }))
    }
}

/// The tenants of an environment: the schemas (PostgreSQL) or databases (MySQL) on its
/// server that each hold a copy of the same history, or SQLite files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    /// `list = ["a", "b"]`.
    List(Vec<String>),
    /// `pattern = "tenant_*"`: `*` any characters, `?` one; over schema or database names.
    Pattern(String),
    /// `query = "SELECT …"`: the first column of each row, run on the environment's URL.
    Query(String),
    /// `files = "tenants/*.db"`: SQLite files, wildcards in the file name only, relative
    /// to the file's folder.
    Files(String),
}

impl Environments {
    /// `path` if given (`--config`), else `safemig.toml` in the working directory if there
    /// is one.
    pub fn discover(path: Option<&Path>) -> Result<Option<Environments>, Error> {
        match path {
            Some(path) => {
                let bytes = files::read_existing(path, files::CONFIG_LIMIT)?;
                Environments::parse(&String::from_utf8_lossy(&bytes), path).map(Some)
            }
            None => match files::read(Path::new(FILE_NAME), files::CONFIG_LIMIT)? {
                Some(bytes) => {
                    Environments::parse(&String::from_utf8_lossy(&bytes), Path::new(FILE_NAME))
                        .map(Some)
                }
                None => Ok(None),
            },
        }
    }

    /// Like [`Environments::discover`], but a missing file is an error: `--env` and
    /// `check` need one.
    pub fn require(path: Option<&Path>) -> Result<Environments, Error> {
        Environments::discover(path)?.ok_or_else(|| {
            Error::Config(ConfigError::NoEnvironmentsFile {
                path: path.map(Path::to_path_buf).unwrap_or(FILE_NAME.into()),
            })
        })
    }

    /// Parses the text of the file at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Environments, Error> {
        let invalid = |span: Option<Range<usize>>, message: String| {
            Error::Config(ConfigError::EnvironmentsFile {
                path: path.to_path_buf(),
                line: span.map(|s| line_of(text, s.start)),
                message,
            })
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().to_string()))?;
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut environments = BTreeMap::new();
        for (name, raw) in raw.environments {
            let environment = raw.into_environment(&name, &folder, path, &invalid)?;
            environments.insert(name, environment);
        }
        // An `against` naming no environment is found here, not when drift runs.
        for environment in environments.values() {
            if let Some(DriftSetting {
                against: DriftAgainst::Environment(other),
                ..
            }) = &environment.drift
                && !environments.contains_key(other)
            {
                return Err(invalid(
                    None,
                    format!(
                        "environment `{}` compares with environment `{other}`, which the file does not define",
                        environment.name
                    ),
                ));
            }
        }
        Ok(Environments {
            path: path.to_path_buf(),
            environments,
        })
    }

    /// The environment called `name`.
    pub fn get(&self, name: &str) -> Result<&Environment, Error> {
        self.environments.get(name).ok_or_else(|| {
            Error::Config(ConfigError::UnknownEnvironment {
                name: name.to_string(),
                path: self.path.clone(),
                known: self.environments.keys().cloned().collect(),
            })
        })
    }
}

impl Environment {
    /// The URL, read from its variable through `lookup`; `None` when the environment has
    /// none (its tenants are files). An unset or empty variable is an error naming it and
    /// the environment.
    pub fn url(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, Error> {
        self.url
            .as_ref()
            .map(|setting| setting.resolve(&self.name, &self.file, lookup))
            .transpose()
    }

    /// What the operator should know about how the environment is written: a server URL
    /// written in the file. Never holds the URL.
    pub fn warnings(&self) -> Vec<String> {
        let literal = |setting: &Option<UrlSetting>| matches!(setting, Some(UrlSetting::Literal(url)) if !is_file_url(url));
        let mut warnings = Vec::new();
        let shadow = self.drift.as_ref().and_then(|d| d.shadow.clone());
        for (what, setting) in [("url", &self.url), ("drift.shadow", &shadow)] {
            if literal(setting) {
                warnings.push(format!(
                    "environment `{}` in {} has its {what} written in the file, where a password is easily read or committed: name a variable instead ({what} = \"env:VARIABLE\")",
                    self.name,
                    crate::text::path(&self.file)
                ));
            }
        }
        warnings
    }
}

impl UrlSetting {
    fn parse(text: &str) -> UrlSetting {
        match text.strip_prefix("env:") {
            Some(variable) => UrlSetting::Variable(variable.trim().to_string()),
            None => UrlSetting::Literal(text.to_string()),
        }
    }

    /// The URL, read from its variable for `environment` of `file`.
    pub fn resolve(
        &self,
        environment: &str,
        file: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, Error> {
        match self {
            UrlSetting::Literal(url) => Ok(url.clone()),
            UrlSetting::Variable(variable) => lookup(variable)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    Error::Config(ConfigError::EnvironmentVariableUnset {
                        variable: variable.clone(),
                        environment: environment.to_string(),
                        path: file.to_path_buf(),
                    })
                }),
        }
    }
}

fn is_file_url(url: &str) -> bool {
    url.starts_with("file:") || url.starts_with("sqlite:")
}

/// Whether `name` matches `pattern`: `*` any run of characters, `?` one character.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative wildcard matching with one backtrack point (the last `*`).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((star_p, star_n)) = star {
            pi = star_p + 1;
            ni = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The SQLite files `pattern` names (relative to `folder`; wildcards in the file name
/// only), sorted.
pub fn tenant_files(folder: &Path, pattern: &str) -> Result<Vec<PathBuf>, Error> {
    let path = folder.join(pattern);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    if !name.contains(['*', '?']) {
        return Ok(vec![path]);
    }
    let entries = std::fs::read_dir(&parent).map_err(|source| {
        Error::Config(ConfigError::Io {
            path: parent.clone(),
            source,
        })
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| matches_pattern(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    found.sort();
    Ok(found)
}

/// A duration as `every` takes it: `90s`, `15m`, `1h`, `1d`, or seconds.
fn parse_every(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "`{text}` is not a duration (such as 90s, 15m, 1h, 1d)"
            ));
        }
    };
    match number.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n * factor)),
        _ => Err(format!(
            "`{text}` is not a duration (such as 90s, 15m, 1h, 1d)"
        )),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

// ---------------------------------------------------------------------------------------
// The file as serde reads it

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    environments: BTreeMap<String, RawEnvironment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    url: Option<toml::Spanned<String>>,
    dir: Option<String>,
    schema: Option<String>,
    drift: Option<toml::Spanned<RawDrift>>,
    tenants: Option<toml::Spanned<RawTenants>>,
    #[serde(default)]
    strict: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrift {
    against: Option<String>,
    shadow: Option<String>,
    every: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenants {
    list: Option<Vec<String>>,
    pattern: Option<String>,
    query: Option<String>,
    files: Option<String>,
}

type Invalid<'a> = dyn Fn(Option<Range<usize>>, String) -> Error + 'a;

impl RawEnvironment {
    fn into_environment(
        self,
        name: &str,
        folder: &Path,
        file: &Path,
        invalid: &Invalid<'_>,
    ) -> Result<Environment, Error> {
        let tenants = self
            .tenants
            .map(|spanned| {
                let span = spanned.span();
                spanned.into_inner().into_tenants().map_err(|reason| {
                    invalid(Some(span), format!("environment `{name}`: {reason}"))
                })
            })
            .transpose()?;
        let files = matches!(tenants, Some(Tenants::Files(_)));
        let url = match (self.url, files) {
            (Some(url), true) => {
                return Err(invalid(
                    Some(url.span()),
                    format!(
                        "environment `{name}` has both `url` and `tenants.files`: each file is a database of its own, so drop `url`"
                    ),
                ));
            }
            (Some(url), false) => {
                let span = url.span();
                let setting = UrlSetting::parse(url.get_ref());
                if matches!(&setting, UrlSetting::Variable(v) if v.is_empty()) {
                    return Err(invalid(
                        Some(span),
                        format!("environment `{name}`: `env:` names no variable"),
                    ));
                }
                Some(setting)
            }
            (None, true) => None,
            (None, false) => {
                return Err(invalid(
                    None,
                    format!(
                        "environment `{name}` has no `url` (write url = \"env:VARIABLE\", the variable holding its database URL)"
                    ),
                ));
            }
        };
        let drift = self
            .drift
            .map(|spanned| {
                let span = spanned.span();
                spanned.into_inner().into_setting(folder).map_err(|reason| {
                    invalid(Some(span), format!("environment `{name}`: {reason}"))
                })
            })
            .transpose()?;
        Ok(Environment {
            name: name.to_string(),
            url,
            dir: self.dir.map(|d| folder.join(d)),
            schema: self.schema.map(|s| folder.join(s)),
            drift,
            tenants,
            strict: self.strict,
            folder: folder.to_path_buf(),
            file: file.to_path_buf(),
        })
    }
}

impl RawDrift {
    fn into_setting(self, folder: &Path) -> Result<DriftSetting, String> {
        let text = self.against.as_deref().unwrap_or("folder");
        let against = DriftAgainst::parse(text, folder)?.ok_or_else(|| {
            if text.starts_with("env:") {
                format!(
                    "drift.against = \"{text}\": `env:` names a variable; another environment of this file is \"environment:NAME\""
                )
            } else {
                format!(
                    "drift.against = \"{text}\" is not \"folder\", \"environment:NAME\" or \"snapshot:PATH\""
                )
            }
        })?;
        let every = self.every.as_deref().map(parse_every).transpose()?;
        Ok(DriftSetting {
            against,
            shadow: self.shadow.as_deref().map(UrlSetting::parse),
            every,
        })
    }
}

impl RawTenants {
    fn into_tenants(self) -> Result<Tenants, String> {
        let given = [
            self.list.is_some(),
            self.pattern.is_some(),
            self.query.is_some(),
            self.files.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(
                "`tenants` takes exactly one of list = [...], pattern = \"...\", query = \"SELECT ...\" or files = \"*.db\""
                    .into(),
            );
        }
        Ok(match (self.list, self.pattern, self.query, self.files) {
            (Some(list), ..) if list.is_empty() => return Err("`tenants.list` is empty".into()),
            (Some(list), ..) => Tenants::List(list),
            (_, Some(pattern), ..) => Tenants::Pattern(pattern),
            (_, _, Some(query), _) => Tenants::Query(query),
            (.., Some(files)) => Tenants::Files(files),
            _ => unreachable!("exactly one is given"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Environments, Error> {
        Environments::parse(text, Path::new("conf/safemig.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_file() {
        let envs = parse(
            r#"
[environments.production]
url = "env:PROD_URL"
dir = "prisma/migrations"
schema = "prisma/schema.prisma"
drift = { against = "folder", shadow = "env:SHADOW", every = "1h" }
tenants = { pattern = "tenant_*" }

[environments.staging]
url = "env:STAGING_URL"
drift = { against = "environment:production" }
tenants = { list = ["a", "b"] }

[environments.reports]
url = "postgresql://u@h/db"
tenants = { query = "SELECT name FROM tenants" }
drift = { against = "snapshot:prod.json" }

[environments.edge]
tenants = { files = "data/*.db" }
"#,
        )
        .unwrap();
        let prod = envs.get("production").unwrap();
        assert_eq!(prod.url, Some(UrlSetting::Variable("PROD_URL".into())));
        assert_eq!(prod.dir, Some(PathBuf::from("conf/prisma/migrations")));
        assert_eq!(
            prod.schema,
            Some(PathBuf::from("conf/prisma/schema.prisma"))
        );
        assert_eq!(
            prod.drift,
            Some(DriftSetting {
                against: DriftAgainst::Folder,
                shadow: Some(UrlSetting::Variable("SHADOW".into())),
                every: Some(Duration::from_secs(3600)),
            })
        );
        assert_eq!(prod.tenants, Some(Tenants::Pattern("tenant_*".into())));
        let staging = envs.get("staging").unwrap();
        assert_eq!(
            staging.drift.as_ref().unwrap().against,
            DriftAgainst::Environment("production".into())
        );
        assert_eq!(
            staging.tenants,
            Some(Tenants::List(vec!["a".into(), "b".into()]))
        );
        let reports = envs.get("reports").unwrap();
        assert_eq!(
            reports.drift.as_ref().unwrap().against,
            DriftAgainst::Snapshot("conf/prod.json".into())
        );
        assert!(matches!(reports.tenants, Some(Tenants::Query(_))));
        assert_eq!(reports.warnings().len(), 1);
        assert!(prod.warnings().is_empty());
        let edge = envs.get("edge").unwrap();
        assert_eq!(edge.url, None);
        assert_eq!(edge.tenants, Some(Tenants::Files("data/*.db".into())));
    }

    #[test]
    fn an_empty_file_has_no_environments() {
        assert!(parse("").unwrap().environments.is_empty());
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "[environments.prod]\nurl = \"env:X\"\ntenant = { list = [\"a\"] }\n";
        let message = error(text);
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("tenant"), "{message}");
        let message = error("[environment.prod]\nurl = \"env:X\"\n");
        assert!(
            message.contains("line 1") && message.contains("environment"),
            "{message}"
        );
        let message =
            error("[environments.prod]\nurl = \"env:X\"\ndrift = { agains = \"folder\" }\n");
        assert!(
            message.contains("line 3") && message.contains("agains"),
            "{message}"
        );
        let message = error("[environments.prod]\nurl = \"env:X\"\ntenants = { lists = [] }\n");
        assert!(message.contains("lists"), "{message}");
    }

    #[test]
    fn malformed_toml_names_its_line() {
        let message = error("[environments.prod]\nurl = \n");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn a_wrong_type_is_an_error() {
        let message = error("[environments.prod]\nurl = 5\n");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn a_url_is_required_unless_the_tenants_are_files() {
        let message = error("[environments.prod]\ndir = \"m\"\n");
        assert!(message.contains("has no `url`"), "{message}");
        let message =
            error("[environments.prod]\nurl = \"file:a.db\"\ntenants = { files = \"*.db\" }\n");
        assert!(
            message.contains("line 2") && message.contains("drop `url`"),
            "{message}"
        );
        let message = error("[environments.prod]\nurl = \"env:\"\n");
        assert!(message.contains("names no variable"), "{message}");
    }

    #[test]
    fn tenants_take_exactly_one_form() {
        let message = error(
            "[environments.prod]\nurl = \"env:X\"\ntenants = { list = [\"a\"], pattern = \"b*\" }\n",
        );
        assert!(
            message.contains("line 3") && message.contains("exactly one"),
            "{message}"
        );
        let message = error("[environments.prod]\nurl = \"env:X\"\ntenants = {}\n");
        assert!(message.contains("exactly one"), "{message}");
        let message = error("[environments.prod]\nurl = \"env:X\"\ntenants = { list = [] }\n");
        assert!(message.contains("empty"), "{message}");
    }

    #[test]
    fn drift_settings_are_checked() {
        let message =
            error("[environments.prod]\nurl = \"env:X\"\ndrift = { against = \"env:OTHER\" }\n");
        assert!(message.contains("environment:NAME"), "{message}");
        let message =
            error("[environments.prod]\nurl = \"env:X\"\ndrift = { against = \"elsewhere\" }\n");
        assert!(message.contains("is not \"folder\""), "{message}");
        let message = error("[environments.prod]\nurl = \"env:X\"\ndrift = { every = \"soon\" }\n");
        assert!(message.contains("not a duration"), "{message}");
        let message = error(
            "[environments.prod]\nurl = \"env:X\"\ndrift = { against = \"environment:nope\" }\n",
        );
        assert!(
            message.contains("`nope`, which the file does not define"),
            "{message}"
        );
        let envs = parse("[environments.prod]\nurl = \"env:X\"\ndrift = {}\n").unwrap();
        let drift = envs.get("prod").unwrap().drift.clone().unwrap();
        assert_eq!(drift.against, DriftAgainst::Folder);
        assert_eq!(drift.every, None);
    }

    #[test]
    fn an_unknown_environment_lists_the_known_ones() {
        let envs = parse("[environments.prod]\nurl = \"env:X\"\n").unwrap();
        let message = envs.get("staging").unwrap_err().to_string();
        assert!(
            message.contains("`staging`") && message.contains("prod"),
            "{message}"
        );
    }

    #[test]
    fn an_unset_variable_names_it_and_the_environment() {
        let envs = parse("[environments.prod]\nurl = \"env:PROD_URL\"\n").unwrap();
        let prod = envs.get("prod").unwrap();
        let error = prod.url(&|_| None).unwrap_err();
        assert_eq!(error.exit_code(), crate::ExitCode::Usage);
        let message = error.to_string();
        assert!(
            message.contains("PROD_URL") && message.contains("`prod`"),
            "{message}"
        );
        assert!(
            prod.url(&|_| Some(" ".into())).is_err(),
            "empty counts as unset"
        );
        assert_eq!(
            prod.url(&|v| (v == "PROD_URL").then(|| "postgresql://h/db".into()))
                .unwrap(),
            Some("postgresql://h/db".into())
        );
    }

    #[test]
    fn literal_server_urls_are_warned_about_without_showing_them() {
        let envs = parse(
            "[environments.prod]\nurl = \"postgresql://u:hunter2@h/db\"\n[environments.dev]\nurl = \"file:./dev.db\"\n",
        )
        .unwrap();
        let warnings = envs.get("prod").unwrap().warnings();
        assert_eq!(warnings.len(), 1);
        assert!(!warnings[0].contains("hunter2"), "{}", warnings[0]);
        assert!(envs.get("dev").unwrap().warnings().is_empty());
    }

    #[test]
    fn patterns() {
        assert!(matches_pattern("tenant_*", "tenant_"));
        assert!(matches_pattern("tenant_*", "tenant_42"));
        assert!(!matches_pattern("tenant_*", "tenant"));
        assert!(matches_pattern("t?_*_x", "t1_abc_x"));
        assert!(!matches_pattern("t?_*_x", "t12_abc_x"));
        assert!(matches_pattern("*", ""));
        assert!(matches_pattern("a*b*c", "aXbYbZc"));
        assert!(!matches_pattern("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn every_durations() {
        assert_eq!(parse_every("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_every("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_every("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_every("30"), Ok(Duration::from_secs(30)));
        assert!(parse_every("0h").is_err());
        assert!(parse_every("1w").is_err());
    }

    #[test]
    fn tenant_files_match_in_the_last_component() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["a.db", "b.db", "c.txt"] {
            std::fs::write(tmp.path().join(name), "").unwrap();
        }
        let found = tenant_files(tmp.path(), "*.db").unwrap();
        assert_eq!(found, [tmp.path().join("a.db"), tmp.path().join("b.db")]);
        assert_eq!(
            tenant_files(tmp.path(), "c.txt").unwrap(),
            [tmp.path().join("c.txt")]
        );
        assert!(tenant_files(tmp.path(), "missing/*.db").is_err());
    }
}
