//! S3-compatible object storage for uploaded images (`media.backend =
//! "s3"`), through the `object_store` crate, and the choice of store from
//! `[media]`. Here rather than in the core because `object_store` brings
//! an HTTP client stack (hyper, tower) that the core must not depend on
//! (`scripts/check-layers`); the core knows only the `MediaStore` trait.
//! Its HTTP client uses the process's one rustls provider, aws-lc-rs
//! (`cargo tree -i ring` stays empty).

use std::path::Path;
use std::sync::Arc;

use anshin_core::media::{
    LocalMedia, MediaBackend, MediaError, MediaSettings, MediaStore, S3Settings,
};
use anshin_domain::MediaKey;
use secrecy::ExposeSecret;

/// The store the settings ask for.
pub fn store_from_settings(
    settings: &MediaSettings,
    data_dir: &Path,
) -> Result<Arc<dyn MediaStore>, MediaError> {
    Ok(match settings.backend {
        MediaBackend::Local => Arc::new(LocalMedia::open(&settings.local_dir(data_dir))?),
        MediaBackend::S3 => Arc::new(S3Media::new(&settings.s3)?),
    })
}

/// A bucket of S3 or of a compatible service, through `object_store`
/// (its HTTP client uses the process's one rustls provider, aws-lc-rs).
#[derive(Debug)]
pub struct S3Media {
    store: object_store::aws::AmazonS3,
    prefix: String,
}

impl S3Media {
    pub fn new(s: &S3Settings) -> Result<Self, MediaError> {
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&s.bucket)
            .with_region(&s.region)
            .with_allow_http(s.allow_http);
        if let Some(endpoint) = &s.endpoint {
            // Path-style requests (`endpoint/bucket/key`): what emulators
            // and most compatible services expect.
            b = b
                .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
            b = b
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose_secret());
        }
        let store = b
            .build()
            .map_err(|e| MediaError::Unavailable(e.to_string()))?;
        Ok(Self {
            store,
            prefix: s.prefix.clone(),
        })
    }

    fn location(&self, key: &MediaKey) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}{}", self.prefix, key.as_str()))
    }
}

pub(crate) fn s3_error(e: object_store::Error) -> MediaError {
    MediaError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl MediaStore for S3Media {
    async fn put(&self, key: &MediaKey, bytes: Vec<u8>) -> Result<(), MediaError> {
        use object_store::ObjectStoreExt;
        self.store
            .put(&self.location(key), bytes.into())
            .await
            .map(|_| ())
            .map_err(s3_error)
    }

    async fn get(&self, key: &MediaKey) -> Result<Option<Vec<u8>>, MediaError> {
        use object_store::ObjectStoreExt;
        match self.store.get(&self.location(key)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(s3_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn delete(&self, key: &MediaKey) -> Result<(), MediaError> {
        use object_store::ObjectStoreExt;
        match self.store.delete(&self.location(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_error(e)),
        }
    }
}
