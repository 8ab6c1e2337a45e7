//! The staff console (issue 14): its own HTTPS listener (`listen.staff`),
//! its own router, its own session cookie (`__Host-anshin_staff`).
//!
//! Middleware, outermost first:
//! 1. **network allowlist** (C20): the client address (the peer, or the
//!    `X-Forwarded-For` hop a configured `staff.trusted_proxies` peer
//!    vouches for) must be in `staff.allowed_networks`; anyone else gets a
//!    bare 403 with no console content, before any other work (static
//!    assets included);
//! 2. security headers (the site's, CSP included), request id;
//! 3. panic guard, timeout, body limit;
//! 4. staff session (cookie → `anshin_core::staff::current`);
//! 5. CSRF: every unsafe request must come from the console's own origin
//!    (`Origin` / `Sec-Fetch-Site`), and with a session its form must
//!    carry the session's synchronizer token;
//! 6. the **access guard** (C27), in front of every route: the route's
//!    action from [`ROUTES`] goes through `anshin_core::access::decide`
//!    (deny by default; a route without an action is refused). Shipping
//!    work off an open shift (C24) is sent to the shift page.
//!
//! Around all of them, [`no_store`] (C23): every console response, the
//! allowlist's refusal and the static files included, says
//! `Cache-Control: no-store`. Every console page loads the no-copy
//! script and marks its body `console` for the no-copy styles (ADR 0017).
//!
//! Every route is added through [`Routes`], which records its method,
//! path and action; the route-coverage test walks that record.

mod centre;
mod counter;
pub mod doc;
mod finance;
mod incidents;
pub mod labels;
mod pages;
mod passkeys;
mod records;
mod vdp;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anshin_core::access::{Action, Decision};
use anshin_core::staff::CurrentStaff;
use anshin_vault::SessionToken;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use http::{HeaderValue, Method, StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use super::AppState;
use super::common::{client, cookies, csrf, headers, request_id};

/// The staff session cookie.
pub const COOKIE: &str = "__Host-anshin_staff";
/// The console's flash cookie (what the next page says happened).
pub const FLASH_COOKIE: &str = "__Host-anshin_staff_flash";

/// The console's state: the site's (catalogs, assets, settings, core) and
/// its own origin.
#[derive(Clone, Debug)]
pub struct ConsoleState(Arc<ConsoleInner>);

#[derive(Debug)]
pub struct ConsoleInner {
    pub app: AppState,
    pub origin: String,
    pub accepted_origins: Vec<String>,
    /// The origin passkeys (WebAuthn) work at: the first of the console's
    /// origins whose host is a domain name (browsers refuse WebAuthn on an
    /// IP address; on loopback that is `https://localhost:PORT`). `None`:
    /// passkeys are off and the pages say so (TOTP still works).
    pub passkey_origin: Option<url::Url>,
    routes: Vec<RouteEntry>,
    /// Member notifications running on this instance (incident pages).
    notify_runs: incidents::NotifyRuns,
    /// The shipping labels' font (`staff.label_font`), read at start;
    /// `None` if it could not be read (logged; label images answer 503).
    pub label_font: Option<Arc<labels::LabelFontFile>>,
}

impl std::ops::Deref for ConsoleState {
    type Target = ConsoleInner;
    fn deref(&self) -> &ConsoleInner {
        &self.0
    }
}

impl ConsoleState {
    pub fn new(app: AppState, origin: String, accepted_origins: Vec<String>) -> Self {
        let passkey_origin = std::iter::once(&origin)
            .chain(&accepted_origins)
            .filter_map(|o| url::Url::parse(o).ok())
            .find(|u| matches!(u.host(), Some(url::Host::Domain(_))));
        let label_font = match labels::LabelFontFile::load(&app.settings.staff.label_font, 0) {
            Ok(f) => Some(Arc::new(f)),
            Err(e) => {
                tracing::error!(error = %e, path = %app.settings.staff.label_font.display(), "the shipping label font could not be loaded; label images will answer 503");
                None
            }
        };
        Self(Arc::new(ConsoleInner {
            app,
            origin,
            accepted_origins,
            passkey_origin,
            routes: routes().entries,
            notify_runs: incidents::NotifyRuns::default(),
            label_font,
        }))
    }
}

/// A console route and the action the policy decides it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub method: Method,
    pub path: &'static str,
    pub action: Option<Action>,
}

