//! What a message to support is about: the contact form's closed list.
//! The form sends [`ContactTopic::as_str`]; the catalogs name each one
//! (`[contact_topics]`); the support mail's subject carries it.

use crate::UnknownValue;

/// What a message to support is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactTopic {
    Account,
    Purchase,
    Shipping,
    Selling,
    Privacy,
    Other,
}

impl ContactTopic {
    /// Every topic, in the form's order.
    pub const ALL: &'static [ContactTopic] = &[
        ContactTopic::Account,
        ContactTopic::Purchase,
        ContactTopic::Shipping,
        ContactTopic::Selling,
        ContactTopic::Privacy,
        ContactTopic::Other,
    ];

    /// The form value and the catalog key.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactTopic::Account => "account",
            ContactTopic::Purchase => "purchase",
            ContactTopic::Shipping => "shipping",
            ContactTopic::Selling => "selling",
            ContactTopic::Privacy => "privacy",
            ContactTopic::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        ContactTopic::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == text)
            .ok_or(UnknownValue {
                set: "contact topic",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_parses_back_and_nothing_else_does() {
        for t in ContactTopic::ALL {
            assert_eq!(ContactTopic::parse(t.as_str()), Ok(*t));
        }
        assert!(ContactTopic::parse("Account").is_err());
        assert!(ContactTopic::parse("").is_err());
    }
}
