//! Letters in Japanese and English, plain text and HTML, from the message
//! catalogs. A letter is rendered when its event happens, then sealed
//! (AES-256-GCM under the outbox key, bound to its outbox row) into the
//! outbox, so a one-time code never sits in the database in clear; the
//! payload is wiped once the mail is sent.
//!
//! The two bodies are written here, not by a template engine: a letter is
//! a greeting, paragraphs, an optional code, facts and links, and the
//! core must not depend on the web's templating. Every text that goes into
//! the HTML body passes [`escape`] (a device name is attacker-chosen).

use std::fmt::Write as _;
use std::sync::Arc;

use anshin_domain::{ContactTopic, LoginMethod, MailId, MemberId, Timestamp};
use serde::{Deserialize, Serialize};

use anshin_store::NewMail;
use anshin_vault::FieldContext;

use crate::i18n::{Catalog, Catalogs, Lang};
use crate::keys::Keys;
use crate::random::Random;

/// What letters need besides the letter: the catalogs and the site's
/// HTTPS origin for links.
#[derive(Debug, Clone)]
pub struct Letters {
    pub catalogs: Arc<Catalogs>,
    /// `https://shop.example.jp`, no trailing slash.
    pub origin: String,
}

/// What to tell the member.
#[derive(Debug)]
pub enum Letter<'a> {
    SignupCode {
        code: &'a str,
        minutes: u64,
    },
    SignupExisting,
    LoginCode {
        code: &'a str,
        minutes: u64,
    },
    NoAccount,
    ReauthCode {
        code: &'a str,
        minutes: u64,
    },
    Welcome,
    LoginNotice(LoginNotice),
    PasswordSet,
    PasswordRemoved,
    /// The account was locked after repeated failures (C8); the link lets
    /// the owner in with a fresh code.
    AccountLocked {
        unlock_path: &'a str,
        hours: u64,
    },
    /// The payout bank account was added or changed (C13).
    BankAccountChanged,
    /// The account was deleted (C18): by the member, or by support on
    /// their request. Sent to the address as it was, queued in the same
    /// transaction that erases it.
    Withdrawn {
        by_support: bool,
    },
    /// A step of the creator's payout (C16): asked, paid, failed.
    Payout(PayoutNotice),
    /// To the NEW address of an e-mail change: the code that finishes it.
    EmailChangeCode {
        code: &'a str,
        minutes: u64,
    },
    /// To the new address of an e-mail change when that address already
    /// has an account: someone tried; nothing changed (no code, so the
    /// change cannot complete, and the requester's page looks the same).
    EmailChangeTaken,
    /// To the OLD address once the change is made: when, the new address
    /// masked (`t***@example.com`), and what to do if it was not them.
    EmailChanged {
        new_masked: &'a str,
        when_utc: String,
        when_tokyo: String,
    },
    /// A message from the contact form, to the operator's support address
    /// (in the operator's language). The text and the reply address are
    /// the sender's own words: sealed in the outbox, never logged.
    ContactMessage {
        topic: ContactTopic,
        message: &'a str,
        reply_to: &'a str,
        member: Option<MemberId>,
        sender_lang: Lang,
    },
    /// A step of an order, to its buyer or its seller (issue 13).
    Order(OrderNotice),
    /// A signed checkpoint of the audit log, to the security team
    /// (`audit.security_email`): the note, quoted as signed, so that the
    /// mailbox is a witness of its own.
    AuditCheckpoint {
        note: &'a str,
        size: u64,
    },
    /// A notice to a member affected by a security incident (C28,
    /// `anshin incident notify --template …`).
    IncidentNotice(IncidentTemplate),
    /// A security alert went on or cleared, to the security team (C29):
    /// the rule, what it is about (a job's name, or nothing), numbers and
    /// the time; never personal data.
    Alert {
        /// The rule's name (`monitoring::RuleName::as_str`).
        rule: &'a str,
        subject: &'a str,
        value: i64,
        threshold: i64,
        window_secs: u64,
        resolved: bool,
        when_utc: String,
    },
    /// The weekly self-scan's report, to the security team (C30): crate
    /// names, versions, advisory ids and setting names; never personal
    /// data.
    SelfScan {
        findings: i64,
        when_utc: String,
        /// The report's text, quoted as it is.
        report: &'a str,
    },
    /// To a researcher: their vulnerability report came in (C5), with its
    /// tracking id. Catalog words and the id only: never the report's
    /// text, so the form cannot carry someone's words to a stranger.
    VdpReceived {
        tracking: &'a str,
    },
}

