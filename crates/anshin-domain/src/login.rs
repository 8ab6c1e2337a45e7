//! The closed sets of login states that the store keeps as text: why a
//! code was requested, how a member proved who they are, and how an
//! attempt ended. The store writes [`FlowPurpose::as_str`] (and friends)
//! and reads back with `parse`; a value outside the set is a corrupt row,
//! never a silent default.

use crate::UnknownValue;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $set:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored (and API) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Result<Self, UnknownValue> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownValue { set: $set }),
                }
            }
        }
    };
}

text_enum!(
    /// Why a code was requested.
    FlowPurpose, "flow purpose" {
        Signup => "signup",
        Login => "login",
        Reauth => "reauth",
        /// A code requested through the unlock link mailed to the owner of
        /// a locked account: it logs in despite the lock (C8).
        Unlock => "unlock",
        /// A code mailed to the new address of an e-mail change: entering
        /// it (in the session that asked) switches the account's address.
        EmailChange => "email_change",
    }
);

text_enum!(
    /// How a member proved who they are (or tried to).
    LoginMethod, "login method" {
        Signup => "signup",
        Code => "code",
        Password => "password",
        /// Through the unlock link of a locked account (C8).
        Unlock => "unlock",
        /// A code confirming a sensitive change.
        Reauth => "reauth",
        /// The code mailed to the new address of an e-mail change (not a
        /// login: the history records the change and failed codes).
        EmailChange => "email_change",
        /// Not a login: the account was locked (the history's lock event).
        Lock => "lock",
    }
);

text_enum!(
    /// How a login attempt ended, as the member's history shows it (C10).
    LoginOutcome, "login outcome" {
        Success => "success",
        Failure => "failure",
        /// The account was locked after repeated failures (C8).
        Locked => "locked",
        /// A bot challenge was presented and refused (C7).
        ChallengeFailed => "challenge_failed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_stored_text() {
        for p in FlowPurpose::ALL {
            assert_eq!(FlowPurpose::parse(p.as_str()), Ok(*p));
        }
        for m in LoginMethod::ALL {
            assert_eq!(LoginMethod::parse(m.as_str()), Ok(*m));
        }
        for o in LoginOutcome::ALL {
            assert_eq!(LoginOutcome::parse(o.as_str()), Ok(*o));
        }
        assert_eq!(
            FlowPurpose::parse("Signup").unwrap_err().to_string(),
            "unknown flow purpose"
        );
    }
}
