//! Where uploaded files live: one [`MediaStore`] trait with a local
//! directory (`<data-dir>/media`, the default, for one instance) here,
//! and S3-compatible object storage through the `object_store` crate (for
//! several instances sharing the files) in the binary (`anshin::media`:
//! its HTTP client stack must stay out of the core), chosen by `[media]`.
//!
//! Keys are [`MediaKey`]s, which only the server makes
//! (`img/<uuid>.jpg`), so a key can never name a path outside the store.
//! The local store checks it once more: the file it opens must be below
//! its directory, or the call fails.
//!
//! What is stored is always anshin's own re-encoding of an upload
//! (`shops::images`), never the uploaded bytes.

use std::path::{Path, PathBuf};

use anshin_domain::MediaKey;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, Section, invalid, within};

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
    /// Stores `bytes` under `key` (keys are fresh; nothing is replaced).
    async fn put(&self, key: &MediaKey, bytes: Vec<u8>) -> Result<(), MediaError>;
    /// The file, or `None` if there is none.
    async fn get(&self, key: &MediaKey) -> Result<Option<Vec<u8>>, MediaError>;
    /// Deletes the file; deleting a missing one is fine.
    async fn delete(&self, key: &MediaKey) -> Result<(), MediaError>;
}

/// `[media]`: where files go and how large an upload may be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    /// `local` (a directory) or `s3` (S3-compatible object storage).
    pub backend: MediaBackend,
    /// The directory of the local store; unset: `<data-dir>/media`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Largest upload accepted, in bytes (the request's body may be this
    /// plus 64 KiB of form fields).
    pub max_upload_bytes: usize,
    /// Most pixels (width × height) an upload may declare: checked from
    /// the header before decoding (decompression bombs).
    pub max_pixels: u64,
    /// Longest side an upload may declare, in pixels.
    pub max_side: u32,
    /// Longest side of the stored image (larger uploads are scaled down).
    pub display_side: u32,
    /// Longest side of the thumbnail.
    pub thumb_side: u32,
    /// Images decoded at once; more wait their turn (each may take
    /// `max_pixels` × 4 bytes of memory).
    pub max_concurrent_decodes: usize,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaBackend {
    Local,
    S3,
}

/// `[media.s3]`, used when `media.backend = "s3"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// Another S3-compatible service (MinIO, Ceph, a local emulator);
    /// unset: AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<url::Url>,
    /// Unset: the usual AWS credential chain (environment, instance role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(
        default,
        serialize_with = "crate::settings::redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_access_key: Option<SecretString>,
    /// Plain HTTP to the endpoint: only for a local emulator in tests.
    pub allow_http: bool,
    /// Key prefix inside the bucket (e.g. `anshin/`); empty for none.
    pub prefix: String,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            backend: MediaBackend::Local,
            dir: None,
            max_upload_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_side: 12_000,
            display_side: 2_048,
            thumb_side: 480,
            max_concurrent_decodes: 2,
            s3: S3Settings::default(),
        }
    }
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            prefix: String::new(),
        }
    }
}

impl Section for MediaSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "media.max_upload_bytes",
            self.max_upload_bytes,
            64 * 1024,
            64 * 1024 * 1024,
            " bytes",
        )?;
        within("media.max_pixels", self.max_pixels, 10_000, 100_000_000, "")?;
        within("media.max_side", self.max_side, 100, 30_000, "")?;
        within("media.display_side", self.display_side, 200, 8_000, "")?;
        within("media.thumb_side", self.thumb_side, 64, 2_000, "")?;
        within(
            "media.max_concurrent_decodes",
            self.max_concurrent_decodes,
            1,
            64,
            "",
        )?;
        if self.backend == MediaBackend::S3 {
            if self.s3.bucket.is_empty() {
                return invalid("media.s3.bucket", "must be set when media.backend = \"s3\"");
            }
            if self.s3.access_key_id.is_some() != self.s3.secret_access_key.is_some() {
                return invalid(
                    "media.s3.secret_access_key",
                    "media.s3.access_key_id and media.s3.secret_access_key must be set together",
                );
            }
            if self
                .s3
                .endpoint
                .as_ref()
                .is_some_and(|u| u.scheme() == "http")
                && !self.s3.allow_http
            {
                return invalid(
                    "media.s3.endpoint",
                    "is plain http: use https, or set media.s3.allow_http = true (tests only)",
                );
            }
            if !self
                .s3
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_/".contains(&b))
                || self.s3.prefix.contains("//")
                || self.s3.prefix.starts_with('/')
            {
                return invalid(
                    "media.s3.prefix",
                    "may hold only letters, digits, '-', '_' and single '/' (not first)",
                );
            }
        }
        Ok(())
    }
}

