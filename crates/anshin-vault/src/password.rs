//! Password hashing with Argon2id (RFC 9106), stored as PHC strings.
//!
//! Parameters follow the OWASP Password Storage Cheat Sheet: Argon2id with
//! at least 19 MiB of memory, 2 iterations and 1 lane; [`PasswordParams::new`]
//! refuses anything weaker. Each hash has its own 16-byte random salt from the
//! caller's CSPRNG, and the PHC string records the parameters, so raising
//! them later flags old hashes for rehash at the next successful login
//! ([`Verification::needs_rehash`]).
//!
//! What an attacker tries, and why it fails:
//! - cracking a stolen database offline: Argon2id is memory-hard and every
//!   hash has its own salt (`c14_same_password_hashes_differently`);
//! - configuring the server weakly by mistake: `c14_params_below_owasp_minimum_are_refused`;
//! - telling registered e-mail addresses from unknown ones by response
//!   time: [`dummy_verify`] runs the same code with the same parameters
//!   (`c14_dummy_hash_has_the_cost_parameters_of_a_real_hash`);
//! - a stored hash with huge parameters (a write to the database) to make
//!   every login burn CPU and memory: stored parameters above
//!   [`PasswordParams::MAX_MEMORY_KIB`] & co. are refused before hashing
//!   (`c14_stored_hash_with_excessive_params_is_refused`);
//! - long passwords: never truncated (NIST SP 800-63B §5.1.1.2 asks for all
//!   characters to be used); refused above [`MAX_PASSWORD_BYTES`] so a
//!   megabyte "password" cannot become a denial of service
//!   (`c14_overlong_password_is_refused`, `c14_password_is_not_truncated`).
//!
//! Policy (minimum length, breached-password checks) is the app's job.
//!
//! Specs: RFC 9106 <https://www.rfc-editor.org/rfc/rfc9106>; OWASP Password
//! Storage Cheat Sheet
//! <https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html>;
//! NIST SP 800-63B (rev. 3) <https://pages.nist.gov/800-63-3/sp800-63b.html>.

use std::cell::RefCell;

use argon2::password_hash::phc::PasswordHash;
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, PasswordHasher, Version};
use rand::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Longest password accepted, in bytes of UTF-8 (the app validates earlier
/// too). 1024 bytes is far above any passphrase a person types.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Salt length (RFC 9106 §3.1 recommends 128 bits).
const SALT_LEN: usize = 16;
/// Hash output length.
const OUTPUT_LEN: usize = 32;

/// Why hashing or verification did not succeed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error(
        "Argon2id parameters m={memory_kib} KiB, t={iterations}, p={parallelism} are below \
         the OWASP minimum of m=19456 KiB (19 MiB), t=2, p=1"
    )]
    BelowMinimum {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
    #[error(
        "Argon2id parameters m={memory_kib} KiB, t={iterations}, p={parallelism} exceed the \
         maximum of m=1048576 KiB (1 GiB), t=64, p=16"
    )]
    AboveMaximum {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
    #[error("password is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("password does not match")]
    Mismatch,
    #[error("stored password hash is not a valid PHC string")]
    MalformedHash,
    #[error("stored password hash is not Argon2id version 19")]
    UnsupportedAlgorithm,
    #[error("Argon2 failed: {0}")]
    Hashing(String),
}

