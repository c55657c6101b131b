//! The `chainlet` binary: parse the command line, run, map the outcome to an exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use chainlet::cli::{Cli, Command, LogFormat};
use chainlet::{attest, keygen};

/// Exit code of a panic: a bug in chainlet, never an answer to input (see README).
const EXIT_BUG: i32 = 3;

fn main() -> ExitCode {
    // The release build aborts on panic (SIGABRT, 134); a bug should still end with one line
    // and a documented code. No panic message carries secrets: chainlet's own panics are
    // `expect`s on invariants, with fixed texts.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let what = what.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("chainlet: internal error (a bug, please report it): {what}{place}");
        std::process::exit(EXIT_BUG);
    }));
    let cli = parse();
    if let Err(failure) = init_logging(cli.log_format, &cli.log_level) {
        eprintln!("chainlet: error: {}", failure.message);
        return ExitCode::from(failure.code);
    }
    let json = cli.log_format == LogFormat::Json;
    let outcome = match cli.command {
        Command::Attest(args) => attest::run(&args),
        Command::GenerateKeyPair(args) => keygen::run(&args),
        Command::Verify(args) => chainlet::verify::run(&args),
        Command::Version => chainlet::print(&format!("chainlet {}\n", env!("CARGO_PKG_VERSION"))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json && tracing::enabled!(tracing::Level::ERROR) {
                // One JSON object like every other line, so a log collector parses it too.
                tracing::error!(exit_code = failure.code, "{}", failure.message);
            } else {
                eprintln!("chainlet: error: {}", failure.message);
            }
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
    // A level, or `target=level` directives (`warn,chainlet::net=trace` shows every HTTP request).
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
