//! The `chainlet` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser as _;

use chainlet::cli::{Cli, Command, LogFormat};
use chainlet::{attest, keygen};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(failure) = init_logging(cli.log_format, &cli.log_level) {
        eprintln!("chainlet: error: {}", failure.message);
        return ExitCode::from(failure.code);
    }
    let outcome = match cli.command {
        Command::Attest(args) => attest::run(&args),
        Command::GenerateKeyPair(args) => keygen::run(&args),
        Command::Version => chainlet::print(&format!("chainlet {}\n", env!("CARGO_PKG_VERSION"))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("chainlet: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn init_logging(format: LogFormat, level: &str) -> Result<(), chainlet::Failure> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| chainlet::Failure::usage(format!("--log-level {level:?}: {e}")))?;
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogFormat::Human => builder.without_time().init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
