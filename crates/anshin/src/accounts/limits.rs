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

use anshin_store::{LockPolicy, MemberRecord, NewLoginEvent, Reservation};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::accounts::{AuthError, Client};
use crate::clock::secs;
use crate::web::AppState;

/// The key of an account's counter: the normalised address, or the raw
/// text if it does not parse (so garbage is limited too).
pub fn account_key(email: &str) -> String {
    let norm = crate::accounts::email::EmailAddress::parse(email)
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

/// Address and network keys of a client.
pub fn client_keys(ip: IpAddr) -> (String, String) {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (
                format!("ip:{v4}"),
                format!("net:{}.{}.{}.0/24", o[0], o[1], o[2]),
            )
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (
                format!("ip:{v6}"),
                format!("net:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]),
            )
        }
    }
}

fn policy(state: &AppState) -> LockPolicy {
    let d = state.settings.limits.lock_delays_secs;
    LockPolicy {
        threshold: state.settings.limits.lock_threshold,
        delays: [secs(d[0]), secs(d[1]), secs(d[2]), secs(d[3])],
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
}

impl Standing {
    pub fn trusted_device() -> Self {
        Self {
            address_failures: 0,
            trusted_device: true,
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
    state: &AppState,
    client: &Client,
    ceilings: Ceilings,
) -> Result<Standing, AuthError> {
    let l = &state.settings.limits;
    let now = state.clock.now();
    let window = secs(l.window_secs);
    let Ok(ip) = client.ip.parse::<IpAddr>() else {
        return Ok(Standing::default());
    };
    let (ip_key, net_key) = client_keys(ip);
    let t = state.store.throttle();
    let mut standing = Standing::default();
    let global_max = match ceilings {
        Ceilings::All => l.max_failures_global,
        Ceilings::AddressAndNetwork => i64::MAX,
    };
    for (key, max) in [
        (ip_key.as_str(), l.max_failures_per_ip),
        (net_key.as_str(), l.max_failures_per_network),
        ("global", global_max),
    ] {
        let failures = t.failures_in_window(key, now, window).await?;
        if key == "global" {
            state
                .challenges
                .set_level(attack_level(failures, l.attack_level_step));
        } else if key == ip_key {
            standing.address_failures = failures;
        }
        if failures >= max {
            state.metrics.throttled.inc();
            tokio::time::sleep(std::time::Duration::from_millis(l.throttled_delay_ms)).await;
            return Err(AuthError::RateLimited {
                retry_after_secs: l.window_secs,
            });
        }
    }
    Ok(standing)
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

/// Reads the site-wide failure count and sets the attack level; run
/// periodically so that the level also falls when an attack stops, and so
/// every instance converges on the same level from the shared database.
pub async fn refresh_attack_level(state: &AppState) -> Result<u8, AuthError> {
    let l = &state.settings.limits;
    let failures = state
        .store
        .throttle()
        .failures_in_window("global", state.clock.now(), secs(l.window_secs))
        .await?;
    let level = attack_level(failures, l.attack_level_step);
    let before = state.challenges.level();
    state.challenges.set_level(level);
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
    state: &AppState,
    standing: Standing,
    email: &str,
) -> Result<bool, AuthError> {
    let after = state.settings.limits.challenge_after_failures;
    if !standing.trusted_device
        && (state.challenges.level() > 0 || standing.address_failures >= after)
    {
        return Ok(true);
    }
    let account = state
        .store
        .throttle()
        .consecutive_failures(&account_key(email))
        .await?;
    Ok(account >= after)
}

/// What reserving an account attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open { locked_now: bool },
    Locked,
}

/// Counts an attempt for the account before any hash or comparison.
pub async fn reserve(state: &AppState, email: &str) -> Result<Gate, AuthError> {
    let now = state.clock.now();
    match state
        .store
        .throttle()
        .reserve_attempt(&account_key(email), now, &policy(state))
        .await?
    {
        Reservation::Allowed { locked_now, .. } => Ok(Gate::Open { locked_now }),
        Reservation::Locked { .. } => {
            state.metrics.locked_attempts.inc();
            Ok(Gate::Locked)
        }
    }
}

/// A successful login clears the account's count and lock.
pub async fn succeeded(state: &AppState, email: &str) -> Result<(), AuthError> {
    state.store.throttle().reset(&account_key(email)).await?;
    Ok(())
}

/// A failed attempt: counts it for the client's address, network and the
/// site; if it started a lock, tells the owner (mail with an unlock link)
/// and records the lock in their history.
pub async fn failed(
    state: &AppState,
    client: &Client,
    member: Option<&MemberRecord>,
    locked_now: bool,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    if let Ok(ip) = client.ip.parse::<IpAddr>() {
        let (ip_key, net_key) = client_keys(ip);
        state
            .store
            .throttle()
            .note_failure(
                &[ip_key, net_key, "global".to_owned()],
                now,
                secs(state.settings.limits.window_secs),
            )
            .await?;
    }
    if locked_now {
        state.metrics.account_locks.inc();
        if let Some(m) = member {
            notify_lock(state, m, client, now).await?;
        }
    }
    Ok(())
}

async fn notify_lock(
    state: &AppState,
    m: &MemberRecord,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let token = anshin_vault::SessionToken::generate(&mut rand::rng());
    let hash: [u8; 32] = Sha256::digest(token.hash().as_bytes()).into();
    let ttl = state.settings.limits.unlock_link_ttl_secs;
    state
        .store
        .throttle()
        .create_unlock_token(&hash, &m.email, now, now + secs(ttl))
        .await?;
    let url_path = format!("/login/unlock?token={}", token.expose());
    let lang = crate::i18n::Lang::parse(&m.language).unwrap_or(crate::i18n::Lang::Ja);
    let letter = crate::mail::compose::Letter::AccountLocked {
        unlock_path: &url_path,
        hours: ttl / 3600,
    };
    let rendered = crate::mail::compose::render(
        state.catalogs.get(lang),
        lang,
        &state.origin,
        &m.email,
        &letter,
    );
    let mail =
        crate::mail::compose::seal(&state.keys, Uuid::now_v7(), letter.kind(), now, &rendered)
            .map_err(|e| AuthError::Unexpected(e.into()))?;
    state.store.mail().enqueue(&mail).await?;
    let event = NewLoginEvent {
        id: Uuid::now_v7(),
        member_id: m.id,
        at: now,
        ip: client.ip.clone(),
        device: crate::accounts::device::summarize(client.user_agent.as_deref()),
        method: "lock".to_owned(),
        outcome: "locked".to_owned(),
    };
    state.store.accounts().record_login_event(&event).await?;
    tracing::warn!(member = %m.id, "account locked after repeated failures; owner notified");
    Ok(())
}

/// Whether the client's device cookie is one `member` has logged in with.
pub async fn trusted_device(
    state: &AppState,
    member: Option<&MemberRecord>,
    client: &Client,
) -> Result<bool, AuthError> {
    let (Some(m), Some(token)) = (member, &client.device_token) else {
        return Ok(false);
    };
    Ok(state
        .store
        .accounts()
        .device_known(m.id, &crate::accounts::device::token_hash(token))
        .await?)
}

/// Hash of an unlock token as stored.
pub fn unlock_token_hash(token: &anshin_vault::SessionToken) -> [u8; 32] {
    Sha256::digest(token.hash().as_bytes()).into()
}

/// The client address: the peer, or — behind a configured proxy — the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded_for else {
        return peer;
    };
    list.rsplit(',')
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
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
    fn c08_forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        // An untrusted peer cannot choose its address.
        assert_eq!(client_ip(peer, Some("198.51.100.1"), &[proxy]), peer);
        // Behind the proxy: the last untrusted hop, not a spoofed first one.
        assert_eq!(
            client_ip(proxy, Some("1.1.1.1, 198.51.100.1"), &[proxy]),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, None, &[proxy]), proxy);
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
