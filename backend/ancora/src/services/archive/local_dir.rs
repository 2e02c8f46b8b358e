//! The local-directory archive store (`file:///DIR`; the embedded default is
//! `ANCORA_DATA_DIR/archive`): one file per object under the directory, written to a temporary
//! file, synced and renamed into place, so a reader never sees half an object.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use time::OffsetDateTime;

use super::store::{ArchiveStore, StoreError, check_key};

/// A directory of objects.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// The store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io_err(key: &str, e: std::io::Error) -> StoreError {
    match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::NotFound(key.to_owned()),
        std::io::ErrorKind::PermissionDenied => StoreError::Denied(format!("{key}: {e}")),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            StoreError::Full(format!("{key}: {e}"))
        }
        _ => StoreError::Unavailable(format!("{key}: {e}")),
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place. A
/// write that fails (a full disk) removes its temporary file, so a failed write leaves
/// neither half an object nor the space it took.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn list_under(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_under(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !rel.contains(".tmp-") {
                out.push(rel);
            }
        }
    }
    Ok(())
}

impl ArchiveStore for LocalDir {
    fn check(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            tokio::fs::create_dir_all(&self.root)
                .await
                .map_err(|e| io_err(&self.root.display().to_string(), e))
        })
    }

    fn url(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        _retain_until: Option<OffsetDateTime>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
                .await
                .map_err(|e| StoreError::Other(e.to_string()))?
                .map_err(|e| io_err(key, e))
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            tokio::fs::read(&path).await.map_err(|e| io_err(key, e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(key, e)),
            }
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let prefix = prefix.to_owned();
            let mut keys = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                list_under(&root, &root, &mut out).map(|()| out)
            })
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?
            .map_err(|e| io_err(&prefix, e))?;
            keys.retain(|k| k.starts_with(prefix.as_str()));
            keys.sort();
            Ok(keys)
        })
    }
}
