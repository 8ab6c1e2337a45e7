//! Counters for monitoring (C29), served in the Prometheus text format on
//! the ops listener at `/metrics`. Only counts: no label ever carries
//! personal data. The one labelled family of requests ([`HttpStats`]) is
//! keyed by the router's matched path *template* (`/shops/{id}`), never
//! the raw URL, by the method out of a closed set and by the status class,
//! so that no id, address or query a client sends becomes a label (and a
//! client cannot grow the set of series without bound).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// For a gauge kept in a `Counter`: the value now.
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub logins_succeeded: Counter,
    pub logins_failed: Counter,
    /// Requests refused by the address, network or global window (429).
    pub throttled: Counter,
    /// Attempts refused because the account was locked.
    pub locked_attempts: Counter,
    /// Locks started.
    pub account_locks: Counter,
    pub unlocks: Counter,
    /// Staff console logins (C21).
    pub staff_logins: Counter,
    /// Failed staff logins (wrong or replayed code, unknown account).
    pub staff_login_failures: Counter,
    /// Staff acts the access policy refused (C27).
    pub staff_refusals: Counter,
    /// Views of a member's personal data in the console (C22).
    pub member_data_views: Counter,
    /// Security alerts put on (C29).
    pub alerts_fired: Counter,
    /// Processor webhooks refused or failed (bad signature, malformed,
    /// not configured, or an error applying them).
    pub webhook_failures: Counter,
    /// Alert webhook deliveries that failed.
    pub alert_webhook_failures: Counter,
    /// Records whose retention period ended, purged by the retention
    /// job or `anshin retention run` (C17): delivered shipments.
    pub purged_shipments: Counter,
    /// Completed payouts whose bank snapshot and transfer history were
    /// purged one month after completion (C16).
    pub purged_payouts: Counter,
    /// A gauge, 1 while the database's files may still hold a copy of
    /// purged rows because the last flush after a purge found the WAL
    /// kept busy by a reader (SQLite; the retention job retries at each
    /// run), else 0.
    pub flush_pending: Counter,
    /// Members who withdrew (or were withdrawn on request) and were
    /// erased (C18).
    pub withdrawals: Counter,
    /// Requests per route, method and status class, with latency.
    pub http: HttpStats,
}

impl Metrics {
    /// Prometheus text exposition; `hashes` is the Argon2id computations.
    pub fn render(&self, hashes: u64) -> String {
        let mut out = String::new();
        let mut line = |name: &str, help: &str, v: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            ));
        };
        line(
            "anshin_password_hashes_total",
            "Argon2id computations (hash, verify, dummy).",
            hashes,
        );
        line(
            "anshin_logins_succeeded_total",
            "Successful logins.",
            self.logins_succeeded.get(),
        );
        line(
            "anshin_logins_failed_total",
            "Failed login attempts.",
            self.logins_failed.get(),
        );
        line(
            "anshin_login_throttled_total",
            "Login requests refused by address, network or global limits.",
            self.throttled.get(),
        );
        line(
            "anshin_login_locked_attempts_total",
            "Attempts refused because the account was locked.",
            self.locked_attempts.get(),
        );
        line(
            "anshin_account_locks_total",
            "Account locks started.",
            self.account_locks.get(),
        );
        line(
            "anshin_account_unlocks_total",
            "Logins through an owner's unlock link.",
            self.unlocks.get(),
        );
        line(
            "anshin_staff_logins_total",
            "Staff console logins.",
            self.staff_logins.get(),
        );
        line(
            "anshin_staff_login_failures_total",
            "Failed staff console logins.",
            self.staff_login_failures.get(),
        );
        line(
            "anshin_staff_refusals_total",
            "Staff acts refused by the access policy.",
            self.staff_refusals.get(),
        );
        line(
            "anshin_member_data_views_total",
            "Views of a member's personal data in the staff console.",
            self.member_data_views.get(),
        );
        line(
            "anshin_alerts_fired_total",
            "Security alerts put on (mailed to the security team).",
            self.alerts_fired.get(),
        );
        line(
            "anshin_webhook_failures_total",
            "Processor webhooks refused or failed.",
            self.webhook_failures.get(),
        );
        line(
            "anshin_alert_webhook_failures_total",
            "Alert webhook deliveries that failed.",
            self.alert_webhook_failures.get(),
        );
        // One line per record kind the retention purge removes (ADR 0021).
        out.push_str(
            "# HELP anshin_retention_purged_total Records purged after their retention period.\n\
             # TYPE anshin_retention_purged_total counter\n",
        );
        out.push_str(&format!(
            "anshin_retention_purged_total{{kind=\"shipment\"}} {}\n",
            self.purged_shipments.get()
        ));
        out.push_str(&format!(
            "anshin_retention_purged_total{{kind=\"payout\"}} {}\n",
            self.purged_payouts.get()
        ));
        out.push_str(&format!(
            "# HELP anshin_retention_flush_pending 1 while the database's WAL may still hold purged rows (a reader kept it busy; the retention job retries).\n\
             # TYPE anshin_retention_flush_pending gauge\nanshin_retention_flush_pending {}\n",
            self.flush_pending.get()
        ));
        out.push_str(&format!(
            "# HELP anshin_withdrawals_total Members erased on withdrawal.\n\
             # TYPE anshin_withdrawals_total counter\nanshin_withdrawals_total {}\n",
            self.withdrawals.get()
        ));
        self.http.render(&mut out);
        out
    }
}