/// Argon2id cost parameters. Construct with [`PasswordParams::new`] (which
/// enforces the OWASP minimum) or [`PasswordParams::owasp_minimum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl PasswordParams {
    /// OWASP minimum memory: 19 MiB.
    pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
    /// OWASP minimum iterations with 19 MiB.
    pub const MIN_ITERATIONS: u32 = 2;
    /// Minimum lanes.
    pub const MIN_PARALLELISM: u32 = 1;
    /// Upper bound on memory (1 GiB), for configuration and for hashes read
    /// from storage: a stored hash cannot make a login allocate more.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// Upper bound on iterations, for the same reason.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Upper bound on lanes, for the same reason.
    pub const MAX_PARALLELISM: u32 = 16;

    /// Parameters for new hashes; refuses values below the OWASP minimum
    /// (m = 19456 KiB, t = 2, p = 1) or above the maxima.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, PasswordError> {
        if memory_kib < Self::MIN_MEMORY_KIB
            || iterations < Self::MIN_ITERATIONS
            || parallelism < Self::MIN_PARALLELISM
        {
            return Err(PasswordError::BelowMinimum {
                memory_kib,
                iterations,
                parallelism,
            });
        }
        Self::checked_max(memory_kib, iterations, parallelism)
    }

    /// The OWASP minimum itself: m = 19456 KiB, t = 2, p = 1.
    pub fn owasp_minimum() -> Self {
        Self {
            memory_kib: Self::MIN_MEMORY_KIB,
            iterations: Self::MIN_ITERATIONS,
            parallelism: Self::MIN_PARALLELISM,
        }
    }

    /// Upper bounds only: used for hashes read from storage, which may
    /// predate the current minimum and must still verify (then be rehashed).
    fn checked_max(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, PasswordError> {
        if memory_kib > Self::MAX_MEMORY_KIB
            || iterations > Self::MAX_ITERATIONS
            || parallelism > Self::MAX_PARALLELISM
        {
            return Err(PasswordError::AboveMaximum {
                memory_kib,
                iterations,
                parallelism,
            });
        }
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// Whether a hash made with `self` is weaker than `current` in any dimension.
    fn weaker_than(&self, current: &Self) -> bool {
        self.memory_kib < current.memory_kib
            || self.iterations < current.iterations
            || self.parallelism < current.parallelism
    }

    /// Argon2 memory blocks one computation with these parameters needs.
    fn block_count(&self, output_len: usize) -> Result<usize, PasswordError> {
        argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(output_len),
        )
        .map(|p| p.block_count())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    fn argon2(&self, output_len: usize) -> Result<Argon2<'static>, PasswordError> {
        let params = argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(output_len),
        )
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// A stored password hash: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
/// `Debug` hides it (offline cracking starts from exactly this string).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PhcString(String);

impl std::fmt::Debug for PhcString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhcString([redacted])")
    }
}

impl PhcString {
    /// Wraps a hash read from storage after checking that it parses as
    /// Argon2id v19 with acceptable parameters.
    pub fn new(stored: String) -> Result<Self, PasswordError> {
        let phc = Self(stored);
        phc.parse()?;
        Ok(phc)
    }

    /// The text to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses into Argon2 inputs: parameters, salt, expected output.
    fn parse(&self) -> Result<(PasswordParams, PasswordHash), PasswordError> {
        let hash = PasswordHash::new(&self.0).map_err(|_| PasswordError::MalformedHash)?;
        if hash.algorithm != ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
            return Err(PasswordError::UnsupportedAlgorithm);
        }
        let params = argon2::Params::try_from(&hash).map_err(|_| PasswordError::MalformedHash)?;
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(PasswordError::MalformedHash);
        }
        let params =
            PasswordParams::checked_max(params.m_cost(), params.t_cost(), params.p_cost())?;
        Ok((params, hash))
    }
}

/// Result of a successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The stored hash used weaker parameters than the current ones: hash
    /// the password again and store the new hash.
    pub needs_rehash: bool,
}

fn check_length(password: &[u8]) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    Ok(())
}

/// Hashes `password` with `params` and a fresh salt from `rng`.
pub fn hash_password<R: CryptoRng + ?Sized>(
    password: &[u8],
    params: &PasswordParams,
    rng: &mut R,
) -> Result<PhcString, PasswordError> {
    check_length(password)?;
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let hash = params
        .argon2(OUTPUT_LEN)?
        .hash_password_with_salt(password, &salt)
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Ok(PhcString(hash.to_string()))
}

