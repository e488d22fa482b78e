//! File contents kept between searches. A job searches the same tree many times, and on a
//! large one the search's time is nearly all opening, reading and closing every file (in
//! the kernel, the page cache warm). Kept in memory, a file costs one `stat` on the next
//! search instead.
//!
//! A kept copy is used only while the file's length and modification time are those it
//! was read with. Modification times are as coarse as the kernel's clock tick, so a write
//! right after a read could leave both unchanged: a file modified within
//! [`SETTLE_TIME`] of being read is not kept (git's "racily clean" rule), and any later
//! write moves its time on. The cache is bounded ([`MAX_CACHED_BYTES`], files up to
//! [`MAX_CACHED_FILE_BYTES`]); past the bound, files are read from disk as before.

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

/// The most bytes kept for one workspace: the contents of a large repository's sources.
pub const MAX_CACHED_BYTES: usize = 192 * 1024 * 1024;

/// Larger files are read from disk each time: sources are smaller, and a big file would
/// crowd out many.
pub const MAX_CACHED_FILE_BYTES: u64 = 1024 * 1024;

/// How long before the read a file must have been last modified to be kept.
pub const SETTLE_TIME: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Kept {
    len: u64,
    modified: SystemTime,
    contents: Arc<[u8]>,
}

#[derive(Debug, Default)]
struct Files {
    kept: HashMap<PathBuf, Kept>,
    bytes: usize,
}

/// The contents of a workspace's files, shared by its clones.
#[derive(Debug, Default)]
pub struct FileCache {
    files: RwLock<Files>,
}

impl FileCache {
    /// The contents of the file at `path`, whose metadata is `meta`: the kept copy when it
    /// is current, else read now (and kept when it may be). `None` when the file is too
    /// large to keep: the caller reads it from disk itself.
    pub fn contents(&self, path: &Path, meta: &Metadata) -> std::io::Result<Option<Arc<[u8]>>> {
        let len = meta.len();
        if len > MAX_CACHED_FILE_BYTES {
            return Ok(None);
        }
        let modified = meta.modified()?;
        {
            let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(kept) = files.kept.get(path)
                && kept.len == len
                && kept.modified == modified
            {
                return Ok(Some(kept.contents.clone()));
            }
        }
        let read_at = SystemTime::now();
        let contents: Arc<[u8]> = std::fs::read(path)?.into();
        let settled = modified
            .checked_add(SETTLE_TIME)
            .is_some_and(|settled| settled <= read_at);
        // The length read must be the length stat saw: otherwise the file changed between.
        if settled && contents.len() as u64 == len {
            let mut files = self.files.write().unwrap_or_else(PoisonError::into_inner);
            let room = MAX_CACHED_BYTES.saturating_sub(files.bytes);
            let replaced = files.kept.get(path).map_or(0, |kept| kept.contents.len());
            if contents.len() <= room + replaced {
                files.bytes = files.bytes - replaced + contents.len();
                files.kept.insert(
                    path.to_owned(),
                    Kept {
                        len,
                        modified,
                        contents: contents.clone(),
                    },
                );
            }
        }
        Ok(Some(contents))
    }

    /// Bytes kept now.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Sets the file's modification time `ago` before now.
    fn age(path: &Path, ago: Duration) {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - ago).unwrap();
    }

    #[test]
    fn a_settled_file_is_kept_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rs");
        fs::write(&path, "fn one() {}\n").unwrap();
        age(&path, Duration::from_secs(10));
        let cache = FileCache::default();
        let read = |cache: &FileCache| {
            let meta = fs::metadata(&path).unwrap();
            cache.contents(&path, &meta).unwrap().unwrap()
        };
        assert_eq!(&*read(&cache), b"fn one() {}\n");
        assert_eq!(cache.bytes(), 12);

        // Same length, new time: read again, and the new contents kept.
        fs::write(&path, "fn two() {}\n").unwrap();
        age(&path, Duration::from_secs(5));
        assert_eq!(&*read(&cache), b"fn two() {}\n");
        assert_eq!(cache.bytes(), 12, "replaced, not added");
    }

    #[test]
    fn a_file_just_written_is_read_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rs");
        fs::write(&path, "fn one() {}\n").unwrap();
        let cache = FileCache::default();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            &*cache.contents(&path, &meta).unwrap().unwrap(),
            b"fn one() {}\n"
        );
        assert_eq!(
            cache.bytes(),
            0,
            "modified within the settle time: not kept"
        );
        // Rewritten within the same clock tick, same length: still read as it is.
        fs::write(&path, "fn two() {}\n").unwrap();
        let again = fs::metadata(&path).unwrap();
        assert_eq!(
            &*cache.contents(&path, &again).unwrap().unwrap(),
            b"fn two() {}\n"
        );
    }

    #[test]
    fn big_files_are_left_to_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        fs::write(&path, vec![b'x'; MAX_CACHED_FILE_BYTES as usize + 1]).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert!(
            FileCache::default()
                .contents(&path, &meta)
                .unwrap()
                .is_none()
        );
    }
}
