//! Payments through a card processor (C15): card numbers never pass
//! through or stay on anshin's servers.
//!
//! The card is typed into the processor's own element on the checkout
//! page (its script, served from its origin, which the page's CSP admits
//! only there); the processor's script turns it into a reference
//! (`card_…`, `pm_…`) in the browser, and anshin receives only that
//! reference. Everything after is server to server, through
//! [`PaymentProcessor`]: a PaymentIntent created with an idempotency key
//! derived from the order (never random), confirmed, asked about, cancelled
//! or refunded. anshin keeps the processor's ids, the card brand and the
//! last 4 digits; results also arrive by signed webhooks ([`signature`]).
//!
//! This module holds the processor's contract and its types, the
//! `[payments]` settings, the platform fee ([`fees`]) and the webhook
//! signature; the use cases that drive it are in `checkout` (paying) and
//! `orders` (webhooks, reconciliation, refunds). The binary crate
//! implements the contract against Stripe's REST API.
//!
//! # What an attacker tries, and what stops it
//! - **Sending a card number to anshin** (a modified page, a script
//!   kiddie's API call): the pay request takes only a processor reference
//!   matching `(pm|card|src)_[A-Za-z0-9]{1,64}` ([`PaymentMethodRef`]);
//!   anything else, digits above all, is refused before any use, and the
//!   refused value is never logged or echoed (`c15_pay_refuses_a_card_number`).
//! - **Guessing a second charge out of a retry**: idempotency keys are
//!   `anshin:<order>:<attempt>:<step>` ([`idempotency_key`]): a retry, a
//!   double click or reconciliation after a crash asks the processor the
//!   same question and gets the first answer back.
//! - **Reading the secret key** from `config show`, a log or an error:
//!   it is a `SecretString` that serialises as `[redacted]`; processor
//!   errors carry the processor's message, never our request.

pub mod fake;
pub mod fees;
pub mod settings;
pub mod signature;

use anshin_domain::{OrderId, Yen};

pub use fees::FeeSchedule;
pub use settings::PaymentsSettings;

/// Where a PaymentIntent stands at the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    /// No (usable) card: new, or the last one was declined.
    RequiresPaymentMethod,
    /// A card is attached; not confirmed yet.
    RequiresConfirmation,
    /// The issuer wants the buyer (3-D Secure); the browser finishes it.
    RequiresAction,
    Processing,
    /// Authorised, not captured (anshin captures automatically; treated
    /// as processing).
    RequiresCapture,
    Succeeded,
    Canceled,
}

impl IntentStatus {
    /// Stripe's word for it; `None` for a word we do not know.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "requires_payment_method" => IntentStatus::RequiresPaymentMethod,
            "requires_confirmation" => IntentStatus::RequiresConfirmation,
            "requires_action" => IntentStatus::RequiresAction,
            "processing" => IntentStatus::Processing,
            "requires_capture" => IntentStatus::RequiresCapture,
            "succeeded" => IntentStatus::Succeeded,
            "canceled" => IntentStatus::Canceled,
            _ => return None,
        })
    }
}

/// A secret the browser needs to finish 3-D Secure with the processor's
/// script. Never stored, never logged (`Debug` redacts).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// For the JSON answer to the buyer's own browser only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// What anshin keeps of a card: the processor's word for the brand and
/// the last 4 digits, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
}

impl CardSummary {
    /// Keeps only a plausible brand (letters, ≤ 20) and exactly 4 digits.
    pub fn new(brand: &str, last4: &str) -> Option<Self> {
        let brand = brand.trim().to_ascii_lowercase();
        let ok_brand = !brand.is_empty()
            && brand.len() <= 20
            && brand
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b' ' || b == b'_');
        let ok_last4 = last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit());
        (ok_brand && ok_last4).then(|| Self {
            brand,
            last4: last4.to_owned(),
        })
    }
}

/// A PaymentIntent as the processor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub status: IntentStatus,
    pub amount: Yen,
    /// Lower-case ISO 4217 (`jpy`).
    pub currency: String,
    /// The order it was created for (its metadata); informative only:
    /// anshin finds the order by the intent id it stored.
    pub order: Option<OrderId>,
    pub card: Option<CardSummary>,
    /// The last decline's code (`card_declined`, `insufficient_funds`,
    /// `payment_intent_authentication_failure`…).
    pub decline_code: Option<String>,
    /// Present when the browser must act (3-D Secure).
    pub client_secret: Option<ClientSecret>,
}

/// A refund as the processor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorRefund {
    pub id: String,
    /// `succeeded`, `pending` (settles later; treated as done: the
    /// processor has accepted it), or `failed`/`canceled`.
    pub succeeded: bool,
    pub failed: bool,
}

/// What a processor call can answer besides a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessorError {
    /// The card was declined (the code says why; no message from the
    /// processor reaches the buyer, only our own words for the code).
    #[error("declined: {code}")]
    Declined { code: String },
    /// The processor refused the request (4xx other than a decline): a
    /// bug on our side, an idempotency key reused with other parameters,
    /// or a state that does not allow it (cancelling a paid intent).
    #[error("refused by the processor ({status}): {message}")]
    Refused { status: u16, message: String },
    /// No answer, a 5xx, a timeout: try again later (reconciliation will).
    #[error("processor unavailable: {0}")]
    Unavailable(String),
    /// No keys configured: checkout is closed.
    #[error("no payment processor is configured")]
    NotConfigured,
    /// An answer we cannot read.
    #[error("unexpected answer from the processor: {0}")]
    Malformed(String),
}

