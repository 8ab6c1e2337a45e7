//! The `anshin` command: `serve`, `migrate`, `config show`, `keys …`,
//! `ledger check`.

use std::path::PathBuf;
use std::sync::Arc;

use anshin_core::clock::SystemClock;
use anshin_core::keys::Keys;
use anshin_core::random::Random;
use anshin_core::rotation::{ReencryptOptions, reencrypt, retire, rewrap_all, rotate, status};
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::server::{Application, Shutdown, handle_signals};

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
    /// List staff accounts: e-mail, role, status, second factor.
    List,
    /// Print docs/access-control.md, generated from the access policy.
    PolicyDoc,
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
                print!("{text}");
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
                print!("{}", crate::web::console::doc::access_control_md());
            }
            Ok(())
        }
        Command::Staff { action } => runtime()?.block_on(async {
            crate::logging::init(&settings.log);
            staff_command(&settings, action).await
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
    println!(
        "ledger: {} transaction(s), {} posting(s), {} order(s)",
        report.transactions, report.postings, report.orders
    );
    for (account, shop, balance) in &report.balances {
        match shop {
            Some(s) => println!("  {} (shop {s}): {balance}", account.as_str()),
            None => println!("  {}: {balance}", account.as_str()),
        }
    }
    if report.is_sound() {
        println!("ledger check passed");
        Ok(())
    } else {
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        anyhow::bail!("ledger check failed: {} problem(s)", report.problems.len())
    }
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
    // audit: each command below is an act of the operator at the shell
    // (who: "cli"), recorded in the use case's bundle once the audit log
    // lands.
    let result = match action {
        StaffAction::Add { email, role } => {
            let role = anshin_core::domain::StaffRole::parse(&role).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown role {role:?}; one of: {}",
                    anshin_core::domain::StaffRole::ALL
                        .map(|r| r.as_str())
                        .join(", ")
                )
            })?;
            let enrolment = anshin_core::staff::add(&svc, &email, role).await?;
            println!("staff account {} created ({role})", enrolment.staff);
            println!(
                "one-time enrolment link (give it to the person; valid {} h):",
                settings.staff.enrolment_ttl_secs / 3600
            );
            println!("{origin}{}", enrolment.path());
            Ok(())
        }
        StaffAction::Disable { email } => {
            let id = anshin_core::staff::disable_by_email(&svc, &email).await?;
            println!("staff account {id} disabled; its sessions ended");
            Ok(())
        }
        StaffAction::List => {
            for a in anshin_core::staff::list(&svc).await? {
                println!(
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
            print!("{}", status(store.as_ref(), &keys).await?);
            Ok(())
        }
        KeysAction::Rotate => {
            let (version, n) = rotate(store.as_ref(), &keys, &clock, &random).await?;
            println!("KEK version {version} is current; rewrapped {n} data key(s)");
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
                    println!("progress {done}/{total}");
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
            println!(
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
            println!("KEK version {version} retired");
            Ok(())
        }
    };
    store.close().await;
    result
}