impl MediaSettings {
    /// The local store's directory.
    pub fn local_dir(&self, data_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("media"))
    }
}

// ---- a local directory ----

/// Files under one directory, `<dir>/<kind>/<uuid>.<ext>`, written to a
/// temporary name and renamed (a reader never sees half a file).
#[derive(Debug, Clone)]
pub struct LocalMedia {
    dir: PathBuf,
}

impl LocalMedia {
    /// Opens (creating) the directory, readable by its owner only.
    pub fn open(dir: &Path) -> Result<Self, MediaError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| MediaError::Unavailable(format!("{}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let dir = dir
            .canonicalize()
            .map_err(|e| MediaError::Unavailable(format!("{}: {e}", dir.display())))?;
        Ok(Self { dir })
    }

    /// The file of `key`: `<dir>/<key>`, refused unless it stays below
    /// `<dir>` (the key grammar already makes that so; this is the second
    /// lock on the door).
    fn path(&self, key: &MediaKey) -> Result<PathBuf, MediaError> {
        let rel = Path::new(key.as_str());
        let plain = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            return Err(MediaError::Other("media key is not a plain path".into()));
        }
        Ok(self.dir.join(rel))
    }
}

fn io(e: std::io::Error) -> MediaError {
    MediaError::Other(e.to_string())
}

#[async_trait::async_trait]
impl MediaStore for LocalMedia {
    async fn put(&self, key: &MediaKey, bytes: Vec<u8>) -> Result<(), MediaError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            let tmp = path.with_extension("part");
            std::fs::write(&tmp, &bytes).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)
        })
        .await
        .map_err(|e| MediaError::Other(e.to_string()))?
    }

    async fn get(&self, key: &MediaKey) -> Result<Option<Vec<u8>>, MediaError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn delete(&self, key: &MediaKey) -> Result<(), MediaError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

/// The store of a door that takes no uploads (the command line, a job,
/// a benchmark): every call fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMedia;

#[async_trait::async_trait]
impl MediaStore for NoMedia {
    async fn put(&self, _: &MediaKey, _: Vec<u8>) -> Result<(), MediaError> {
        Err(MediaError::Unavailable("no media store here".into()))
    }
    async fn get(&self, _: &MediaKey) -> Result<Option<Vec<u8>>, MediaError> {
        Err(MediaError::Unavailable("no media store here".into()))
    }
    async fn delete(&self, _: &MediaKey) -> Result<(), MediaError> {
        Err(MediaError::Unavailable("no media store here".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anshin_domain::{ImageFormat, MediaKind};

    #[tokio::test]
    async fn the_local_store_keeps_files_by_key_below_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalMedia::open(&dir.path().join("media")).unwrap();
        let key = MediaKey::new(
            MediaKind::Image,
            uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042),
            ImageFormat::Jpeg,
        );
        assert_eq!(store.get(&key).await.unwrap(), None);
        store.put(&key, b"abc".to_vec()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap().as_deref(), Some(&b"abc"[..]));
        let on_disk = dir.path().join("media").join(key.as_str());
        assert!(on_disk.is_file());
        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), None);
    }

    #[test]
    fn settings_check_the_s3_section_only_when_used() {
        let mut s = MediaSettings::default();
        assert!(s.check().is_ok());
        s.backend = MediaBackend::S3;
        assert!(
            s.check()
                .unwrap_err()
                .to_string()
                .contains("media.s3.bucket")
        );
        s.s3.bucket = "b".into();
        s.s3.access_key_id = Some("k".into());
        assert!(s.check().is_err());
        s.s3.secret_access_key = Some(SecretString::from("s"));
        s.s3.endpoint = Some("http://127.0.0.1:9000".parse().unwrap());
        assert!(s.check().is_err(), "plain http needs allow_http");
        s.s3.allow_http = true;
        assert!(s.check().is_ok());
        s.s3.prefix = "../x".into();
        assert!(s.check().is_err());
        let shown = toml::to_string(&s).unwrap();
        assert!(
            shown.contains("[redacted]") && !shown.contains("\"s\""),
            "{shown}"
        );
    }
}