/// The texts `anshin incident notify` can send, each in Japanese and
/// English from the catalogs (`mail_incident_<name>_subject` / `_body`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentTemplate {
    /// "We ended your sessions; log in again and review your sessions."
    SessionsEnded,
    /// "Your password was removed; log in by e-mail code and set a new
    /// one."
    PasswordReset,
    /// "Some of your data may have been exposed: what we did, what you
    /// can do."
    DataExposure,
}

impl IncidentTemplate {
    pub const ALL: [IncidentTemplate; 3] = [
        IncidentTemplate::SessionsEnded,
        IncidentTemplate::PasswordReset,
        IncidentTemplate::DataExposure,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentTemplate::SessionsEnded => "sessions-ended",
            IncidentTemplate::PasswordReset => "password-reset",
            IncidentTemplate::DataExposure => "data-exposure",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    Paid,
    Shipped,
    Delivered,
    Completed,
    /// Never paid; the stock went back (to the buyer only: the seller
    /// never saw an unpaid order).
    Cancelled,
    /// Some or all of the money went back.
    Refunded,
}

/// A step of a payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutEvent {
    Requested,
    Paid,
    Failed,
}

/// The facts of a payout letter: the amounts and the masked account
/// number (`****567`), never the account in full or the holder's name.
#[derive(Debug, Clone)]
pub struct PayoutNotice {
    pub event: PayoutEvent,
    pub amount: anshin_domain::Yen,
    pub fee: anshin_domain::Yen,
    pub account: String,
}

/// Which side of an order a letter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buyer,
    Seller,
}

/// The facts of an order letter: never the other side's name or address
/// (C19), only the order's number, items and amounts, and the link to the
/// reader's own page of it.
#[derive(Debug, Clone)]
pub struct OrderNotice {
    pub event: OrderEvent,
    pub side: Side,
    /// The short order number people quote.
    pub number: String,
    /// `/orders/<id>` or `/sales/<id>`.
    pub path: String,
    pub total: anshin_domain::Yen,
    /// The refund's amount, for [`OrderEvent::Refunded`].
    pub amount: Option<anshin_domain::Yen>,
    /// `title × quantity`, in order.
    pub items: Vec<(String, u32)>,
}

impl OrderNotice {
    /// Every (event, side) a letter exists for.
    pub const KINDS: [(OrderEvent, Side, &'static str); 11] = [
        (OrderEvent::Paid, Side::Buyer, "order_paid_buyer"),
        (OrderEvent::Paid, Side::Seller, "order_paid_seller"),
        (OrderEvent::Shipped, Side::Buyer, "order_shipped_buyer"),
        (OrderEvent::Shipped, Side::Seller, "order_shipped_seller"),
        (OrderEvent::Delivered, Side::Buyer, "order_delivered_buyer"),
        (
            OrderEvent::Delivered,
            Side::Seller,
            "order_delivered_seller",
        ),
        (OrderEvent::Completed, Side::Buyer, "order_completed_buyer"),
        (
            OrderEvent::Completed,
            Side::Seller,
            "order_completed_seller",
        ),
        (OrderEvent::Cancelled, Side::Buyer, "order_cancelled_buyer"),
        (OrderEvent::Refunded, Side::Buyer, "order_refunded_buyer"),
        (OrderEvent::Refunded, Side::Seller, "order_refunded_seller"),
    ];

    /// The letter's kind; a cancellation for the seller (which is never
    /// sent) reads as the buyer's.
    pub fn kind(&self) -> &'static str {
        Self::KINDS
            .iter()
            .find(|(e, s, _)| *e == self.event && *s == self.side)
            .map_or("order_cancelled_buyer", |(_, _, k)| k)
    }
}

