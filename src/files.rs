//! Reading the project's files without hanging or running out of memory.
//!
//! A `migration.sql` that is a named pipe blocks a plain read forever, and a link to
//! `/dev/zero` or `/dev/urandom` reads until memory runs out. Every file safemig reads
//! (migrations, `migration_lock.toml`, `schema.prisma`, `.env`, files given on the command
//! line) goes through [`read`]: it opens without blocking, accepts only a regular file
//! (after following symbolic links), and refuses one over a size limit before reading it.
//! Files safemig writes (snapshots, drift's cache) go through [`write_whole`].

use crate::error::ConfigError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::Error;

/// The largest migration script safemig reads. Data loads beyond that belong to the
/// database's own bulk tools (`COPY`, `LOAD DATA`, `.import`), not to a migration.
pub const SCRIPT_LIMIT: u64 = 1 << 30;

/// The largest configuration file (schema, lock file, `.env`, compose file) safemig reads.
pub const CONFIG_LIMIT: u64 = 16 << 20;

/// Reads a regular file of at most `limit` bytes. `Ok(None)` when nothing is at `path`.
pub fn read(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let io = |source| {
        Error::Config(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It changes
    // nothing for a regular file.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(Error::Config(ConfigError::SymlinkLoop {
                path: path.to_path_buf(),
            }));
        }
        Err(e) => return Err(io(e)),
    };
    let size = check_regular(&file, path)?;
    if size > limit {
        return Err(too_large(path, size, limit));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // `take`: a file that grows while it is read still stops at the limit.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, bytes.len() as u64, limit));
    }
    Ok(Some(bytes))
}

/// [`read`], where a missing file is an error too.
pub fn read_existing(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    read(path, limit)?.ok_or_else(|| {
        Error::Config(ConfigError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        })
    })
}

/// [`read_existing`] of a text file that must be UTF-8 as it is (a SQL file to split, a
/// compose file to lint): nothing is replaced, the first invalid byte is reported.
pub fn read_text(path: &Path, limit: u64) -> Result<String, Error> {
    String::from_utf8(read_existing(path, limit)?).map_err(|e| {
        Error::Config(ConfigError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        })
    })
}

/// The file's size, if it is a regular file.
fn check_regular(file: &File, path: &Path) -> Result<u64, Error> {
    let metadata = file.metadata().map_err(|source| {
        Error::Config(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    match non_regular(metadata.file_type()) {
        None => Ok(metadata.len()),
        Some(what) => Err(Error::Config(ConfigError::NotRegularFile {
            path: path.to_path_buf(),
            what,
        })),
    }
}

/// Whether a regular file is at `path` (following symbolic links): `false` when nothing
/// is, an error when something else is. For files safemig opens through another library
/// (the SQLite database), which would block on a pipe just the same.
pub fn regular_file_exists(path: &Path) -> Result<bool, Error> {
    match std::fs::metadata(path) {
        Ok(metadata) => match non_regular(metadata.file_type()) {
            None => Ok(true),
            Some(what) => Err(Error::Config(ConfigError::NotRegularFile {
                path: path.to_path_buf(),
                what,
            })),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            Err(Error::Config(ConfigError::SymlinkLoop {
                path: path.to_path_buf(),
            }))
        }
        Err(source) => Err(Error::Config(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })),
    }
}

/// What a file that is not a regular file is, for messages; `None` for a regular file.
fn non_regular(kind: std::fs::FileType) -> Option<&'static str> {
    Some(if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a file"
    })
}

fn too_large(path: &Path, size: u64, limit: u64) -> Error {
    Error::Config(ConfigError::FileTooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    })
}

/// Checks that `path` is a folder, telling a missing one from a symbolic link loop or a
/// file. `missing` builds the error for a path where nothing is.
pub fn check_folder(path: &Path, missing: impl FnOnce(PathBuf) -> Error) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Error::Config(ConfigError::NotAFolder {
            path: path.to_path_buf(),
        })),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            Err(Error::Config(ConfigError::SymlinkLoop {
                path: path.to_path_buf(),
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing(path.to_path_buf())),
        Err(source) => Err(Error::Config(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })),
    }
}

