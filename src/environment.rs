//! An environment and its targets: what `check`, `serve`, `fleet`, and `status`, `drift`
//! and `deploy` over `--env` work on.
//!
//! An environment is a named entry of `safemig.toml` (its URL read from a variable, its
//! project located, its folder loaded, its drift comparison resolved) or, without that
//! file, the Prisma project in the working directory as every command finds it
//! ([`from_project`]). Its targets are its database, or its tenants: schemas or databases
//! on one server found with one catalog query ([`discover`]), or SQLite files
//! ([`tenant_files`]); `--tenant PATTERN` selects some ([`selects`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::config::environments::{self, DriftAgainst, Environments, Tenants};
use crate::config::{Locations, Project};
use crate::context::Context;
use crate::database_url::DatabaseUrl;
use crate::drift;
use crate::engine::{Column, Engine, Value};
use crate::error::ConfigError;
use crate::history::HistoryRow;
use crate::migrations::MigrationsDir;
use crate::provider::Provider;
use crate::status;

/// The name of the environment [`from_project`] makes: the project's own database,
/// checked without `safemig.toml`.
pub const PROJECT: &str = "project";

/// An environment ready to check: its variables read, its project located and its
/// migrations folder loaded. Prepared once, checked any number of times.
pub struct Prepared {
    pub name: String,
    /// `None` when the tenants are files.
    pub url: Option<DatabaseUrl>,
    pub dir: MigrationsDir,
    pub tenants: Option<Tenants>,
    /// The folder tenant files are found in.
    pub folder: PathBuf,
    pub drift: Option<PreparedDrift>,
    /// `--tenant PATTERN`: only the tenants it matches (see [`selects`]).
    pub tenant_filter: Option<String>,
    /// `strict = true` (or `--strict`): edited, missing and out-of-order migrations are
    /// `inconsistent`.
    pub strictness: status::Strictness,
    /// Whether it is an environment of `safemig.toml` (commands select it with `--env`),
    /// rather than the project's own database ([`from_project`]).
    pub named: bool,
}

/// Drift as an environment configures it, with its URLs resolved.
pub struct PreparedDrift {
    pub against: drift::Source,
    pub shadow: Option<DatabaseUrl>,
    /// How the report names what the schema is compared with.
    pub description: String,
    /// The environment of `safemig.toml` compared with (`against = "environment:NAME"`).
    pub environment: Option<String>,
    /// `every`: how often `serve` compares.
    pub every: Option<Duration>,
}

/// Reads `name`'s variables (`lookup`), locates its project (`--dir` and `--schema` in
/// `overrides` win over the environment's) and loads its folder. Fails only on
/// configuration: an unset variable, a bad URL, a missing folder.
pub fn prepare(
    environments: &Environments,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    overrides: &Locations,
) -> Result<Prepared, Error> {
    prepare_named(environments, name, lookup, overrides).map_err(|e| match e {
        Error::Config(
            e @ (ConfigError::InvalidEnvironment { .. }
            | ConfigError::UnknownEnvironment { .. }
            | ConfigError::EnvironmentVariableUnset { .. }
            | ConfigError::InEnvironment { .. }),
        ) => Error::Config(e),
        Error::Config(e) => Error::Config(ConfigError::InEnvironment {
            environment: name.to_string(),
            source: Box::new(e),
        }),
        e => e,
    })
}

