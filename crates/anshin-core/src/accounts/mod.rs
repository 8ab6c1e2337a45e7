//! Members: sign-up, login by e-mail code (C11) or, if they choose, by
//! password (C12, C14), re-authentication for sensitive changes, and the
//! login mail (C9). Every door (pages, JSON API, later the console) calls
//! these functions; they never see HTTP, and they write only through one
//! [`Changes`] bundle per outcome.
//!
//! What an attacker tries, and where it fails (tests in
//! `crates/anshin/tests/api/accounts.rs`):
//! - learn whether an address has an account: code requests and sign-ups
//!   answer with a fresh flow id either way, doing the same work (one flow
//!   row and one mail: a code, or a "you have no account / you already
//!   have one" notice);
//! - guess a code: 6+ digits from a CSPRNG, stored only as
//!   HMAC(code key, flow id ‖ code); each attempt is counted atomically
//!   *before* the comparison, so parallel guesses cannot exceed 5; a new
//!   code inherits the count; codes expire after 10 minutes and work once;
//! - reuse a code in another flow: the hash binds the flow id;
//! - fixate a session: every login makes a new session token and ends the
//!   visitor's previous session;
//! - change the password or e-mail from a stolen session: needs a login or
//!   a fresh code within `auth.recent_auth_secs`, or the current password;
//!   an e-mail change also needs the code mailed to the new address,
//!   entered in the session that asked (see [`email_change`]).

mod codes;
mod credentials;
pub mod device;
pub mod email_change;
mod events;
pub mod limits;
mod login;
pub mod password;
mod password_login;
mod profile;
pub mod settings;
mod terms;
mod types;

pub use codes::{CodeRequest, request_code, request_unlock, resend_code, verify_code};
pub use credentials::{remove_password, request_reauth, set_password, verify_reauth};
pub use email_change::{confirm_email_change, request_email_change, resend_email_change};
pub use login::{format_time, local_time};
pub use password_login::login_password;
pub use profile::{Profile, Summary, change_display_name, profile, summary};
pub use settings::{AuthSettings, LimitsSettings};
pub use terms::{TERMS_VERSION, accept_terms, is_current as terms_current};
pub use types::{AuthError, Client, LoggedIn};
