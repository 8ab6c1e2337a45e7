//! A processor in memory, for tests and benchmarks that measure anshin and
//! not the network: it holds no money and talks to nobody. It keeps
//! Stripe's rules that matter to anshin: an idempotency key replays its
//! first answer (and refuses other parameters), a declined card leaves the
//! intent needing another card, 3-D Secure waits for
//! [`FakeProcessor::authenticate`], a succeeded intent cannot be cancelled,
//! refunds never pass the amount.
//!
//! Cards are chosen by the reference's name: `card_declined…` is declined,
//! `card_3ds…` needs authentication, any other reference pays.

use std::collections::HashMap;
use std::sync::Mutex;

use anshin_domain::{OrderId, Yen};

use super::{
    CardSummary, ClientSecret, Intent, IntentRequest, IntentStatus, PaymentProcessor,
    ProcessorError, ProcessorRefund,
};

#[derive(Debug, Clone)]
struct FakeIntent {
    id: String,
    status: IntentStatus,
    amount: Yen,
    order: OrderId,
    payment_method: String,
    decline: Option<String>,
    refunded: Yen,
    /// Each refund's amount, in order.
    refunds: Vec<Yen>,
    /// How many times money was taken (must never exceed 1).
    charges: u32,
}

#[derive(Debug, Default)]
struct State {
    intents: Vec<FakeIntent>,
    /// key → (request fingerprint, answer)
    replies: HashMap<String, (String, Result<Reply, ProcessorError>)>,
    refunds: u32,
    calls: u64,
    /// Calls answered `Unavailable` from now on (a processor outage).
    down: bool,
}

#[derive(Debug, Clone)]
enum Reply {
    Intent(String),
    Refund(ProcessorRefund),
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct FakeProcessor(Mutex<State>);

impl FakeProcessor {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.0.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// Finishes 3-D Secure as the buyer's browser would.
    pub fn authenticate(&self, intent_id: &str, success: bool) {
        let mut s = self.state();
        if let Some(i) = s.intents.iter_mut().find(|i| i.id == intent_id)
            && i.status == IntentStatus::RequiresAction
        {
            if success {
                i.status = IntentStatus::Succeeded;
                i.charges += 1;
            } else {
                i.status = IntentStatus::RequiresPaymentMethod;
                i.decline = Some("payment_intent_authentication_failure".into());
            }
        }
    }

    /// Confirms again, with another card, an intent that needs a payment
    /// method (its card was declined, or 3-D Secure failed), as the
    /// buyer's browser can with the intent's client secret, whatever
    /// anshin thinks of that intent. The card reference decides as in
    /// `confirm_intent`; returns the intent's new status.
    pub fn confirm_again(&self, intent_id: &str, payment_method: &str) -> Option<IntentStatus> {
        let mut s = self.state();
        let i = s.intents.iter_mut().find(|i| i.id == intent_id)?;
        if i.status != IntentStatus::RequiresPaymentMethod {
            return Some(i.status);
        }
        payment_method.clone_into(&mut i.payment_method);
        if payment_method.starts_with("card_declined") {
            i.decline = Some("card_declined".into());
        } else if payment_method.starts_with("card_3ds") {
            i.decline = None;
            i.status = IntentStatus::RequiresAction;
        } else {
            i.decline = None;
            i.status = IntentStatus::Succeeded;
            i.charges += 1;
        }
        Some(i.status)
    }

    /// The refunds of one intent: each one's amount, in order.
    pub fn refunds_of(&self, intent_id: &str) -> Vec<Yen> {
        self.state()
            .intents
            .iter()
            .find(|i| i.id == intent_id)
            .map(|i| i.refunds.clone())
            .unwrap_or_default()
    }

    /// Every intent the fake knows, as the processor would report it.
    pub fn intents(&self) -> Vec<Intent> {
        let s = self.state();
        s.intents.iter().map(export).collect()
    }

    /// How many times money was taken for `order`, over all its intents.
    pub fn charges_for(&self, order: OrderId) -> u32 {
        self.state()
            .intents
            .iter()
            .filter(|i| i.order == order)
            .map(|i| i.charges)
            .sum()
    }

    /// What was refunded for `order`.
    pub fn refunded_for(&self, order: OrderId) -> Yen {
        Yen::new(
            self.state()
                .intents
                .iter()
                .filter(|i| i.order == order)
                .map(|i| i.refunded.amount())
                .sum(),
        )
    }

    /// Calls made so far (replays included).
    pub fn calls(&self) -> u64 {
        self.state().calls
    }

    /// Makes every call fail as unreachable (or work again).
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    fn keyed(
        &self,
        key: &str,
        fingerprint: String,
        act: impl FnOnce(&mut State) -> Result<Reply, ProcessorError>,
    ) -> Result<Reply, ProcessorError> {
        let mut s = self.state();
        s.calls += 1;
        if s.down {
            return Err(ProcessorError::Unavailable(
                "the fake processor is down".into(),
            ));
        }
        if let Some((f, answer)) = s.replies.get(key) {
            if *f != fingerprint {
                return Err(ProcessorError::Refused {
                    status: 400,
                    message: "idempotency key reused with other parameters".into(),
                });
            }
            return answer.clone();
        }
        let answer = act(&mut s);
        s.replies
            .insert(key.to_owned(), (fingerprint, answer.clone()));
        answer
    }

