//! Ids as types: a function that wants a [`MemberId`] cannot be handed a
//! session's or an address's id by mistake. Every id is a UUIDv7 made by
//! the core's one id source (time-ordered, so indexes stay compact); the
//! store binds and reads the inner [`uuid::Uuid`].

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an id made by the id source or read from the database.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The id's 16 bytes (what keyed hashes and encryption
            /// contexts bind to).
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Parses the hyphenated form a client sends; `None` for
            /// anything else.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// A member (an account).
    MemberId
);
id_type!(
    /// A browser session, a visitor's or a member's.
    SessionId
);
id_type!(
    /// An e-mail code flow (sign-up, login, re-authentication, unlock).
    FlowId
);
id_type!(
    /// A mail in the outbox; also the local part of its `Message-ID`.
    MailId
);
id_type!(
    /// A member's shipping address.
    AddressId
);
id_type!(
    /// An entry in a member's login history.
    EventId
);
id_type!(
    /// A member's shop (one per member).
    ShopId
);
id_type!(
    /// An item a shop lists.
    ItemId
);
id_type!(
    /// One uploaded image of an item.
    ImageId
);
id_type!(
    /// A buyer's order (the checkout issue).
    OrderId
);
id_type!(
    /// One try at paying an order (a PaymentIntent at the processor).
    AttemptId
);
id_type!(
    /// A refund of (part of) an order.
    RefundId
);
id_type!(
    /// A balanced transaction of the double-entry ledger.
    LedgerTxId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_uuids_and_keep_their_value() {
        let u = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let m = MemberId::from_uuid(u);
        assert_eq!(MemberId::parse(&m.to_string()), Some(m));
        assert_eq!(m.as_uuid(), u);
        assert_eq!(MemberId::parse("not-an-id"), None);
        assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{u}\""));
    }
}
id_type!(
    /// A staff account (one per person, C21).
    StaffId
);
id_type!(
    /// A staff console session.
    StaffSessionId
);
id_type!(
    /// A security incident's record (C28).
    IncidentId
);
id_type!(
    /// A line of an incident's timeline.
    IncidentEntryId
);
id_type!(
    /// A passkey (WebAuthn credential) of a staff account.
    StaffPasskeyId
);
id_type!(
    /// A shipment (a waybill) of an order sent through the shipping
    /// centre (issue 15).
    ShipmentId
);
id_type!(
    /// A work terminal of the shipping centre's equipment registry (C24).
    TerminalId
);
id_type!(
    /// A shipping worker's shift on a terminal, from check-in to
    /// check-out (C24).
    ShiftId
);
id_type!(
    /// A request to void a waybill, approved or rejected by a manager
    /// (C25).
    VoidRequestId
);
id_type!(
    /// One time a security alert went on (C29).
    AlertId
);
id_type!(
    /// One run of the self-scan (C30): its kept report.
    SelfScanId
);
id_type!(
    /// A vulnerability report sent through `/security` (C5).
    VdpReportId
);
id_type!(
    /// A triage note of the security team on a vulnerability report (C5).
    VdpNoteId
);
id_type!(
    /// An event in a parcel's tracking timeline.
    ParcelEventId
);
id_type!(
    /// A creator's payout (one bank transfer of their balance, C16). The
    /// member's page makes it before the request is sent, so a retried
    /// request carries the same id and is the same payout.
    PayoutId
);
id_type!(
    /// A batch of payouts exported as one Zengin transfer file.
    PayoutBatchId
);
