//! Login limits and lockout (C8), checked before any password hash is
//! computed or any code compared.
//!
//! - Per account (keyed by the normalised address, whether or not an
//!   account has it): consecutive failures of password and code logins
//!   together. The `limits.lock_threshold`th failure locks for 1 min, the
//!   next run for 5 min, then 15 min, then 1 h; a success resets. The
//!   count and the lock are one atomic database statement, so 50 parallel
//!   requests or several instances cannot get more than the threshold
//!   through before the lock.
//! - Per client address (/32 or /128), per network (IPv4 /24, IPv6 /64)
//!   and site-wide: failures in a window; beyond the limit the client gets
//!   429 with Retry-After. These are checked before the request does any
//!   work and counted after it fails, so parallel bursts may overshoot by
//!   their width; the account lock is the exact bound.
//!
//! What an attacker tries, and where it fails:
//! - learn whether an account exists or is locked: locked, unknown and
//!   wrong answers are the same 401 body; a locked answer waits in the
//!   same hashing lane and as long as a hash takes (without computing
//!   one), so timing says nothing either, even while strangers queue;
//! - hammer an account that is already locked (no hash, so cheap for
//!   them): each attempt still counts against the client's address,
//!   network and the site like a wrong password, so the ceilings stop it;
//! - lock a victim out for good: the owner gets a mail with a one-time
//!   unlock link that logs them in with a fresh code despite the lock, and
//!   that link is not subject to the address's code-request window (which
//!   anyone can fill by requesting codes for the victim's address);
//! - spread guesses over many accounts (credential stuffing): the address,
//!   network and global windows stop it, and no hash is computed for a
//!   throttled client;
//! - ignore Retry-After and flood refusals, cheap for each but not in
//!   bulk: a throttled answer is held `limits.throttled_delay_ms` (1 s)
//!   first, which costs the server a waiting task, not CPU, and caps each
//!   connection's rate;
//! - burn the CPU with logins: locked and throttled requests compute no
//!   hash, and hashing is capped per instance (`auth.max_concurrent_hashes`);
//!   under attack strangers hash one at a time, at a lower CPU priority
//!   than members' own logins and every other request;
//! - script logins from a bot farm: once an address has recent failures,
//!   an account has failed in a row, or the site-wide failures raise the
//!   attack level, a password login needs a solved bot challenge (C7),
//!   harder at each level;
//! - keep every member out by exhausting the site-wide ceiling: a browser
//!   whose device cookie has logged in to that account before is exempt
//!   from the address, network and site-wide ceilings (but not from the
//!   account lock), and code checks are held to address and network only.

use std::net::IpAddr;

use anshin_domain::{Duration, LoginMethod, LoginOutcome};
use anshin_store::{Changes, MemberRecord, Reservation, Write};
use sha2::{Digest, Sha256};

use super::events;
use super::types::{AuthError, Client};
use crate::Services;
use crate::mail::compose::Letter;

/// The key of an account's counter: the normalised address, or the raw
/// text if it does not parse (so garbage is limited too).
pub fn account_key(email: &str) -> String {
    let norm = anshin_domain::EmailAddress::parse(email)
        .map(|e| e.as_str().to_owned())
        .unwrap_or_else(|| {
            email
                .trim()
                .to_ascii_lowercase()
                .chars()
                .take(254)
                .collect()
        });
    format!("acct:{norm}")
}

/// The key of an account's settled failures in the window: what decides
/// whether a password login needs a bot challenge. Not the lock counter
/// ([`account_key`]), which counts every attempt before its comparison,
/// so parallel correct logins (a member on several devices, a benchmark)
/// would read as failures there.
pub fn account_failures_key(email: &str) -> String {
    format!("fail:{}", account_key(email))
}

/// Address and network keys of a client.
pub fn client_keys(ip: IpAddr) -> (String, String) {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            (format!("ip:{v4}"), format!("net:{a}.{b}.{c}.0/24"))
        }
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            (
                format!("ip:{v6}"),
                format!("net:{a:x}:{b:x}:{c:x}:{d:x}::/64"),
            )
        }
    }
}

