//! Finding the project and its database the way Prisma does.
//!
//! The schema: `--schema`, else the Prisma config file's `schema`, else `package.json`'s
//! `"prisma": { "schema": … }`, else `prisma/schema.prisma`, `schema.prisma`, or a
//! `prisma/schema/` folder (multi-file schemas). The migrations folder: `--dir`, else the
//! config's `migrations.path`, else `migrations/` beside the schema. The URL: `--url`, else
//! the config's `datasource.url` (Prisma 7), else the schema's `directUrl` (which Prisma
//! Migrate uses when the app's `url` goes through a pooler or Accelerate), else its `url`;
//! a variable comes from the environment, else a `.env` file.

pub mod environments;
mod prisma_config;
mod schema;

use crate::error::ConfigError;
use std::path::{Path, PathBuf};

pub use prisma_config::{Found, PrismaConfig, Value};
pub use schema::{Datasource, Schema, UrlSource};

use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::files;
use crate::provider::Provider;

const DEFAULT_URL_VARIABLE: &str = "DATABASE_URL";

/// What the command line says about where things are.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub dir: Option<PathBuf>,
    pub schema: Option<PathBuf>,
}

/// The project as safemig found it.
#[derive(Debug, Clone)]
pub struct Project {
    /// The Prisma config file read, if any.
    pub config: Option<PrismaConfig>,
    pub schema: Option<Schema>,
    pub migrations_dir: PathBuf,
    /// Things worth saying about how the project was read (a Prisma 8 config skipped).
    pub notices: Vec<String>,
    /// Whether the schema describes the migrations: not when `--dir` points elsewhere
    /// without `--schema` (then the schema found by default may be another project's).
    schema_governs: bool,
}

impl Project {
    /// Finds the schema and the migrations folder from the working directory.
    pub fn locate(locations: &Locations) -> Result<Self, Error> {
        let mut notices = Vec::new();
        let config = match prisma_config::discover(Path::new("."))? {
            Found::Config(config) => Some(config),
            Found::PrismaNext(path) => {
                notices.push(format!(
                    "{} is a Prisma 8 config (definePrismaConfig), which does not use _prisma_migrations: it is not read; a project that keeps Prisma 7 migrations names their config prisma7.config.*",
                    crate::text::path(&path)
                ));
                None
            }
            Found::None => None,
        };
        let schema_path = match (&locations.schema, &config) {
            (Some(path), _) => {
                if !path.exists() {
                    files::read_existing(path, files::CONFIG_LIMIT)?;
                }
                Some(path.clone())
            }
            (None, Some(config)) if config.schema.is_some() => Some(config_path(
                config,
                config.schema.as_ref().expect("checked"),
                "schema",
                "--schema PATH",
            )?),
            _ => package_json_schema()?.or_else(default_schema),
        };
        let schema = schema_path.map(|path| Schema::read(&path)).transpose()?;
        let migrations_dir = match (&locations.dir, &config, &schema) {
            (Some(dir), _, _) => dir.clone(),
            (None, Some(config), _) if config.migrations_path.is_some() => config_path(
                config,
                config.migrations_path.as_ref().expect("checked"),
                "migrations.path",
                "--dir PATH",
            )?,
            (None, _, Some(schema)) => schema.folder().join("migrations"),
            (None, _, None) => PathBuf::from("prisma/migrations"),
        };
        Ok(Project {
            config,
            schema,
            migrations_dir,
            notices,
            schema_governs: locations.dir.is_none() || locations.schema.is_some(),
        })
    }

    /// The datasource the schema declares (empty without a schema).
    pub fn datasource(&self) -> Datasource {
        self.schema
            .as_ref()
            .map(|s| s.datasource.clone())
            .unwrap_or_default()
    }