/// Checks `password` against a stored hash. `Ok` means it matches;
/// `needs_rehash` says whether to store a new hash made with `current`.
/// The stored hash's own parameters are used for the check (within bounds).
pub fn verify_password(
    password: &[u8],
    stored: &PhcString,
    current: &PasswordParams,
) -> Result<Verification, PasswordError> {
    check_length(password)?;
    let (params, hash) = stored.parse()?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err(PasswordError::MalformedHash);
    };
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    let blocks = params.block_count(expected.len())?;
    compute(
        &params.argon2(expected.len())?,
        blocks,
        password,
        salt.as_ref(),
        &mut out,
    )
    .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    if bool::from(out.as_slice().ct_eq(expected.as_bytes())) {
        Ok(Verification {
            needs_rehash: params.weaker_than(current),
        })
    } else {
        Err(PasswordError::Mismatch)
    }
}

thread_local! {
    /// The Argon2 memory kept between verifications on a thread that asked
    /// for it ([`keep_hash_memory_on_this_thread`]).
    static KEPT: RefCell<Option<KeptMemory>> = const { RefCell::new(None) };
}

/// One computation's memory blocks, zeroized when they are released.
struct KeptMemory(Vec<argon2::Block>);

impl Drop for KeptMemory {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// Lets verifications on the calling thread reuse one memory area instead
/// of allocating a fresh one (19 MiB at the OWASP minimum) for each: a
/// fresh area is mapped, faulted in page by page and zeroed by the kernel,
/// then unmapped, which on a busy login server cost about a tenth of its
/// CPU. Meant for threads that do nothing but hash (the server's hashing
/// threads), so the memory they keep is bounded by their number. The
/// blocks are overwritten by every computation and zeroized when released
/// ([`release_hash_memory_on_this_thread`], or the thread's end); the
/// crate's own allocation is not zeroized at all, so nothing is weaker.
pub fn keep_hash_memory_on_this_thread() {
    KEPT.with(|k| {
        if let Ok(mut k) = k.try_borrow_mut()
            && k.is_none()
        {
            *k = Some(KeptMemory(Vec::new()));
        }
    });
}

/// Zeroizes and frees the memory [`keep_hash_memory_on_this_thread`] kept
/// (an idle hashing thread gives it back); later verifications on this
/// thread allocate afresh until it is kept again.
pub fn release_hash_memory_on_this_thread() {
    KEPT.with(|k| {
        if let Ok(mut k) = k.try_borrow_mut() {
            *k = None;
        }
    });
}

/// How many bytes of Argon2 memory this thread keeps (for tests).
pub fn kept_hash_memory_bytes() -> usize {
    KEPT.with(|k| {
        k.try_borrow()
            .ok()
            .and_then(|k| k.as_ref().map(|m| m.0.len() * argon2::Block::SIZE))
            .unwrap_or(0)
    })
}

/// One Argon2 computation, in this thread's kept memory if it keeps some.
fn compute(
    argon: &Argon2<'_>,
    blocks: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    KEPT.with(|k| match k.try_borrow_mut() {
        Ok(mut slot) => match slot.as_mut() {
            Some(kept) => {
                if kept.0.len() != blocks {
                    // Other parameters (an older hash): the old blocks are
                    // zeroized as they go.
                    *kept = KeptMemory(vec![argon2::Block::new(); blocks]);
                }
                argon.hash_password_into_with_memory(password, salt, out, &mut kept.0[..])
            }
            None => argon.hash_password_into(password, salt, out),
        },
        Err(_) => argon.hash_password_into(password, salt, out),
    })
}

/// A hash of a random password nobody knows, made once at start-up with the
/// current parameters, so that [`dummy_verify`] costs what a real
/// verification costs.
#[derive(Debug, Clone)]
pub struct DummyHash {
    phc: PhcString,
    params: PasswordParams,
}

impl DummyHash {
    /// Precomputes the dummy hash (one Argon2id run).
    pub fn new<R: CryptoRng + ?Sized>(
        params: &PasswordParams,
        rng: &mut R,
    ) -> Result<Self, PasswordError> {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let phc = hash_password(&secret, params, rng);
        secret.zeroize();
        Ok(Self {
            phc: phc?,
            params: *params,
        })
    }