/// What the client's counters showed when it passed [`check_client`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Failures from the client's address in the current window.
    pub address_failures: i64,
    /// The browser carries a device cookie this account has logged in
    /// with before: exempt from the address, network and site-wide
    /// ceilings and from the attack-level challenge, so that an attack on
    /// the site does not keep members out (OWASP "device cookies"). The
    /// account's own lock still applies.
    pub trusted_device: bool,
    /// The account's settled failures in the window, when they were read
    /// with the client's counters ([`check_login`]).
    pub account_failures: Option<i64>,
}

impl Standing {
    pub fn trusted_device() -> Self {
        Self {
            address_failures: 0,
            trusted_device: true,
            account_failures: None,
        }
    }
}

/// Which ceilings a request is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceilings {
    /// Password logins: address, network and the site-wide ceiling (every
    /// one of them may cost a hash).
    All,
    /// Code checks: address and network only. They cost no hash, a code
    /// allows 5 tries, and each code needed a bot challenge, so the
    /// site-wide ceiling would only keep members out during an attack.
    AddressAndNetwork,
}

/// 429 if the client's address, network or (for [`Ceilings::All`]) the
/// whole site has used up its failures for the window. Also refreshes the
/// attack level from the site-wide count.
pub async fn check_client(
    svc: &Services,
    client: &Client,
    ceilings: Ceilings,
) -> Result<Standing, AuthError> {
    check(svc, client, ceilings, None).await
}

/// [`check_client`] with every ceiling for a password login, reading the
/// account's settled failures (for [`login_needs_challenge`]) in the same
/// query.
pub async fn check_login(
    svc: &Services,
    client: &Client,
    email: &str,
) -> Result<Standing, AuthError> {
    check(svc, client, Ceilings::All, Some(email)).await
}

async fn check(
    svc: &Services,
    client: &Client,
    ceilings: Ceilings,
    account: Option<&str>,
) -> Result<Standing, AuthError> {
    let l = &svc.settings.limits;
    let now = svc.now();
    let (ip_key, net_key) = client_keys(client.ip);
    let account_key = account.map(account_failures_key);
    let mut keys = vec![ip_key.as_str(), net_key.as_str(), "global"];
    keys.extend(account_key.as_deref());
    let counts = svc
        .store
        .throttle()
        .failures_in_windows(&keys, now, l.window())
        .await?;
    let count = |i: usize| counts.get(i).copied().unwrap_or(0);
    let (address, network, global) = (count(0), count(1), count(2));
    svc.challenges
        .set_level(attack_level(global, l.attack_level_step));
    let global_max = match ceilings {
        Ceilings::All => l.max_failures_global,
        Ceilings::AddressAndNetwork => i64::MAX,
    };
    if address >= l.max_failures_per_ip
        || network >= l.max_failures_per_network
        || global >= global_max
    {
        svc.metrics.throttled.inc();
        tokio::time::sleep(std::time::Duration::from_millis(l.throttled_delay_ms)).await;
        return Err(AuthError::RateLimited {
            retry_after_secs: l.window_secs,
        });
    }
    Ok(Standing {
        address_failures: address,
        trusted_device: false,
        account_failures: account.map(|_| count(3)),
    })
}

/// The attack level for `failures` site-wide in the window: 0 below
/// `step`, then one more per doubling, at most [`MAX_ATTACK_LEVEL`].
pub fn attack_level(failures: i64, step: i64) -> u8 {
    if step < 1 || failures < step {
        return 0;
    }
    let ratio = failures / step; // >= 1
    let doublings = 63 - ratio.leading_zeros(); // floor(log2(ratio))
    u8::try_from(doublings + 1)
        .unwrap_or(MAX_ATTACK_LEVEL)
        .min(MAX_ATTACK_LEVEL)
}

