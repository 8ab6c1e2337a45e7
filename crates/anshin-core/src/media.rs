//! Where uploaded files live: one [`MediaStore`] trait with a local
//! directory (`<data-dir>/media`, the default) and S3-compatible object
//! storage (several instances share it). Keys are [`MediaKey`]s, which
//! only the server makes, so no key can name a path outside the store.
//! (Implementations arrive with step 2 of issue 13.)

use anshin_domain::MediaKey;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media store unavailable: {0}")]
    Unavailable(String),
    #[error("media store error: {0}")]
    Other(String),
}

/// A place to keep files by key.
#[async_trait::async_trait]
pub trait MediaStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key` (replacing nothing: keys are fresh).
    async fn put(&self, key: &MediaKey, bytes: Vec<u8>) -> Result<(), MediaError>;
    /// The file, or `None` if there is none.
    async fn get(&self, key: &MediaKey) -> Result<Option<Vec<u8>>, MediaError>;
    /// Deletes the file; deleting a missing one is fine.
    async fn delete(&self, key: &MediaKey) -> Result<(), MediaError>;
}