/// Builds the console's routes and records each one's method, path and
/// action: the only way a route gets into the console.
#[derive(Debug)]
pub struct Routes {
    router: Router<ConsoleState>,
    entries: Vec<RouteEntry>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            entries: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        action: Action,
        route: MethodRouter<ConsoleState>,
    ) -> Self {
        self.entries.push(RouteEntry {
            method,
            path,
            action: Some(action),
        });
        self.router = self.router.route(path, route);
        self
    }

    fn get<H, T>(self, path: &'static str, action: Action, handler: H) -> Self
    where
        H: Handler<T, ConsoleState>,
        T: 'static,
    {
        self.add(Method::GET, path, action, get(handler))
    }

    fn post<H, T>(self, path: &'static str, action: Action, handler: H) -> Self
    where
        H: Handler<T, ConsoleState>,
        T: 'static,
    {
        self.add(Method::POST, path, action, post(handler))
    }

    /// Every route the console serves, with its action.
    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }
}

/// The console's routes. One line per route: method, path, the action
/// the access policy decides it by, the handler.
pub fn routes() -> Routes {
    use Action as A;
    Routes::new()
        .get("/static/{file}", A::SignIn, pages::asset)
        .get("/login", A::SignIn, pages::login_page)
        .post("/login", A::SignIn, pages::login)
        .post("/login/passkey/options", A::SignIn, passkeys::login_options)
        .post("/login/passkey", A::SignIn, passkeys::login)
        .get("/enrol", A::SignIn, pages::enrol_page)
        .post("/enrol", A::SignIn, pages::enrol)
        .post("/logout", A::SignOut, pages::logout)
        .get("/step-up", A::StepUp, pages::step_up_page)
        .post("/step-up", A::StepUp, pages::step_up)
        .post(
            "/step-up/passkey/options",
            A::StepUp,
            passkeys::step_up_options,
        )
        .post("/step-up/passkey", A::StepUp, passkeys::step_up)
        .get("/", A::ViewHome, pages::home)
        .get("/staff", A::ListStaff, pages::staff_list)
        .post("/staff", A::AddStaff, pages::staff_add)
        .get("/staff/{id}/role", A::ChangeStaffRole, pages::role_page)
        .post("/staff/{id}/role", A::ChangeStaffRole, pages::change_role)
        .get("/staff/{id}/disable", A::DisableStaff, pages::disable_page)
        .post("/staff/{id}/disable", A::DisableStaff, pages::disable)
        .get("/members", A::ViewMemberData, records::member_page)
        .post("/members", A::ViewMemberData, records::member_view)
        .post(
            "/members/{id}/withdraw",
            A::WithdrawMember,
            records::member_withdraw,
        )
        .get("/audit", A::ViewAuditLog, records::audit_log)
        .get("/alerts", A::ViewAlerts, records::alerts)
        .get("/selfscan", A::ViewAlerts, records::selfscan)
        .get("/vdp", A::ViewVdpReports, vdp::list)
        .get("/vdp/{id}", A::ViewVdpReports, vdp::show)
        .post("/vdp/{id}/status", A::TriageVdpReports, vdp::set_status)
        .post("/vdp/{id}/notes", A::TriageVdpReports, vdp::add_note)
        .get("/finance/payouts", A::ViewPayouts, finance::overview)
        .post(
            "/finance/payouts/batches",
            A::BuildPayoutBatch,
            finance::build,
        )
        .get(
            "/finance/payouts/batches/{id}",
            A::ViewPayouts,
            finance::batch,
        )
        .post(
            "/finance/payouts/batches/{id}/file",
            A::ExportPayoutBatch,
            finance::export,
        )
        .post(
            "/finance/payouts/batches/{id}/result",
            A::SettlePayouts,
            finance::import,
        )
        .post(
            "/finance/payouts/{id}/settle",
            A::SettlePayouts,
            finance::settle,
        )
        .get("/security", A::ViewOwnSecurity, passkeys::security_page)
        .post(
            "/security/passkeys/options",
            A::ManageOwnPasskeys,
            passkeys::register_options,
        )
        .post(
            "/security/passkeys",
            A::ManageOwnPasskeys,
            passkeys::register,
        )
        .post(
            "/security/passkeys/{id}/remove",
            A::ManageOwnPasskeys,
            passkeys::remove,
        )
        .get("/incidents", A::ViewIncidents, incidents::list)
        .post("/incidents", A::OpenIncident, incidents::open)
        .get("/incidents/{id}", A::ViewIncidents, incidents::show)
        .post(
            "/incidents/{id}/end-sessions",
            A::IncidentEndSessions,
            incidents::end_sessions,
        )
        .post(
            "/incidents/{id}/lock",
            A::IncidentLockMember,
            incidents::lock,
        )
        .post(
            "/incidents/{id}/unlock",
            A::IncidentUnlockMember,
            incidents::unlock,
        )
        .post(
            "/incidents/{id}/password-reset",
            A::IncidentForcePasswordReset,
            incidents::password_reset,
        )
        .post(
            "/incidents/{id}/rotate-keys",
            A::IncidentRotateKeys,
            incidents::rotate_keys,
        )
        .post(
            "/incidents/{id}/disable-staff",
            A::IncidentDisableStaff,
            incidents::disable_staff,
        )
        .post(
            "/incidents/{id}/notify",
            A::IncidentNotifyMembers,
            incidents::notify,
        )
        .post("/incidents/{id}/close", A::CloseIncident, incidents::close)
        .get("/shipping/shift", A::CheckIn, centre::shift_page)
        .post("/shipping/shift", A::CheckIn, centre::check_in)
        .post("/shipping/shift/end", A::CheckOut, centre::check_out)
        .get("/shipping/terminals", A::ManageTerminals, centre::terminals)
        .post("/shipping/terminals", A::ManageTerminals, centre::register)
        .post(
            "/shipping/terminals/{id}/retire",
            A::ManageTerminals,
            centre::retire,
        )
        .get("/shipping/shifts", A::ViewShiftLog, centre::shift_log)
        .post(
            "/shipping/shifts/end",
            A::EndOthersShift,
            centre::end_others_shift,
        )
        .get("/shipping/voids/new", A::RequestVoid, centre::void_new)
        .post("/shipping/voids/new", A::RequestVoid, centre::void_request)
        .get("/shipping/voids", A::ReviewVoids, centre::voids)
        .post(
            "/shipping/voids/{id}/approve",
            A::DecideVoid,
            centre::approve,
        )
        .post("/shipping/voids/{id}/reject", A::DecideVoid, centre::reject)
        .get("/shipping/accept", A::AcceptParcel, counter::accept_page)
        .post("/shipping/accept", A::AcceptParcel, counter::accept)
        .get("/shipping/labels/{id}", A::ViewLabel, counter::label)
        .get(
            "/shipping/labels/{id}/image",
            A::ViewLabel,
            counter::label_png,
        )
        .post("/shipping/events", A::RecordParcelEvent, counter::event)
}