/// The facts of a login, for the login mail (C9).
#[derive(Debug, Clone)]
pub struct LoginNotice {
    pub when_utc: String,
    pub when_tokyo: String,
    pub ip: String,
    pub device: String,
    pub method: LoginMethod,
    pub seen_before: bool,
}

impl Letter<'_> {
    /// A stable name for the outbox and monitoring; never personal data.
    pub fn kind(&self) -> &'static str {
        match self {
            Letter::SignupCode { .. } => "signup_code",
            Letter::SignupExisting => "signup_existing",
            Letter::LoginCode { .. } => "login_code",
            Letter::NoAccount => "no_account",
            Letter::ReauthCode { .. } => "reauth_code",
            Letter::Welcome => "welcome",
            Letter::LoginNotice(_) => "login_notice",
            Letter::PasswordSet => "password_set",
            Letter::PasswordRemoved => "password_removed",
            Letter::AccountLocked { .. } => "account_locked",
            Letter::BankAccountChanged => "bank_account_changed",
            Letter::Withdrawn { .. } => "withdrawn",
            Letter::Payout(n) => match n.event {
                PayoutEvent::Requested => "payout_requested",
                PayoutEvent::Paid => "payout_paid",
                PayoutEvent::Failed => "payout_failed",
            },
            Letter::EmailChangeCode { .. } => "email_change_code",
            Letter::EmailChangeTaken => "email_change_taken",
            Letter::EmailChanged { .. } => "email_changed",
            Letter::ContactMessage { .. } => "contact_message",
            Letter::Order(n) => n.kind(),
            Letter::AuditCheckpoint { .. } => "audit_checkpoint",
            Letter::IncidentNotice(_) => "incident_notice",
            Letter::Alert {
                resolved: false, ..
            } => "alert_fired",
            Letter::Alert { resolved: true, .. } => "alert_resolved",
            Letter::SelfScan { .. } => "selfscan_report",
            Letter::VdpReceived { .. } => "vdp_received",
        }
    }
}

/// A rendered mail, as sealed into the outbox.
#[derive(Clone, Serialize, Deserialize)]
pub struct Rendered {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rendered([redacted])")
    }
}