/// The latency buckets of [`HttpStats`], in seconds.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The methods a label may name; anything else is `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// One series of [`HttpStats`].
#[derive(Debug, Default, Clone)]
struct Series {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The key of a series: door (`site`, `console`), route template, method,
/// status class (`2xx` …).
type SeriesKey = (&'static str, String, &'static str, &'static str);

/// Requests by route template, method and status class, as a latency
/// histogram (`anshin_http_request_duration_seconds`), plus the running
/// totals the alert rules read (requests, 5xx answers).
#[derive(Debug, Default)]
pub struct HttpStats {
    series: Mutex<BTreeMap<SeriesKey, Series>>,
    requests: Counter,
    server_errors: Counter,
}

/// The route label: the matched template if the router matched one (it
/// holds `{name}` placeholders, never a value), else `unmatched`. A
/// template is the code's own text; anything longer than 100 bytes or
/// with characters outside the URL path alphabet is `unmatched` too, so a
/// label can never carry a client's text.
pub fn route_label(matched: Option<&str>) -> String {
    match matched {
        Some(t)
            if t.len() <= 100
                && t.starts_with('/')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/{}_-.*".contains(c)) =>
        {
            t.to_owned()
        }
        _ => "unmatched".to_owned(),
    }
}

impl HttpStats {
    /// Counts one answered request.
    pub fn observe(
        &self,
        door: &'static str,
        route: String,
        method: &str,
        status: u16,
        took: std::time::Duration,
    ) {
        let method = METHODS
            .into_iter()
            .find(|m| *m == method)
            .unwrap_or("other");
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.inc();
        if class == "5xx" {
            self.server_errors.inc();
        }
        let secs = took.as_secs_f64();
        let mut map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let s = map.entry((door, route, method, class)).or_default();
        s.count += 1;
        s.sum += secs;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *le
                && let Some(b) = s.buckets.get_mut(i)
            {
                *b += 1;
            }
        }
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    /// Requests answered with a 5xx status so far.
    pub fn server_errors(&self) -> u64 {
        self.server_errors.get()
    }

    fn render(&self, out: &mut String) {
        let map = match self.series.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        out.push_str(&format!(
            "# HELP anshin_http_requests_total Requests answered.\n# TYPE anshin_http_requests_total counter\nanshin_http_requests_total {}\n",
            self.requests()
        ));
        out.push_str(&format!(
            "# HELP anshin_http_server_errors_total Requests answered with a 5xx status.\n# TYPE anshin_http_server_errors_total counter\nanshin_http_server_errors_total {}\n",
            self.server_errors()
        ));
        let name = "anshin_http_request_duration_seconds";
        out.push_str(&format!(
            "# HELP {name} Time to answer a request, by door, route template, method and status class.\n# TYPE {name} histogram\n"
        ));
        for ((door, route, method, class), s) in &map {
            let labels =
                format!("door=\"{door}\",route=\"{route}\",method=\"{method}\",status=\"{class}\"");
            for (le, n) in LATENCY_BUCKETS.iter().zip(s.buckets) {
                out.push_str(&format!("{name}_bucket{{{labels},le=\"{le}\"}} {n}\n"));
            }
            out.push_str(&format!(
                "{name}_bucket{{{labels},le=\"+Inf\"}} {}\n{name}_sum{{{labels}}} {:.6}\n{name}_count{{{labels}}} {}\n",
                s.count, s.sum, s.count
            ));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn c29_route_labels_are_templates_or_unmatched() {
        assert_eq!(route_label(Some("/shops/{id}")), "/shops/{id}");
        assert_eq!(route_label(None), "unmatched");
        // Never a client's text: a raw path with an address or a query.
        assert_eq!(route_label(Some("/x/taro@example.jp")), "unmatched");
        assert_eq!(route_label(Some("/x?email=a")), "unmatched");
        assert_eq!(route_label(Some("/x\"}")), "unmatched");
        assert_eq!(
            route_label(Some(&format!("/{}", "a".repeat(200)))),
            "unmatched"
        );
    }

    #[test]
    fn c29_the_histogram_counts_by_bucket_and_class() {
        let h = HttpStats::default();
        h.observe(
            "site",
            "/a".into(),
            "GET",
            200,
            std::time::Duration::from_millis(3),
        );
        h.observe(
            "site",
            "/a".into(),
            "GET",
            503,
            std::time::Duration::from_millis(30),
        );
        h.observe(
            "site",
            "/a".into(),
            "BREW",
            200,
            std::time::Duration::from_secs(30),
        );
        assert_eq!((h.requests(), h.server_errors()), (3, 1));
        let mut out = String::new();
        h.render(&mut out);
        let b = "anshin_http_request_duration_seconds_bucket{door=\"site\",route=\"/a\",method=\"GET\",status=\"2xx\",le=\"0.005\"} 1";
        assert!(out.contains(b), "{out}");
        let c = "anshin_http_request_duration_seconds_count{door=\"site\",route=\"/a\",method=\"GET\",status=\"5xx\"} 1";
        assert!(out.contains(c), "{out}");
        let o = "anshin_http_request_duration_seconds_bucket{door=\"site\",route=\"/a\",method=\"other\",status=\"2xx\",le=\"10\"} 0";
        assert!(out.contains(o), "{out}");
    }
}
