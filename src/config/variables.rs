//! Where the variables a project's database URL names are read from, as Prisma reads them.
//!
//! - Without a Prisma config file (Prisma 6): the environment, else a `.env` file in the
//!   working directory or beside the schema; an empty value counts as unset.
//! - With one: Prisma 7 loads no `.env` file itself (nor does Prisma 6 when it finds a
//!   config file: "Prisma config detected, skipping environment variable loading"). Only the
//!   files the config loads through dotenv count ([`PrismaConfig::env_files`], relative to
//!   the working directory), and, as dotenv, they never override a variable the environment
//!   sets, even to an empty value. A `.env` file the config does not load is named in the
//!   error when it defines the missing variable, since that is the surprise.

use std::path::{Path, PathBuf};

use super::prisma_config::{PrismaConfig, Value};
use crate::Error;
use crate::error::ConfigError;
use crate::files;

/// A variable's value and where it was read, for messages.
pub(super) struct Read {
    pub text: String,
    pub origin: String,
}

/// A `.env` file the project reads, or the text of a dotenv `path` only Node could compute.
enum EnvFile {
    Path(PathBuf),
    Computed(String),
}

/// The variables of one project.
pub(super) struct Variables<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    config: Option<&'a PrismaConfig>,
    files: Vec<EnvFile>,
    /// `.env` files Prisma 6 would read without a config file: named in the error when the
    /// config does not load the one that defines a missing variable.
    unloaded: Vec<PathBuf>,
}

impl<'a> Variables<'a> {
    /// `schema_folder` is the folder of the schema file that holds the datasource.
    pub(super) fn new(
        env: &'a dyn Fn(&str) -> Option<String>,
        config: Option<&'a PrismaConfig>,
        schema_folder: Option<PathBuf>,
    ) -> Self {
        let mut prisma_6_files = vec![PathBuf::from(".env")];
        prisma_6_files.extend(schema_folder.map(|folder| folder.join(".env")));
        prisma_6_files.dedup();
        let Some(config) = config else {
            return Variables {
                env,
                config,
                files: prisma_6_files.into_iter().map(EnvFile::Path).collect(),
                unloaded: Vec::new(),
            };
        };
        let files: Vec<EnvFile> = config
            .env_files
            .iter()
            .map(|path| match dotenv_path(path, env) {
                Ok(path) => EnvFile::Path(path.unwrap_or_else(|| PathBuf::from(".env"))),
                Err(text) => EnvFile::Computed(text),
            })
            .collect();
        prisma_6_files.push(config.folder().join(".env"));
        let mut unloaded: Vec<PathBuf> = Vec::new();
        for candidate in prisma_6_files {
            let loaded = files
                .iter()
                .any(|f| matches!(f, EnvFile::Path(p) if same_file(p, &candidate)));
            if !loaded && !unloaded.iter().any(|u| same_file(u, &candidate)) {
                unloaded.push(candidate);
            }
        }
        Variables {
            env,
            config: Some(config),
            files,
            unloaded,
        }
    }

    /// The variable's value, from the environment or a `.env` file read.
    pub(super) fn get(&self, name: &str) -> Result<Option<Read>, Error> {
        let from_env = (self.env)(name);
        let origin = || format!("the environment variable {name}");
        match (from_env, self.config) {
            (Some(text), Some(_)) => {
                return Ok(Some(Read {
                    origin: origin(),
                    text,
                }));
            }
            (Some(text), None) if !text.is_empty() => {
                return Ok(Some(Read {
                    origin: origin(),
                    text,
                }));
            }
            _ => {}
        }
        for file in &self.files {
            let path = match file {
                EnvFile::Path(path) => path,
                EnvFile::Computed(text) => return Err(self.computed_env_file(name, text)),
            };
            let value = read_env_file(path, name)?;
            if let Some(text) = value.filter(|v| self.config.is_some() || !v.is_empty()) {
                let origin = format!("{name} in {}", path.display());
                return Ok(Some(Read { text, origin }));
            }
        }
        Ok(None)
    }

