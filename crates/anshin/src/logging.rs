//! Structured logs with `tracing`: JSON lines by default, each carrying the
//! request id of the request it belongs to (see `web::request_id`). Log
//! lines never hold personal data: only ids, codes, statuses and paths
//! (never query strings or bodies) are recorded.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Safe to call more than once (tests):
/// later calls do nothing.
pub fn init(cfg: &LogSettings) {
    let filter = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = match cfg.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
