//! Reading small input files that someone else controls (results, mounted Secrets and
//! ConfigMaps): only regular files, never more than a limit, and never blocking on a FIFO.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is not a regular file")]
    NotRegular,
    #[error("is larger than {0} bytes")]
    TooLarge(u64),
}

/// Reads at most `limit` bytes of a regular file; a larger file is an error, not a truncation.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Non-blocking, so that opening a FIFO returns at once instead of waiting for a writer;
    // the file type is then checked on the handle itself.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}
