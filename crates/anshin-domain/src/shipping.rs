//! The closed sets of anonymous shipping (C19): where a parcel is, what
//! happened to it, and what became of a drop-off code.

use crate::UnknownValue;

/// Where an anonymously shipped parcel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShipmentStatus {
    /// Paid; the seller has a drop-off code and takes the parcel to the
    /// shipping centre.
    AwaitingDropoff,
    /// The centre took the parcel (its code is used up).
    Accepted,
    /// On its way.
    InTransit,
    /// Handed to the buyer.
    Delivered,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 4] = [
        ShipmentStatus::AwaitingDropoff,
        ShipmentStatus::Accepted,
        ShipmentStatus::InTransit,
        ShipmentStatus::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::AwaitingDropoff => "awaiting_dropoff",
            ShipmentStatus::Accepted => "accepted",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::Delivered => "delivered",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue {
                set: "shipment status",
            })
    }
}

/// A line of a parcel's tracking timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParcelEventKind {
    Accepted,
    InTransit,
    Delivered,
}

impl ParcelEventKind {
    pub const ALL: [ParcelEventKind; 3] = [
        ParcelEventKind::Accepted,
        ParcelEventKind::InTransit,
        ParcelEventKind::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParcelEventKind::Accepted => "accepted",
            ParcelEventKind::InTransit => "in_transit",
            ParcelEventKind::Delivered => "delivered",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue {
                set: "parcel event",
            })
    }

    /// The shipment's status after this event, and the statuses it may
    /// follow (accepted only by a drop-off, in transit again at each hub,
    /// delivered once).
    pub fn moves(self) -> (&'static [ShipmentStatus], ShipmentStatus) {
        use ShipmentStatus as S;
        match self {
            ParcelEventKind::Accepted => (&[S::AwaitingDropoff], S::Accepted),
            ParcelEventKind::InTransit => (&[S::Accepted, S::InTransit], S::InTransit),
            ParcelEventKind::Delivered => (&[S::Accepted, S::InTransit], S::Delivered),
        }
    }
}

/// What became of one drop-off code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropoffCodeStatus {
    /// The seller's current code; the centre may accept it once.
    Live,
    /// Used at the centre: never again.
    Accepted,
    /// Voided (a new one was issued): dead.
    Voided,
}

impl DropoffCodeStatus {
    pub const ALL: [DropoffCodeStatus; 3] = [
        DropoffCodeStatus::Live,
        DropoffCodeStatus::Accepted,
        DropoffCodeStatus::Voided,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropoffCodeStatus::Live => "live",
            DropoffCodeStatus::Accepted => "accepted",
            DropoffCodeStatus::Voided => "voided",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue {
                set: "drop-off code status",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_words_round_trip() {
        for s in ShipmentStatus::ALL {
            assert_eq!(ShipmentStatus::parse(s.as_str()), Ok(s));
        }
        for k in ParcelEventKind::ALL {
            assert_eq!(ParcelEventKind::parse(k.as_str()), Ok(k));
        }
        for c in DropoffCodeStatus::ALL {
            assert_eq!(DropoffCodeStatus::parse(c.as_str()), Ok(c));
        }
        assert!(ShipmentStatus::parse("lost").is_err());
    }

    #[test]
    fn delivery_follows_acceptance_only() {
        let (from, to) = ParcelEventKind::Delivered.moves();
        assert_eq!(to, ShipmentStatus::Delivered);
        assert!(!from.contains(&ShipmentStatus::AwaitingDropoff));
        assert!(!from.contains(&ShipmentStatus::Delivered));
    }
}
