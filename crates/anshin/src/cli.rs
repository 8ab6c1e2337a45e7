//! The `anshin` command: `serve`, `migrate`, `config show`, `keys …`,
//! `ledger check`, `audit …`, `staff …`, `incident …`, `shipping …`,
//! `retention run`, `payouts …`, `selfscan`, `sbom`, `demo seed`.

use std::path::PathBuf;
use std::sync::Arc;

use anshin_core::clock::SystemClock;
use anshin_core::keys::Keys;
use anshin_core::random::Random;
use anshin_core::rotation::{ReencryptOptions, reencrypt, retire, rewrap_all, rotate, status};
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::server::{Application, Shutdown, handle_signals};

/// One line of a command's output, through [`print_text`]: `println!`
/// panics when the reader went away (`anshin audit … | head`).
macro_rules! out {
    ($($arg:tt)*) => {
        print_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

#[derive(Debug, Parser)]
#[command(
    name = "anshin",
    version,
    about = "A creator marketplace whose security promises are tested code"
)]
pub struct Cli {
    /// TOML configuration file (optional; environment variables
    /// ANSHIN_<SECTION>__<KEY> override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the embedded default keeps its files (database, certificate,
    /// keys, mail outbox).
    #[arg(long, global = true, value_name = "DIR", env = "ANSHIN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the site: HTTPS, the HTTP redirect and the ops listener.
    Serve,
    /// Apply the embedded database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Key ring maintenance: status, rotation, re-encryption, retirement.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The double-entry ledger of payments and refunds.
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// Staff accounts of the staff console (C21).
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
    /// The tamper-evident audit log (C22): verify, export, checkpoints.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Incident response (C28): the incident record and its timeline, and
    /// the containment acts of docs/incident-response.md. Every act is
    /// audited and written to the incident's timeline.
    Incident {
        /// The incident to act on; without it, the one open incident.
        #[arg(long, global = true, value_name = "ID")]
        incident: Option<String>,
        #[command(subcommand)]
        action: IncidentAction,
    },
    /// The self-scan (C30): the dependency list embedded in the executable
    /// (`cargo auditable`) against the RustSec advisory database of
    /// `selfscan.advisory_db`, the certificate, TLS and the settings.
    /// Prints the report; exits with status 1 when it has findings.
    Selfscan {
        /// The executable to read (default: `selfscan.binary`, else this
        /// one).
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also keep the report in the database, mail it to the security
        /// team and record it in the audit log, as the weekly job does.
        #[arg(long)]
        record: bool,
    },
    /// The software bill of materials of this executable (C4): the
    /// dependency list `cargo auditable` embedded in it, one `name version`
    /// per line, sorted. Exits with status 1 when it carries no list.
    Sbom {
        /// The executable to read (default: this one).
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
        /// Print JSON (name, version, source, kind) instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Anonymous shipping (C19): parcel events for staff and carriers.
    Shipping {
        #[command(subcommand)]
        action: ShippingAction,
    },
    /// Retention (C17, docs/retention.md): purge records past their
    /// period, as the daily job does.
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// Creator payouts (C16): batches, Zengin transfer files, the bank's
    /// result. Each act is audited with the system as the actor.
    Payouts {
        #[command(subcommand)]
        action: PayoutsAction,
    },
    /// Demo data for a fresh database (the dynamic scan, C3, and a look
    /// around): refuses a database that has members.
    Demo {
        #[command(subcommand)]
        action: DemoAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoAction {
    /// Make three members, two shops, their items, addresses and (with a
    /// card processor configured) orders; print the demo member's e-mail
    /// and password.
    Seed {
        /// Print what was made as JSON (ids included, for scanners).
        #[arg(long)]
        json: bool,
        /// Pay the orders with this card reference of the configured
        /// processor (`card_…`, as its card element returns it), so they
        /// become the sellers' sales.
        #[arg(long, value_name = "REF")]
        card: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionAction {
    /// Purges every record whose period ended (delivered shipments one
    /// calendar month, JST, after delivery), in batches, each audited;
    /// prints the counts per kind.
    Run {
        /// Purge as if it were this time (RFC 3339, e.g.
        /// 2027-03-01T00:00:00+09:00) instead of now.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
        /// Only count what would be purged; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PayoutsAction {
    /// Put every requested payout in a new batch (prints its id), and
    /// with --export write its Zengin transfer file.
    Batch {
        /// 振込指定日, YYYY-MM-DD (default: the next weekday in Tokyo).
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Also write the batch's transfer file here.
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
    /// Write a batch's Zengin transfer file (refused, naming the payouts,
    /// if a name cannot be written in Zengin kana).
    Export {
        batch: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Import the bank's result file of a batch (importing it again
    /// settles nothing more).
    Import {
        batch: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Mark one payout paid or failed by hand.
    Mark {
        payout: String,
        /// `paid` or `failed`.
        #[arg(long)]
        outcome: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShippingAction {
    /// Records a parcel event after the drop-off; `delivered` also moves
    /// the order to delivered (its buyer can then complete it).
    Event {
        /// The order's id, or the parcel's drop-off code.
        target: String,
        /// `in_transit` or `delivered`.
        #[arg(long)]
        kind: String,
    },
    /// Accepts a parcel at the centre by its drop-off code (single use);
    /// the order becomes shipped. The console does this with its audit
    /// entry; this is for a centre without the console.
    Accept {
        /// The drop-off code as printed or scanned.
        code: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentAction {
    /// Open an incident record (prints its id).
    Open {
        /// A short name, no personal data (e.g. "leaked staff laptop").
        #[arg(long)]
        title: String,
    },
    /// End sessions at once, on every instance: every member's (--all) or
    /// one member's (--member), and/or every staff session (--staff).
    EndSessions {
        #[arg(long, conflicts_with = "member")]
        all: bool,
        #[arg(long, value_name = "MEMBER_ID")]
        member: Option<String>,
        #[arg(long)]
        staff: bool,
    },
    /// Lock a member: no login, no session served, sessions ended.
    Lock {
        #[arg(long, value_name = "MEMBER_ID")]
        member: String,
    },
    /// Lift a member's lock.
    Unlock {
        #[arg(long, value_name = "MEMBER_ID")]
        member: String,
    },
    /// Delete the password of one member (--member) or of every member
    /// (--all) and end their sessions: they log in by e-mail code and set
    /// a new password. Tell them with `notify --template password-reset`.
    ForcePasswordReset {
        #[arg(long, value_name = "MEMBER_ID", required_unless_present = "all")]
        member: Option<String>,
        #[arg(long, conflicts_with = "member")]
        all: bool,
    },
    /// Rotate the key encryption key (`anshin keys rotate`), recorded in
    /// the incident.
    RotateKeys,
    /// Disable a staff account (by id or e-mail) and end its sessions.
    DisableStaff { staff: String },
    /// Mail members a notice through the outbox (sessions-ended,
    /// password-reset or data-exposure), in their language. Resumable:
    /// run it again to continue after a stop.
    Notify {
        #[arg(long)]
        template: String,
        /// The members to mail (repeat it), or --all.
        #[arg(
            long = "member",
            value_name = "MEMBER_ID",
            required_unless_present = "all"
        )]
        members: Vec<String>,
        #[arg(long, conflicts_with = "members")]
        all: bool,
    },
    /// Close the incident with its lessons learned.
    Close {
        #[arg(long)]
        lessons: String,
    },
    /// List incidents: id, status, opened, title.
    List,
    /// Show an incident, its notification progress and its timeline.
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum StaffAction {
    /// Create a staff account; prints its one-time enrolment link (on the
    /// staff listener), where the person sets up their second factor.
    Add {
        email: String,
        /// admin, security, support, finance, shipping_worker or
        /// shipping_manager.
        #[arg(long)]
        role: String,
    },
    /// Disable a staff account (never deleted) and end its sessions.
    Disable { email: String },
    /// Change a staff member's role (by id or e-mail) and end their
    /// sessions: the new role applies from their next login. The last
    /// active administrator keeps the role; a disabled account cannot be
    /// changed.
    Role {
        /// The account's id or e-mail address.
        #[arg(value_name = "ID|EMAIL")]
        staff: String,
        /// admin, security, support, finance, shipping_worker or
        /// shipping_manager.
        #[arg(long)]
        role: String,
    },
    /// List staff accounts: e-mail, role, status, second factor.
    List,
    /// Print docs/access-control.md, generated from the access policy.
    PolicyDoc,
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Recompute the whole tree, check every checkpoint's signature (the
    /// database's and the witness directory's) and that the latest
    /// witnessed one is a prefix of the log. Names the first bad index and
    /// exits 1 on any finding.
    Verify,
    /// Print the entries made at or after a time as JSON lines (details
    /// left out once purged).
    Export {
        /// RFC 3339 time, e.g. 2026-12-01T00:00:00Z.
        #[arg(long, value_name = "RFC3339")]
        since: String,
    },
    /// Print the checkpoint verifier key (C2SP form:
    /// name+keyid+base64 key), to publish.
    PublicKey,
    /// Sign a checkpoint of the current log now (the job does it every
    /// audit.checkpoint_every_secs).
    Checkpoint,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Verify every transaction balances, no balance is on the wrong side
    /// of zero, and every paid order is posted once, as its total, fee and
    /// refunds say. Exits 1 on any finding.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration (defaults, file, environment),
    /// with every secret redacted.
    Show,
}

/// Runs the command line; the exit code follows the result.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref(), cli.data_dir.as_deref())?;
    match cli.command {
        Command::Config {
            action: ConfigAction::Show,
        } => {
            let text = settings.effective_toml()?;
            #[allow(clippy::print_stdout)] // this command's output is the point
            {
                print_text(&text);
            }
            Ok(())
        }
        Command::Migrate => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            crate::tls::install_default_provider();
            let store = crate::db::open(&settings).await?;
            store.migrate().await?;
            let status = store.schema_status().await?;
            tracing::info!(
                applied = status.applied,
                known = status.known,
                "migrations applied"
            );
            store.close().await;
            Ok(())
        }),
        Command::Keys { action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            keys_command(&settings, action).await
        }),
        Command::Ledger {
            action: LedgerAction::Check,
        } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            ledger_check(&settings).await
        }),
        Command::Staff {
            action: StaffAction::PolicyDoc,
        } => {
            #[allow(clippy::print_stdout)] // this command's output is the point
            {
                print_text(&crate::web::console::doc::access_control_md());
            }
            Ok(())
        }
        Command::Staff { action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            staff_command(&settings, action).await
        }),
        Command::Audit { action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            audit_command(&settings, action).await
        }),
        Command::Selfscan {
            binary,
            json,
            record,
        } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            selfscan_command(&settings, binary, json, record).await
        }),
        Command::Sbom { binary, json } => sbom_command(binary, json),
        Command::Retention {
            action: RetentionAction::Run { as_of, dry_run },
        } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            retention_run(&settings, as_of.as_deref(), dry_run).await
        }),
        Command::Shipping { action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            shipping_command(&settings, action).await
        }),
        Command::Payouts { action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            payouts_command(&settings, action).await
        }),
        Command::Incident { incident, action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            incident_command(&settings, incident.as_deref(), action).await
        }),
        Command::Demo {
            action: DemoAction::Seed { json, card },
        } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            demo_seed(&settings, json, card.as_deref()).await
        }),
        Command::Serve => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            let shutdown = Shutdown::new();
            tokio::spawn(handle_signals(app.cert_resolver(), shutdown.clone()));
            app.run(shutdown).await
        }),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// KEK versions, data keys per version, field values per version.
    Status,
    /// Add a KEK version and rewrap every member's data key (online).
    Rotate,
    /// Re-encrypt every field value with a fresh nonce (online,
    /// resumable after a kill: rerun to continue).
    Reencrypt {
        /// Values per committed batch.
        #[arg(long, default_value_t = 200, hide = true)]
        batch_size: u32,
        /// Pause after each batch, in milliseconds.
        #[arg(long, default_value_t = 0, hide = true)]
        pause_ms: u64,
    },
    /// Remove an old KEK version; refused while a data key uses it.
    Retire { version: u32 },
}

