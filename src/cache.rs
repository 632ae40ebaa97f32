//! safemig's on-disk cache of schemas built by replaying migrations (drift's folder
//! schema, repair's states). A replay costs seconds to minutes and depends only on what
//! goes into its key, so a second run reads the result instead. Entries are whole files
//! named by a SHA-256 of everything the result depends on; a missing, unreadable or stale
//! entry only costs a replay.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::migrations::LocalMigration;

/// How many entries of one kind (`drift`, `repair`) the cache keeps: each folder state a
/// project has been compared at makes one, so without a bound it grows with every commit.
/// The least recently used go first (reading an entry marks it used).
pub const KEEP: usize = 64;

/// A cache a command uses: where it is, and whether entries are read. `--no-cache` does
/// not read (the replay runs), and writes the fresh result over the entry: what a person
/// who suspects a cached schema wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub dir: PathBuf,
    pub read: bool,
}

/// The largest entry read: a schema of 10,000 tables is tens of megabytes.
const ENTRY_LIMIT: u64 = 1 << 30;

impl Cache {
    /// The text of the entry `file`, unless `--no-cache` turned reading off.
    pub fn entry(&self, file: &Path) -> Option<String> {
        if self.read { read(file) } else { None }
    }
}

/// The text of the entry `file` if it is there and readable; marks it recently used, so
/// that [`write`]'s pruning keeps it.
pub fn read(file: &Path) -> Option<String> {
    if !file.exists() {
        return None;
    }
    let text = match crate::files::read_text(file, ENTRY_LIMIT) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!("ignoring the cache entry {}: {e}", crate::text::path(file));
            return None;
        }
    };
    if let Ok(entry) = std::fs::File::options().append(true).open(file) {
        let _ = entry.set_modified(std::time::SystemTime::now());
    }
    Some(text)
}

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

/// Writes an entry atomically (a whole file or none), then drops the least recently used
/// entries of its kind beyond [`KEEP`]. A cache that cannot be written costs a replay
/// next time, nothing more: a warning, not an error.
pub fn write(file: &Path, json: &str) {
    let folder = file.parent().expect("a cache file has a folder");
    if let Err(e) = std::fs::create_dir_all(folder) {
        tracing::warn!("cannot write the cache {}: {e}", crate::text::path(folder));
    } else if let Err(e) = crate::files::write_whole(file, json) {
        tracing::warn!("cannot write the cache: {e}");
    } else {
        prune(folder, KEEP);
    }
}

/// Removes all but the `keep` most recently used `*.json` entries of `folder`. Another
/// process pruning at the same time only makes a removal fail, which is fine.
fn prune(folder: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    entries.sort_by(|a, b| b.cmp(a));
    for (_, path) in entries.into_iter().skip(keep) {
        let _ = std::fs::remove_file(path);
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
    fn the_least_recently_used_entries_beyond_the_bound_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("drift");
        let cache = Cache {
            dir: dir.path().to_path_buf(),
            read: true,
        };
        let file = |i: usize| folder.join(format!("{i}.json"));
        for i in 0..5 {
            write(&file(i), "{}");
            // Distinct times, oldest first, whatever the file system's resolution.
            let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(i as u64);
            std::fs::File::options()
                .append(true)
                .open(file(i))
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
        // Entry 0 is read, so it is the most recently used.
        assert_eq!(cache.entry(&file(0)).as_deref(), Some("{}"));
        prune(&folder, 3);
        let left: Vec<bool> = (0..5).map(|i| file(i).exists()).collect();
        assert_eq!(left, [true, false, false, true, true]);
        // --no-cache reads nothing, and writes.
        let refresh = Cache {
            read: false,
            ..cache
        };
        assert_eq!(refresh.entry(&file(0)), None);
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