/// Renders a letter for `to` in `lang`. `origin` is the site's HTTPS origin
/// for links.
pub fn render(t: &Catalog, lang: Lang, origin: &str, to: &str, letter: &Letter<'_>) -> Rendered {
    let validity = |m: u64| t.mail_code_validity.replace("{minutes}", &m.to_string());
    let link = |label: &str, path: &str| (label.to_owned(), format!("{origin}{path}"));
    let mut facts = Vec::new();
    let mut quote = None;
    let (subject, mut paragraphs, code, links) = match letter {
        Letter::SignupCode { code, minutes } => (
            &t.mail_signup_subject,
            vec![t.mail_signup_body.clone(), validity(*minutes)],
            Some(*code),
            vec![],
        ),
        Letter::SignupExisting => (
            &t.mail_signup_existing_subject,
            vec![t.mail_signup_existing_body.clone()],
            None,
            vec![link(&t.mail_link_login, "/login")],
        ),
        Letter::LoginCode { code, minutes } => (
            &t.mail_login_subject,
            vec![t.mail_login_body.clone(), validity(*minutes)],
            Some(*code),
            vec![],
        ),
        Letter::NoAccount => (
            &t.mail_no_account_subject,
            vec![t.mail_no_account_body.clone()],
            None,
            vec![link(&t.mail_link_signup, "/signup")],
        ),
        Letter::ReauthCode { code, minutes } => (
            &t.mail_reauth_subject,
            vec![t.mail_reauth_body.clone(), validity(*minutes)],
            Some(*code),
            vec![],
        ),
        Letter::Welcome => (
            &t.mail_welcome_subject,
            vec![t.mail_welcome_body.clone()],
            None,
            vec![link(&t.mail_login_review, "/account/sessions")],
        ),
        Letter::LoginNotice(n) => {
            facts = vec![
                (
                    t.mail_login_time.clone(),
                    format!("{} / {}", n.when_utc, n.when_tokyo),
                ),
                (t.mail_login_ip.clone(), n.ip.clone()),
                (t.mail_login_device.clone(), n.device.clone()),
                (
                    t.mail_login_method.clone(),
                    t.login_method(n.method).to_owned(),
                ),
            ];
            let seen = if n.seen_before {
                t.mail_login_seen_before.clone()
            } else {
                t.mail_login_new_device.clone()
            };
            (
                &t.mail_login_notice_subject,
                vec![t.mail_login_notice_body.clone(), seen],
                None,
                vec![
                    link(&t.mail_login_review, "/account/sessions"),
                    link(&t.mail_login_not_me, "/account/not-me"),
                ],
            )
        }
        Letter::PasswordSet => (
            &t.mail_password_set_subject,
            vec![t.mail_password_set_body.clone()],
            None,
            vec![link(&t.mail_login_not_me, "/account/not-me")],
        ),
        Letter::AccountLocked { unlock_path, hours } => (
            &t.mail_locked_subject,
            vec![
                t.mail_locked_body.clone(),
                t.mail_locked_link_validity
                    .replace("{hours}", &hours.to_string()),
            ],
            None,
            vec![link(&t.mail_locked_link, unlock_path)],
        ),
        Letter::PasswordRemoved => (
            &t.mail_password_removed_subject,
            vec![t.mail_password_removed_body.clone()],
            None,
            vec![link(&t.mail_login_not_me, "/account/not-me")],
        ),
        Letter::BankAccountChanged => (
            &t.mail_bank_account_changed_subject,
            vec![t.mail_bank_account_changed_body.clone()],
            None,
            vec![link(&t.mail_login_not_me, "/account/not-me")],
        ),
        Letter::Withdrawn { by_support } => (
            &t.mail_withdrawn_subject,
            vec![
                if *by_support {
                    t.mail_withdrawn_by_support.clone()
                } else {
                    t.mail_withdrawn_by_you.clone()
                },
                t.mail_withdrawn_body.clone(),
                t.mail_withdrawn_not_me.clone(),
            ],
            None,
            vec![link(&t.mail_withdrawn_contact, "/contact")],
        ),
        Letter::EmailChangeCode { code, minutes } => (
            &t.mail_email_change_subject,
            vec![t.mail_email_change_body.clone(), validity(*minutes)],
            Some(*code),
            vec![],
        ),
        Letter::EmailChangeTaken => (
            &t.mail_email_change_taken_subject,
            vec![t.mail_email_change_taken_body.clone()],
            None,
            vec![link(&t.mail_link_login, "/login")],
        ),
        Letter::EmailChanged {
            new_masked,
            when_utc,
            when_tokyo,
        } => {
            facts = vec![
                (
                    t.mail_login_time.clone(),
                    format!("{when_utc} / {when_tokyo}"),
                ),
                (t.mail_email_changed_new.clone(), (*new_masked).to_owned()),
            ];
            (
                &t.mail_email_changed_subject,
                vec![
                    t.mail_email_changed_body.clone(),
                    t.mail_email_changed_not_me.clone(),
                ],
                None,
                vec![],
            )
        }
        Letter::ContactMessage {
            topic,
            message,
            reply_to,
            member,
            sender_lang,
        } => {
            facts = vec![
                (
                    t.mail_contact_topic.clone(),
                    t.contact_topic(*topic).to_owned(),
                ),
                (t.mail_contact_reply_to.clone(), (*reply_to).to_owned()),
                (
                    t.mail_contact_member.clone(),
                    member.map_or_else(
                        || t.mail_contact_not_member.clone(),
                        |m| m.as_uuid().to_string(),
                    ),
                ),
                (
                    t.mail_contact_language.clone(),
                    t.language_name(*sender_lang).to_owned(),
                ),
            ];
            quote = Some(*message);
            (
                &t.mail_contact_subject,
                vec![t.mail_contact_body.clone()],
                None,
                vec![],
            )
        }
        Letter::Order(n) => {
            let c = &t.checkout;
            let kind = n.kind();
            facts.push((c.mail_order_number.clone(), n.number.clone()));
            for (title, q) in &n.items {
                facts.push((c.mail_order_item.clone(), format!("{title} × {q}")));
            }
            facts.push((c.mail_order_total.clone(), n.total.to_string()));
            if let Some(a) = n.amount {
                facts.push((c.mail_order_refund_amount.clone(), a.to_string()));
            }
            let label = match n.side {
                Side::Buyer => &c.mail_order_link_buyer,
                Side::Seller => &c.mail_order_link_seller,
            };
            (
                t.order_mail_text(kind, "subject"),
                vec![t.order_mail_text(kind, "body").clone()],
                None,
                vec![link(label, &n.path)],
            )
        }
        Letter::Payout(n) => {
            facts = vec![
                (t.mail_payout_amount.clone(), n.amount.to_string()),
                (t.mail_payout_fee.clone(), n.fee.to_string()),
                (
                    t.mail_payout_net.clone(),
                    anshin_domain::Yen::new(n.amount.amount() - n.fee.amount()).to_string(),
                ),
                (t.mail_payout_account.clone(), n.account.clone()),
            ];
            let (subject, body) = match n.event {
                PayoutEvent::Requested => (
                    &t.mail_payout_requested_subject,
                    &t.mail_payout_requested_body,
                ),
                PayoutEvent::Paid => (&t.mail_payout_paid_subject, &t.mail_payout_paid_body),
                PayoutEvent::Failed => (&t.mail_payout_failed_subject, &t.mail_payout_failed_body),
            };
            (
                subject,
                vec![body.clone()],
                None,
                vec![link(&t.mail_payout_link, "/account/payouts")],
            )
        }
        Letter::AuditCheckpoint { note, size } => {
            quote = Some(*note);
            (
                &t.mail_audit_checkpoint_subject,
                vec![
                    t.mail_audit_checkpoint_body
                        .replace("{size}", &size.to_string()),
                ],
                None,
                vec![],
            )
        }
        Letter::IncidentNotice(template) => {
            let (subject, body) = match template {
                IncidentTemplate::SessionsEnded => (
                    &t.mail_incident_sessions_ended_subject,
                    &t.mail_incident_sessions_ended_body,
                ),
                IncidentTemplate::PasswordReset => (
                    &t.mail_incident_password_reset_subject,
                    &t.mail_incident_password_reset_body,
                ),
                IncidentTemplate::DataExposure => (
                    &t.mail_incident_data_exposure_subject,
                    &t.mail_incident_data_exposure_body,
                ),
            };
            (
                subject,
                vec![body.clone()],
                None,
                vec![
                    link(&t.mail_link_login, "/login"),
                    link(&t.mail_login_review, "/account/sessions"),
                ],
            )
        }
        Letter::Alert {
            rule,
            subject,
            value,
            threshold,
            window_secs,
            resolved,
            when_utc,
        } => {
            facts = vec![
                (
                    t.mail_alert_rule.clone(),
                    format!("{} ({rule})", t.alert_rule(rule)),
                ),
                (t.mail_alert_value.clone(), value.to_string()),
                (t.mail_alert_threshold.clone(), threshold.to_string()),
                (t.mail_alert_when.clone(), when_utc.clone()),
            ];
            if !subject.is_empty() {
                facts.insert(1, (t.mail_alert_subject.clone(), (*subject).to_owned()));
            }
            if *window_secs > 0 {
                facts.push((t.mail_alert_window.clone(), window_secs.to_string()));
            }
            let (s, b) = if *resolved {
                (&t.mail_alert_resolved_subject, &t.mail_alert_resolved_body)
            } else {
                (&t.mail_alert_fired_subject, &t.mail_alert_fired_body)
            };
            let mut paragraphs = vec![b.clone()];
            if !*resolved && *rule == "staff_new_network" {
                paragraphs.push(t.mail_alert_staff_new_network.clone());
            }
            (s, paragraphs, None, vec![])
        }
        Letter::SelfScan {
            findings,
            when_utc,
            report,
        } => {
            facts = vec![
                (t.mail_selfscan_findings.clone(), findings.to_string()),
                (t.mail_alert_when.clone(), when_utc.clone()),
            ];
            let body = if *findings > 0 {
                &t.mail_selfscan_body_findings
            } else {
                &t.mail_selfscan_body_clean
            };
            (
                &t.mail_selfscan_subject,
                vec![body.clone()],
                Some(*report),
                vec![],
            )
        }
        Letter::VdpReceived { tracking } => {
            facts = vec![(t.vdp.mail_tracking.clone(), (*tracking).to_owned())];
            (
                &t.vdp.mail_subject,
                vec![t.vdp.mail_body.clone(), t.vdp.mail_next.clone()],
                None,
                vec![link(&t.vdp.mail_link, "/security")],
            )
        }
    };
    let subject = match letter {
        Letter::ContactMessage { topic, .. } => {
            format!("{subject}: {}", t.contact_topic(*topic))
        }
        Letter::Alert {
            rule, subject: "", ..
        } => format!("{subject}: {rule}"),
        Letter::Alert {
            rule, subject: s, ..
        } => {
            format!("{subject}: {rule} ({s})")
        }
        Letter::SelfScan { findings, .. } => format!("{subject}: {findings}"),
        Letter::VdpReceived { tracking } => format!("{subject} ({tracking})"),
        _ => subject.clone(),
    };
    paragraphs.retain(|p| !p.is_empty());
    let body = Body {
        greeting: &t.mail_greeting,
        paragraphs: &paragraphs,
        code_intro: &t.mail_code_intro,
        code,
        facts: &facts,
        quote,
        links: &links,
        footer: &t.mail_footer,
    };
    Rendered {
        to: to.to_owned(),
        text: body.text(),
        html: body.html(lang, &subject),
        subject,
    }
}

