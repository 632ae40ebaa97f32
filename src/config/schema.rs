//! The Prisma schema's `datasource` block: the provider and where the URL comes from.
//!
//! A schema is one file, or (multi-file schemas, Prisma 6.7+) a folder of `.prisma` files,
//! one of which holds the `datasource` block.

use crate::error::ConfigError;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::files;

/// Where a URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// `env("NAME")`: the variable, from the environment or a `.env` file.
    Env(String),
    /// `"…"`: written into the schema.
    Literal(String),
}

/// What the `datasource` block says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Datasource {
    pub provider: Option<String>,
    /// `url`: what the app connects to (a pooler's, or Prisma Accelerate's `prisma://`).
    pub url: Option<UrlSource>,
    /// `directUrl`: the direct connection, which Prisma Migrate uses when it is set.
    pub direct_url: Option<UrlSource>,
}

/// A schema and its datasource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The schema file, or the folder of a multi-file schema.
    pub path: PathBuf,
    /// The file holding the `datasource` block, if one does.
    pub datasource_file: Option<PathBuf>,
    pub datasource: Datasource,
}

impl Schema {
    /// Reads the schema at `path` (a file, or a folder of `.prisma` files).
    pub fn read(path: &Path) -> Result<Self, Error> {
        let files = if path.is_dir() {
            prisma_files(path)?
        } else {
            vec![path.to_path_buf()]
        };
        for file in &files {
            let text = files::read_existing(file, files::CONFIG_LIMIT)?;
            let datasource = Datasource::parse(&String::from_utf8_lossy(&text));
            if datasource != Datasource::default() {
                return Ok(Schema {
                    path: path.to_path_buf(),
                    datasource_file: Some(file.clone()),
                    datasource,
                });
            }
        }
        Ok(Schema {
            path: path.to_path_buf(),
            datasource_file: None,
            datasource: Datasource::default(),
        })
    }

    /// The folder the schema is in: the schema's own folder for a multi-file schema.
    pub fn folder(&self) -> PathBuf {
        if self.path.is_dir() {
            self.path.clone()
        } else {
            self.path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        }
    }

    /// Where Prisma resolves relative SQLite paths: the folder of the file that holds
    /// the datasource.
    pub fn datasource_folder(&self) -> PathBuf {
        match &self.datasource_file {
            Some(file) => file.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => self.folder(),
        }
    }
}

/// The `.prisma` files under `folder`, in a stable order (the migrations folder aside).
fn prisma_files(folder: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| {
            Error::Config(ConfigError::Io {
                path: dir.clone(),
                source,
            })
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && entry.file_name() != "migrations" {
                pending.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "prisma") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

impl Datasource {
    /// Reads the first `datasource` block. Prisma's schema language puts one field per
    /// line, so a line scan is enough.
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
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "provider" => found.provider = Some(value.trim_matches('"').to_string()),
                "url" => found.url = url_source(value),
                "directUrl" => found.direct_url = url_source(value),
                _ => {}
            }
        }
        found
    }
}

fn url_source(value: &str) -> Option<UrlSource> {
    if let Some(inner) = value.strip_prefix("env(").and_then(|v| v.strip_suffix(')')) {
        Some(UrlSource::Env(inner.trim().trim_matches('"').to_string()))
    } else if value.starts_with('"') {
        Some(UrlSource::Literal(value.trim_matches('"').to_string()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasource_fields() {
        let schema = "generator client {\n  provider = \"prisma-client-js\"\n}\n\n\
                      datasource db {\n  provider = \"postgresql\" // main db\n  url      = env(\"POSTGRES_PRISMA_URL\")\n  directUrl = env(\"DIRECT\")\n}\n";
        let parsed = Datasource::parse(schema);
        assert_eq!(parsed.provider.as_deref(), Some("postgresql"));
        assert_eq!(
            parsed.url,
            Some(UrlSource::Env("POSTGRES_PRISMA_URL".into()))
        );
        assert_eq!(parsed.direct_url, Some(UrlSource::Env("DIRECT".into())));
        let literal = "datasource db {\n  provider = \"sqlite\"\n  url = \"file:./dev.db\"\n}";
        assert_eq!(
            Datasource::parse(literal).url,
            Some(UrlSource::Literal("file:./dev.db".into()))
        );
        assert_eq!(
            Datasource::parse("model A { id Int @id }"),
            Datasource::default()
        );
    }

    #[test]
    fn multi_file_schemas() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("schema");
        std::fs::create_dir_all(folder.join("models")).unwrap();
        std::fs::create_dir_all(folder.join("migrations/1_a")).unwrap();
        std::fs::write(
            folder.join("models/user.prisma"),
            "model User { id Int @id }\n",
        )
        .unwrap();
        std::fs::write(
            folder.join("main.prisma"),
            "datasource db {\n  provider = \"sqlite\"\n  url = env(\"DB\")\n}\n",
        )
        .unwrap();
        let schema = Schema::read(&folder).unwrap();
        assert_eq!(schema.datasource.url, Some(UrlSource::Env("DB".into())));
        assert_eq!(schema.datasource_file, Some(folder.join("main.prisma")));
        assert_eq!(schema.folder(), folder);
    }
}