/// The console's router with its middleware (see the module doc).
pub fn router(state: ConsoleState) -> Router {
    let settings = &state.app.settings;
    let limit = settings.http.body_limit_bytes;
    let timeout = Duration::from_secs(settings.http.request_timeout_secs);
    routes()
        .router
        .route_layer(from_fn_with_state(state.clone(), guard))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), protect))
        .layer(from_fn_with_state(state.clone(), load_session))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            bare(StatusCode::INTERNAL_SERVER_ERROR)
        }))
        .layer(from_fn(headers::security_headers))
        .layer(from_fn_with_state(
            (state.app.core.metrics.clone(), "console"),
            crate::web::common::http_metrics::observe,
        ))
        .layer(from_fn_with_state(state.app.clone(), request_id::assign))
        .layer(from_fn_with_state(state.clone(), allowlist))
        .layer(from_fn(no_store))
        .with_state(state)
}

/// C23: nothing the console sends may stay in a browser or proxy cache,
/// not even its static files (the site caches those for a year; the
/// console is used on shared shift terminals, and an unchanging asset
/// costs a few kilobytes per page on the centre's network).
async fn no_store(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A response with a status and nothing else (the site's security
/// headers are added by the layer, or here for the allowlist's refusal).
fn bare(status: StatusCode) -> Response {
    let mut res = status.into_response();
    headers::set(res.headers_mut());
    res
}

async fn not_found() -> Response {
    bare(StatusCode::NOT_FOUND)
}

/// The client address the console believes (C20): the peer, or behind a
/// `staff.trusted_proxies` peer the last `X-Forwarded-For` hop that is
/// not one of them.
#[derive(Debug, Clone, Copy)]
pub struct StaffClient(pub IpAddr);

async fn allowlist(State(state): State<ConsoleState>, mut req: Request, next: Next) -> Response {
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return bare(StatusCode::FORBIDDEN);
    };
    let staff = &state.app.settings.staff;
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = client::client_ip(peer, forwarded, &staff.trusted_proxies).to_canonical();
    if !staff.listener_allows(ip) {
        // Logged, not audited: the address has no identity, and an entry
        // per refusal would let anyone fill the audit log.
        tracing::info!(client = %ip, "staff console: address outside the allowlist refused");
        return bare(StatusCode::FORBIDDEN);
    }
    req.extensions_mut().insert(StaffClient(ip));
    next.run(req).await
}

/// The logged-in staff member of the request, with the session token.
#[derive(Debug, Clone)]
pub struct Staff {
    pub token: SessionToken,
    pub current: CurrentStaff,
}

impl Staff {
    pub fn csrf(&self) -> String {
        self.token.csrf_token().as_str().to_owned()
    }
}

async fn load_session(State(state): State<ConsoleState>, mut req: Request, next: Next) -> Response {
    let token = cookies::value(req.headers(), COOKIE).and_then(|v| SessionToken::parse(v).ok());
    if let Some(token) = token {
        match anshin_core::staff::current(&state.app.core, &token).await {
            Ok(Some(current)) => {
                req.extensions_mut().insert(Staff { token, current });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "staff session lookup failed");
                return bare(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }
    next.run(req).await
}

/// CSRF (ADR 0003's layers, on the console): the origin check on every
/// unsafe request; with a session, the form's `csrf_token` must be the
/// session's. Forms are urlencoded, except the one upload
/// ([`is_upload`]: the bank's result file), which is
/// `multipart/form-data` and carries the token as a text field, read as
/// the site's upload forms do (`csrf::multipart_field`); a multipart body
/// anywhere else carries no token the check accepts.
async fn protect(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    if csrf::check_origin(req.headers(), &state.accepted_origins).is_err() {
        return bare(StatusCode::FORBIDDEN);
    }
    let Some(staff) = req.extensions().get::<Staff>().cloned() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.app.settings.http.body_limit_bytes).await
    else {
        return bare(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let multipart = is_upload(&parts.method, parts.uri.path())
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.essence_str() == mime::MULTIPART_FORM_DATA.essence_str());
    let sent = if multipart {
        match csrf::multipart_field(&parts.headers, &bytes, csrf::FIELD).await {
            Ok(v) => v,
            Err(_) => return bare(StatusCode::BAD_REQUEST),
        }
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k == csrf::FIELD)
                    .map(|(_, v)| v)
            })
    };
    let expected = staff.csrf();
    let ok = sent.is_some_and(|s| {
        use subtle_eq::ct_eq;
        ct_eq(s.as_bytes(), expected.as_bytes())
    });
    if !ok {
        return bare(StatusCode::FORBIDDEN);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The console's one upload form: the bank's result file of a payout
/// batch (`POST /finance/payouts/batches/{id}/result`).
fn is_upload(method: &Method, path: &str) -> bool {
    *method == Method::POST
        && path
            .strip_prefix("/finance/payouts/batches/")
            .and_then(|rest| rest.strip_suffix("/result"))
            .is_some_and(|id| uuid::Uuid::try_parse(id).is_ok())
}

mod subtle_eq {
    /// Constant-time comparison of two byte strings of equal length.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The access guard (C27): in front of every route, the one policy.
async fn guard(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    let action = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| action_of(&state.routes, req.method(), p.as_str()));
    let Some(action) = action else {
        // Deny by default: a route the policy does not know is refused.
        return bare(StatusCode::FORBIDDEN);
    };
    let Some(StaffClient(ip)) = req.extensions().get::<StaffClient>().copied() else {
        return bare(StatusCode::FORBIDDEN);
    };
    let staff = req.extensions().get::<Staff>();
    let decision =
        anshin_core::staff::decide_for(&state.app.core, staff.map(|s| &s.current), action, ip);
    // A signed-in member of staff refused by role or network, or trying
    // shipping work off shift (C24), is a security event (C22); "log in
    // first" and "confirm your second factor again" are the ordinary way
    // in.
    if let (Decision::DenyRole | Decision::DenyNetwork | Decision::DenyNoShift, Some(s)) =
        (decision, staff)
    {
        anshin_core::staff::record_guard_refusal(&state.app.core, &s.current, action, decision, ip)
            .await;
    }
    match decision {
        Decision::Allow => next.run(req).await,
        Decision::DenyNetwork => bare(StatusCode::FORBIDDEN),
        Decision::DenyNotSignedIn => Redirect::to("/login").into_response(),
        Decision::DenyStepUp => Redirect::to("/step-up").into_response(),
        // The counter's routes show personal data: refused with a page
        // that says why (C24), not sent on.
        Decision::DenyNoShift if counter::is_counter(action) => {
            counter::no_shift(&state, req.headers())
        }
        Decision::DenyNoShift => redirect_with("/shipping/shift", "shift_needed", None),
        // Only a core use case knows the requester (the guard decides
        // with none), so the guard cannot meet this; refused all the same.
        Decision::DenyRole | Decision::DenyOwnRequest => pages::forbidden(&state, req.headers()),
    }
}

/// Whether the request reached the console at [`ConsoleInner::passkey_origin`]
/// (its `Host`, or the HTTP/2 authority): only there can the page's
/// script run a WebAuthn ceremony.
fn at_passkey_origin(state: &ConsoleState, headers: &http::HeaderMap, uri: &http::Uri) -> bool {
    let Some(origin) = &state.passkey_origin else {
        return false;
    };
    let authority = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(authority) = authority else {
        return false;
    };
    let expected = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return false,
    };
    authority.eq_ignore_ascii_case(&expected)
}

/// The action a route is decided by.
pub fn action_of(entries: &[RouteEntry], method: &Method, path: &str) -> Option<Action> {
    // HEAD is answered as GET by the router, and decided as GET.
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    entries
        .iter()
        .find(|e| e.method == method && e.path == path)
        .and_then(|e| e.action)
}

/// The staff session cookie (`__Host-`, Secure, HttpOnly,
/// SameSite=Strict: the console is never linked to from elsewhere).
fn session_cookie(value: &str, max_age_secs: u64) -> Option<HeaderValue> {
    let c = cookie::Cookie::build((COOKIE, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age_secs).unwrap_or(i64::MAX),
        ))
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

/// A redirect that carries a flash code to the next page.
fn redirect_with(to: &str, flash: &str, extra: Option<HeaderValue>) -> Response {
    let mut res = Redirect::to(to).into_response();
    if let Ok(v) = cookies::secure(FLASH_COOKIE, flash, 120) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(v) = extra {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
