//! safemig's on-disk cache of schemas built by replaying migrations (drift's folder
//! schema, repair's states). A replay costs seconds to minutes and depends only on what
//! goes into its key, so a second run reads the result instead. Entries are whole files
//! named by a SHA-256 of everything the result depends on; a missing, unreadable or stale
//! entry only costs a replay.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::migrations::LocalMigration;

/// Where safemig caches unless told otherwise: `$SAFEMIG_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/safemig`, else `~/.cache/safemig` (the XDG convention uv and pip
/// follow). `None` when none of them is set.
pub fn default_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("SAFEMIG_CACHE_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("safemig")))
        .or_else(|| set("HOME").map(|d| d.join(".cache").join("safemig")))
}

/// A cache key: the hash of its parts, each ended by a NUL so no two lists of parts run
/// together into the same bytes.
pub struct Key(Sha256);

impl Key {
    /// A key that starts with what every replayed schema depends on: what is cached and
    /// in which format (`purpose`), this safemig build (its introspectors and deploy), the
    /// engine, the server's version and defaults (the scratch fingerprint), and the schema
    /// the URL selects.
    pub async fn replay(
        purpose: &str,
        admin: &mut dyn Engine,
        schema: Option<&str>,
    ) -> Result<Key, crate::Error> {
        let mut key = Key(Sha256::new());
        for part in [
            purpose,
            env!("SAFEMIG_LONG_VERSION"),
            admin.provider().lock_name(),
            &admin.scratch_fingerprint().await?,
            schema.unwrap_or_default(),
        ] {
            key.part(part);
        }
        Ok(key)
    }

    pub fn part(&mut self, part: &str) -> &mut Self {
        self.0.update(part.as_bytes());
        self.0.update([0]);
        self
    }

    /// Every migration's name and checksum, in order.
    pub fn migrations(&mut self, migrations: &[LocalMigration]) -> &mut Self {
        for migration in migrations {
            self.part(&migration.name).part(&migration.checksum);
        }
        self
    }

    /// The entry's file: `DIR/KIND/HASH.json`.
    pub fn file(self, dir: &Path, kind: &str) -> PathBuf {
        let hash: String = self
            .0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        dir.join(kind).join(format!("{hash}.json"))
    }
}

/// Writes an entry atomically (a whole file or none). A cache that cannot be written
/// costs a replay next time, nothing more: a warning, not an error.
pub fn write(file: &Path, json: &str) {
    let folder = file.parent().expect("a cache file has a folder");
    if let Err(e) = std::fs::create_dir_all(folder) {
        tracing::warn!("cannot write the cache {}: {e}", crate::text::path(folder));
    } else if let Err(e) = crate::files::write_whole(file, json) {
        tracing::warn!("cannot write the cache: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_follows_the_xdg_convention() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let dir = |vars| default_dir(&env(vars));
        assert_eq!(
            dir(&[("SAFEMIG_CACHE_DIR", "/c"), ("HOME", "/h")]),
            Some("/c".into())
        );
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]),
            Some("/x/safemig".into())
        );
        assert_eq!(dir(&[("HOME", "/h")]), Some("/h/.cache/safemig".into()));
        assert_eq!(dir(&[("SAFEMIG_CACHE_DIR", "")]), None);
    }

    #[test]
    fn parts_do_not_run_together() {
        let file = |parts: &[&str]| {
            let mut key = Key(Sha256::new());
            for p in parts {
                key.part(p);
            }
            key.file(Path::new("/c"), "k")
        };
        assert_ne!(file(&["ab", "c"]), file(&["a", "bc"]));
        assert_eq!(file(&["ab", "c"]), file(&["ab", "c"]));
    }
}
