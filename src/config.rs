//! Finding the project and its database the way Prisma does: `--url`, else the variable
//! `schema.prisma` names (normally `DATABASE_URL`) from the environment or a `.env` file;
//! migrations from `--dir`, else `migrations/` next to `schema.prisma`.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::files;

/// Prisma's default schema location, relative to the working directory.
const DEFAULT_SCHEMA: &str = "prisma/schema.prisma";
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
    pub schema_file: Option<PathBuf>,
    pub migrations_dir: PathBuf,
    /// The `datasource` block of `schema.prisma`, where present.
    pub datasource: Datasource,
}

/// What `schema.prisma`'s `datasource` block says about the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Datasource {
    /// `url = env("NAME")`.
    pub url_variable: Option<String>,
    /// `url = "…"`, a URL written into the schema.
    pub url_literal: Option<String>,
}

impl Project {
    /// Finds `schema.prisma` and the migrations folder. `--schema` must exist; the default
    /// `prisma/schema.prisma` is optional.
    pub fn locate(locations: &Locations) -> Result<Self, Error> {
        // `--schema` must exist; the default location is optional.
        let (schema_file, schema) = match &locations.schema {
            Some(path) => (
                Some(path.clone()),
                Some(files::read_existing(path, files::CONFIG_LIMIT)?),
            ),
            None => {
                let path = PathBuf::from(DEFAULT_SCHEMA);
                match files::read(&path, files::CONFIG_LIMIT)? {
                    Some(text) => (Some(path), Some(text)),
                    None => (None, None),
                }
            }
        };
        let datasource = schema
            .map(|bytes| Datasource::parse(&String::from_utf8_lossy(&bytes)))
            .unwrap_or_default();
        let migrations_dir = match (&locations.dir, &schema_file) {
            (Some(dir), _) => dir.clone(),
            (None, Some(schema)) => schema_folder(schema).join("migrations"),
            (None, None) => PathBuf::from("prisma/migrations"),
        };
        Ok(Project {
            schema_file,
            migrations_dir,
            datasource,
        })
    }

    /// The folder relative SQLite paths are resolved against: the schema's folder, as in
    /// Prisma, else the folder holding the migrations folder.
    pub fn sqlite_base(&self) -> PathBuf {
        match &self.schema_file {
            Some(schema) => schema_folder(schema),
            None => self
                .migrations_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        }
    }

    /// Resolves the database URL. `env` reads the process environment.
    pub fn database_url(
        &self,
        flag: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DatabaseUrl, Error> {
        let base = self.sqlite_base();
        if let Some(url) = flag {
            return DatabaseUrl::parse(url, &base, "--url");
        }
        let variable = self
            .datasource
            .url_variable
            .as_deref()
            .unwrap_or(DEFAULT_URL_VARIABLE);
        if let Some(url) = env(variable).filter(|v| !v.is_empty()) {
            return DatabaseUrl::parse(
                &url,
                &base,
                &format!("the environment variable {variable}"),
            );
        }
        let mut env_files = vec![PathBuf::from(".env")];
        if let Some(schema) = &self.schema_file {
            env_files.push(schema_folder(schema).join(".env"));
        }
        for file in &env_files {
            if let Some(url) = read_env_file(file, variable)? {
                let origin = format!("{variable} in {}", file.display());
                return DatabaseUrl::parse(&url, &base, &origin);
            }
        }
        if let (Some(url), Some(schema)) = (&self.datasource.url_literal, &self.schema_file) {
            return DatabaseUrl::parse(url, &base, &schema.display().to_string());
        }
        Err(Error::MissingUrl {
            variable: variable.to_string(),
            looked_in: env_files.into_iter().filter(|f| f.exists()).collect(),
        })
    }
}

fn schema_folder(schema: &Path) -> PathBuf {
    schema.parent().map(Path::to_path_buf).unwrap_or_default()
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

impl Datasource {
    /// Reads the `url` of the first `datasource` block. Prisma's schema language puts one
    /// field per line, so a line scan is enough.
    pub fn parse(schema: &str) -> Self {
        let mut in_datasource = false;
        let mut found = Datasource::default();
        for line in schema.lines() {
            let line = line.split("//").next().unwrap_or_default().trim();
            if !in_datasource {
                in_datasource = line.starts_with("datasource ") && line.ends_with('{');
                continue;
            }
            if line.starts_with('}') {
                break;
            }
            let Some(value) = line.strip_prefix("url").map(str::trim_start) else {
                continue;
            };
            let Some(value) = value.strip_prefix('=').map(str::trim) else {
                continue;
            };
            if let Some(inner) = value.strip_prefix("env(").and_then(|v| v.strip_suffix(')')) {
                found.url_variable = Some(inner.trim().trim_matches('"').to_string());
            } else if value.starts_with('"') {
                found.url_literal = Some(value.trim_matches('"').to_string());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasource_url_variable_and_literal() {
        let schema = "generator client {\n  provider = \"prisma-client-js\"\n}\n\n\
                      datasource db {\n  provider = \"postgresql\" // main db\n  url      = env(\"POSTGRES_PRISMA_URL\")\n  directUrl = env(\"DIRECT\")\n}\n";
        assert_eq!(
            Datasource::parse(schema).url_variable.as_deref(),
            Some("POSTGRES_PRISMA_URL")
        );
        let literal = "datasource db {\n  provider = \"sqlite\"\n  url = \"file:./dev.db\"\n}";
        assert_eq!(
            Datasource::parse(literal).url_literal.as_deref(),
            Some("file:./dev.db")
        );
        assert_eq!(
            Datasource::parse("model A { id Int @id }"),
            Datasource::default()
        );
    }

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
}
