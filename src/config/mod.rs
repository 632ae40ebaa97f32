//! Finding the project and its database the way Prisma does.
//!
//! The Prisma config file: `--config FILE`, else found as Prisma 7.10 finds it. The schema:
//! `--schema`, else the config's `schema`, else `package.json`'s `"prisma": { "schema": … }`,
//! else `prisma/schema.prisma`, `schema.prisma`, or a `prisma/schema/` folder (multi-file
//! schemas), looked for in the `--config` file's folder if one was named (as Prisma does),
//! else in the working directory. The migrations folder: `--dir`, else the config's
//! `migrations.path`, else `migrations/` beside the schema. The URL: `--url`, else the
//! config's `datasource.url` (Prisma 7), else the schema's `directUrl` (which Prisma
//! Migrate uses when the app's `url` goes through a pooler or Accelerate), else its `url`;
//! a variable comes from the environment, else a `.env` file ([`variables`] says which).

pub mod environments;
mod js;
mod prisma_config;
mod schema;
mod variables;

use crate::error::ConfigError;
use std::path::{Path, PathBuf};

pub use prisma_config::{EXTENSIONS as PRISMA_CONFIG_EXTENSIONS, Found, PrismaConfig, Value};
pub use schema::{Datasource, Schema, UrlSource};

use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::files;
use crate::provider::Provider;
use variables::Variables;

const DEFAULT_URL_VARIABLE: &str = "DATABASE_URL";

