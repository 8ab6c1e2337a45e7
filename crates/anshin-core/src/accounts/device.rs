//! A readable device summary from a User-Agent ("Firefox on Linux"), for
//! the login mail and the sessions page. Heuristic on purpose: it names
//! the browser family and the platform, never the full string (which is
//! long, changes every release and is a fingerprinting aid).

/// How a device cookie is stored: SHA-256 of the token's own hash, so the
/// database never holds a usable cookie.
pub fn token_hash(token: &anshin_vault::SessionToken) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.hash().as_bytes()).into()
}

pub fn summarize(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else if ua.is_empty() {
        "Unknown browser"
    } else {
        "Other client"
    };
    let os = if has("iPhone") || has("iPad") {
        "iOS"
    } else if has("Android") {
        "Android"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Linux") {
        "Linux"
    } else {
        ""
    };
    if os.is_empty() {
        browser.to_owned()
    } else {
        format!("{browser} on {os}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_agents() {
        assert_eq!(
            summarize(Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
            )),
            "Firefox on Linux"
        );
        assert_eq!(
            summarize(Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
            )),
            "Safari on iOS"
        );
        assert_eq!(
            summarize(Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0"
            )),
            "Edge on Windows"
        );
        assert_eq!(summarize(None), "Unknown browser");
    }
}
