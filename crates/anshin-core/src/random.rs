//! Randomness as a dependency, from one place: every token, code, key,
//! nonce, salt and id of the core comes from the [`Random`] in
//! [`crate::Services`]. `clippy.toml` forbids `rand::rng()` and
//! `Uuid::now_v7()` everywhere else, so a test can see (and a reviewer can
//! find) every use.
//!
//! The source is the operating system's CSPRNG through `rand`'s
//! thread-local generator ([`Random::os`]); tests may use a seeded
//! ChaCha generator ([`Random::seeded`]) to make a run repeatable.
//!
//! Ids are UUIDv7 (RFC 9562 §5.7) from the injected clock: 48 bits of
//! milliseconds, a 12-bit counter that keeps ids made within one
//! millisecond in order (RFC 9562 §6.2 method 1, shared by the whole
//! process), and 62 random bits.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anshin_domain::Timestamp;
use rand::{SeedableRng as _, TryCryptoRng, TryRng};

/// Where random bytes come from.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    fn fill(&self, dest: &mut [u8]);
}

#[derive(Debug)]
struct Os;

impl Entropy for Os {
    #[allow(clippy::disallowed_methods)] // the one place that reaches the OS generator
    fn fill(&self, dest: &mut [u8]) {
        rand::Rng::fill_bytes(&mut rand::rng(), dest);
    }
}

#[derive(Debug)]
struct Seeded(Mutex<rand::rngs::StdRng>);

impl Entropy for Seeded {
    fn fill(&self, dest: &mut [u8]) {
        let mut rng = match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        rand::Rng::fill_bytes(&mut *rng, dest);
    }
}

/// The core's one source of randomness. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Random(Arc<dyn Entropy>);

impl Random {
    /// The operating system's CSPRNG (production).
    pub fn os() -> Self {
        Self(Arc::new(Os))
    }

    /// A deterministic generator for tests. Never use it for a server:
    /// two instances with one seed make the same tokens.
    pub fn seeded(seed: u64) -> Self {
        Self(Arc::new(Seeded(Mutex::new(
            rand::rngs::StdRng::seed_from_u64(seed),
        ))))
    }

    /// A cryptographic RNG handle for the vault's functions
    /// (`SessionToken::generate(&mut random.rng())`).
    pub fn rng(&self) -> Rng<'_> {
        Rng(self.0.as_ref())
    }

    pub fn fill(&self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    /// A new time-ordered id (UUIDv7) for `now`.
    pub fn id<T: From<uuid::Uuid>>(&self, now: Timestamp) -> T {
        T::from(self.uuid_v7(now))
    }

    fn uuid_v7(&self, now: Timestamp) -> uuid::Uuid {
        let (millis, counter) = next_tick(u64::try_from(now.micros() / 1000).unwrap_or(0));
        let mut bytes = [0u8; 10];
        self.fill(&mut bytes);
        // rand_a: the counter's 12 bits (the builder sets the version
        // nibble above them); rand_b: random (the builder sets the variant).
        let [hi, lo] = counter.to_be_bytes();
        let mut tail = bytes;
        tail[0] = hi & 0x0f;
        tail[1] = lo;
        uuid::Builder::from_unix_timestamp_millis(millis, &tail).into_uuid()
    }
}

/// The last (millisecond << 12 | counter) handed out in this process.
static LAST_TICK: AtomicU64 = AtomicU64::new(0);

/// The millisecond and counter of the next id: `now` with counter 0, or,
/// when `now` is not after the last id's millisecond, the last tick + 1
/// (a counter overflow moves into the next millisecond, as RFC 9562
/// allows). Monotonic across threads.
fn next_tick(now_ms: u64) -> (u64, u16) {
    let wanted = now_ms.min((1 << 48) - 1) << 12;
    let mut last = LAST_TICK.load(Ordering::Relaxed);
    loop {
        let next = if wanted > last { wanted } else { last + 1 };
        match LAST_TICK.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return (next >> 12, (next & 0xfff) as u16),
            Err(seen) => last = seen,
        }
    }
}

/// A borrowed CSPRNG handle; see [`Random::rng`].
#[derive(Debug)]
pub struct Rng<'a>(&'a dyn Entropy);

impl TryRng for Rng<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

/// Both sources are cryptographically secure (the OS generator, or
/// ChaCha12 seeded by a test).
impl TryCryptoRng for Rng<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_ordered_within_one_millisecond() {
        let r = Random::os();
        let now = Timestamp::from_micros(1_767_225_600_000_000);
        let ids: Vec<uuid::Uuid> = (0..5000).map(|_| r.id(now)).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "ids out of order");
        }
        assert_eq!(ids[0].get_version_num(), 7);
        let (secs, _) = ids[0].get_timestamp().unwrap().to_unix();
        assert!(secs >= 1_767_225_600);
    }

    #[test]
    fn seeded_randomness_repeats_and_os_randomness_does_not() {
        let (a, b) = (Random::seeded(7), Random::seeded(7));
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        let os = Random::os();
        os.fill(&mut x);
        os.fill(&mut y);
        assert_ne!(x, y);
    }
}
