//! The `anshin` command: `serve`, `migrate`, `config show`, `keys …`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
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
        action: crate::rotation::cli::KeysAction,
    },
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
            crate::rotation::cli::run(&settings, action).await
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