/// `anshin ledger check`: the core's `ledger::check`, printed.
#[allow(clippy::print_stdout)] // this command's output is the point
async fn ledger_check(settings: &Settings) -> anyhow::Result<()> {
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    let report = anshin_core::ledger::check(store.as_ref()).await;
    store.close().await;
    let report = report?;
    out!(
        "ledger: {} transaction(s), {} posting(s), {} order(s), {} payout(s)",
        report.transactions,
        report.postings,
        report.orders,
        report.payouts
    );
    for (account, shop, balance) in &report.balances {
        match shop {
            Some(s) => out!("  {} (shop {s}): {balance}", account.as_str()),
            None => out!("  {}: {balance}", account.as_str()),
        }
    }
    if report.is_sound() {
        out!("ledger check passed");
        Ok(())
    } else {
        for p in &report.problems {
            out!("PROBLEM: {p}");
        }
        anyhow::bail!("ledger check failed: {} problem(s)", report.problems.len())
    }
}

/// `anshin payouts …`: the core's `payouts` use cases, as the finance
/// console calls them, with the shell as the doer.
#[allow(clippy::print_stdout)] // these commands' output is the point
async fn payouts_command(settings: &Settings, action: PayoutsAction) -> anyhow::Result<()> {
    use anshin_core::payouts::{self, Doer};
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let svc = anshin_core::Services::offline(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &site_origin(settings),
    )?;
    let batch_id = |text: &str| {
        anshin_core::domain::PayoutBatchId::parse(text.trim())
            .ok_or_else(|| anyhow::anyhow!("{text:?} is not a batch id"))
    };
    let write = |path: &PathBuf, file: &payouts::TransferFile| -> anyhow::Result<()> {
        std::fs::write(path, &file.bytes)?;
        out!(
            "transfer file written to {} (sha256 {})",
            path.display(),
            file.sha256
        );
        Ok(())
    };
    let result: anyhow::Result<()> = async {
        match action {
            PayoutsAction::Batch { date, export } => {
                let b = payouts::build_batch(&svc, Doer::Shell, date.as_deref()).await?;
                out!(
                    "batch {}: {} payout(s), {} to transfer on {}",
                    b.id,
                    b.items,
                    b.total,
                    b.transfer_date
                );
                if let Some(path) = export {
                    write(
                        &path,
                        &payouts::export_batch(&svc, Doer::Shell, b.id).await?,
                    )?;
                }
            }
            PayoutsAction::Export { batch, out } => {
                let file = payouts::export_batch(&svc, Doer::Shell, batch_id(&batch)?).await?;
                write(&out, &file)?;
            }
            PayoutsAction::Import { batch, file } => {
                let bytes = std::fs::read(&file)?;
                let r =
                    payouts::import_result(&svc, Doer::Shell, batch_id(&batch)?, &bytes).await?;
                out!(
                    "result imported: {} paid, {} failed, {} settled before, {} contradicting \
                     an earlier result (left as they were)",
                    r.paid,
                    r.failed,
                    r.already,
                    r.contradicted
                );
            }
            PayoutsAction::Mark { payout, outcome } => {
                let id = anshin_core::domain::PayoutId::parse(payout.trim())
                    .ok_or_else(|| anyhow::anyhow!("{payout:?} is not a payout id"))?;
                let paid = match outcome.as_str() {
                    "paid" => true,
                    "failed" => false,
                    other => anyhow::bail!("--outcome must be paid or failed, not {other:?}"),
                };
                let s = payouts::settle_by_hand(&svc, Doer::Shell, id, paid).await?;
                out!("payout {id}: {s:?}");
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}

/// `anshin demo seed`: the core's demo data, with the site's origin for
/// the letters the logins queue.
#[allow(clippy::print_stdout)] // this command's output is the point
async fn demo_seed(settings: &Settings, json: bool, card: Option<&str>) -> anyhow::Result<()> {
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let processor: Arc<dyn anshin_core::payments::PaymentProcessor> =
        match crate::stripe::StripeProcessor::from_settings(&settings.payments)? {
            Some(p) => Arc::new(p),
            None => Arc::new(anshin_core::payments::NoProcessor),
        };
    let svc = anshin_core::Services::offline_with(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &site_origin(settings),
        processor,
    )?;
    let result = anshin_core::demo::seed(&svc, card).await;
    store.close().await;
    let data = result?;
    if json {
        out!("{}", serde_json::to_string_pretty(&data)?);
    } else {
        out!(
            "demo data: {} members, {} shops, {} items, {} orders{}",
            data.members.len(),
            data.shops.len(),
            data.items.len(),
            data.orders.len() + data.sales.len(),
            if data.orders_skipped {
                " (no card processor configured: no orders placed)"
            } else if data.orders_paid {
                " (paid)"
            } else {
                " (awaiting payment: no --card given)"
            }
        );
        out!(
            "log in as {} with the password {}",
            data.email,
            data.password
        );
    }
    Ok(())
}

/// The staff console's origin for enrolment links: `staff.base_url`,
/// else `https://` and `listen.staff`.
fn staff_origin(settings: &Settings) -> String {
    match &settings.staff.base_url {
        Some(url) => url.origin().ascii_serialization(),
        None => format!("https://{}", settings.listen.staff),
    }
}

/// `anshin staff …`: the core's `staff` use cases, as the console calls
/// them.
#[allow(clippy::print_stdout)] // these commands' output is the point
async fn staff_command(settings: &Settings, action: StaffAction) -> anyhow::Result<()> {
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let origin = staff_origin(settings);
    let svc = anshin_core::Services::offline(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &origin,
    )?;
    // Adding, changing a role and disabling are recorded in the audit log
    // by their use cases, with the system as the actor (reason
    // `command_line`).
    let parse_role = |role: &str| {
        anshin_core::domain::StaffRole::parse(role).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown role {role:?}; one of: {}",
                anshin_core::domain::StaffRole::ALL
                    .map(|r| r.as_str())
                    .join(", ")
            )
        })
    };
    let result = match action {
        StaffAction::Add { email, role } => {
            let role = parse_role(&role)?;
            let enrolment = anshin_core::staff::add(&svc, &email, role).await?;
            out!("staff account {} created ({role})", enrolment.staff);
            out!(
                "one-time enrolment link (give it to the person; valid {} h):",
                settings.staff.enrolment_ttl_secs / 3600
            );
            out!("{origin}{}", enrolment.path());
            Ok(())
        }
        StaffAction::Disable { email } => {
            let id = anshin_core::staff::disable_by_email(&svc, &email).await?;
            out!("staff account {id} disabled; its sessions ended");
            Ok(())
        }
        StaffAction::Role { staff, role } => {
            let role = parse_role(&role)?;
            let id = match anshin_core::staff::find_by_id_or_email(&svc, &staff).await {
                Err(anshin_core::staff::StaffError::InvalidEmail) => {
                    anyhow::bail!("not a staff id or e-mail address: {:?}", staff.trim())
                }
                r => r?,
            };
            let change = anshin_core::staff::change_role(&svc, id, role).await?;
            out!(
                "staff account {id}: role changed from {} to {}; its sessions ended \
                 (the new role applies at the next login)",
                change.from,
                change.to
            );
            Ok(())
        }
        StaffAction::List => {
            for a in anshin_core::staff::list(&svc).await? {
                out!(
                    "{}\t{}\t{}\t{}\t{}",
                    a.id,
                    a.email.as_str(),
                    a.role,
                    a.status.as_str(),
                    if a.enrolled { "totp" } else { "not-enrolled" }
                );
            }
            Ok(())
        }
        StaffAction::PolicyDoc => Ok(()),
    };
    store.close().await;
    result
}

