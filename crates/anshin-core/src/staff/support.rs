//! Support's view of a member's account and personal data (C22, C27;
//! issue 14, acceptance 5).
//!
//! The policy is checked here again (whatever door called), the member is
//! found by id or by e-mail (typed into a form: an e-mail never travels in
//! a URL), and then, **before** anything is read or decrypted, one audit
//! entry is committed: who (the staff member), which member (their
//! pseudonymous id), the policy's reason, from where. If that entry cannot
//! be written, the view is refused ([`StaffError::NotRecorded`]) and no
//! personal data is read.

use std::net::IpAddr;

use anshin_domain::{EmailAddress, MemberId, Timestamp};
use anshin_store::Changes;
use anshin_store::audit::{Actor, AuditAction, AuditTarget};

use super::{CurrentStaff, POLICY_ALLOW, StaffError, authorize, refused};
use crate::Services;
use crate::access::Action;
use crate::member_data::{PhoneNumber, StoredAddress};

/// What a support view shows. Holds personal data: `Debug` prints the
/// member id only.
pub struct MemberView {
    pub id: MemberId,
    pub email: EmailAddress,
    pub display_name: String,
    pub created_at: Timestamp,
    pub has_password: bool,
    pub phone: Option<PhoneNumber>,
    pub addresses: Vec<StoredAddress>,
}

impl std::fmt::Debug for MemberView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberView")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How the member was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Id,
    Email,
}

impl By {
    fn as_str(self) -> &'static str {
        match self {
            By::Id => "member_id",
            By::Email => "email",
        }
    }
}

/// Looks up the member `lookup` names (a member id, or an e-mail
/// address), records the view in the audit log, then reads and decrypts
/// their data. Nothing is read when the entry cannot be written.
pub async fn view_member(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    lookup: &str,
) -> Result<MemberView, StaffError> {
    if let Err(e) = authorize(svc, actor, Action::ViewMemberData, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    let lookup = lookup.trim();
    let accounts = svc.store.accounts();
    let (record, by) = if let Some(id) = MemberId::parse(lookup) {
        (accounts.find_member(id).await?, By::Id)
    } else if let Some(email) = EmailAddress::parse(lookup) {
        (accounts.find_member_by_email(&email).await?, By::Email)
    } else {
        return Err(StaffError::MemberNotFound);
    };
    let Some(record) = record else {
        // Whether an address is registered is the member's business too:
        // a miss is recorded (how it was looked up, never the text).
        let entry = crate::audit::entry(
            svc,
            Actor::Staff(actor.account.id.as_uuid()),
            AuditAction::MemberLookupMissed,
            None,
            Some(ip),
            POLICY_ALLOW,
            serde_json::json!({ "by": by.as_str() }),
        );
        if let Err(e) = svc.store.commit(&Changes::new().audited(entry)).await {
            tracing::error!(error = %e, "a member lookup could not be recorded; refused");
            return Err(StaffError::NotRecorded(e));
        }
        return Err(StaffError::MemberNotFound);
    };

    // The record of the view first (C22): refused if it cannot be kept.
    let entry = crate::audit::entry(
        svc,
        Actor::Staff(actor.account.id.as_uuid()),
        AuditAction::MemberDataViewed,
        Some(AuditTarget::member(record.id)),
        Some(ip),
        POLICY_ALLOW,
        serde_json::json!({
            "by": by.as_str(),
            "shown": ["email", "display_name", "addresses", "phone"],
        }),
    );
    if let Err(e) = svc.store.commit(&Changes::new().audited(entry)).await {
        tracing::error!(error = %e, member = %record.id, "a member data view could not be recorded; refused");
        return Err(StaffError::NotRecorded(e));
    }
    svc.metrics.member_data_views.inc();
    tracing::info!(staff = %actor.account.id, member = %record.id, "member data viewed");

    let phone = crate::member_data::phone(svc, record.id).await?;
    let addresses = crate::member_data::list_addresses(svc, record.id).await?;
    Ok(MemberView {
        id: record.id,
        email: record.email,
        display_name: record.display_name.as_str().to_owned(),
        created_at: record.created_at,
        has_password: record.password_hash.is_some(),
        phone,
        addresses,
    })
}

/// Support withdraws a member on their request (C18): the policy's
/// `withdraw_member` action (support, with a fresh second factor) is
/// checked here again, then the member is erased as if they had left
/// themselves ([`crate::withdrawal`]), with the staff member as the audit
/// entry's actor. Waits, as the member's own withdrawal does, for open
/// orders and an unpaid balance.
pub async fn withdraw_member(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    member: MemberId,
) -> Result<(), StaffError> {
    if let Err(e) = authorize(svc, actor, Action::WithdrawMember, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    crate::withdrawal::erase(
        svc,
        member,
        Actor::Staff(actor.account.id.as_uuid()),
        Some(ip),
        POLICY_ALLOW,
    )
    .await?;
    tracing::info!(staff = %actor.account.id, member = %member, "member withdrawn on request");
    Ok(())
}