/// What the command line says about where things are.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub dir: Option<PathBuf>,
    pub schema: Option<PathBuf>,
    /// The Prisma config file (`--config`), instead of the one Prisma would find.
    pub config: Option<PathBuf>,
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
        let found = match &locations.config {
            Some(path) => prisma_config::load(path)?,
            None => prisma_config::discover(Path::new(""))?,
        };
        let config = match found {
            Found::Config(config) => Some(config),
            Found::PrismaNext(path) if locations.config.is_some() => {
                return Err(Error::Config(ConfigError::PrismaNextConfig { path }));
            }
            Found::PrismaNext(path) => {
                notices.push(format!(
                    "{} is a Prisma 8 config (definePrismaConfig), which does not use _prisma_migrations: it is not read; a project that keeps Prisma 7 migrations names their config prisma7.config.*",
                    crate::text::path(&path)
                ));
                None
            }
            Found::None => None,
        };
        // Prisma looks for the schema in the folder of the config `--config` names.
        let base = match &config {
            Some(config) if config.named => config.folder(),
            _ => PathBuf::new(),
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
            _ => package_json_schema(&base)?.or_else(|| default_schema(&base)),
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
            (None, _, None) => base.join("prisma/migrations"),
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
            return DatabaseUrl::parse(url, &self.sqlite_base(), "--url");
        }
        let variables = self.variables(env);
        match &self.config {
            Some(config) if config.datasource_url.is_some() => self.config_url(config, &variables),
            _ => self.schema_url(&variables),
        }
    }

    /// The URL of the config's `datasource.url` (Prisma 7); relative SQLite paths open from
    /// where Prisma runs its engine.
    fn config_url(
        &self,
        config: &PrismaConfig,
        variables: &Variables,
    ) -> Result<DatabaseUrl, Error> {
        self.refuse_schema_url(config)?;
        let value = config.datasource_url.as_ref().expect("checked");
        let read = variables.evaluate(value, config, "datasource.url")?;
        match (read, value.variable()) {
            (Some(read), Some(variable)) if read.text.is_empty() => {
                Err(variables.missing(variable))
            }
            (Some(read), _) => {
                DatabaseUrl::parse(&read.text, &config.engine_folder(), &read.origin)
            }
            (None, variable) => Err(variables.missing(variable.unwrap_or(DEFAULT_URL_VARIABLE))),
        }
    }

    /// The URL the schema's datasource names: `directUrl`, else `url`, else `DATABASE_URL`.
    fn schema_url(&self, variables: &Variables) -> Result<DatabaseUrl, Error> {
        let datasource = self.datasource();
        let (field, source) = match (datasource.direct_url, datasource.url) {
            (Some(direct), _) => ("directUrl", direct),
            (None, Some(url)) => ("url", url),
            (None, None) => ("url", UrlSource::Env(DEFAULT_URL_VARIABLE.into())),
        };
        let base = self.sqlite_base();
        match source {
            UrlSource::Literal(url) => DatabaseUrl::parse(&url, &base, &self.schema_origin(field)),
            UrlSource::Env(variable) => match variables.get(&variable)? {
                Some(read) if !read.text.is_empty() => {
                    DatabaseUrl::parse(&read.text, &base, &read.origin)
                }
                _ => Err(variables.missing(&variable)),
            },
        }
    }

    /// Where the URL comes from when it is worth a note: the schema's `url` or `directUrl`
    /// with a config file, which Prisma 6 reads and Prisma 7 refuses. `None` otherwise.
    pub fn url_notice(&self) -> Option<String> {
        let config = self.config.as_ref()?;
        if config.datasource_url.is_some() {
            return None;
        }
        let datasource = self.datasource();
        let field = match (&datasource.direct_url, &datasource.url) {
            (Some(_), _) => "directUrl",
            (None, Some(_)) => "url",
            (None, None) => return None,
        };
        let schema = self.datasource_file().unwrap_or(Path::new("the schema"));
        Some(format!(
            "the database URL comes from `{field}` in the datasource of {}, as Prisma 6 reads it; Prisma 7 reads it only from `datasource.url` in {} (and refuses a URL in the schema, P1012)",
            crate::text::path(schema),
            crate::text::path(&config.path)
        ))
    }

    /// Prisma 7's P1012: with `datasource.url` in the config, the schema may hold no URL.
    fn refuse_schema_url(&self, config: &PrismaConfig) -> Result<(), Error> {
        let datasource = self.datasource();
        let field = match (&datasource.url, &datasource.direct_url) {
            (Some(_), _) => "url",
            (None, Some(_)) => "directUrl",
            (None, None) => return Ok(()),
        };
        Err(Error::Config(ConfigError::UrlInSchemaAndConfig {
            schema: self
                .datasource_file()
                .unwrap_or(Path::new(""))
                .to_path_buf(),
            field: field.into(),
            config: config.path.clone(),
        }))
    }

    /// A URL given for another purpose than the project's database (`drift --against`,
    /// `--shadow-url`), with relative SQLite paths resolved as for the project's.
    pub fn other_url(&self, raw: &str, origin: &str) -> Result<DatabaseUrl, Error> {
        DatabaseUrl::parse(raw, &self.sqlite_base(), origin)
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

    /// The schema file that holds the datasource block.
    fn datasource_file(&self) -> Option<&Path> {
        self.schema.as_ref()?.datasource_file.as_deref()
    }

    fn schema_origin(&self, field: &str) -> String {
        match self.datasource_file() {
            Some(file) => format!("{field} in {}", crate::text::path(file)),
            None => field.to_string(),
        }
    }

    /// The variable `name` as the project sees it: from the process's environment, else
    /// from the `.env` files Prisma reads for this project ([`variables`]); empty is unset.
    pub fn variable(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, Error> {
        let read = self.variables(env).get(name)?;
        Ok(read.map(|read| read.text).filter(|text| !text.is_empty()))
    }

    /// Where this project's variables come from.
    fn variables<'a>(&'a self, env: &'a dyn Fn(&str) -> Option<String>) -> Variables<'a> {
        let schema_folder = self.schema.as_ref().map(Schema::datasource_folder);
        Variables::new(env, self.config.as_ref(), schema_folder)
    }

    /// The folder relative SQLite paths are resolved against, for a URL not from the
    /// config: the folder of the schema file that holds the datasource (as Prisma), else
    /// the folder holding the migrations folder.
    fn sqlite_base(&self) -> PathBuf {
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
        _ => Err(Error::Config(ConfigError::ComputedConfig {
            file: config.path.clone(),
            field: field.into(),
            text: value.to_string(),
            instead: instead.into(),
        })),
    }
}

/// `package.json`'s `"prisma": { "schema": "…" }` (Prisma 6), in `base`.
fn package_json_schema(base: &Path) -> Result<Option<PathBuf>, Error> {
    let path = base.join("package.json");
    let Some(bytes) = files::read(&path, files::CONFIG_LIMIT)? else {
        return Ok(None);
    };
    let json: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(json) => json,
        Err(e) => {
            return Err(Error::Config(ConfigError::InvalidLockFile {
                path,
                reason: format!("it is not valid JSON: {e}"),
            }));
        }
    };
    Ok(json["prisma"]["schema"]
        .as_str()
        .map(|schema| base.join(schema)))
}

/// Prisma's default schema locations in `base`.
fn default_schema(base: &Path) -> Option<PathBuf> {
    ["prisma/schema.prisma", "schema.prisma"]
        .iter()
        .map(|p| base.join(p))
        .find(|p| p.is_file())
        .or_else(|| Some(base.join("prisma/schema")).filter(|p| p.is_dir()))
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
