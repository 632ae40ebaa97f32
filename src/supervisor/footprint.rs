//! Handing the start-up code's pages back once the app runs.
//!
//! Almost all of the supervisor's resident memory is its own binary's code, not its heap:
//! about 3.7 MB of file-backed pages against 0.45 MB of anonymous memory (measured on the
//! static x86-64 binary, `/proc/PID/status` `RssFile`/`RssAnon`). Parsing options, reading
//! the configuration, migrating and spawning the app touch code all over the binary, and
//! the kernel maps 64 KB around every page that faults in (fault-around), so start-up maps
//! most of it. Afterwards the supervisor only waits, reaps and forwards signals, a few pages
//! of code. Once the app has run for a second, `MADV_PAGEOUT` tells the kernel that the binary's read-only mappings are not
//! needed now: it unmaps their pages and reclaims them from the page cache when no other
//! process maps them, so the container's memory, not only the figure, goes down. It is
//! only advice: nothing the process wrote can be lost (its written pages are anonymous and
//! there is no swap to page them out to), and a page needed later, such as the shutdown's
//! code on SIGTERM, is read back in, which takes microseconds to milliseconds.

use std::ffi::c_void;
use std::path::Path;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use nix::sys::mman::{MmapAdvise, madvise};

/// How long the app runs before the start-up pages are released: a command that ends
/// sooner (a job, a `true`) would only make the supervisor read them back to exit, and the
/// next start read them from disk again.
const SETTLED: Duration = Duration::from_secs(1);

/// Whether the start-up pages were released yet.
#[derive(Default)]
pub struct StartUpPages {
    released: bool,
}

impl StartUpPages {
    /// Releases them once, when the app started at `started` has run for [`SETTLED`].
    pub fn release_once_settled(&mut self, started: Instant) {
        if !self.released && started.elapsed() >= SETTLED {
            self.released = true;
            release_start_up_pages();
        }
    }
}

/// Advises the kernel to page out this process's read-only mappings of its own binary.
/// Failure (a kernel before 5.4 has no `MADV_PAGEOUT`) changes nothing and is only logged.
fn release_start_up_pages() {
    let (Ok(exe), Ok(maps)) = (
        std::env::current_exe(),
        std::fs::read_to_string("/proc/self/maps"),
    ) else {
        return;
    };
    for (start, length) in read_only_mappings_of(&maps, &exe) {
        let Some(address) = NonNull::new(start as *mut c_void) else {
            continue;
        };
        // SAFETY: the range is one whole mapping of this process, read from
        // /proc/self/maps; MADV_PAGEOUT keeps its contents (they are re-read from the file
        // on the next access), so no reference into it is invalidated.
        if let Err(e) = unsafe { madvise(address, length, MmapAdvise::MADV_PAGEOUT) } {
            tracing::debug!("madvise(MADV_PAGEOUT) of the binary's pages: {e}");
            return;
        }
    }
}

/// The start address and length of each mapping in `maps` (the text of `/proc/PID/maps`)
/// that maps the file `exe` without write permission: its code and read-only data.
fn read_only_mappings_of(maps: &str, exe: &Path) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let permissions = fields.next()?;
            // offset, device, inode, then the path (which may contain spaces).
            let path = line.splitn(6, char::is_whitespace).nth(5)?.trim_start();
            if permissions.as_bytes().get(1) != Some(&b'-') || Path::new(path) != exe {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            Some((start, end.checked_sub(start)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
7f0000000000-7f0000100000 r--p 00000000 fd:01 1234 /usr/local/bin/safemig
7f0000100000-7f0000500000 r-xp 00100000 fd:01 1234 /usr/local/bin/safemig
7f0000500000-7f0000600000 r--p 00500000 fd:01 1234 /usr/local/bin/safemig
7f0000600000-7f0000610000 rw-p 00600000 fd:01 1234 /usr/local/bin/safemig
7f0000610000-7f0000700000 rw-p 00000000 00:00 0 [heap]
7f0000700000-7f0000701000 r--p 00000000 fd:01 99 /usr/local/bin/safemig-other
7f0000800000-7f0000801000 r-xp 00000000 fd:01 77 /opt/my app/lib.so
";

    #[test]
    fn only_the_binary_s_read_only_mappings() {
        let found = read_only_mappings_of(MAPS, Path::new("/usr/local/bin/safemig"));
        assert_eq!(
            found,
            [
                (0x7f00_0000_0000, 0x10_0000),
                (0x7f00_0010_0000, 0x40_0000),
                (0x7f00_0050_0000, 0x10_0000)
            ]
        );
    }

    #[test]
    fn paths_with_spaces_are_whole() {
        let found = read_only_mappings_of(MAPS, Path::new("/opt/my app/lib.so"));
        assert_eq!(found, [(0x7f00_0080_0000, 0x1000)]);
    }

    /// This process's resident pages of files, in kB (`RssFile` of /proc/self/status).
    fn resident_file_pages() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// On this process (the test binary, tens of megabytes of code): its own mappings are
    /// found, paging them out shrinks what is resident, and the code keeps running.
    #[test]
    fn paging_out_the_running_binary_shrinks_what_is_resident() {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let exe = std::env::current_exe().unwrap();
        assert!(!read_only_mappings_of(&maps, &exe).is_empty(), "{maps}");
        let before = resident_file_pages();
        release_start_up_pages();
        let after = resident_file_pages();
        assert!(
            after < before,
            "RssFile {before} kB before, {after} kB after"
        );
        assert_eq!(read_only_mappings_of(MAPS, Path::new("/nowhere")), []);
    }
}
