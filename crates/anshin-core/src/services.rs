//! What a use case may use: the store, the key ring, the clock, the
//! randomness, the password hasher, the letters, the metrics and the
//! challenge state, built once at start and passed explicitly to every use
//! case (`accounts::request_code(&services, …)`). The public site, the
//! staff console, the CLI and the jobs each hold one; none of them is the
//! web layer's state.

use std::sync::Arc;

use anshin_domain::Timestamp;
use anshin_store::Store;

use crate::accounts::password::Passwords;
use crate::accounts::settings::{AuthSettings, LimitsSettings};
use crate::challenge::settings::CaptchaSettings;
use crate::challenge::state::Challenges;
use crate::clock::Clock;
use crate::keys::Keys;
use crate::mail::compose::Letters;
use crate::media::{MediaSettings, MediaStore};
use crate::metrics::Metrics;
use crate::payments::{PaymentProcessor, PaymentsSettings};
use crate::random::Random;
use crate::sessions::settings::SessionSettings;

/// The core's configuration sections, as loaded and checked by the binary.
#[derive(Debug, Clone, Default)]
pub struct CoreSettings {
    pub auth: AuthSettings,
    pub limits: LimitsSettings,
    pub sessions: SessionSettings,
    pub captcha: CaptchaSettings,
    /// The contact form's limits.
    pub contact: crate::contact::ContactSettings,
    /// Uploads: sizes, pixel limits, the store's place.
    pub media: MediaSettings,
    /// Checkout, payments and the platform fee (issue 13).
    pub payments: PaymentsSettings,
    /// The staff console: network allowlist, sessions, step-up (issue 14).
    pub staff: crate::access::StaffSettings,
    /// Creator payouts: minimum, transfer fee, the platform's account
    /// (issue 16).
    pub payouts: crate::payouts::PayoutSettings,
}

/// Everything a use case may use. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Services(Arc<Parts>);

#[derive(Debug)]
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    pub random: Random,
    pub passwords: Passwords,
    pub letters: Letters,
    pub metrics: Arc<Metrics>,
    /// Bot challenges: siteverify, attack level, counters (C7).
    pub challenges: Challenges,
    /// Where uploaded images are kept (`[media]`).
    pub media: Arc<dyn MediaStore>,
    /// The card processor (C15); `NoProcessor` when none is configured.
    pub processor: Arc<dyn PaymentProcessor>,
    pub settings: CoreSettings,
}

impl std::ops::Deref for Services {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Services {
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    /// Services for a door that takes no third-party bot challenge (the
    /// command line, a job, a benchmark): third-party siteverify answers
    /// "unavailable", so such a challenge fails closed; the self-hosted
    /// one works as everywhere. Mail links point at `origin`. No media
    /// store: uploads fail. No card processor: payment calls answer "not
    /// configured".
    pub fn offline(
        store: Arc<dyn Store>,
        keys: Arc<Keys>,
        clock: Arc<dyn Clock>,
        random: Random,
        settings: CoreSettings,
        origin: &str,
    ) -> anyhow::Result<Self> {
        Self::offline_with(
            store,
            keys,
            clock,
            random,
            settings,
            origin,
            Arc::new(crate::payments::NoProcessor),
        )
    }

    /// [`Services::offline`] with a card processor (a benchmark's or a
    /// test's in-memory one, or a job's real one).
    pub fn offline_with(
        store: Arc<dyn Store>,
        keys: Arc<Keys>,
        clock: Arc<dyn Clock>,
        random: Random,
        settings: CoreSettings,
        origin: &str,
        processor: Arc<dyn PaymentProcessor>,
    ) -> anyhow::Result<Self> {
        let params = settings
            .auth
            .password_params()
            .map_err(|e| anyhow::anyhow!("auth settings: {e}"))?;
        let passwords = Passwords::new(params, settings.auth.max_concurrent_hashes, &random)
            .map_err(|e| anyhow::anyhow!("password hasher: {e}"))?;
        Ok(Self::new(Parts {
            store,
            keys,
            clock,
            random,
            passwords,
            letters: Letters {
                catalogs: Arc::new(
                    crate::i18n::Catalogs::load()
                        .map_err(|e| anyhow::anyhow!("message catalogs: {e}"))?,
                ),
                origin: origin.to_owned(),
            },
            metrics: Arc::new(Metrics::default()),
            challenges: Challenges::new(Arc::new(crate::challenge::NoSiteVerifier)),
            media: Arc::new(crate::media::NoMedia),
            processor,
            settings,
        }))
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A new id (UUIDv7) for the current time.
    pub fn new_id<T: From<uuid::Uuid>>(&self) -> T {
        self.random.id(self.clock.now())
    }
}
