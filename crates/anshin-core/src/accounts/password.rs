//! Optional passwords (C12, C14): the NIST SP 800-63B rules for choosing
//! one, and Argon2id hashing on a few threads of its own, a permit per
//! lane.
//!
//! What an attacker tries, and where it fails:
//! - a flood of logins to burn the CPU: at most `auth.max_concurrent_hashes`
//!   hashes run at once; the rest queue (issue 4 adds limits before any
//!   hash is computed);
//! - timing to learn which accounts exist: unknown accounts and accounts
//!   without a password run the same Argon2id work on a dummy hash; a
//!   locked account's answer waits in the same lane for as long;
//! - an attack that keeps the strangers' lane busy to slow everyone down:
//!   under attack, strangers' hashes run on a thread of their own at a
//!   lower CPU priority, so members' own logins and other requests are
//!   scheduled first (C8);
//! - guessing with common passwords: rejected when chosen, using zxcvbn's
//!   frequency lists (which include leaked-password corpora);
//! - a 10 MB password to make hashing slow: refused above 1024 bytes
//!   before hashing (and bodies are capped at 1 MiB).
//!
//! No composition rules and no truncation, as 800-63B says; every Unicode
//! character counts as one.

use std::sync::Arc;

use anshin_vault::{DummyHash, PasswordError, PasswordParams, PhcString};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::Stopwatch;

use tokio::sync::Semaphore;

use crate::random::Random;

/// Why a chosen password is refused. Codes are stable API error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    TooShort,
    TooLong,
    TooCommon,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            PasswordRule::TooShort => "password_too_short",
            PasswordRule::TooLong => "password_too_long",
            PasswordRule::TooCommon => "password_too_common",
        }
    }
}

/// Checks a new password against the rules. `context` holds words the
/// password must not be built from (the member's e-mail and name).
pub fn check_new(password: &str, min_chars: usize, context: &[&str]) -> Result<(), PasswordRule> {
    if password.len() > anshin_vault::password::MAX_PASSWORD_BYTES {
        return Err(PasswordRule::TooLong);
    }
    if password.chars().count() < min_chars {
        return Err(PasswordRule::TooShort);
    }
    // zxcvbn scores 0..=4; below 3 means it is in (or built from) its
    // lists of common and leaked passwords, names and words, or a simple
    // pattern such as a keyboard walk or repetition.
    let weak = (zxcvbn::zxcvbn(password, context).score() as u8) < 3;
    if weak {
        return Err(PasswordRule::TooCommon);
    }
    Ok(())
}

/// Hashes and verifies on its own threads, a few at a time.
#[derive(Debug, Clone)]
pub struct Passwords {
    params: PasswordParams,
    dummy: Arc<DummyHash>,
    permits: Arc<Semaphore>,
    /// One more permit, only for logins from a browser that has logged in
    /// to that account before: a flood of strangers' attempts cannot queue
    /// a member behind it (C8).
    members_lane: Arc<Semaphore>,
    /// Under attack, strangers' logins also need this single permit, so
    /// they get one core's worth of hashing and members' devices the rest.
    under_attack: Arc<Semaphore>,
    /// Argon2id computations so far (for monitoring and the C8 tests).
    hashes: Arc<AtomicU64>,
    /// A recent hash's duration in microseconds, to make refusals that
    /// compute no hash take as long as one.
    typical_micros: Arc<AtomicU64>,
    /// Where strangers' hashes run under attack; `None` if the thread
    /// could not be started (they then run on the blocking pool).
    strangers: Option<LowPriority>,
    /// Where every other hash runs: as many threads as hashes may run at
    /// once, each reusing one Argon2 memory area; `None` if they could not
    /// be started (hashes then run on the blocking pool).
    hashers: Option<Hashers>,
}

/// How long a hashing thread keeps its Argon2 memory without work.
const KEEP_MEMORY_IDLE: Duration = Duration::from_secs(30);

