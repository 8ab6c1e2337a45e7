//! Who is asking: the client address (believing `X-Forwarded-For` only
//! from configured proxies), the browser and its device cookie, as the
//! core's `accounts::Client`.

use std::net::{IpAddr, SocketAddr};

use anshin_core::accounts::Client;
use anshin_vault::SessionToken;
use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{HeaderMap, header};

use super::cookies;
use super::errors::WebError;
use crate::web::AppState;

/// The client address: the peer, or — behind a configured proxy — the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy (a
/// client cannot choose its address by sending the header itself).
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

/// The client of a request.
pub fn of(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> Client {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    Client {
        ip: client_ip(peer.ip(), forwarded, &state.settings.limits.trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        device_token: cookies::value(headers, cookies::DEVICE)
            .and_then(|v| SessionToken::parse(v).ok()),
    }
}

/// The client as an extractor.
#[derive(Debug, Clone)]
pub struct ClientOf(pub Client);

impl FromRequestParts<AppState> for ClientOf {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            // Every connection the server accepts carries its peer; a
            // request without one is our bug, not the client's.
            .ok_or_else(|| WebError::Internal(anyhow::anyhow!("request without a peer address")))?;
        Ok(ClientOf(of(state, &parts.headers, peer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