    /// Resolves the database URL. `env` reads the process environment.
    pub fn database_url(
        &self,
        flag: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DatabaseUrl, Error> {
        if let Some(url) = flag {
            return DatabaseUrl::parse(url, &self.sqlite_base(false), "--url");
        }
        let datasource = self.datasource();
        let from_config = self
            .config
            .as_ref()
            .and_then(|c| c.datasource_url.clone().map(|url| (c, url)));
        let (source, field, from_config) =
            match (from_config, datasource.direct_url, datasource.url) {
                (Some((config, value)), _, _) => {
                    let source = match value {
                        Value::Text(url) => UrlSource::Literal(url),
                        Value::Env(variable) => UrlSource::Env(variable),
                        Value::Computed(text) => {
                            return Err(Error::Config(ConfigError::ComputedConfig {
                                file: config.path.clone(),
                                field: "datasource.url".into(),
                                text,
                                instead: "--url URL, or the variable DATABASE_URL".into(),
                            }));
                        }
                    };
                    (source, "datasource.url", true)
                }
                (None, Some(direct), _) => (direct, "directUrl", false),
                (None, None, Some(url)) => (url, "url", false),
                (None, None, None) => (UrlSource::Env(DEFAULT_URL_VARIABLE.into()), "url", false),
            };
        let base = self.sqlite_base(from_config);
        let variable = match source {
            UrlSource::Literal(url) => {
                let origin = match (&self.config, from_config) {
                    (Some(config), true) => crate::text::path(&config.path).to_string(),
                    _ => self.schema_origin(field),
                };
                return DatabaseUrl::parse(&url, &base, &origin);
            }
            UrlSource::Env(variable) => variable,
        };
        if let Some(url) = env(&variable).filter(|v| !v.is_empty()) {
            return DatabaseUrl::parse(
                &url,
                &base,
                &format!("the environment variable {variable}"),
            );
        }
        let env_files = self.env_files();
        for file in &env_files {
            if let Some(url) = read_env_file(file, &variable)? {
                let origin = format!("{variable} in {}", file.display());
                return DatabaseUrl::parse(&url, &base, &origin);
            }
        }
        Err(Error::Config(ConfigError::MissingUrl {
            variable,
            looked_in: env_files.into_iter().filter(|f| f.exists()).collect(),
        }))
    }

    /// A URL given for another purpose than the project's database (`drift --against`,
    /// `--shadow-url`), with relative SQLite paths resolved as for the project's.
    pub fn other_url(&self, raw: &str, origin: &str) -> Result<DatabaseUrl, Error> {
        DatabaseUrl::parse(raw, &self.sqlite_base(false), origin)
    }

    /// Prisma's P1012 check, which needs no `migration_lock.toml`: the datasource's provider
    /// must be the URL's.
    pub fn check_provider(&self, actual: Provider) -> Result<(), Error> {
        if !self.schema_governs {
            return Ok(());
        }
        let datasource = self.datasource();
        let Some(declared) = datasource.provider else {
            return Ok(());
        };
        let file = self
            .schema
            .as_ref()
            .and_then(|s| s.datasource_file.clone())
            .unwrap_or_default();
        match Provider::from_lock_name(&declared) {
            Some(provider) if provider == actual => Ok(()),
            Some(_) => Err(Error::Config(ConfigError::DatasourceMismatch {
                schema: file,
                declared,
                actual,
            })),
            None => Err(Error::Config(ConfigError::UnsupportedProvider {
                path: file,
                provider: declared,
            })),
        }
    }

    fn schema_origin(&self, field: &str) -> String {
        match self
            .schema
            .as_ref()
            .and_then(|s| s.datasource_file.as_ref())
        {
            Some(file) => format!("{field} in {}", crate::text::path(file)),
            None => field.to_string(),
        }
    }

    /// The `.env` files read, in order: the working directory's, the schema's folder's,
    /// the config file's folder's.
    /// The variable `name` as the project sees it: from the process's environment, else
    /// from the `.env` files Prisma reads for it (see [`Project::database_url`]).
    pub fn variable(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, Error> {
        if let Some(value) = env(name).filter(|v| !v.is_empty()) {
            return Ok(Some(value));
        }
        for file in self.env_files() {
            if let Some(value) = read_env_file(&file, name)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn env_files(&self) -> Vec<PathBuf> {
        let mut env_files = vec![PathBuf::from(".env")];
        if let Some(schema) = &self.schema {
            env_files.push(schema.datasource_folder().join(".env"));
        }
        if let Some(config) = &self.config {
            env_files.push(config.folder().join(".env"));
        }
        env_files.dedup();
        env_files
    }

    /// The folder relative SQLite paths are resolved against: the config file's for a
    /// URL from the config, else the folder of the schema file that holds the datasource
    /// (as Prisma), else the folder holding the migrations folder.
    fn sqlite_base(&self, from_config: bool) -> PathBuf {
        if from_config && let Some(config) = &self.config {
            return config.folder();
        }
        match &self.schema {
            Some(schema) => schema.datasource_folder(),
            None => self
                .migrations_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        }
    }
}

/// A path the config file sets, relative to its folder; a computed one is an error naming
/// the flag to pass instead.
fn config_path(
    config: &PrismaConfig,
    value: &Value,
    field: &str,
    instead: &str,
) -> Result<PathBuf, Error> {
    match value {
        Value::Text(path) => Ok(config.folder().join(path)),
        Value::Env(variable) => Err(Error::Config(ConfigError::ComputedConfig {
            file: config.path.clone(),
            field: field.into(),
            text: format!("env(\"{variable}\")"),
            instead: instead.into(),
        })),
        Value::Computed(text) => Err(Error::Config(ConfigError::ComputedConfig {
            file: config.path.clone(),
            field: field.into(),
            text: text.clone(),
            instead: instead.into(),
        })),
    }
}

/// `package.json`'s `"prisma": { "schema": "…" }` (Prisma 6).
fn package_json_schema() -> Result<Option<PathBuf>, Error> {
    let path = Path::new("package.json");
    let Some(bytes) = files::read(path, files::CONFIG_LIMIT)? else {
        return Ok(None);
    };
    let json: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(json) => json,
        Err(e) => {
            return Err(Error::Config(ConfigError::InvalidLockFile {
                path: path.to_path_buf(),
                reason: format!("it is not valid JSON: {e}"),
            }));
        }
    };
    Ok(json["prisma"]["schema"].as_str().map(PathBuf::from))
}

/// Prisma's default schema locations.
fn default_schema() -> Option<PathBuf> {
    ["prisma/schema.prisma", "schema.prisma"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| Some(PathBuf::from("prisma/schema")).filter(|p| p.is_dir()))
}

/// Reads one variable from a `.env` file without touching the process environment.
fn read_env_file(path: &Path, variable: &str) -> Result<Option<String>, Error> {
    let Some(bytes) = files::read(path, files::CONFIG_LIMIT)? else {
        return Ok(None);
    };
    for entry in dotenvy::from_read_iter(bytes.as_slice()) {
        // A malformed line elsewhere in the file is not this variable's problem.
        if let Ok((key, value)) = entry
            && key == variable
        {
            return Ok(Some(value).filter(|v| !v.is_empty()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_precedence_flag_env_then_env_files() {
        let tmp = tempfile::tempdir().unwrap();
        let schema = tmp.path().join("schema.prisma");
        std::fs::write(&schema, "datasource db {\n url = env(\"APP_DB\")\n}\n").unwrap();
        std::fs::write(
            tmp.path().join(".env"),
            "# c\nAPP_DB=\"file:./from-env-file.db\"\n",
        )
        .unwrap();
        let project = Project::locate(&Locations {
            schema: Some(schema),
            ..Locations::default()
        })
        .unwrap();
        assert_eq!(project.migrations_dir, tmp.path().join("migrations"));

        let none = |_: &str| None;
        let from_file = project.database_url(None, &none).unwrap();
        assert_eq!(
            from_file.file(),
            Some(tmp.path().join("from-env-file.db").as_path())
        );

        let env = |k: &str| (k == "APP_DB").then(|| "file:/tmp/from-env.db".to_string());
        let from_env = project.database_url(None, &env).unwrap();
        assert_eq!(from_env.file(), Some(Path::new("/tmp/from-env.db")));

        let from_flag = project
            .database_url(Some("file:/tmp/flag.db"), &env)
            .unwrap();
        assert_eq!(from_flag.file(), Some(Path::new("/tmp/flag.db")));
    }

    #[test]
    fn direct_url_wins_over_url() {
        let tmp = tempfile::tempdir().unwrap();
        let schema = tmp.path().join("schema.prisma");
        std::fs::write(
            &schema,
            "datasource db {\n provider = \"postgresql\"\n url = env(\"POOLED\")\n directUrl = env(\"DIRECT\")\n}\n",
        )
        .unwrap();
        let project = Project::locate(&Locations {
            schema: Some(schema),
            ..Locations::default()
        })
        .unwrap();
        let env = |k: &str| match k {
            "POOLED" => Some("prisma://accelerate.prisma-data.net/?api_key=x".to_string()),
            "DIRECT" => Some("postgresql://app@db:5432/app".to_string()),
            _ => None,
        };
        let url = project.database_url(None, &env).unwrap();
        assert_eq!(
            url.describe(),
            "PostgreSQL database `app` (schema `public`) at db:5432"
        );
        assert!(project.check_provider(Provider::Postgres).is_ok());
        assert!(matches!(
            project.check_provider(Provider::Sqlite),
            Err(Error::Config(ConfigError::DatasourceMismatch { .. }))
        ));
    }
}