/// Writes `text` to `file` whole or not at all, without replacing what is not a file.
///
/// A regular file (or none) is replaced atomically: the text goes to a temporary file
/// beside it, which is renamed over it, so a failure (a full disk, a signal) leaves the old
/// file or none, never half a new one; the new file keeps the old one's permissions and,
/// where this process may set them, its owner. A symbolic link is followed and the file it
/// names is replaced (the link stays a link). A character device or a named pipe
/// (`/dev/null`, `/dev/stdout`, a FIFO a reader waits on) is written through, as a shell's
/// `>` would: renaming over it would replace the device itself, which as root breaks every
/// process on the machine that uses it. Anything else (a folder, a socket, a block device)
/// is refused before anything is written.
pub fn write_whole(file: &Path, text: &str) -> Result<(), Error> {
    let write_error = |source| {
        Error::Config(ConfigError::Write {
            path: file.to_path_buf(),
            source,
        })
    };
    match destination(file)? {
        Destination::Replace(target) => replace(&target, text.as_bytes()).map_err(write_error),
        Destination::Stream(target) => OpenOptions::new()
            .write(true)
            .open(target)
            .and_then(|mut stream| stream.write_all(text.as_bytes()))
            .map_err(write_error),
    }
}

/// Where [`write_whole`] puts its text, once symbolic links are followed.
#[derive(Debug, PartialEq)]
enum Destination {
    /// A regular file, or nothing yet: replaced by a rename.
    Replace(PathBuf),
    /// A character device or a named pipe: opened and written to.
    Stream(PathBuf),
}

/// Follows `file`'s symbolic links (as the kernel would, at most 40) to what a write lands
/// on. A link whose target does not exist yet names the file to create, as with `>`.
fn destination(file: &Path) -> Result<Destination, Error> {
    const MAX_LINKS: usize = 40;
    let mut current = file.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let metadata = match std::fs::symlink_metadata(&current) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Destination::Replace(current));
            }
            Err(source) => {
                return Err(Error::Config(ConfigError::Write {
                    path: file.to_path_buf(),
                    source,
                }));
            }
        };
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&current).map_err(|source| {
                Error::Config(ConfigError::Write {
                    path: file.to_path_buf(),
                    source,
                })
            })?;
            // A relative target is relative to the link's folder; `join` keeps an
            // absolute one as it is.
            current = current.parent().unwrap_or(Path::new("")).join(target);
        } else if kind.is_file() {
            return Ok(Destination::Replace(current));
        } else if kind.is_char_device() || kind.is_fifo() {
            return Ok(Destination::Stream(current));
        } else {
            return Err(Error::Config(ConfigError::NotWritable {
                path: file.to_path_buf(),
                what: non_regular(kind).unwrap_or("not a file"),
            }));
        }
    }
    Err(Error::Config(ConfigError::SymlinkLoop {
        path: file.to_path_buf(),
    }))
}

