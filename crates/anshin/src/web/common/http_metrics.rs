//! Counts every answered request for `/metrics` (C29): by door, by the
//! route *template* the router matched (`/shops/{id}`, never the raw
//! path, so no id, address or query becomes a label), by method and by
//! status class, with its latency. Outermost but for the request id, so
//! the WAF's refusals, timeouts and error pages are counted under the
//! route they were aimed at.

use std::sync::Arc;
use std::time::Instant;

use anshin_core::metrics::{Metrics, route_label};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// What the layer needs: the counters and the door's name.
pub type Door = (Arc<Metrics>, &'static str);

pub async fn observe(State((metrics, door)): State<Door>, req: Request, next: Next) -> Response {
    let route = route_label(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let method = req.method().clone();
    let t0 = Instant::now();
    let res = next.run(req).await;
    metrics.http.observe(
        door,
        route,
        method.as_str(),
        res.status().as_u16(),
        t0.elapsed(),
    );
    res
}
