//! Photo bytes on disk, content-addressed: `<root>/ab/cd/<sha256>`. A blob is written to a
//! temporary file, synced, checked against its hash and only then renamed into place (and
//! the directory synced), so a crash never leaves a partial file under a final name, and
//! a file under a final name always has the bytes its name promises.
//!
//! Resumable uploads keep their bytes in `<root>/tmp/<sha256>-<user>.part`; its length is
//! the upload's offset. Every function here blocks: call it from a blocking thread.

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the bytes do not hash to {expected} (they hash to {actual})")]
    HashMismatch { expected: String, actual: String },
    #[error("the upload is at byte {0}; send the chunk that starts there")]
    WrongOffset(u64),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A lower-case hex SHA-256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The image type of `bytes` by their content, whatever the name or header claims.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl BlobStore {
    pub fn open(root: &Path) -> io::Result<BlobStore> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(BlobStore {
            root: root.to_owned(),
        })
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.root.join(&sha[0..2]).join(&sha[2..4]).join(sha)
    }

    fn partial(&self, sha: &str, user: i64) -> PathBuf {
        self.root.join("tmp").join(format!("{sha}-{user}.part"))
    }

    pub fn has(&self, sha: &str) -> bool {
        self.path(sha).is_file()
    }

    pub fn read(&self, sha: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(sha))
    }

    /// Bytes of `user`'s unfinished upload of `sha` held so far.
    pub fn offset(&self, sha: &str, user: i64) -> u64 {
        fs::metadata(self.partial(sha, user)).map_or(0, |m| m.len())
    }

    /// The first bytes of an unfinished upload, to check what it is.
    pub fn partial_head(&self, sha: &str, user: i64) -> io::Result<Vec<u8>> {
        let mut head = vec![0; 16];
        let n = File::open(self.partial(sha, user))?.read(&mut head)?;
        head.truncate(n);
        Ok(head)
    }

    /// Stores a whole blob whose bytes are in memory.
    pub fn put(&self, sha: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != sha {
            return Err(BlobError::HashMismatch {
                expected: sha.to_owned(),
                actual,
            });
        }
        // A unique temporary name: two uploads of the same photo may race; both are fine.
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{sha}.{}.tmp", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            self.install(&tmp, sha)
        })();
        let _ = fs::remove_file(&tmp);
        result.map_err(BlobError::Io)
    }

    /// Appends a chunk that must start at the upload's current offset; returns the new
    /// offset. The chunk is synced before the offset is reported.
    pub fn append(&self, sha: &str, user: i64, start: u64, chunk: &[u8]) -> Result<u64, BlobError> {
        let path = self.partial(sha, user);
        let current = fs::metadata(&path).map_or(0, |m| m.len());
        if start != current {
            return Err(BlobError::WrongOffset(current));
        }
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        f.write_all(chunk)?;
        f.sync_all()?;
        Ok(current + chunk.len() as u64)
    }

    /// Checks a complete upload against its hash and moves it into place. On a mismatch
    /// the upload is discarded, so the client starts again cleanly.
    pub fn finish(&self, sha: &str, user: i64) -> Result<u64, BlobError> {
        let path = self.partial(sha, user);
        let mut hasher = Sha256::new();
        let mut f = File::open(&path)?;
        let mut buf = vec![0; 64 * 1024];
        let mut len = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha {
            let _ = fs::remove_file(&path);
            return Err(BlobError::HashMismatch {
                expected: sha.to_owned(),
                actual,
            });
        }
        self.install(&path, sha)?;
        Ok(len)
    }

    pub fn discard(&self, sha: &str, user: i64) {
        let _ = fs::remove_file(self.partial(sha, user));
    }

    pub fn remove(&self, sha: &str) -> io::Result<()> {
        match fs::remove_file(self.path(sha)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Bytes `user` holds in unfinished uploads, except the one of `except`: what counts
    /// against their quota besides finished photos.
    pub fn partial_bytes(&self, user: i64, except: &str) -> io::Result<u64> {
        let suffix = format!("-{user}.part");
        let mut bytes = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(sha) = name.to_str().and_then(|n| n.strip_suffix(&suffix)) else {
                continue;
            };
            if sha != except {
                bytes += entry.metadata().map_or(0, |m| m.len());
            }
        }
        Ok(bytes)
    }

    /// Unfinished uploads (and temporary files) last touched before `cutoff`: abandoned;
    /// removed.
    pub fn sweep_partials(&self, cutoff: std::time::SystemTime) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff);
            if old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Renames a synced file into its final place and syncs the directory, so the new
    /// name survives a crash too.
    fn install(&self, from: &Path, sha: &str) -> io::Result<()> {
        let to = self.path(sha);
        let dir = to
            .parent()
            .ok_or_else(|| io::Error::other("blob path has no parent"))?;
        fs::create_dir_all(dir)?;
        fs::rename(from, &to)?;
        sync_dir(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn whole_and_chunked_uploads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        let jpeg = [&[0xff, 0xd8, 0xff, 0xe0][..], &[7u8; 1000][..]].concat();
        let h = sha(&jpeg);
        assert!(!store.has(&h));
        assert!(matches!(
            store.put(&h, &jpeg[1..]),
            Err(BlobError::HashMismatch { .. })
        ));
        assert!(!store.has(&h), "a mismatch stores nothing");

        assert_eq!(store.append(&h, 5, 0, &jpeg[..300]).expect("first"), 300);
        assert!(matches!(
            store.append(&h, 5, 0, &jpeg[..300]),
            Err(BlobError::WrongOffset(300))
        ));
        assert_eq!(store.offset(&h, 5), 300);
        assert_eq!(store.offset(&h, 6), 0, "offsets are per user");
        assert_eq!(store.partial_bytes(5, "other").expect("held"), 300);
        assert_eq!(store.partial_bytes(5, &h).expect("held"), 0);
        assert_eq!(store.partial_bytes(6, "other").expect("held"), 0);
        assert_eq!(
            store.append(&h, 5, 300, &jpeg[300..]).expect("rest"),
            jpeg.len() as u64
        );
        assert_eq!(store.finish(&h, 5).expect("finish"), jpeg.len() as u64);
        assert_eq!(store.read(&h).expect("read"), jpeg);
        assert_eq!(store.offset(&h, 5), 0, "the partial is gone");

        // A corrupted upload is refused and discarded.
        let png = [
            &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a][..],
            &[1u8; 50][..],
        ]
        .concat();
        let hp = sha(&png);
        store.append(&hp, 5, 0, &png[..20]).expect("part");
        store.append(&hp, 5, 20, &[0u8; 38]).expect("wrong bytes");
        assert!(matches!(
            store.finish(&hp, 5),
            Err(BlobError::HashMismatch { .. })
        ));
        assert!(!store.has(&hp));
        assert_eq!(store.offset(&hp, 5), 0);
        store.put(&hp, &png).expect("whole");
        assert!(store.has(&hp));
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xdb]), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<svg xmlns"), None);
        assert_eq!(sniff(b""), None);
        assert!(is_sha256(&"a".repeat(64)));
        assert!(!is_sha256(&"A".repeat(64)));
        assert!(!is_sha256("../etc/passwd"));
    }
}

/// Uploads in progress, so two requests never append to the same partial file at once.
#[derive(Debug, Default)]
pub struct InFlight(std::sync::Mutex<std::collections::HashSet<String>>);

/// Ends the upload's claim when dropped, however the request ends.
pub struct Claim<'a> {
    set: &'a InFlight,
    key: String,
}

impl InFlight {
    pub fn begin(&self, key: String) -> Option<Claim<'_>> {
        let mut set = self.0.lock().ok()?;
        set.insert(key.clone()).then_some(Claim { set: self, key })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.0.lock() {
            set.remove(&self.key);
        }
    }
}
