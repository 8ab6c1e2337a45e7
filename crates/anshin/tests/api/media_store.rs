//! The media stores against real storage: the S3 one (`anshin::media`)
//! against moto's S3
//! server (PyPI `moto[server]`, installed by `scripts/setup --test`),
//! started here on a free loopback port, and the local one on a
//! temporary directory. Both must keep, return and delete files by key,
//! and answer "none" for a key they do not hold.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anshin_core::media::{LocalMedia, MediaStore, S3Settings};
use anshin_domain::{ImageFormat, MediaKey, MediaKind};
use anshin_testkit::anshin::media::S3Media;

/// moto's S3 server on 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; scripts/setup --test installs it)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }

    /// Creates a bucket (moto takes an unsigned `PUT /bucket`).
    fn create_bucket(&self, name: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(kind: MediaKind, n: u128, format: ImageFormat) -> MediaKey {
    MediaKey::new(
        kind,
        uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n),
        format,
    )
}

async fn round_trip(store: &dyn MediaStore) {
    let a = key(MediaKind::Image, 1, ImageFormat::Jpeg);
    let b = key(MediaKind::Thumb, 1, ImageFormat::Png);
    assert_eq!(store.get(&a).await.unwrap(), None);
    store.put(&a, b"\xFF\xD8jpeg bytes".to_vec()).await.unwrap();
    store.put(&b, b"\x89PNG bytes".to_vec()).await.unwrap();
    assert_eq!(
        store.get(&a).await.unwrap().as_deref(),
        Some(&b"\xFF\xD8jpeg bytes"[..])
    );
    assert_eq!(
        store.get(&b).await.unwrap().as_deref(),
        Some(&b"\x89PNG bytes"[..])
    );
    store.delete(&a).await.unwrap();
    assert_eq!(store.get(&a).await.unwrap(), None);
    store.delete(&a).await.unwrap();
    assert!(store.get(&b).await.unwrap().is_some());
}

#[tokio::test]
async fn s3_media_store_round_trips_against_moto() {
    let moto = Moto::start();
    moto.create_bucket("anshin-media");
    let settings = S3Settings {
        bucket: "anshin-media".into(),
        region: "us-east-1".into(),
        endpoint: Some(format!("http://127.0.0.1:{}", moto.port).parse().unwrap()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        allow_http: true,
        prefix: "shop/".into(),
    };
    let store = S3Media::new(&settings).unwrap();
    round_trip(&store).await;
    // A missing bucket is an error, not an empty answer.
    let other = S3Media::new(&S3Settings {
        bucket: "no-such-bucket".into(),
        ..settings
    })
    .unwrap();
    let k = key(MediaKind::Image, 9, ImageFormat::Jpeg);
    assert!(other.put(&k, b"x".to_vec()).await.is_err());
}

#[tokio::test]
async fn local_media_store_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalMedia::open(&dir.path().join("media")).unwrap();
    round_trip(&store).await;
}