    /// The parameters the dummy hash was made with.
    pub fn params(&self) -> &PasswordParams {
        &self.params
    }
}

/// For a login with an unknown account: runs exactly the code path of
/// [`verify_password`] (length check, PHC parse, Argon2id with the same
/// parameters, constant-time compare) against the dummy hash and discards
/// the outcome, so response time does not reveal whether the account exists.
pub fn dummy_verify(password: &[u8], dummy: &DummyHash) {
    let outcome = verify_password(password, &dummy.phc, &dummy.params);
    std::hint::black_box(outcome).ok();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn min() -> PasswordParams {
        PasswordParams::owasp_minimum()
    }

    #[test]
    fn c14_kept_memory_gives_the_same_answers_and_is_given_back() {
        let params = min();
        let phc = hash_password(b"lantern orbit tangerine", &params, &mut rand::rng()).unwrap();
        // Another thread, so this test's memory is its own.
        std::thread::spawn(move || {
            assert_eq!(kept_hash_memory_bytes(), 0);
            keep_hash_memory_on_this_thread();
            for _ in 0..2 {
                verify_password(b"lantern orbit tangerine", &phc, &params).unwrap();
                assert!(matches!(
                    verify_password(b"lantern orbit tangerinf", &phc, &params),
                    Err(PasswordError::Mismatch)
                ));
            }
            assert_eq!(kept_hash_memory_bytes(), 19_456 * 1024, "one area, reused");
            // A hash made with more memory resizes the area.
            let bigger = PasswordParams::new(20_480, 2, 1).unwrap();
            let phc2 = hash_password(b"x-long-enough-pass", &bigger, &mut rand::rng()).unwrap();
            verify_password(b"x-long-enough-pass", &phc2, &params).unwrap();
            assert_eq!(kept_hash_memory_bytes(), 20_480 * 1024);
            release_hash_memory_on_this_thread();
            assert_eq!(kept_hash_memory_bytes(), 0);
            verify_password(b"x-long-enough-pass", &phc2, &params).unwrap();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn c14_params_below_owasp_minimum_are_refused() {
        assert!(PasswordParams::new(19456, 2, 1).is_ok());
        for (m, t, p) in [(19455, 2, 1), (19456, 1, 1), (19456, 2, 0), (4096, 3, 1)] {
            let err = PasswordParams::new(m, t, p).unwrap_err();
            assert!(
                matches!(err, PasswordError::BelowMinimum { .. }),
                "{m} {t} {p}"
            );
            assert!(err.to_string().contains("OWASP minimum"));
        }
        assert!(matches!(
            PasswordParams::new(2 * 1024 * 1024, 2, 1).unwrap_err(),
            PasswordError::AboveMaximum { .. }
        ));
    }

    #[test]
    fn c14_phc_string_has_configured_params_and_verifies() {
        // One hash reused for several claims keeps the debug-build test fast.
        let params = PasswordParams::new(19456, 3, 1).unwrap();
        let phc =
            hash_password(b"correct horse battery staple", &params, &mut rand::rng()).unwrap();
        assert!(
            phc.as_str().starts_with("$argon2id$v=19$m=19456,t=3,p=1$"),
            "{}",
            phc.as_str()
        );
        assert_eq!(
            verify_password(b"correct horse battery staple", &phc, &params).unwrap(),
            Verification {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify_password(b"correct horse battery stapl", &phc, &params).unwrap_err(),
            PasswordError::Mismatch
        );
        assert!(!format!("{phc:?}").contains("argon2id"));
    }

    #[test]
    fn c14_needs_rehash_when_params_rise() {
        let old = min();
        let phc = hash_password(b"pw", &old, &mut rand::rng()).unwrap();
        let raised = PasswordParams::new(19456, 3, 1).unwrap();
        assert_eq!(
            verify_password(b"pw", &phc, &raised).unwrap(),
            Verification { needs_rehash: true }
        );
        assert_eq!(
            verify_password(b"pw", &phc, &old).unwrap(),
            Verification {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn c14_same_password_hashes_differently() {
        let a = hash_password(b"pw", &min(), &mut rand::rng()).unwrap();
        let b = hash_password(b"pw", &min(), &mut rand::rng()).unwrap();
        assert_ne!(a, b);
        let salt = |p: &PhcString| p.as_str().split('$').nth(4).unwrap().to_string();
        assert_ne!(salt(&a), salt(&b));
    }

    #[test]
    fn c14_password_is_not_truncated() {
        // Two 1024-byte passwords differing only in the last byte.
        let mut a = vec![b'a'; MAX_PASSWORD_BYTES];
        let phc = hash_password(&a, &min(), &mut rand::rng()).unwrap();
        if let Some(last) = a.last_mut() {
            *last = b'b';
        }
        assert_eq!(
            verify_password(&a, &phc, &min()).unwrap_err(),
            PasswordError::Mismatch
        );
    }

    #[test]
    fn c14_overlong_password_is_refused() {
        let long = vec![b'a'; MAX_PASSWORD_BYTES + 1];
        let err = hash_password(&long, &min(), &mut rand::rng()).unwrap_err();
        assert_eq!(
            err,
            PasswordError::TooLong {
                max: MAX_PASSWORD_BYTES
            }
        );
        let phc = PhcString(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                .into(),
        );
        assert_eq!(verify_password(&long, &phc, &min()).unwrap_err(), err);
    }

    #[test]
    fn c14_stored_hash_with_excessive_params_is_refused() {
        // Would allocate 4 GiB if trusted.
        let hostile = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(matches!(
            PhcString::new(hostile.into()).unwrap_err(),
            PasswordError::AboveMaximum { .. }
        ));
    }

    #[test]
    fn c14_malformed_or_foreign_hashes_are_refused() {
        assert_eq!(
            PhcString::new(String::new()).unwrap_err(),
            PasswordError::MalformedHash
        );
        assert_eq!(
            PhcString::new("$argon2id$".into()).unwrap_err(),
            PasswordError::MalformedHash
        );
        assert_eq!(
            PhcString::new("$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())
                .unwrap_err(),
            PasswordError::UnsupportedAlgorithm
        );
        assert_eq!(
            PhcString::new("$2b$12$abcdefghijklmnopqrstuv".into()).unwrap_err(),
            PasswordError::MalformedHash
        );
    }

    #[test]
    fn c14_dummy_hash_has_the_cost_parameters_of_a_real_hash() {
        // Argon2id's cost is fixed by m, t, p and the output length; the
        // dummy shares all of them with a real hash (and the salt length), and
        // dummy_verify goes through verify_password itself. A wall-clock
        // comparison would be flaky on a shared CI machine, so none is made.
        let params = min();
        let dummy = DummyHash::new(&params, &mut rand::rng()).unwrap();
        let real = hash_password(b"pw", &params, &mut rand::rng()).unwrap();
        let shape = |p: &PhcString| {
            let fields: Vec<usize> = p.as_str().split('$').map(str::len).collect();
            let params_field = p.as_str().split('$').nth(3).unwrap().to_string();
            (fields, params_field)
        };
        assert_eq!(shape(&dummy.phc), shape(&real));
        assert_eq!(dummy.params(), &params);
        // And no guessable password opens it.
        assert_eq!(
            verify_password(b"", &dummy.phc, &params).unwrap_err(),
            PasswordError::Mismatch
        );
        dummy_verify(b"pw", &dummy);
    }
}