    /// The value of a config field.
    ///
    /// `Ok(None)` when it is undefined, as an unset `process.env.X`; an unset or empty
    /// `env("X")` is an error, as Prisma's `env` throws.
    pub(super) fn evaluate(
        &self,
        value: &Value,
        config: &PrismaConfig,
        field: &str,
    ) -> Result<Option<Read>, Error> {
        Ok(match value {
            Value::Text(text) => Some(Read {
                text: text.clone(),
                origin: crate::text::path(&config.path).to_string(),
            }),
            Value::Env(name) => match self.get(name)? {
                Some(read) if !read.text.is_empty() => Some(read),
                _ => return Err(self.missing(name)),
            },
            Value::ProcessEnv(name) => self.get(name)?,
            Value::Or {
                left,
                right,
                when_empty,
            } => match self.evaluate(left, config, field)? {
                Some(read) if !(*when_empty && read.text.is_empty()) => Some(read),
                _ => self.evaluate(right, config, field)?,
            },
            Value::Computed(text) => {
                return Err(Error::Config(ConfigError::ComputedConfig {
                    file: config.path.clone(),
                    field: field.into(),
                    text: text.clone(),
                    instead: "--url URL".into(),
                }));
            }
        })
    }

    /// The error for a variable no source sets.
    pub(super) fn missing(&self, name: &str) -> Error {
        let defined_elsewhere: Vec<PathBuf> = self
            .unloaded
            .iter()
            .filter(|file| matches!(read_env_file(file, name), Ok(Some(v)) if !v.is_empty()))
            .cloned()
            .collect();
        match self.config {
            Some(config) if !defined_elsewhere.is_empty() => {
                Error::Config(ConfigError::EnvFileNotLoaded {
                    variable: name.to_string(),
                    config: config.path.clone(),
                    files: defined_elsewhere,
                })
            }
            _ => Error::Config(ConfigError::MissingUrl {
                variable: name.to_string(),
                looked_in: self
                    .files
                    .iter()
                    .filter_map(|f| match f {
                        EnvFile::Path(path) if path.exists() => Some(path.clone()),
                        _ => None,
                    })
                    .collect(),
            }),
        }
    }

    fn computed_env_file(&self, name: &str, text: &str) -> Error {
        Error::Config(ConfigError::ComputedConfig {
            file: self.config.map(|c| c.path.clone()).unwrap_or_default(),
            field: "the path dotenv loads".into(),
            text: text.to_string(),
            instead: format!("--url URL, or {name} in the environment,"),
        })
    }
}

