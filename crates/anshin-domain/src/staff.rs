//! Staff roles and account states (C21, C27). The policy that says what
//! each role may do lives in `anshin_core::access`.

/// What a staff member does; each role's permissions are in the one
/// access policy (`anshin_core::access::POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StaffRole {
    /// Manages staff accounts.
    Admin,
    /// Security team: audit log, incidents.
    Security,
    /// Member support.
    Support,
    /// Payouts and the ledger.
    Finance,
    /// Packs and labels parcels in the shipping centre.
    ShippingWorker,
    /// Runs the shipping centre; confirms voided waybills.
    ShippingManager,
}

impl StaffRole {
    pub const ALL: [StaffRole; 6] = [
        StaffRole::Admin,
        StaffRole::Security,
        StaffRole::Support,
        StaffRole::Finance,
        StaffRole::ShippingWorker,
        StaffRole::ShippingManager,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Security => "security",
            StaffRole::Support => "support",
            StaffRole::Finance => "finance",
            StaffRole::ShippingWorker => "shipping_worker",
            StaffRole::ShippingManager => "shipping_manager",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for StaffRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a staff account may log in. Accounts are disabled, never
/// deleted, when someone leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffStatus {
    Active,
    Disabled,
}

impl StaffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffStatus::Active => "active",
            StaffStatus::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(StaffStatus::Active),
            "disabled" => Some(StaffStatus::Disabled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c27_roles_round_trip_through_their_names() {
        for r in StaffRole::ALL {
            assert_eq!(StaffRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(StaffRole::parse("root"), None);
        assert_eq!(StaffStatus::parse("disabled"), Some(StaffStatus::Disabled));
    }
}
