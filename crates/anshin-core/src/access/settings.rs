//! The `[staff]` section: the staff console's network allowlist (C20),
//! its sessions and its step-up window (C27).

use std::collections::BTreeMap;
use std::net::IpAddr;

use anshin_domain::Duration;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::Area;
use crate::settings::{Invalid, Section, invalid, within};

/// Debian's Noto Sans CJK (`fonts-noto-cjk`, installed by
/// `scripts/setup`).
pub const DEFAULT_LABEL_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

/// `[staff]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSettings {
    /// Networks (CIDR) the staff listener answers at all; anyone else
    /// gets a bare 403 before anything runs. Default: loopback only.
    pub allowed_networks: Vec<IpNet>,
    /// Proxies whose `X-Forwarded-For` the staff listener believes; the
    /// client is the last address in it that is not one of them. Empty:
    /// the peer, whatever the header says.
    pub trusted_proxies: Vec<IpAddr>,
    /// Tighter lists for parts of the console:
    /// `[staff.areas.admin] allowed_networks = ["10.1.0.0/16"]`.
    pub areas: BTreeMap<String, AreaSettings>,
    /// A staff session unused this long ends (short: a console left open
    /// on a shared desk).
    pub idle_timeout_secs: u64,
    /// A staff session ends this long after login, however active.
    pub absolute_lifetime_secs: u64,
    /// Acts that change data or reveal personal data need a second factor
    /// proved this recently (login or step-up).
    pub step_up_secs: u64,
    /// How long an enrolment link works.
    pub enrolment_ttl_secs: u64,
    /// The console's origin for enrolment links, e.g.
    /// `https://staff.example.jp`. Unset: derived from `listen.staff`.
    pub base_url: Option<url::Url>,
    /// The font shipping labels are drawn with (a Japanese one: face 0 of
    /// the file is used, the JP forms of Noto Sans CJK). Read once at
    /// start; without it the label image answers 503.
    pub label_font: std::path::PathBuf,
}

/// `[staff.areas.<area>]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSettings {
    pub allowed_networks: Vec<IpNet>,
}

impl Default for StaffSettings {
    fn default() -> Self {
        Self {
            allowed_networks: ["127.0.0.0/8", "::1/128"]
                .into_iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            trusted_proxies: Vec::new(),
            areas: BTreeMap::new(),
            idle_timeout_secs: 15 * 60,
            absolute_lifetime_secs: 12 * 60 * 60,
            step_up_secs: 5 * 60,
            enrolment_ttl_secs: 24 * 60 * 60,
            base_url: None,
            label_font: DEFAULT_LABEL_FONT.into(),
        }
    }
}

fn contains(list: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    list.iter().any(|n| n.contains(&ip))
}

impl StaffSettings {
    /// Whether the listener answers this client at all (C20).
    pub fn listener_allows(&self, ip: IpAddr) -> bool {
        contains(&self.allowed_networks, ip)
    }

    /// Whether the client is inside `area`'s own list (when it has one).
    pub fn area_allows(&self, area: Area, ip: IpAddr) -> bool {
        match self.areas.get(area.as_str()) {
            Some(a) => contains(&a.allowed_networks, ip),
            None => true,
        }
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    pub fn absolute_lifetime(&self) -> Duration {
        Duration::from_secs(self.absolute_lifetime_secs)
    }
}

impl Section for StaffSettings {
    fn check(&self) -> Result<(), Invalid> {
        if self.allowed_networks.is_empty() {
            return invalid(
                "staff.allowed_networks",
                "must list at least one network (CIDR), e.g. [\"127.0.0.0/8\"]",
            );
        }
        for name in self.areas.keys() {
            if Area::parse(name).is_none() {
                return invalid(
                    "staff.areas",
                    format!(
                        "unknown area {name:?}; known: {}",
                        Area::ALL.map(Area::as_str).join(", ")
                    ),
                );
            }
        }
        within(
            "staff.idle_timeout_secs",
            self.idle_timeout_secs,
            60,
            self.absolute_lifetime_secs.max(60),
            " seconds",
        )?;
        within(
            "staff.absolute_lifetime_secs",
            self.absolute_lifetime_secs,
            60,
            7 * 24 * 3600,
            " seconds",
        )?;
        within(
            "staff.step_up_secs",
            self.step_up_secs,
            30,
            3600,
            " seconds",
        )?;
        within(
            "staff.enrolment_ttl_secs",
            self.enrolment_ttl_secs,
            300,
            14 * 24 * 3600,
            " seconds",
        )?;
        if let Some(url) = &self.base_url
            && (url.scheme() != "https" || url.host_str().is_none() || url.path() != "/")
        {
            return invalid(
                "staff.base_url",
                "must be an origin such as https://staff.example.jp (no path)",
            );
        }
        Ok(())
    }
}
