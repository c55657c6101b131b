//! The `chainlet` binary: parse the command line, run, map the outcome to an exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use chainlet::cli::{Cli, Command, LogFormat};
use chainlet::{attest, keygen};

fn main() -> ExitCode {
    let cli = parse();
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

/// Parses the command line. An empty `CHAINLET_*` variable counts as unset: Tekton passes every
/// StepAction param as an environment variable, and an empty param means "not given".
fn parse() -> Cli {
    fn ignore_empty_env(arg: clap::Arg) -> clap::Arg {
        let empty = arg
            .get_env()
            .is_some_and(|name| std::env::var_os(name).is_some_and(|v| v.is_empty()));
        if empty { arg.env(None) } else { arg }
    }
    let mut cmd = Cli::command().mut_args(ignore_empty_env);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| sub.mut_args(ignore_empty_env));
    }
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn init_logging(format: LogFormat, level: &str) -> Result<(), chainlet::Failure> {
    // A level, or `target=level` directives (`warn,chainlet::registry=trace`).
    let filter: tracing_subscriber::filter::Targets = match level.trim() {
        l if !l.contains(['=', ',']) => {
            let level: tracing_subscriber::filter::LevelFilter = l
                .parse()
                .map_err(|e| chainlet::Failure::usage(format!("--log-level {level:?}: {e}")))?;
            tracing_subscriber::filter::Targets::new().with_default(level)
        }
        l => l
            .parse()
            .map_err(|e| chainlet::Failure::usage(format!("--log-level {level:?}: {e}")))?,
    };
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Human => registry.with(layer.without_time()).init(),
        LogFormat::Json => registry.with(layer.json()).init(),
    }
    Ok(())
}