fn prepare_named(
    environments: &Environments,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    overrides: &Locations,
) -> Result<Prepared, Error> {
    let environment = environments.get(name)?;
    let project = Project::locate(&Locations {
        dir: overrides.dir.clone().or(environment.dir.clone()),
        schema: overrides.schema.clone().or(environment.schema.clone()),
        config: overrides.config.clone(),
    })?;
    // `env:` variables are read as Prisma reads DATABASE_URL: the environment, then the
    // project's `.env` files.
    let lookup = &with_dotenv(&project, lookup);
    let origin = format!("environment `{name}`");
    let url = environment
        .url(lookup)?
        .map(|raw| project.other_url(&raw, &origin))
        .transpose()?;
    let provider = url.as_ref().map_or(Provider::Sqlite, DatabaseUrl::provider);
    project.check_provider(provider)?;
    let dir = MigrationsDir::load(&project.migrations_dir)?;
    dir.check_provider(provider)?;
    if matches!(
        environment.tenants,
        Some(Tenants::List(_) | Tenants::Pattern(_) | Tenants::Query(_))
    ) && provider == Provider::Sqlite
    {
        return Err(Error::Config(ConfigError::InvalidEnvironment {
            environment: name.to_string(),
            reason: "a SQLite database has no schemas or databases to hold tenants: list its tenant files with tenants = { files = \"PATTERN\" } and no url".into(),
        }));
    }
    let drift = match &environment.drift {
        None => None,
        Some(setting) => {
            let (against, description) =
                against(environments, name, &setting.against, &project, lookup)?;
            let shadow = setting
                .shadow
                .as_ref()
                .map(|s| {
                    let raw = s.resolve(name, &environment.file, lookup)?;
                    project.other_url(&raw, &format!("drift.shadow of environment `{name}`"))
                })
                .transpose()?;
            Some(PreparedDrift {
                against,
                shadow,
                description,
                environment: match &setting.against {
                    DriftAgainst::Environment(other) => Some(other.clone()),
                    DriftAgainst::Folder | DriftAgainst::Snapshot(_) => None,
                },
                every: setting.every,
            })
        }
    };
    Ok(Prepared {
        name: name.to_string(),
        url,
        dir,
        tenants: environment.tenants.clone(),
        folder: environment.folder.clone(),
        drift,
        tenant_filter: None,
        strictness: status::Strictness {
            strict: environment.strict,
        },
        named: true,
    })
}

/// Whether `--tenant PATTERN` selects the tenant `name` (a schema or database name, or a
/// tenant file's path relative to the configuration, which also matches by its file name
/// with or without extension). No pattern selects every tenant.
pub fn selects(pattern: Option<&str>, name: &str) -> bool {
    let Some(pattern) = pattern else { return true };
    let file = std::path::Path::new(name);
    let candidates = [
        Some(name),
        file.file_name().and_then(|n| n.to_str()),
        file.file_stem().and_then(|n| n.to_str()),
    ];
    candidates
        .into_iter()
        .flatten()
        .any(|candidate| environments::matches_pattern(pattern, candidate))
}

/// The tenant files of an environment whose tenants are SQLite files, each with its URL
/// and its name (the path relative to the configuration), sorted and filtered by
/// `--tenant`.
pub fn tenant_files(environment: &Prepared) -> Result<Vec<(DatabaseUrl, String)>, Error> {
    let Some(Tenants::Files(pattern)) = &environment.tenants else {
        return Ok(Vec::new());
    };
    let files = environments::tenant_files(&environment.folder, pattern)?;
    Ok(files
        .iter()
        .map(|file| {
            let absolute = std::path::absolute(file).unwrap_or(file.clone());
            let name = file
                .strip_prefix(&environment.folder)
                .unwrap_or(file)
                .display()
                .to_string();
            (DatabaseUrl::sqlite_file(&absolute), name)
        })
        .filter(|(_, name)| selects(environment.tenant_filter.as_deref(), name))
        .collect())
}

/// A selection that names nothing: an error of configuration, since a deploy or a check
/// that covers nothing must not pass.
pub fn nothing_selected(environment: &Prepared) -> Error {
    let reason = match (&environment.tenants, &environment.tenant_filter) {
        (_, Some(filter)) => format!("no tenant matches --tenant {filter}"),
        (Some(Tenants::Files(pattern)), None) => {
            format!("no file matches tenants.files = \"{pattern}\"")
        }
        _ => "no tenant matches `tenants`".into(),
    };
    Error::Config(ConfigError::InvalidEnvironment {
        environment: environment.name.clone(),
        reason,
    })
}

/// The tenants of one server, found on one connection.
pub struct Discovered {
    /// The tenants selected, in the order `tenants` gives them.
    pub names: Vec<String>,
    /// Their histories, by tenant; tenants without `_prisma_migrations`, and every tenant
    /// when the histories could not be read together, are absent.
    pub histories: BTreeMap<String, Vec<HistoryRow>>,
}