    fn intent_reply(&self, r: Result<Reply, ProcessorError>) -> Result<Intent, ProcessorError> {
        match r? {
            Reply::Intent(id) => {
                let s = self.state();
                s.intents
                    .iter()
                    .find(|i| i.id == id)
                    .map(export)
                    .ok_or_else(|| ProcessorError::Malformed("lost intent".into()))
            }
            Reply::Refund(_) => Err(ProcessorError::Malformed("not an intent".into())),
        }
    }
}

fn export(i: &FakeIntent) -> Intent {
    Intent {
        id: i.id.clone(),
        status: i.status,
        amount: i.amount,
        currency: "jpy".into(),
        order: Some(i.order),
        card: CardSummary::new("visa", "4242"),
        decline_code: i.decline.clone(),
        client_secret: (i.status == IntentStatus::RequiresAction)
            .then(|| ClientSecret::new(format!("{}_secret_fake", i.id))),
    }
}

fn find<'a>(s: &'a mut State, id: &str) -> Result<&'a mut FakeIntent, ProcessorError> {
    s.intents
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or(ProcessorError::Refused {
            status: 404,
            message: "no such payment_intent".into(),
        })
}

#[async_trait::async_trait]
impl PaymentProcessor for FakeProcessor {
    async fn create_intent(
        &self,
        req: &IntentRequest<'_>,
        key: &str,
    ) -> Result<Intent, ProcessorError> {
        let fp = format!(
            "create {} {} {}",
            req.amount.amount(),
            req.payment_method.as_str(),
            req.order
        );
        let r = self.keyed(key, fp, |s| {
            let id = format!("pi_fake{}", s.intents.len() + 1);
            s.intents.push(FakeIntent {
                id: id.clone(),
                status: IntentStatus::RequiresConfirmation,
                amount: req.amount,
                order: req.order,
                payment_method: req.payment_method.as_str().to_owned(),
                decline: None,
                refunded: Yen::ZERO,
                refunds: Vec::new(),
                charges: 0,
            });
            Ok(Reply::Intent(id))
        });
        self.intent_reply(r)
    }

    async fn confirm_intent(&self, id: &str, key: &str) -> Result<Intent, ProcessorError> {
        let r = self.keyed(key, format!("confirm {id}"), |s| {
            let i = find(s, id)?;
            if i.status != IntentStatus::RequiresConfirmation {
                return Err(ProcessorError::Refused {
                    status: 400,
                    message: "intent cannot be confirmed in its state".into(),
                });
            }
            if i.payment_method.starts_with("card_declined") {
                i.status = IntentStatus::RequiresPaymentMethod;
                i.decline = Some("card_declined".into());
                return Err(ProcessorError::Declined {
                    code: "card_declined".into(),
                });
            }
            if i.payment_method.starts_with("card_3ds") {
                i.status = IntentStatus::RequiresAction;
            } else {
                i.status = IntentStatus::Succeeded;
                i.charges += 1;
            }
            Ok(Reply::Intent(i.id.clone()))
        });
        self.intent_reply(r)
    }

    async fn intent(&self, id: &str) -> Result<Intent, ProcessorError> {
        let mut s = self.state();
        s.calls += 1;
        if s.down {
            return Err(ProcessorError::Unavailable(
                "the fake processor is down".into(),
            ));
        }
        find(&mut s, id).map(|i| export(i))
    }

    async fn cancel_intent(&self, id: &str, key: &str) -> Result<Intent, ProcessorError> {
        let r = self.keyed(key, format!("cancel {id}"), |s| {
            let i = find(s, id)?;
            match i.status {
                IntentStatus::Succeeded | IntentStatus::Canceled | IntentStatus::Processing => {
                    Err(ProcessorError::Refused {
                        status: 400,
                        message: "intent cannot be canceled in its state".into(),
                    })
                }
                _ => {
                    i.status = IntentStatus::Canceled;
                    Ok(Reply::Intent(i.id.clone()))
                }
            }
        });
        self.intent_reply(r)
    }

    async fn refund(
        &self,
        id: &str,
        amount: Yen,
        key: &str,
    ) -> Result<ProcessorRefund, ProcessorError> {
        let r = self.keyed(key, format!("refund {id} {}", amount.amount()), |s| {
            s.refunds += 1;
            let n = s.refunds;
            let i = find(s, id)?;
            let left = i.amount.amount() - i.refunded.amount();
            if i.status != IntentStatus::Succeeded || amount.amount() <= 0 || amount.amount() > left
            {
                return Err(ProcessorError::Refused {
                    status: 400,
                    message: "refund amount exceeds what is left".into(),
                });
            }
            i.refunded = Yen::new(i.refunded.amount() + amount.amount());
            i.refunds.push(amount);
            Ok(Reply::Refund(ProcessorRefund {
                id: format!("re_fake{n}"),
                succeeded: true,
                failed: false,
            }))
        });
        match r? {
            Reply::Refund(r) => Ok(r),
            Reply::Intent(_) => Err(ProcessorError::Malformed("not a refund".into())),
        }
    }
}