/// The parts of a letter, in the order both bodies show them.
struct Body<'a> {
    greeting: &'a str,
    paragraphs: &'a [String],
    code_intro: &'a str,
    code: Option<&'a str>,
    facts: &'a [(String, String)],
    /// Someone's own words, quoted as written (line breaks kept).
    quote: Option<&'a str>,
    links: &'a [(String, String)],
    footer: &'a str,
}

impl Body<'_> {
    fn text(&self) -> String {
        let mut out = format!("{}\n\n", self.greeting);
        for p in self.paragraphs {
            let _ = write!(out, "{p}\n\n");
        }
        if let Some(code) = self.code {
            let _ = write!(out, "{} {code}\n\n", self.code_intro);
        }
        for (label, value) in self.facts {
            let _ = writeln!(out, "{label}: {value}");
        }
        if !self.facts.is_empty() {
            out.push('\n');
        }
        if let Some(q) = self.quote {
            let _ = write!(out, "----\n{q}\n----\n\n");
        }
        for (label, url) in self.links {
            let _ = write!(out, "{label}:\n{url}\n\n");
        }
        let _ = write!(out, "-- \n{}\n", self.footer);
        out
    }

    fn html(&self, lang: Lang, subject: &str) -> String {
        let e = escape;
        let mut out = format!(
            "<!doctype html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family: sans-serif; line-height: 1.6; color: #1d2420;\">\n<p>{}</p>\n",
            lang.code(),
            e(subject),
            e(self.greeting)
        );
        for p in self.paragraphs {
            let _ = writeln!(out, "<p>{}</p>", e(p));
        }
        if let Some(code) = self.code {
            let _ = write!(
                out,
                "<p>{}</p>\n<p style=\"font-size: 1.6em; font-weight: bold; letter-spacing: .2em;\">{}</p>\n",
                e(self.code_intro),
                e(code)
            );
        }
        if !self.facts.is_empty() {
            out.push_str("<table>\n");
            for (label, value) in self.facts {
                let _ = writeln!(
                    out,
                    "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                    e(label),
                    e(value)
                );
            }
            out.push_str("</table>\n");
        }
        if let Some(q) = self.quote {
            let _ = writeln!(
                out,
                "<blockquote style=\"white-space: pre-wrap; border-left: 4px solid #dcd8cf; margin: 1em 0; padding: .5em 1em;\">{}</blockquote>",
                e(q)
            );
        }
        for (label, url) in self.links {
            let _ = writeln!(out, "<p><a href=\"{}\">{}</a></p>", e(url), e(label));
        }
        let _ = write!(
            out,
            "<hr>\n<p style=\"color: #56615b; font-size: .9em;\">{}</p>\n</body>\n</html>\n",
            e(self.footer)
        );
        out
    }
}