/// Finds the tenants `tenants` and `--tenant` (`filter`) select on the server of
/// `engine`, with one catalog query ([`crate::engine::Inspect::namespaces`]), and reads
/// the histories of those holding one in batches
/// ([`crate::engine::HistoryStore::read_histories`]).
pub async fn discover(
    engine: &mut dyn Engine,
    tenants: &Tenants,
    filter: Option<&str>,
) -> Result<Discovered, Error> {
    let namespaces = engine.namespaces().await?.unwrap_or_default();
    let names: Vec<String> = match tenants {
        Tenants::List(list) => list.clone(),
        Tenants::Pattern(pattern) => namespaces
            .iter()
            .filter(|n| environments::matches_pattern(pattern, &n.name))
            .map(|n| n.name.clone())
            .collect(),
        Tenants::Query(query) => {
            let rows = engine
                .fetch(query, &[Column::Text], "running the tenants query")
                .await?;
            rows.into_iter()
                .filter_map(|mut row| match row.pop() {
                    Some(Value::Text(Some(name))) => Some(name),
                    _ => None,
                })
                .collect()
        }
        Tenants::Files(_) => unreachable!("files are not on a server"),
    };
    let names: Vec<String> = names
        .into_iter()
        .filter(|name| selects(filter, name))
        .collect();
    let with_history: Vec<String> = names
        .iter()
        .filter(|name| namespaces.iter().any(|n| &n.name == *name && n.has_history))
        .cloned()
        .collect();
    let histories = if with_history.is_empty() {
        BTreeMap::new()
    } else {
        match engine.read_histories(&with_history).await {
            Ok(Some(histories)) => with_history.into_iter().zip(histories).collect(),
            // An unreadable history (a schema this login may not use): each tenant is
            // dealt with alone and reports its own error.
            Ok(None) => BTreeMap::new(),
            Err(e) => {
                tracing::warn!("reading the tenants' histories together failed: {e}");
                BTreeMap::new()
            }
        }
    };
    Ok(Discovered { names, histories })
}

/// What `against` names, resolved, with how a report names it: the folder, a snapshot
/// file, or another environment's database (its variable read through `lookup`). `from`
/// names the environment (or flag) asking, for errors.
pub fn against(
    environments: &Environments,
    from: &str,
    against: &DriftAgainst,
    project: &Project,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(drift::Source, String), Error> {
    Ok(match against {
        DriftAgainst::Folder => (drift::Source::Folder, "the migrations folder".into()),
        DriftAgainst::Snapshot(path) => (
            drift::Source::Snapshot(path.clone()),
            format!("the snapshot {}", crate::text::path(path)),
        ),
        DriftAgainst::Environment(other) => {
            let other_env = environments.get(other)?;
            let raw = other_env.url(lookup)?.ok_or_else(|| {
                Error::Config(ConfigError::InvalidEnvironment {
                    environment: from.to_string(),
                    reason: format!(
                        "drift compares with environment `{other}`, whose tenants are files: it names no single database"
                    ),
                })
            })?;
            let url = project.other_url(&raw, &format!("environment `{other}`"))?;
            (
                drift::Source::Database(url),
                format!("environment `{other}`"),
            )
        }
    })
}

/// `lookup`, then the `.env` files of `project` (an unreadable one is a warning: the
/// variable is then unset, which names itself in the error that follows).
pub fn with_dotenv<'a>(
    project: &'a Project,
    lookup: &'a dyn Fn(&str) -> Option<String>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| match project.variable(name, lookup) {
        Ok(value) => value,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

/// The Prisma project of `ctx`, as every command finds it without `safemig.toml` (its
/// URL from `--url`, `DATABASE_URL` or `.env`, its folder and schema), as an environment
/// of one database, named [`PROJECT`], without drift or tenants.
pub fn from_project(ctx: &Context) -> Result<Prepared, Error> {
    let dir = ctx.migrations()?;
    dir.check_provider(ctx.url.provider())?;
    Ok(Prepared {
        name: PROJECT.to_string(),
        url: Some(ctx.url.clone()),
        dir,
        tenants: None,
        folder: PathBuf::from("."),
        drift: None,
        tenant_filter: None,
        strictness: status::Strictness::default(),
        named: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_selection_matches_names_and_file_names() {
        assert!(selects(None, "anything"));
        assert!(selects(Some("tenant_*"), "tenant_007"));
        assert!(!selects(Some("tenant_*"), "other"));
        // A tenant file by its path, its file name, or its stem.
        assert!(selects(Some("tenants/a.db"), "tenants/a.db"));
        assert!(selects(Some("a.db"), "tenants/a.db"));
        assert!(selects(Some("a"), "tenants/a.db"));
        assert!(selects(Some("a*"), "tenants/abc.db"));
        assert!(!selects(Some("b"), "tenants/a.db"));
    }
}
