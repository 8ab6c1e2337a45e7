//! Where a mail in the outbox stands.

use crate::UnknownValue;

/// The outbox row's status: `Pending` until the transport accepts it
/// (then `Sent`) or it fails for good (`Failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailStatus {
    Pending,
    Sent,
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        match text {
            "pending" => Ok(MailStatus::Pending),
            "sent" => Ok(MailStatus::Sent),
            "failed" => Ok(MailStatus::Failed),
            _ => Err(UnknownValue { set: "mail status" }),
        }
    }
}
