//! The file outbox's batches across a crash (C9, C11): a worker killed
//! after it wrote a batch's files and before it marked any row sent leaves
//! the rows pending under their lease; once the lease is over another
//! worker delivers them again, finds every file, keeps it byte for byte,
//! and marks the rows sent. Each mail ends with exactly one copy.

use std::path::Path;
use std::sync::Arc;

use anshin_core::clock::{Clock, ManualClock};
use anshin_core::jobs::Job;
use anshin_core::keys::Keys;
use anshin_core::mail::compose::{self, Rendered};
use anshin_core::mail::outbox::Outbox;
use anshin_core::mail::{FileTransport, OutgoingMail, Transport, TransportError};
use anshin_core::random::Random;
use anshin_domain::{Duration, MailId, MailStatus, Timestamp};
use anshin_store::Changes;
use tokio_util::sync::CancellationToken;

use crate::{Backend, fresh, on_both};

on_both!(c11_a_batch_written_before_a_crash_is_sent_once_and_marked_after_the_lease,);

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

/// The file transport in a process that dies right after the batch's
/// files are durable, before the worker can mark anything sent.
#[derive(Debug)]
struct DiesAfterWriting(FileTransport);

#[async_trait::async_trait]
impl Transport for DiesAfterWriting {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), TransportError> {
        self.0.send(mail).await
    }
    fn name(&self) -> &'static str {
        "file"
    }
    async fn send_many(&self, mails: &[OutgoingMail]) -> Vec<Result<(), TransportError>> {
        let outcomes = self.0.send_many(mails).await;
        assert!(outcomes.iter().all(Result::is_ok), "the files were written");
        panic!("killed after writing the batch");
    }
    fn idempotent(&self) -> bool {
        true
    }
}

/// Every file in the outbox directory, by name, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

async fn c11_a_batch_written_before_a_crash_is_sent_once_and_marked_after_the_lease(b: Backend) {
    let db = fresh(b).await;
    let dir = tempfile::tempdir().unwrap();
    let random = Random::os();
    let keys = Arc::new(Keys::load_or_create(&dir.path().join("keys"), &random).unwrap());
    let clock = ManualClock::new(T0);
    let mut changes = Changes::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let id: MailId = random.id(T0);
        let rendered = Rendered {
            to: format!("member{i}@example.jp"),
            subject: "ログインのお知らせ".into(),
            text: format!("本文 {i}"),
            html: format!("<p>本文 {i}</p>"),
        };
        changes
            .push_mail(compose::seal(&keys, &random, id, "login_notice", T0, &rendered).unwrap());
        ids.push(id);
    }
    db.store.commit(&changes).await.unwrap();
    let outbox_dir = dir.path().join("outbox");
    let worker = |transport: Arc<dyn Transport>| Outbox {
        store: db.store.clone(),
        keys: keys.clone(),
        transport,
        from: "anshin <no-reply@example.jp>".parse().unwrap(),
        clock: Arc::new(clock.clone()) as Arc<dyn Clock>,
    };
    let stop = CancellationToken::new();

    let dying = worker(Arc::new(DiesAfterWriting(
        FileTransport::new(outbox_dir.clone()).unwrap(),
    )));
    let crashed = tokio::spawn(async move { dying.run(&CancellationToken::new()).await });
    assert!(crashed.await.unwrap_err().is_panic(), "the worker died");
    let written = files(&outbox_dir);
    assert_eq!(written.len(), 3, "every file of the batch was written");
    let pending = |s: MailStatus| {
        let store = db.store.clone();
        async move { store.mail().count_by_status(s).await.unwrap() }
    };
    assert_eq!(
        pending(MailStatus::Pending).await,
        3,
        "nothing was marked sent"
    );

    // Under the dead worker's lease nobody delivers them again.
    let next = worker(Arc::new(FileTransport::new(outbox_dir.clone()).unwrap()));
    assert_eq!(next.run(&stop).await.unwrap(), 0);
    assert_eq!(pending(MailStatus::Pending).await, 3);
    // After it, the next worker delivers them: the files are kept as
    // they are, and the rows end sent.
    clock.advance(Duration::from_secs(121));
    assert_eq!(next.run(&stop).await.unwrap(), 3);
    assert_eq!(pending(MailStatus::Pending).await, 0);
    assert_eq!(pending(MailStatus::Sent).await, 3);
    assert_eq!(
        files(&outbox_dir),
        written,
        "one copy of each mail, unchanged"
    );
    for (i, id) in ids.iter().enumerate() {
        let name = format!("{}.eml", id.as_uuid().simple());
        let (_, bytes) = written.iter().find(|(n, _)| *n == name).expect("its file");
        let text = String::from_utf8_lossy(bytes);
        assert!(
            text.contains(&format!("member{i}@example.jp")),
            "{name} is its row's mail"
        );
    }
    // Nothing is due any more, even much later.
    clock.advance(Duration::from_secs(3_600));
    assert_eq!(next.run(&stop).await.unwrap(), 0);
}