/// Runs `queue`'s jobs on this thread until every sender is gone, reusing
/// one Argon2 memory area between them and giving it back (zeroized) after
/// [`KEEP_MEMORY_IDLE`] without work.
fn hash_jobs(next: impl Fn(Duration) -> Result<Job, std::sync::mpsc::RecvTimeoutError>) {
    use std::sync::mpsc::RecvTimeoutError;
    anshin_vault::keep_hash_memory_on_this_thread();
    loop {
        match next(KEEP_MEMORY_IDLE) {
            // A panicking job must not take the thread down with it; its
            // caller sees the dropped reply as an error.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(RecvTimeoutError::Timeout) => {
                anshin_vault::release_hash_memory_on_this_thread();
                anshin_vault::keep_hash_memory_on_this_thread();
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The threads open and members' hashes run on: one queue per lane, with
/// as many threads as that lane may hash at once, each keeping its memory
/// (no blocking-pool thread and no fresh 19 MiB mapping per hash). A
/// queued job takes its lane's permit on the hashing thread itself, so
/// the next hash starts the moment one ends, without waiting for the
/// async runtime to poll the request that is next in line (at ~100
/// logins/s that wait left the hashing threads idle 8 % of the time;
/// `bench/README.md`, login throughput).
#[derive(Debug, Clone)]
struct Hashers {
    open: std::sync::mpsc::Sender<Job>,
    members: std::sync::mpsc::Sender<Job>,
}

impl Hashers {
    /// Starts `open` threads for the open lane and one for members' own
    /// devices; they end when the last sender is dropped.
    fn start(open: usize) -> std::io::Result<Self> {
        Ok(Self {
            open: Self::pool("anshin-hash", open)?,
            members: Self::pool("anshin-hash-members", 1)?,
        })
    }

    fn pool(name: &str, n: usize) -> std::io::Result<std::sync::mpsc::Sender<Job>> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..n {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    hash_jobs(|wait| match queue.lock() {
                        Ok(q) => q.recv_timeout(wait),
                        Err(_) => Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
                    })
                })?;
        }
        Ok(jobs)
    }

    /// Queues `job` in `lane` (open or members'); on its thread it first
    /// waits for a permit of `permits`, and holds it while it runs.
    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        permits: Arc<Semaphore>,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queue = match lane {
            Lane::KnownDevice => &self.members,
            Lane::Open | Lane::UnderAttack => &self.open,
        };
        queue
            .send(Box::new(move || {
                // A request that went away while queued (the client gave
                // up) costs no hash; a closed semaphore (never closed
                // today) drops the job too.
                if reply.is_closed() {
                    return;
                }
                if let Ok(_permit) = futures_executor::block_on(permits.acquire_owned())
                    && !reply.is_closed()
                {
                    let _ = reply.send(job());
                }
            }))
            .map_err(|_| anyhow::anyhow!("the hashing threads have stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("a hash failed on its thread"))
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One OS thread, ten nice steps below the server's others, that runs
/// strangers' hashes under attack one after another: while an attack keeps
/// it busy, the kernel schedules members' hashes, request handling and the
/// database first, and gives it the CPU they leave.
#[derive(Debug, Clone)]
struct LowPriority {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl LowPriority {
    /// Starts the thread; it ends when the last sender is dropped.
    fn start() -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("anshin-strangers".into())
            .spawn(move || {
                lower_own_priority();
                hash_jobs(|wait| queue.recv_timeout(wait));
            })?;
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(job());
            }))
            .map_err(|_| anyhow::anyhow!("the strangers' hashing thread has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("a stranger's hash failed on its thread"))
    }
}

/// Raises the calling thread's nice value by 10 (at most 19). Lowering
/// one's own priority needs no privilege; if the system refuses anyway,
/// the lane still works, at normal priority.
fn lower_own_priority() {
    let me = rustix::thread::gettid();
    let result = rustix::process::getpriority_process(Some(me))
        .and_then(|nice| rustix::process::setpriority_process(Some(me), (nice + 10).min(19)));
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not lower the strangers' hashing thread's priority");
    }
}

/// Held while a computation (or a wait in its place) runs.
struct Permits<'a> {
    _narrow: Option<tokio::sync::SemaphorePermit<'a>>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

/// Which permits a computation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Everyone: `auth.max_concurrent_hashes` at once.
    Open,
    /// A login from the account's own known device: its own permit.
    KnownDevice,
    /// A stranger's login while the site is under attack (attack level
    /// ≥ 1): one at a time, within the open permits.
    UnderAttack,
}

/// What a verification found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    Match { needs_rehash: bool },
    Mismatch,
}