/// A new PaymentIntent: the order's total in yen, the buyer's tokenised
/// card, and the order it pays (metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRequest<'a> {
    pub amount: Yen,
    pub payment_method: &'a PaymentMethodRef,
    pub order: OrderId,
}

/// The processor, as the use cases need it. Every call that changes
/// something takes an idempotency key; the same key must always come with
/// the same request.
#[async_trait::async_trait]
pub trait PaymentProcessor: Send + Sync + std::fmt::Debug {
    /// Creates an intent for the card, not yet confirmed.
    async fn create_intent(
        &self,
        req: &IntentRequest<'_>,
        idempotency_key: &str,
    ) -> Result<Intent, ProcessorError>;

    /// Confirms (charges) an intent. A decline is
    /// [`ProcessorError::Declined`]; 3-D Secure is an intent in
    /// [`IntentStatus::RequiresAction`] with its client secret.
    async fn confirm_intent(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> Result<Intent, ProcessorError>;

    /// The intent as it is now, with its card's brand and last 4.
    async fn intent(&self, intent_id: &str) -> Result<Intent, ProcessorError>;

    /// Cancels an intent that has not succeeded.
    async fn cancel_intent(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> Result<Intent, ProcessorError>;

    /// Refunds `amount` of a succeeded intent.
    async fn refund(
        &self,
        intent_id: &str,
        amount: Yen,
        idempotency_key: &str,
    ) -> Result<ProcessorRefund, ProcessorError>;
}

/// The processor when no keys are configured: every call is
/// [`ProcessorError::NotConfigured`], and nothing leaves the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProcessor;

#[async_trait::async_trait]
impl PaymentProcessor for NoProcessor {
    async fn create_intent(
        &self,
        _: &IntentRequest<'_>,
        _: &str,
    ) -> Result<Intent, ProcessorError> {
        Err(ProcessorError::NotConfigured)
    }
    async fn confirm_intent(&self, _: &str, _: &str) -> Result<Intent, ProcessorError> {
        Err(ProcessorError::NotConfigured)
    }
    async fn intent(&self, _: &str) -> Result<Intent, ProcessorError> {
        Err(ProcessorError::NotConfigured)
    }
    async fn cancel_intent(&self, _: &str, _: &str) -> Result<Intent, ProcessorError> {
        Err(ProcessorError::NotConfigured)
    }
    async fn refund(&self, _: &str, _: Yen, _: &str) -> Result<ProcessorRefund, ProcessorError> {
        Err(ProcessorError::NotConfigured)
    }
}

/// The processor's reference to a card the buyer typed into its element
/// (`card_…`, `pm_…`, `src_…`). Only [`PaymentMethodRef::parse`] makes
/// one, and it refuses anything else, so a card number cannot be handed
/// on, stored or logged as if it were a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethodRef(String);

impl PaymentMethodRef {
    pub fn parse(text: &str) -> Option<Self> {
        let (prefix, rest) = text.split_once('_')?;
        let ok = matches!(prefix, "pm" | "card" | "src")
            && !rest.is_empty()
            && rest.len() <= 64
            && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The step of a payment attempt an idempotency key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStep {
    Create,
    Confirm,
    Cancel,
}

/// `anshin:<order>:<attempt>:<step>`: the same order, attempt and step
/// always make the same key (a retry gets the first answer back), and two
/// attempts never share one. Refunds: [`refund_key`].
pub fn idempotency_key(order: OrderId, attempt_no: i64, step: KeyStep) -> String {
    let step = match step {
        KeyStep::Create => "create",
        KeyStep::Confirm => "confirm",
        KeyStep::Cancel => "cancel",
    };
    format!("anshin:{order}:{attempt_no}:{step}")
}

/// `anshin:<order>:refund:<n>`: the n-th refund of the order.
pub fn refund_key(order: OrderId, seq: i64) -> String {
    format!("anshin:{order}:refund:{seq}")
}

/// The attempt's own key, as stored (the create step's).
pub fn attempt_key(order: OrderId, attempt_no: i64) -> String {
    idempotency_key(order, attempt_no, KeyStep::Create)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c15_only_processor_references_parse_never_card_numbers() {
        for ok in ["card_zh3SnNJxNUZqfc", "pm_1Q2w3E", "src_abc"] {
            assert!(PaymentMethodRef::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "card_4242 4242",
            "tok_abc",
            "pm_",
            "card_a-b",
            "pm_' OR 1=1",
            "",
            "cus_abc",
        ] {
            assert!(PaymentMethodRef::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_are_derived_not_random() {
        let o = OrderId::from_uuid(uuid::Uuid::from_u128(7));
        assert_eq!(
            idempotency_key(o, 2, KeyStep::Confirm),
            format!("anshin:{o}:2:confirm")
        );
        assert_eq!(idempotency_key(o, 2, KeyStep::Create), attempt_key(o, 2));
        assert_ne!(attempt_key(o, 1), attempt_key(o, 2));
        assert_eq!(refund_key(o, 1), format!("anshin:{o}:refund:1"));
    }

    #[test]
    fn card_summaries_keep_only_a_brand_and_four_digits() {
        assert_eq!(
            CardSummary::new("Visa", "4242"),
            Some(CardSummary {
                brand: "visa".into(),
                last4: "4242".into()
            })
        );
        assert_eq!(CardSummary::new("Visa", "424242"), None);
        assert_eq!(CardSummary::new("<b>", "4242"), None);
        assert!(format!("{:?}", ClientSecret::new("pi_1_secret_x".into())).contains("redacted"));
    }

    proptest! {
        #[test]
        fn no_string_of_digits_is_a_payment_method(d in "[0-9 ]{12,19}") {
            prop_assert!(PaymentMethodRef::parse(&d).is_none());
        }
    }
}
