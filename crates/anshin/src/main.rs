//! The `anshin` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    match anshin::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The one place that talks to an operator without logging set
            // up: configuration and start-up failures.
            eprintln!("anshin: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