impl Passwords {
    /// Builds the service; computes the dummy hash once (one Argon2id run).
    pub fn new(
        params: PasswordParams,
        max_concurrent: usize,
        random: &Random,
    ) -> Result<Self, PasswordError> {
        Ok(Self {
            dummy: Arc::new(DummyHash::new(&params, &mut random.rng())?),
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            members_lane: Arc::new(Semaphore::new(1)),
            under_attack: Arc::new(Semaphore::new(1)),
            hashes: Arc::new(AtomicU64::new(0)),
            typical_micros: Arc::new(AtomicU64::new(20_000)),
            strangers: LowPriority::start()
                .inspect_err(|e| tracing::warn!(error = %e, "no thread for strangers' hashes; they share the blocking pool"))
                .ok(),
            hashers: Hashers::start(max_concurrent.max(1))
                .inspect_err(|e| tracing::warn!(error = %e, "no hashing threads; hashes run on the blocking pool"))
                .ok(),
        })
    }

    pub fn params(&self) -> &PasswordParams {
        &self.params
    }

    /// Waits for the permits a computation in `lane` needs.
    async fn permits(&self, lane: Lane) -> anyhow::Result<Permits<'_>> {
        let narrow = match lane {
            Lane::UnderAttack => Some(self.under_attack.acquire().await?),
            Lane::Open | Lane::KnownDevice => None,
        };
        let permit = match lane {
            Lane::Open | Lane::UnderAttack => self.permits.acquire().await?,
            Lane::KnownDevice => self.members_lane.acquire().await?,
        };
        Ok(Permits {
            _narrow: narrow,
            _permit: permit,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        lane: Lane,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (typical, hashes) = (self.typical_micros.clone(), self.hashes.clone());
        let timed = move || {
            // Counted when computed: a queued job whose request went away
            // never runs.
            hashes.fetch_add(1, Ordering::Relaxed);
            let started = Stopwatch::start();
            let out = job();
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            // A rough moving average is enough to mask timing.
            let old = typical.load(Ordering::Relaxed);
            typical.store((old * 7 + took) / 8, Ordering::Relaxed);
            out
        };
        match (lane, &self.strangers, &self.hashers) {
            // Open and members' hashes queue on their threads, which take
            // the lane's permit themselves.
            (Lane::Open, _, Some(threads)) => threads.run(lane, self.permits.clone(), timed).await,
            (Lane::KnownDevice, _, Some(threads)) => {
                threads.run(lane, self.members_lane.clone(), timed).await
            }
            (Lane::UnderAttack, Some(thread), _) => {
                let _permits = self.permits(lane).await?;
                thread.run(timed).await
            }
            _ => {
                let _permits = self.permits(lane).await?;
                Ok(tokio::task::spawn_blocking(timed).await?)
            }
        }
    }

    /// Argon2id computations so far.
    pub fn hashes_computed(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }

    /// Waits as a hash in `lane` would, without computing one: for the
    /// same permits (queueing behind the same attempts), then about as long
    /// as a hash takes. A locked account's answer must not come back
    /// sooner than a wrong password's, even when strangers queue.
    pub async fn wait_like_a_hash(&self, lane: Lane) -> anyhow::Result<()> {
        let micros = self.typical_micros.load(Ordering::Relaxed).min(2_000_000);
        let wait = Duration::from_micros(micros);
        match (lane, &self.hashers) {
            // In the same queue, holding a thread and a permit as long as
            // a hash would (not counted as one).
            (Lane::Open, Some(threads)) => {
                threads
                    .run(lane, self.permits.clone(), move || std::thread::sleep(wait))
                    .await
            }
            (Lane::KnownDevice, Some(threads)) => {
                threads
                    .run(lane, self.members_lane.clone(), move || {
                        std::thread::sleep(wait)
                    })
                    .await
            }
            _ => {
                let _permits = self.permits(lane).await?;
                tokio::time::sleep(wait).await;
                Ok(())
            }
        }
    }

    /// Hashes a new password with a fresh salt from `random`.
    pub async fn hash(
        &self,
        password: &SecretString,
        random: &Random,
    ) -> anyhow::Result<PhcString> {
        let pw = password.clone();
        let params = self.params;
        let random = random.clone();
        self.blocking(Lane::Open, move || {
            anshin_vault::hash_password(pw.expose_secret().as_bytes(), &params, &mut random.rng())
        })
        .await?
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
    }

    /// Verifies against a stored hash; any malformed input is a mismatch.
    pub async fn verify(&self, password: &SecretString, stored: &str) -> anyhow::Result<Checked> {
        self.verify_in(Lane::Open, password, stored).await
    }

    /// [`Passwords::verify`] in the given lane.
    pub async fn verify_in(
        &self,
        lane: Lane,
        password: &SecretString,
        stored: &str,
    ) -> anyhow::Result<Checked> {
        let pw = password.clone();
        let params = self.params;
        let stored = stored.to_owned();
        self.blocking(lane, move || {
            let Ok(phc) = PhcString::new(stored) else {
                return Checked::Mismatch;
            };
            match anshin_vault::verify_password(pw.expose_secret().as_bytes(), &phc, &params) {
                Ok(v) => Checked::Match {
                    needs_rehash: v.needs_rehash,
                },
                Err(_) => Checked::Mismatch,
            }
        })
        .await
    }

    /// The same work as [`Passwords::verify`] for an account that does not
    /// exist or has no password.
    pub async fn dummy(&self, password: &SecretString) -> anyhow::Result<()> {
        self.dummy_in(Lane::Open, password).await
    }

    /// [`Passwords::dummy`] in the given lane.
    pub async fn dummy_in(&self, lane: Lane, password: &SecretString) -> anyhow::Result<()> {
        let pw = password.clone();
        let dummy = self.dummy.clone();
        self.blocking(lane, move || {
            anshin_vault::dummy_verify(pw.expose_secret().as_bytes(), &dummy)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c12_password_rules() {
        assert_eq!(check_new("short", 15, &[]), Err(PasswordRule::TooShort));
        assert_eq!(
            check_new("passwordpassword", 15, &[]),
            Err(PasswordRule::TooCommon)
        );
        assert_eq!(
            check_new("123456789012345678", 15, &[]),
            Err(PasswordRule::TooCommon)
        );
        assert_eq!(
            check_new("qwertyuiopasdfghjkl", 15, &[]),
            Err(PasswordRule::TooCommon)
        );
        // The e-mail address itself, as passed in `context`.
        assert_eq!(
            check_new("taro.yamada@example.jp", 15, &["taro.yamada@example.jp"]),
            Err(PasswordRule::TooCommon)
        );
        assert_eq!(
            check_new(&"x".repeat(2000), 15, &[]),
            Err(PasswordRule::TooLong)
        );
        // Long passphrases and Japanese text pass; no composition rules.
        check_new("correct horse battery staple orbit", 15, &[]).unwrap();
        check_new("しずかな湖のほとりで朝ごはんを食べる", 15, &[]).unwrap();
        // 15 characters, counted as characters, not bytes.
        assert_eq!(
            check_new("あいうえおかきくけこさしすせ", 15, &[]),
            Err(PasswordRule::TooShort)
        );
    }
}

#[cfg(test)]
mod lane_tests {
    use super::*;
    use std::time::Duration;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    /// While strangers hold every open permit (an attack), a login from the
    /// account's own device still hashes at once (C8).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c08_known_devices_hash_in_their_own_lane() {
        let p = Passwords::new(PasswordParams::owasp_minimum(), 1, &Random::os()).unwrap();
        let pw = secret("lantern orbit tangerine seventeen");
        let stored = p.hash(&pw, &Random::os()).await.unwrap();
        let busy = p.permits.clone().acquire_owned().await.unwrap();
        let stranger = tokio::spawn({
            let (p, stored) = (p.clone(), stored.as_str().to_owned());
            async move { p.verify(&secret("a stranger's guess here"), &stored).await }
        });
        let member = tokio::time::timeout(
            Duration::from_secs(60),
            p.verify_in(Lane::KnownDevice, &pw, stored.as_str()),
        )
        .await
        .expect("the known device waited for the strangers' lane")
        .unwrap();
        assert_eq!(
            member,
            Checked::Match {
                needs_rehash: false
            }
        );
        assert!(!stranger.is_finished(), "the stranger skipped the queue");
        drop(busy);
        assert_eq!(stranger.await.unwrap().unwrap(), Checked::Mismatch);
    }

    /// Under attack, strangers hash one at a time even with open permits
    /// free, leaving the rest of the CPU to members.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c08_strangers_hash_one_at_a_time_under_attack() {
        let p = Passwords::new(PasswordParams::owasp_minimum(), 2, &Random::os()).unwrap();
        let pw = secret("lantern orbit tangerine seventeen");
        let stored = p.hash(&pw, &Random::os()).await.unwrap();
        let one_in_flight = p.under_attack.clone().acquire_owned().await.unwrap();
        let second = tokio::spawn({
            let (p, pw, stored) = (p.clone(), pw.clone(), stored.as_str().to_owned());
            async move { p.verify_in(Lane::UnderAttack, &pw, &stored).await }
        });
        // An open-lane hash still runs (a permit is free)…
        let open = tokio::time::timeout(Duration::from_secs(60), p.verify(&pw, stored.as_str()))
            .await
            .expect("the open lane was blocked")
            .unwrap();
        assert_eq!(
            open,
            Checked::Match {
                needs_rehash: false
            }
        );
        // …but the second stranger under attack waits for the first.
        assert!(
            !second.is_finished(),
            "two strangers hashed at once under attack"
        );
        drop(one_in_flight);
        assert_eq!(
            second.await.unwrap().unwrap(),
            Checked::Match {
                needs_rehash: false
            }
        );
    }

    /// Under attack, strangers' hashes run on a thread of their own ten
    /// nice steps below the server's (at most 19), so the kernel runs
    /// members' hashes and other requests first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c08_strangers_hash_at_a_lower_cpu_priority_under_attack() {
        let p = Passwords::new(PasswordParams::owasp_minimum(), 2, &Random::os()).unwrap();
        let nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let open = p.blocking(Lane::Open, nice).await.unwrap();
        let member = p.blocking(Lane::KnownDevice, nice).await.unwrap();
        let stranger = p.blocking(Lane::UnderAttack, nice).await.unwrap();
        assert_eq!(member, open);
        assert_eq!(stranger, (open + 10).min(19), "open lane at {open}");
        assert!(stranger > open || open == 19);
    }

    /// Outside an attack too: a locked account's answer queues behind the
    /// strangers' hashes in the open lane and holds a permit as long as a
    /// hash would, and it is not counted as a hash.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c08_waiting_like_a_hash_queues_in_the_open_lane() {
        let p = Passwords::new(PasswordParams::owasp_minimum(), 1, &Random::os()).unwrap();
        let busy = p.permits.clone().acquire_owned().await.unwrap();
        let before = p.hashes_computed();
        let locked = tokio::spawn({
            let p = p.clone();
            async move { p.wait_like_a_hash(Lane::Open).await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!locked.is_finished(), "the wait skipped the open lane");
        drop(busy);
        tokio::time::timeout(Duration::from_secs(10), locked)
            .await
            .expect("the wait never ended")
            .unwrap()
            .unwrap();
        assert_eq!(p.hashes_computed(), before, "a wait counted as a hash");
    }

    /// A login whose client gave up while it queued costs no hash: a
    /// burst of abandoned requests cannot keep the hashing threads busy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c08_an_abandoned_queued_login_costs_no_hash() {
        let p = Passwords::new(PasswordParams::owasp_minimum(), 1, &Random::os()).unwrap();
        let pw = secret("lantern orbit tangerine seventeen");
        let stored = p.hash(&pw, &Random::os()).await.unwrap();
        let before = p.hashes_computed();
        let busy = p.permits.clone().acquire_owned().await.unwrap();
        let abandoned = tokio::spawn({
            let (p, stored) = (p.clone(), stored.as_str().to_owned());
            async move { p.verify(&secret("a stranger's guess here"), &stored).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        abandoned.abort();
        let _ = abandoned.await;
        drop(busy);
        // The next login in the lane runs, and is the only hash computed.
        let next = tokio::time::timeout(Duration::from_secs(60), p.verify(&pw, stored.as_str()))
            .await
            .expect("the lane is stuck")
            .unwrap();
        assert_eq!(
            next,
            Checked::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            p.hashes_computed(),
            before + 1,
            "the abandoned login was hashed"
        );
    }

    /// A locked account's answer waits for the same permits as a hash in
    /// its lane, so it does not come back sooner while strangers queue.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c08_waiting_like_a_hash_queues_in_the_lane() {
        let p = Passwords::new(PasswordParams::owasp_minimum(), 2, &Random::os()).unwrap();
        let busy = p.under_attack.clone().acquire_owned().await.unwrap();
        let locked = tokio::spawn({
            let p = p.clone();
            async move { p.wait_like_a_hash(Lane::UnderAttack).await }
        });
        // Far longer than the wait itself (a hash's typical time, ~20 ms).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !locked.is_finished(),
            "the wait skipped the strangers' queue"
        );
        drop(busy);
        tokio::time::timeout(Duration::from_secs(10), locked)
            .await
            .expect("the wait never ended")
            .unwrap()
            .unwrap();
    }
}
