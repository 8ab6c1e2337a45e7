// Test cases for .semgrep/anshin.yml: `semgrep --test .semgrep/` checks that
// each rule fires on every `ruleid:` line and on nothing else (`ok:`).
// scripts/semgrep-test also fails if a rule has no `ruleid:` or no `ok:` case.
// This file is never compiled.

// ---- anshin-sql-from-format
async fn sql_cases(pool: &Pool, q: &str, id: Uuid) {
    // ruleid: anshin-sql-from-format
    sqlx::query(AssertSqlSafe(format!("SELECT id FROM items WHERE title = '{q}'")))
        .fetch_all(pool)
        .await;
    // ruleid: anshin-sql-from-format
    let sql = format!("SELECT {} FROM members WHERE email = '{}'", MEMBER_COLUMNS, q);
    // ruleid: anshin-sql-from-format
    let query = format!(
        "SELECT {ITEM_COLUMNS} FROM items \
         WHERE title LIKE '%{q}%'"
    );
    // ruleid: anshin-sql-from-format
    let sql = format!("SELECT {COLS} FROM t WHERE id = $1", COLS = q);
    // ruleid: anshin-sql-from-format
    sql.push_str(&format!(" AND title = '{q}'"));
    // ok: anshin-sql-from-format
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE email = $1");
    // ok: anshin-sql-from-format
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1",
        ORDER_COLUMNS = $crate::sql::orders::ORDER_COLUMNS
    );
    // ok: anshin-sql-from-format
    sqlx::query("SELECT id FROM items WHERE title = $1").bind(q);
    // ok: anshin-sql-from-format
    let message = format!("item {id} not found");
    // ok: anshin-sql-from-format
    let greeting = format!("select {q} from the menu");
}

// A function that returns SQL text built from its argument: no variable
// named for SQL, no sink in sight (the planted injection of issue 18).
fn title_search(q: &str) -> String {
    // ruleid: anshin-sql-from-format
    format!("SELECT id FROM items WHERE title LIKE '%{q}%'")
}

fn purge_rows(ids: &str) -> [String; 1] {
    // ruleid: anshin-sql-from-format
    [format!("DELETE FROM t WHERE id IN ({ids})")]
}

fn columns_only() -> String {
    // ok: anshin-sql-from-format
    format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = $1")
}

// ---- anshin-sql-concatenated
fn concat_cases(q: &str) {
    // ruleid: anshin-sql-concatenated
    let sql = "SELECT id FROM items WHERE title = '".to_owned() + q + "'";
    // ruleid: anshin-sql-concatenated
    sql.push_str(q);
    // ok: anshin-sql-concatenated
    sql.push_str(" ORDER BY id");
    // ok: anshin-sql-concatenated
    sql.push_str(match sort {
        Sort::Newest => " ORDER BY created_at DESC",
    });
    // ok: anshin-sql-concatenated
    let title = "item ".to_owned() + q;
}

// ---- anshin-html-from-string
async fn html_cases(name: &str) -> Html<String> {
    // ruleid: anshin-html-from-string
    let page = Html(format!("<p>Hello {name}</p>"));
    // ruleid: anshin-html-from-string
    let page = axum::response::Html(name.to_owned());
    // ok: anshin-html-from-string
    let page = Html("<p>ok</p>");
    // ok: anshin-html-from-string
    let page = HelloTemplate { name }.into_response();
}

// ---- anshin-personal-data-in-logs
fn log_cases(member_id: MemberId, email: &str, code: &str, e: Error, member: &Member) {
    // ruleid: anshin-personal-data-in-logs
    tracing::info!(email = %email, "code requested");
    // ruleid: anshin-personal-data-in-logs
    info!(member = %member_id, ?member.phone, "phone changed");
    // ruleid: anshin-personal-data-in-logs
    tracing::warn!("login failed for {email}");
    // ruleid: anshin-personal-data-in-logs
    tracing::debug!("code {} sent", code);
    // ruleid: anshin-personal-data-in-logs
    error!(member = %member_id, display_name = %member.display_name, "renamed");
    // ruleid: anshin-personal-data-in-logs
    tracing::event!(Level::INFO, token = ?t, "unlock link used");
    // ok: anshin-personal-data-in-logs
    tracing::info!(member = %member_id, "phone removed; the e-mail address and name are kept");
    // ok: anshin-personal-data-in-logs
    tracing::info!(error_code = info.code.as_str(), error = %e, "request failed");
    // ok: anshin-personal-data-in-logs
    tracing::info!(order = %order_id, decline_code = %code, "card declined");
}

// ---- anshin-secret-field-in-debug-derive
// ruleid: anshin-secret-field-in-debug-derive
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    code: String,
}

// ruleid: anshin-secret-field-in-debug-derive
#[derive(Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    pub url: String,
    pub client_secret: Option<String>,
}

// ok: anshin-secret-field-in-debug-derive
#[derive(Debug, Clone)]
pub struct Settings {
    pub webhook_secret: Option<SecretString>,
    pub token: SessionToken,
    pub bank_code: String,
    pub has_password: bool,
}

// ok: anshin-secret-field-in-debug-derive
#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

// ---- anshin-direct-wall-clock
fn wall_clock_cases(clock: &dyn Clock) {
    // ruleid: anshin-direct-wall-clock
    let now = std::time::SystemTime::now();
    // ruleid: anshin-direct-wall-clock
    let now = chrono::Utc::now();
    // ruleid: anshin-direct-wall-clock
    let now = time::OffsetDateTime::now_utc();
    // ok: anshin-direct-wall-clock
    let now = clock.now();
}

// ---- anshin-direct-monotonic-clock-in-domain
fn monotonic_cases() {
    // ruleid: anshin-direct-monotonic-clock-in-domain
    let t0 = std::time::Instant::now();
    // ok: anshin-direct-monotonic-clock-in-domain
    let t0 = Stopwatch::start();
}

// ---- anshin-direct-randomness
fn randomness_cases(random: &Random) {
    // ruleid: anshin-direct-randomness
    let n: u64 = rand::random();
    // ruleid: anshin-direct-randomness
    let mut rng = rand::rng();
    // ruleid: anshin-direct-randomness
    let key = Key::generate(&mut OsRng);
    // ruleid: anshin-direct-randomness
    let id = uuid::Uuid::now_v7();
    // ok: anshin-direct-randomness
    let id = random.id();
}

#[cfg(test)]
mod tests {
    fn in_a_test_module() {
        // ok: anshin-direct-randomness
        let id = uuid::Uuid::now_v7();
        // ok: anshin-direct-wall-clock
        let now = std::time::SystemTime::now();
    }
}

// ok: anshin-personal-data-in-logs
//! a doc comment that warns of `tracing::debug!(?address)` is not a log line