/// HTML-escapes text for an element or a double-quoted attribute
/// (OWASP XSS Prevention Cheat Sheet, rule 1 and 2: `& < > " '`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("mail payload encoding failed")]
    Encode,
    #[error("mail payload encryption failed: {0}")]
    Crypto(#[from] anshin_vault::VaultError),
}

fn context(id: &MailId) -> FieldContext<'_> {
    FieldContext::new("mail_outbox", "payload", id.as_bytes())
}

/// Encrypts a rendered mail into an outbox row.
pub fn seal(
    keys: &Keys,
    random: &Random,
    id: MailId,
    kind: &'static str,
    now: Timestamp,
    mail: &Rendered,
) -> Result<NewMail, SealError> {
    let json = zeroize::Zeroizing::new(serde_json::to_vec(mail).map_err(|_| SealError::Encode)?);
    let payload =
        anshin_vault::fields::encrypt(keys.outbox_key(), &context(&id), &json, &mut random.rng())?;
    Ok(NewMail {
        id,
        kind,
        created_at: now,
        payload,
    })
}

/// Decrypts an outbox payload.
pub fn open(keys: &Keys, id: MailId, payload: &[u8]) -> Result<Rendered, SealError> {
    let json = anshin_vault::fields::decrypt(keys.outbox_key(), &context(&id), payload)?;
    serde_json::from_slice(&json).map_err(|_| SealError::Encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_every_html_special_character() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("山田 太郎"), "山田 太郎");
    }

    #[test]
    fn letters_render_in_both_languages_and_escape_html() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let r = render(
                c.get(lang),
                lang,
                "https://shop.example",
                "a@example.jp",
                &Letter::LoginNotice(LoginNotice {
                    when_utc: "2026-01-01 00:00 UTC".into(),
                    when_tokyo: "2026-01-01 09:00 JST".into(),
                    ip: "192.0.2.1".into(),
                    device: "<script>alert(1)</script>".into(),
                    method: LoginMethod::Code,
                    seen_before: false,
                }),
            );
            assert!(r.text.contains("192.0.2.1") && r.text.contains("09:00 JST"));
            assert!(r.html.contains("https://shop.example/account/sessions"));
            assert!(r.html.contains("https://shop.example/account/not-me"));
            assert!(!r.html.contains("<script>"), "HTML is escaped");
            assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        }
        let r = render(
            c.get(Lang::Ja),
            Lang::Ja,
            "https://x",
            "a@b.jp",
            &Letter::LoginCode {
                code: "123456",
                minutes: 10,
            },
        );
        assert!(r.text.contains("123456") && r.html.contains("123456"));
        assert!(r.text.contains("10 分"));
    }

    #[test]
    fn c29_an_alert_letter_names_the_rule_its_subject_and_numbers() {
        let c = Catalogs::load().unwrap();
        for (lang, resolved) in [(Lang::Ja, false), (Lang::En, true)] {
            let r = render(
                c.get(lang),
                lang,
                "https://shop.example",
                "team@example.jp",
                &Letter::Alert {
                    rule: "job_failing",
                    subject: "audit_checkpoint",
                    value: 3,
                    threshold: 1,
                    window_secs: 900,
                    resolved,
                    when_utc: "2026-01-01 00:00 UTC".into(),
                },
            );
            assert!(
                r.subject.ends_with(": job_failing (audit_checkpoint)"),
                "{}",
                r.subject
            );
            for body in [&r.text, &r.html] {
                assert!(
                    body.contains("audit_checkpoint") && body.contains("900"),
                    "{body}"
                );
                assert!(
                    body.contains(c.get(lang).alert_rule("job_failing")),
                    "{body}"
                );
            }
        }
    }

    #[test]
    fn c29_a_staff_new_network_alert_says_what_to_do_in_both_languages() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let t = c.get(lang);
            let letter = |resolved| Letter::Alert {
                rule: "staff_new_network",
                subject: "019b76da-abe8-7002-8d44-5cd2f4efdaf8",
                value: 1,
                threshold: 1,
                window_secs: 3_600,
                resolved,
                when_utc: "2026-01-01 00:00 UTC".into(),
            };
            let on = render(
                t,
                lang,
                "https://shop.example",
                "team@example.jp",
                &letter(false),
            );
            assert!(
                on.text.contains(&t.mail_alert_staff_new_network),
                "{}",
                on.text
            );
            assert!(on.text.contains(t.alert_rule("staff_new_network")));
            assert!(on.text.contains("019b76da-abe8-7002-8d44-5cd2f4efdaf8"));
            let off = render(
                t,
                lang,
                "https://shop.example",
                "team@example.jp",
                &letter(true),
            );
            assert!(!off.text.contains(&t.mail_alert_staff_new_network));
        }
    }

    #[test]
    fn the_old_address_learns_only_the_masked_new_one() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let r = render(
                c.get(lang),
                lang,
                "https://shop.example",
                "old@example.jp",
                &Letter::EmailChanged {
                    new_masked: "n***@example.com",
                    when_utc: "2026-01-01 00:00:00 UTC".into(),
                    when_tokyo: "2026-01-01 09:00:00 JST".into(),
                },
            );
            for body in [&r.text, &r.html] {
                assert!(body.contains("n***@example.com"), "{body}");
                assert!(body.contains("09:00:00 JST"));
                assert!(
                    !body.contains("/account/not-me"),
                    "that link needs the old address"
                );
            }
        }
    }

    #[test]
    fn sealed_payload_hides_the_code_and_is_bound_to_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let random = Random::os();
        let keys = Keys::load_or_create(&dir.path().join("ring"), &random).unwrap();
        let c = Catalogs::load().unwrap();
        let r = render(
            c.get(Lang::En),
            Lang::En,
            "https://x",
            "a@b.jp",
            &Letter::LoginCode {
                code: "987654",
                minutes: 10,
            },
        );
        let id: MailId = random.id(Timestamp::EPOCH);
        let sealed = seal(&keys, &random, id, "login_code", Timestamp::EPOCH, &r).unwrap();
        assert!(!sealed.payload.windows(6).any(|w| w == b"987654"));
        assert_eq!(open(&keys, id, &sealed.payload).unwrap().text, r.text);
        assert!(
            open(&keys, random.id(Timestamp::EPOCH), &sealed.payload).is_err(),
            "payload moved to another row"
        );
    }
}