/// Highest attack level (challenges at 64× the base difficulty, capped by
/// `challenge::MAX_DIFFICULTY`).
pub const MAX_ATTACK_LEVEL: u8 = 6;

/// Reads the site-wide failure count and sets this instance's attack
/// level; a job on every instance runs it, so that the level also falls
/// when an attack stops, and every instance converges on the same level
/// from the shared database.
pub async fn refresh_attack_level(svc: &Services) -> Result<u8, AuthError> {
    let l = &svc.settings.limits;
    let failures = svc
        .store
        .throttle()
        .failures_in_window("global", svc.now(), l.window())
        .await?;
    let level = attack_level(failures, l.attack_level_step);
    let before = svc.challenges.level();
    svc.challenges.set_level(level);
    if level != before {
        tracing::warn!(level, before, "attack level changed");
    }
    Ok(level)
}

/// Whether a password login must carry a solved bot challenge (C7): its
/// address has recent failures, its account has failed in a row (whether
/// or not it exists: the answer reveals nothing), or the site is under
/// attack.
pub async fn login_needs_challenge(
    svc: &Services,
    standing: Standing,
    email: &str,
) -> Result<bool, AuthError> {
    let after = svc.settings.limits.challenge_after_failures;
    if !standing.trusted_device
        && (svc.challenges.level() > 0 || standing.address_failures >= after)
    {
        return Ok(true);
    }
    let account = match standing.account_failures {
        Some(n) => n,
        None => {
            svc.store
                .throttle()
                .failures_in_window(
                    &account_failures_key(email),
                    svc.now(),
                    svc.settings.limits.window(),
                )
                .await?
        }
    };
    Ok(account >= after)
}

/// What reserving an account attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open { locked_now: bool },
    Locked,
}

/// Counts an attempt for the account before any hash or comparison.
pub async fn reserve(svc: &Services, email: &str) -> Result<Gate, AuthError> {
    match svc
        .store
        .throttle()
        .reserve_attempt(
            &account_key(email),
            svc.now(),
            &svc.settings.limits.policy(),
        )
        .await?
    {
        Reservation::Allowed { locked_now, .. } => Ok(Gate::Open { locked_now }),
        Reservation::Locked { .. } => {
            svc.metrics.locked_attempts.inc();
            Ok(Gate::Locked)
        }
    }
}

/// What a success clears: the account's count and lock, and its settled
/// failures. A login puts it in its own bundle ([`super::login`]), so it
/// costs no commit of its own.
pub fn cleared(email: &str) -> Write {
    Write::ClearAttempts {
        keys: vec![account_key(email), account_failures_key(email)],
    }
}

/// A proof of the password outside a login (changing it) clears the
/// account's count and lock, in one commit.
pub async fn succeeded(svc: &Services, email: &str) -> Result<(), AuthError> {
    svc.store
        .commit(&Changes::new().with(cleared(email)))
        .await?;
    Ok(())
}

/// A failed attempt: counts it for the client's address, network and the
/// site; if it started a lock, tells the owner (mail with an unlock link)
/// and records the lock in their history.
pub async fn failed(
    svc: &Services,
    client: &Client,
    account: Option<&str>,
    member: Option<&MemberRecord>,
    locked_now: bool,
) -> Result<(), AuthError> {
    let (ip_key, net_key) = client_keys(client.ip);
    // Always in this order (account, address, network, site), so two
    // transactions never wait on each other's rows in a cycle.
    let keys: Vec<String> = account
        .map(account_failures_key)
        .into_iter()
        .chain([ip_key, net_key, "global".to_owned()])
        .collect();
    svc.store
        .throttle()
        .note_failure(&keys, svc.now(), svc.settings.limits.window())
        .await?;
    if locked_now {
        svc.metrics.account_locks.inc();
        if let Some(m) = member {
            notify_lock(svc, m, client).await?;
        }
    }
    Ok(())
}