/// The file a dotenv `path` names: `Ok(None)` for dotenv's default, `Err` with the text
/// of a path only Node could compute.
fn dotenv_path(
    value: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, String> {
    match value {
        Value::Text(path) => Ok(Some(PathBuf::from(path))),
        Value::Env(name) | Value::ProcessEnv(name) => {
            Ok(env(name).filter(|v| !v.is_empty()).map(PathBuf::from))
        }
        Value::Or { left, right, .. } => match dotenv_path(left, env)? {
            Some(path) => Ok(Some(path)),
            None => dotenv_path(right, env),
        },
        Value::Computed(text) => Err(text.clone()),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
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
            return Ok(Some(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &Path, env_files: Vec<Value>) -> PrismaConfig {
        PrismaConfig {
            path: path.join("prisma.config.ts"),
            env_files,
            ..PrismaConfig::default()
        }
    }

    fn text(read: Option<Read>) -> Option<String> {
        read.map(|r| r.text)
    }

    #[test]
    fn defaults_apply_as_in_javascript() {
        let tmp = tempfile::tempdir().unwrap();
        let config = config(tmp.path(), Vec::new());
        let fallback = Value::Text("file:./fallback.db".into());
        let nullish = Value::or(Value::ProcessEnv("URL".into()), fallback.clone(), false);
        let falsy = Value::or(Value::ProcessEnv("URL".into()), fallback, true);
        let evaluate = |value: &Value, url: Option<&str>| {
            let env = move |name: &str| (name == "URL").then(|| url.map(str::to_string)).flatten();
            let variables = Variables::new(&env, Some(&config), None);
            variables
                .evaluate(value, &config, "datasource.url")
                .map(text)
        };
        let fallback = Some("file:./fallback.db".to_string());
        assert_eq!(evaluate(&nullish, None).unwrap(), fallback);
        assert_eq!(evaluate(&nullish, Some("")).unwrap(), Some(String::new()));
        assert_eq!(
            evaluate(&nullish, Some("file:a")).unwrap(),
            Some("file:a".into())
        );
        assert_eq!(evaluate(&falsy, Some("")).unwrap(), fallback);
        // Prisma's env() throws on an unset or empty variable, before `??` applies.
        let env_call = Value::or(Value::Env("URL".into()), Value::Text("x".into()), false);
        for unset in [None, Some("")] {
            assert!(matches!(
                evaluate(&env_call, unset),
                Err(Error::Config(ConfigError::MissingUrl { .. }))
            ));
        }
        assert_eq!(
            evaluate(&Value::ProcessEnv("URL".into()), None).unwrap(),
            None
        );
        assert!(matches!(
            evaluate(&Value::Computed("f()".into()), None),
            Err(Error::Config(ConfigError::ComputedConfig { .. }))
        ));
    }

    #[test]
    fn with_a_config_only_dotenv_files_count_and_never_override() {
        let tmp = tempfile::tempdir().unwrap();
        let local = tmp.path().join(".env.local");
        std::fs::write(&local, "URL=from-file\nEMPTY=\n").unwrap();
        let schema_folder = tmp.path().join("prisma");
        std::fs::create_dir(&schema_folder).unwrap();
        std::fs::write(schema_folder.join(".env"), "OTHER=beside-the-schema\n").unwrap();
        let loaded = config(
            tmp.path(),
            vec![Value::Text(local.to_string_lossy().into_owned())],
        );
        let env = |name: &str| (name == "SET_EMPTY").then(String::new);
        let variables = Variables::new(&env, Some(&loaded), Some(schema_folder.clone()));
        assert_eq!(
            text(variables.get("URL").unwrap()),
            Some("from-file".into())
        );
        assert_eq!(text(variables.get("EMPTY").unwrap()), Some(String::new()));
        assert_eq!(
            text(variables.get("SET_EMPTY").unwrap()),
            Some(String::new())
        );
        assert!(variables.get("OTHER").unwrap().is_none());
        match variables.missing("OTHER") {
            Error::Config(ConfigError::EnvFileNotLoaded { files, .. }) => {
                assert_eq!(files, [schema_folder.join(".env")]);
            }
            other => panic!("{other:?}"),
        }
        // Without a config, as Prisma 6: the schema folder's .env, and empty means unset.
        let variables = Variables::new(&env, None, Some(schema_folder));
        assert_eq!(
            text(variables.get("OTHER").unwrap()),
            Some("beside-the-schema".into())
        );
        assert!(variables.get("SET_EMPTY").unwrap().is_none());
    }

    #[test]
    fn dotenv_config_path_and_computed_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let custom = tmp.path().join("custom.env");
        std::fs::write(&custom, "URL=custom\n").unwrap();
        let import = Value::or(
            Value::ProcessEnv("DOTENV_CONFIG_PATH".into()),
            Value::Text(".env".into()),
            true,
        );
        let loaded = config(tmp.path(), vec![import]);
        let custom_path = custom.to_string_lossy().into_owned();
        let env = |name: &str| (name == "DOTENV_CONFIG_PATH").then(|| custom_path.clone());
        let variables = Variables::new(&env, Some(&loaded), None);
        assert_eq!(text(variables.get("URL").unwrap()), Some("custom".into()));

        let computed = config(tmp.path(), vec![Value::Computed("config(options)".into())]);
        let none = |_: &str| None;
        let variables = Variables::new(&none, Some(&computed), None);
        assert!(matches!(
            variables.get("URL"),
            Err(Error::Config(ConfigError::ComputedConfig { .. }))
        ));
    }
}