/// `anshin keys …`: the core's key maintenance (`anshin_core::rotation`)
/// with a progress bar.
#[allow(clippy::print_stdout)] // these commands' output is the point
async fn keys_command(settings: &Settings, action: KeysAction) -> anyhow::Result<()> {
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Keys::load(&settings.keys, &settings.data_dir, &random)?;
    keys.check_against(store.as_ref()).await?;
    let clock = SystemClock;
    let result = match action {
        KeysAction::Status => {
            print_text(&status(store.as_ref(), &keys).await?.to_string());
            Ok(())
        }
        KeysAction::Rotate => {
            let (version, n) = rotate(store.as_ref(), &keys, &clock, &random).await?;
            out!("KEK version {version} is current; rewrapped {n} data key(s)");
            Ok(())
        }
        KeysAction::Reencrypt {
            batch_size,
            pause_ms,
        } => {
            // Keys left under an old KEK (say, by a rotation that was
            // killed) are rewrapped first.
            let rewrapped = rewrap_all(store.as_ref(), &keys, &clock, &random, 500).await?;
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} values re-encrypted ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style);
            }
            let hidden = bar.is_hidden();
            let mut on_batch = |done: u64, total: u64| {
                bar.set_length(total.max(done));
                bar.set_position(done);
                if hidden {
                    out!("progress {done}/{total}");
                }
            };
            let report = reencrypt(
                store.as_ref(),
                &keys,
                &clock,
                &random,
                ReencryptOptions {
                    batch_size,
                    pause: std::time::Duration::from_millis(pause_ms),
                },
                &mut on_batch,
            )
            .await?;
            bar.finish_and_clear();
            out!(
                "re-encrypted {} value(s){}; {} changed meanwhile, {} unreadable; rewrapped {rewrapped} data key(s)",
                report.done,
                if report.resumed { " (resumed)" } else { "" },
                report.skipped,
                report.unreadable
            );
            Ok(())
        }
        KeysAction::Retire { version } => {
            retire(store.as_ref(), &keys, &clock, version).await?;
            out!("KEK version {version} retired");
            Ok(())
        }
    };
    store.close().await;
    result
}