/// The unlock token, its mail and the lock's history entry, committed
/// together: the owner is told exactly when the lock is recorded.
async fn notify_lock(svc: &Services, m: &MemberRecord, client: &Client) -> Result<(), AuthError> {
    let now = svc.now();
    let token = anshin_vault::SessionToken::generate(&mut svc.random.rng());
    let ttl = svc.settings.limits.unlock_link_ttl_secs;
    let url_path = format!("/login/unlock?token={}", token.expose());
    let letter = Letter::AccountLocked {
        unlock_path: &url_path,
        hours: ttl / 3600,
    };
    let mail = crate::mail::letter(svc, m.language, &m.email, &letter)?;
    let changes = Changes::new()
        .with(Write::CreateUnlockToken {
            token_hash: unlock_token_hash(&token),
            email: m.email.clone(),
            at: now,
            expires_at: now + Duration::from_secs(ttl),
        })
        .with(Write::RecordLoginEvent(events::event(
            svc,
            m.id,
            client,
            LoginMethod::Lock,
            LoginOutcome::Locked,
        )))
        .mail(mail);
    svc.store.commit(&changes).await?;
    tracing::warn!(member = %m.id, "account locked after repeated failures; owner notified");
    Ok(())
}

/// Whether the client's device cookie is one `member` has logged in with.
pub async fn trusted_device(
    svc: &Services,
    member: Option<&MemberRecord>,
    client: &Client,
) -> Result<bool, AuthError> {
    let (Some(m), Some(token)) = (member, &client.device_token) else {
        return Ok(false);
    };
    Ok(svc
        .store
        .accounts()
        .device_known(m.id, &super::device::token_hash(token))
        .await?)
}

/// Hash of an unlock token as stored.
pub fn unlock_token_hash(token: &anshin_vault::SessionToken) -> [u8; 32] {
    Sha256::digest(token.hash().as_bytes()).into()
}

/// The `limits.attack_level` job: every ten seconds, each instance
/// rereads the site-wide failure count and sets its own attack level (C7),
/// so the level also falls after an attack and every instance follows
/// the shared database.
#[derive(Debug, Clone)]
pub struct AttackLevelJob(pub Services);

#[async_trait::async_trait]
impl crate::jobs::Job for AttackLevelJob {
    fn name(&self) -> &'static str {
        "limits.attack_level"
    }

    fn schedule(&self) -> crate::jobs::Schedule {
        crate::jobs::Schedule {
            every: std::time::Duration::from_secs(10),
            scope: crate::jobs::Scope::EachInstance,
        }
    }

    async fn run(&self, _stop: &tokio_util::sync::CancellationToken) -> anyhow::Result<u64> {
        refresh_attack_level(&self.0).await?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c08_networks_of_v4_and_v6() {
        assert_eq!(
            client_keys("192.0.2.77".parse().unwrap()),
            ("ip:192.0.2.77".into(), "net:192.0.2.0/24".into())
        );
        let (_, net) = client_keys("2001:db8:1:2:3:4:5:6".parse().unwrap());
        assert_eq!(net, "net:2001:db8:1:2::/64");
    }

    #[test]
    fn c07_attack_level_doubles_per_level_and_is_capped() {
        assert_eq!(attack_level(0, 100), 0);
        assert_eq!(attack_level(99, 100), 0);
        assert_eq!(attack_level(100, 100), 1);
        assert_eq!(attack_level(199, 100), 1);
        assert_eq!(attack_level(200, 100), 2);
        assert_eq!(attack_level(400, 100), 3);
        assert_eq!(attack_level(3_199, 100), 5);
        assert_eq!(attack_level(3_200, 100), 6);
        assert_eq!(attack_level(i64::MAX, 100), MAX_ATTACK_LEVEL);
        assert_eq!(attack_level(i64::MAX, 1), MAX_ATTACK_LEVEL);
        assert_eq!(attack_level(50, 0), 0);
    }

    #[test]
    fn account_keys_normalise() {
        assert_eq!(account_key(" Taro@Example.JP "), "acct:taro@example.jp");
        assert_eq!(account_key("not an address"), "acct:not an address");
    }
}