/// Replaces the regular file (or nothing) at `file` by a rename from beside it.
fn replace(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let partial = folder.join(format!(".{name}.{}.partial", std::process::id()));
    let previous = std::fs::metadata(file).ok();
    let written = (|| {
        // `create_new` (O_EXCL): never write through something already at the partial
        // name, such as a link someone else put there. A new file gets the usual 0666
        // less the umask; a replacement is private until it has the old file's mode.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if previous.is_some() { 0o600 } else { 0o666 })
            .open(&partial)?;
        out.write_all(bytes)?;
        if let Some(old) = &previous {
            // Best effort: only root may give a file away, and a file of our own
            // already has our owner.
            let _ = std::os::unix::fs::fchown(&out, Some(old.uid()), Some(old.gid()));
            out.set_permissions(old.permissions())?;
        }
        out.sync_all()?;
        std::fs::rename(&partial, file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_whole_replaces_the_file_and_leaves_no_partial_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.json");
        write_whole(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_whole(&file, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "the replacement keeps the old file's mode");
        assert!(write_whole(&dir.path().join("missing/s.json"), "x").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["s.json"]);
    }

    /// `--output /dev/null` as root once replaced the machine's `/dev/null` with a regular
    /// file. A device made here (root only, as the tests run) stands in for it.
    #[test]
    fn write_whole_writes_through_a_character_device() {
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null");
        nix::sys::stat::mknod(
            &null,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .expect("mknod needs root (CAP_MKNOD), as the test suite runs");
        write_whole(&null, "{}").unwrap();
        let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
        assert!(kind.is_char_device(), "the device was replaced: {kind:?}");
        let link = dir.path().join("out");
        std::os::unix::fs::symlink(&null, &link).unwrap();
        write_whole(&link, "{}").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(
            std::fs::symlink_metadata(&null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn write_whole_writes_through_a_named_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_whole(&fifo, "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
    }

    #[test]
    fn write_whole_follows_links_and_refuses_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/s.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("s.json");
        std::os::unix::fs::symlink("real/s.json", &link).unwrap();
        write_whole(&link, "new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");

        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("real/created.json", &dangling).unwrap();
        write_whole(&dangling, "made").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("real/created.json")).unwrap(),
            "made"
        );

        assert!(matches!(
            write_whole(&dir.path().join("real"), "x"),
            Err(Error::Config(ConfigError::NotWritable {
                what: "a folder",
                ..
            }))
        ));
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        assert!(matches!(
            write_whole(&looped, "x"),
            Err(Error::Config(ConfigError::SymlinkLoop { .. }))
        ));
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(matches!(
            write_whole(&socket, "x"),
            Err(Error::Config(ConfigError::NotWritable {
                what: "a socket",
                ..
            }))
        ));
        assert_eq!(
            std::fs::read_dir(dir.path().join("real")).unwrap().count(),
            2
        );
    }

    #[test]
    fn regular_files_only_and_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.sql");
        std::fs::write(&file, "SELECT 1;").unwrap();
        assert_eq!(read(&file, 100).unwrap().unwrap(), b"SELECT 1;");
        assert!(matches!(
            read(&file, 4),
            Err(Error::Config(ConfigError::FileTooLarge {
                size: 9,
                limit: 4,
                ..
            }))
        ));
        assert!(read(&tmp.path().join("missing"), 100).unwrap().is_none());

        let fifo = tmp.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            read(&fifo, 100),
            Err(Error::Config(ConfigError::NotRegularFile {
                what: "a named pipe (FIFO)",
                ..
            }))
        ));
        let zero = tmp.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read(&zero, 100),
            Err(Error::Config(ConfigError::NotRegularFile {
                what: "a character device",
                ..
            }))
        ));
        assert!(matches!(
            read(tmp.path(), 100),
            Err(Error::Config(ConfigError::NotRegularFile {
                what: "a folder",
                ..
            }))
        ));

        let looped = tmp.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        assert!(matches!(
            read(&looped, 100),
            Err(Error::Config(ConfigError::SymlinkLoop { .. }))
        ));
        let missing = |path| Error::Config(ConfigError::MigrationsDirMissing { path });
        assert!(matches!(
            check_folder(&looped, missing),
            Err(Error::Config(ConfigError::SymlinkLoop { .. }))
        ));
        assert!(matches!(
            check_folder(&file, missing),
            Err(Error::Config(ConfigError::NotAFolder { .. }))
        ));
        assert!(matches!(
            check_folder(&tmp.path().join("nothing"), missing),
            Err(Error::Config(ConfigError::MigrationsDirMissing { .. }))
        ));
        assert!(check_folder(tmp.path(), missing).is_ok());
    }
}