/// `anshin audit …`: the core's `audit` module, printed.
#[allow(clippy::print_stdout)] // these commands' output is the point
async fn audit_command(settings: &Settings, action: AuditAction) -> anyhow::Result<()> {
    use std::io::Write as _;

    use anshin_core::audit::verify::{read_witness, verify};

    let random = Random::os();
    let signer = settings.audit_signer(&random)?;
    if let AuditAction::PublicKey = action {
        out!("{}", signer.verifier());
        return Ok(());
    }
    let since = match &action {
        AuditAction::Export { since } => {
            Some(anshin_core::audit::export::parse_since(since).map_err(|e| anyhow::anyhow!(e))?)
        }
        _ => None,
    };
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let witness_dir = settings.audit.witness_dir(&settings.data_dir);
    let result = match action {
        AuditAction::PublicKey => Ok(()),
        AuditAction::Verify => {
            let witness = read_witness(&witness_dir)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", witness_dir.display()))?;
            let report = verify(
                store.as_ref(),
                keys.audit_key(),
                &signer.verifier(),
                &witness,
                &mut |_| {},
            )
            .await?;
            out!(
                "audit log: {} entries ({} with details purged), root {}; {} checkpoint(s) checked; latest witnessed size {}",
                report.entries,
                report.purged,
                anshin_core::audit::export::root_b64(&report.root),
                report.checkpoints,
                report
                    .witnessed
                    .map_or_else(|| "none".to_owned(), |s| s.to_string()),
            );
            match report.problem {
                None => {
                    out!("audit verify passed");
                    Ok(())
                }
                Some(p) => {
                    out!("PROBLEM: {p}");
                    Err(anyhow::anyhow!("audit verify failed at {p}"))
                }
            }
        }
        AuditAction::Export { .. } => {
            let since = since.unwrap_or(anshin_domain::Timestamp::from_micros(0));
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let n = anshin_core::audit::export::export(store.as_ref(), since, &mut |line| {
                writeln!(out, "{line}")
            })
            .await;
            out.flush()?;
            n.map(|n| tracing::info!(entries = n, "audit export written"))
                .map_err(Into::into)
        }
        AuditAction::Checkpoint => {
            let clock: Arc<dyn anshin_core::clock::Clock> = Arc::new(SystemClock);
            let svc = anshin_core::Services::offline(
                store.clone(),
                keys.clone(),
                clock,
                random,
                settings.core(),
                &settings.site.base_url.as_ref().map_or_else(
                    || "https://localhost".to_owned(),
                    |u| u.origin().ascii_serialization(),
                ),
            )?;
            let job = anshin_core::audit::checkpoint::Checkpointer::new(
                svc,
                Arc::new(signer),
                witness_dir,
                settings
                    .audit
                    .security_email
                    .as_deref()
                    .and_then(anshin_domain::EmailAddress::parse),
                std::time::Duration::from_secs(settings.audit.checkpoint_every_secs),
                anshin_domain::Duration::from_secs(settings.jobs.lease_secs),
            );
            match job.checkpoint().await {
                Ok(Some(cp)) => {
                    out!("checkpoint signed: size {}", cp.size);
                    Ok(())
                }
                Ok(None) => {
                    out!("no new entries since the last checkpoint");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
    };
    store.close().await;
    result
}

/// The site's origin for links in mails: `site.base_url`, else the public
/// listener's (as the server derives it).
fn site_origin(settings: &Settings) -> String {
    match &settings.site.base_url {
        Some(url) => url.origin().ascii_serialization(),
        None => crate::server::derived_origins(settings.listen.public).0,
    }
}

fn member_id(text: &str) -> anyhow::Result<anshin_domain::MemberId> {
    anshin_domain::MemberId::parse(text.trim())
        .ok_or_else(|| anyhow::anyhow!("not a member id (a UUID): {text:?}"))
}

fn incident_id(text: &str) -> anyhow::Result<anshin_domain::IncidentId> {
    anshin_domain::IncidentId::parse(text.trim())
        .ok_or_else(|| anyhow::anyhow!("not an incident id (a UUID): {text:?}"))
}

fn time_text(at: anshin_domain::Timestamp) -> String {
    anshin_core::accounts::format_time(at, 0, "UTC")
}

/// `anshin retention run`: the records purge of the retention job (C17)
/// from the shell, at now or `--as-of`, or only counting (`--dry-run`).
/// It may overlap the job: each record is purged once (the purge write
/// skips one already purged).
#[allow(clippy::print_stdout)] // this command's output is the point
async fn retention_run(
    settings: &Settings,
    as_of: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<()> {
    use anshin_core::retention::{RecordKind, purge_records};

    let as_of = as_of
        .map(|t| {
            anshin_core::retention::parse_time(t).ok_or_else(|| {
                anyhow::anyhow!(
                    "--as-of must be an RFC 3339 time such as 2027-03-01T00:00:00+09:00"
                )
            })
        })
        .transpose()?;
    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let svc = anshin_core::Services::offline(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &site_origin(settings),
    )?;
    let as_of = as_of.unwrap_or_else(|| svc.now());
    let result = purge_records(&svc, as_of, dry_run).await;
    store.close().await;
    let counts = result?;
    let verb = if dry_run { "would purge" } else { "purged" };
    out!("retention run as of {}", time_text(as_of));
    for &kind in RecordKind::ALL {
        out!("{}: {} {verb}", kind.as_str(), counts.of(kind));
    }
    if counts.flush == Some(anshin_store::Flushed::Pending) {
        out!(
            "the database's WAL is still busy (a reader holds an old snapshot): \
             the retention job's next run truncates it"
        );
    }
    Ok(())
}

/// `anshin sbom`: prints the list `cargo auditable` embedded in the
/// executable, read by the self-scan's reader.
fn sbom_command(binary: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let binary = match binary {
        Some(b) => b,
        None => std::env::current_exe()?,
    };
    let packages = match crate::selfscan::read_embedded(&binary) {
        Ok(p) => p,
        Err(crate::selfscan::ListError::Missing) => anyhow::bail!(
            "{} carries no dependency list: it was not built with `cargo auditable` \
             (scripts/start builds the release binary with it; `cargo auditable build -p anshin`)",
            binary.display()
        ),
        Err(crate::selfscan::ListError::Unreadable(e)) => anyhow::bail!(
            "the dependency list of {} cannot be read: {e}",
            binary.display()
        ),
    };
    let text = if json {
        serde_json::to_string_pretty(&packages)? + "\n"
    } else {
        packages
            .iter()
            .map(|p| format!("{} {}\n", p.name, p.version))
            .collect()
    };
    write_out(std::io::stdout().lock(), &text)
}

/// Writes a command's output. A reader that stopped early (`anshin sbom |
/// head`) ends the output; it is not an error, and not the panic that
/// `println!` makes of a broken pipe.
fn write_out(mut out: impl std::io::Write, text: &str) -> anyhow::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints a command's output. A reader that went away ends it quietly
/// and the command goes on to finish what it was doing (a purge or a key
/// rotation is not abandoned half-way because `head` stopped reading);
/// any other failure to write is said on standard error.
fn print_text(text: &str) {
    if let Err(e) = write_out(std::io::stdout().lock(), text) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "anshin: the output could not be written: {e:#}"
        );
    }
}

/// `anshin selfscan`: one scan, printed (and kept with `--record`).
#[allow(clippy::print_stdout)] // this command's output is the point
async fn selfscan_command(
    settings: &Settings,
    binary: Option<PathBuf>,
    json: bool,
    record: bool,
) -> anyhow::Result<()> {
    let scanner = crate::selfscan::ServerScan {
        settings: settings.clone(),
        binary,
    };
    let now = anshin_core::clock::Clock::now(&SystemClock);
    let report =
        tokio::task::spawn_blocking(move || anshin_core::selfscan::Scanner::scan(&scanner, now))
            .await?;
    if json {
        out!("{}", report.json());
    } else {
        print_text(&report.text());
    }
    if record {
        crate::tls::install_default_provider();
        let store = crate::db::open(settings).await?;
        store.migrate().await?;
        let random = Random::os();
        let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
        keys.check_against(store.as_ref()).await?;
        let svc = anshin_core::Services::offline(
            store.clone(),
            keys,
            Arc::new(SystemClock),
            random,
            settings.core(),
            &site_origin(settings),
        )?;
        let kept = anshin_core::selfscan::keep(
            &svc,
            &settings.alerts.team(),
            settings.alerts.language,
            &report,
        )
        .await;
        store.close().await;
        let id = kept?;
        out!("report {id} kept, mailed and audited");
    }
    if !report.findings.is_empty() {
        anyhow::bail!("the self-scan has {} findings", report.findings.len());
    }
    Ok(())
}

/// `anshin shipping …`: parcel events and acceptance by drop-off code
/// (C19) from the shell, through the core's `shipping` use cases.
#[allow(clippy::print_stdout)] // these commands' output is the point
async fn shipping_command(settings: &Settings, action: ShippingAction) -> anyhow::Result<()> {
    use anshin_core::shipping;
    use anshin_domain::ParcelEventKind;

    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let svc = anshin_core::Services::offline(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &site_origin(settings),
    )?;
    let result: anyhow::Result<()> = async {
        match action {
            ShippingAction::Event { target, kind } => {
                let kind = match ParcelEventKind::parse(&kind) {
                    Ok(k @ (ParcelEventKind::InTransit | ParcelEventKind::Delivered)) => k,
                    _ => anyhow::bail!("--kind must be in_transit or delivered"),
                };
                let s = shipping::record_event(&svc, &target, kind).await?;
                out!("shipment {}: {} recorded", s.id, kind.as_str());
            }
            ShippingAction::Accept { code } => {
                let s = shipping::accept(&svc, &code).await?;
                out!("shipment {} accepted; order {} shipped", s.id, s.order_id);
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}

/// `anshin incident …`: the core's `incidents` use cases, with the shell
/// as the actor (recorded as the system, reason `command_line`, like
/// `anshin staff add`).
#[allow(clippy::print_stdout)] // these commands' output is the point
async fn incident_command(
    settings: &Settings,
    incident: Option<&str>,
    action: IncidentAction,
) -> anyhow::Result<()> {
    use anshin_core::incidents::{self, Audience, Doer, Members};

    crate::tls::install_default_provider();
    let store = crate::db::open(settings).await?;
    store.migrate().await?;
    let random = Random::os();
    let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
    keys.check_against(store.as_ref()).await?;
    let svc = anshin_core::Services::offline(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &site_origin(settings),
    )?;
    let doer = Doer::shell();
    let chosen = incident.map(incident_id).transpose()?;
    let result: anyhow::Result<()> = async {
        match action {
            IncidentAction::Open { title } => {
                let id = incidents::open(&svc, &doer, &title).await?;
                out!("incident {id} opened");
                out!("next: contain (docs/incident-response.md), e.g. anshin incident end-sessions --all");
            }
            IncidentAction::List => {
                for r in incidents::list(&svc, &doer).await? {
                    out!(
                        "{}\t{}\t{}\t{}",
                        r.id,
                        r.status.as_str(),
                        time_text(r.opened_at),
                        r.title
                    );
                }
            }
            IncidentAction::Show { id } => {
                let (r, timeline) = incidents::show(&svc, &doer, incident_id(&id)?).await?;
                out!("incident {}: {}", r.id, r.title);
                out!("status:  {}", r.status.as_str());
                out!("opened:  {} by {}", time_text(r.opened_at), r.opened_by);
                if let Some(at) = r.closed_at {
                    out!("closed:  {}", time_text(at));
                }
                if let Some(n) = &r.notify {
                    out!(
                        "notify:  {} to {}: {}/{} mailed{}",
                        n.template,
                        n.audience,
                        n.sent,
                        n.total,
                        if n.finished_at.is_some() { ", finished" } else { ", NOT finished (run notify again to continue)" }
                    );
                }
                if let Some(l) = &r.lessons {
                    out!("lessons: {l}");
                }
                out!("timeline:");
                for e in timeline {
                    out!("  {}\t{}\t{}\t{}", time_text(e.at), e.actor, e.action, e.detail);
                }
            }
            action => {
                let inc = incidents::resolve(&svc, chosen).await?;
                let id = inc.id;
                match action {
                    IncidentAction::EndSessions { all, member, staff } => {
                        let members = match (all, member) {
                            (true, _) => Members::All,
                            (false, Some(m)) => Members::One(member_id(&m)?),
                            (false, None) => Members::None,
                        };
                        let ended = incidents::end_sessions(&svc, &doer, id, members, staff).await?;
                        if members != Members::None {
                            out!("ended member sessions ({} live before) on every instance", ended.member_sessions);
                        }
                        if staff {
                            out!("ended every staff session ({} live before)", ended.staff_sessions);
                        }
                    }
                    IncidentAction::Lock { member } => {
                        let m = member_id(&member)?;
                        incidents::lock_member(&svc, &doer, id, m).await?;
                        out!("member {m} locked; their sessions ended");
                    }
                    IncidentAction::Unlock { member } => {
                        let m = member_id(&member)?;
                        incidents::unlock_member(&svc, &doer, id, m).await?;
                        out!("member {m} unlocked");
                    }
                    IncidentAction::ForcePasswordReset { member, all } => {
                        let m = if all { None } else { member.as_deref().map(member_id).transpose()? };
                        incidents::force_password_reset(&svc, &doer, id, m).await?;
                        match m {
                            Some(m) => out!("password of member {m} removed; their sessions ended"),
                            None => out!("every member's password removed; every member session ended"),
                        }
                        out!("they log in by e-mail code; tell them: anshin incident notify --template password-reset");
                    }
                    IncidentAction::RotateKeys => {
                        let (version, n) = incidents::rotate_keys(&svc, &doer, id).await?;
                        out!("KEK version {version} is current; rewrapped {n} data key(s)");
                        out!("next: anshin keys reencrypt (fresh nonces), then anshin keys retire OLD_VERSION");
                    }
                    IncidentAction::DisableStaff { staff } => {
                        let sid = match anshin_domain::StaffId::parse(staff.trim()) {
                            Some(s) => s,
                            None => {
                                let email = anshin_domain::EmailAddress::parse(&staff)
                                    .ok_or_else(|| anyhow::anyhow!("not a staff id or e-mail: {staff:?}"))?;
                                svc.store
                                    .staff()
                                    .find_staff_by_email(&email)
                                    .await?
                                    .ok_or(incidents::IncidentError::StaffNotFound)?
                                    .id
                            }
                        };
                        incidents::disable_staff(&svc, &doer, id, sid).await?;
                        out!("staff account {sid} disabled; its sessions ended");
                    }
                    IncidentAction::Notify { template, members, all } => {
                        let t = anshin_core::mail::compose::IncidentTemplate::parse(&template)
                            .ok_or_else(|| {
                                anyhow::anyhow!(
                                    "unknown template {template:?}; one of: {}",
                                    anshin_core::mail::compose::IncidentTemplate::ALL
                                        .map(|t| t.as_str())
                                        .join(", ")
                                )
                            })?;
                        let audience = if all {
                            Audience::All
                        } else {
                            Audience::Members(members.iter().map(|m| member_id(m)).collect::<Result<_, _>>()?)
                        };
                        let bar = indicatif::ProgressBar::new(0);
                        if let Ok(style) = indicatif::ProgressStyle::with_template(
                            "{bar:40} {pos}/{len} members mailed ({per_sec}, eta {eta})",
                        ) {
                            bar.set_style(style);
                        }
                        let hidden = bar.is_hidden();
                        let mut on_progress = |done: u64, total: u64| {
                            bar.set_length(total.max(done));
                            bar.set_position(done);
                            if hidden {
                                out!("progress {done}/{total}");
                            }
                        };
                        let report = incidents::notify(&svc, &doer, id, t, audience, &mut on_progress).await;
                        bar.finish_and_clear();
                        let report = report?;
                        if report.already_done {
                            out!("notification {} finished before: {} mail(s) queued; nothing to do", t.as_str(), report.sent);
                        } else {
                            out!(
                                "notification {}: {} of {} member(s) mailed{} (queued in the outbox)",
                                t.as_str(),
                                report.sent,
                                report.total,
                                if report.resumed { " (resumed)" } else { "" }
                            );
                        }
                    }
                    IncidentAction::Close { lessons } => {
                        incidents::close(&svc, &doer, id, &lessons).await?;
                        out!("incident {id} closed");
                    }
                    IncidentAction::Open { .. } | IncidentAction::List | IncidentAction::Show { .. } => {}
                }
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::write_out;

    /// A reader that has gone away, as `head` after its lines.
    struct Closed;
    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A disk that is full: a real failure.
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::StorageFull.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn c04_output_to_a_reader_that_stopped_is_the_end_not_a_panic_or_an_error() {
        assert!(write_out(Closed, "ring 0.17.8\n").is_ok());
        assert!(write_out(Full, "ring 0.17.8\n").is_err());
        let mut buf = Vec::new();
        write_out(&mut buf, "a 1\nb 2\n").unwrap();
        assert_eq!(buf, b"a 1\nb 2\n");
    }
}
