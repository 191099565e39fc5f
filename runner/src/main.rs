//! The `aisopsflow-runner` binary: turns arguments and environment into a runner [`Config`].
//!
//! The registration and heartbeat logic lives in the `aisopsflow_runner` library.

use std::process::ExitCode;
use std::time::Duration;

use aisopsflow_core::BuildInfo;
use aisopsflow_core::cli::{self, UsageError};
use aisopsflow_core::http::Url;
use aisopsflow_runner::{COMPONENT, Config, DEFAULT_INTERVAL};

const USAGE: &str = "\
usage: aisopsflow-runner [--version]
       aisopsflow-runner [run] [--core URL] [--name NAME] [--interval SECS] [--once]

  --core URL       core's base URL (env AISOPSFLOW_CORE_URL, default http://core:8080)
  --name NAME      the name to register with (env AISOPSFLOW_RUNNER_NAME, default the host name)
  --interval SECS  seconds between heartbeats (default 30)
  --once           register, send one heartbeat, print the runner id and exit";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version" | "-V") => {
            println!("{}", BuildInfo::for_component(COMPONENT));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("run") => run(args.collect()),
        // Flags without a subcommand mean `run`, which is also what a bare invocation does.
        Some(first) if first.starts_with("--") => {
            run(std::iter::once(first.to_owned()).chain(args).collect())
        }
        None => run(Vec::new()),
        Some(other) => cli::usage_error(USAGE, &UsageError(format!("unknown command {other:?}"))),
    }
}

fn run(args: Vec<String>) -> ExitCode {
    let config = match parse_run_args(args) {
        Ok(config) => config,
        Err(error) => return cli::usage_error(USAGE, &error),
    };
    cli::exit_on_termination_signals_as_pid1();
    match aisopsflow_runner::run(&config) {
        Ok(id) => {
            println!("registered as runner {id}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_run_args(args: Vec<String>) -> Result<Config, UsageError> {
    let mut args = args.into_iter();
    let (mut core, mut name, mut interval, mut once) = (None, None, None, false);
    while let Some(arg) = args.next() {
        if arg == "--once" {
            once = true;
        } else if let Some(value) = cli::flag_value("--core", &arg, &mut args)? {
            core = Some(value);
        } else if let Some(value) = cli::flag_value("--name", &arg, &mut args)? {
            name = Some(value);
        } else if let Some(value) = cli::flag_value("--interval", &arg, &mut args)? {
            interval = Some(value);
        } else {
            return Err(UsageError(format!("unexpected argument {arg:?}")));
        }
    }

    let core_url = cli::core_url(core);
    // Checking the URL up front turns a typo into a usage error instead of five failed retries.
    Url::parse(&core_url).map_err(|error| UsageError(format!("--core: {error}")))?;

    let interval = match interval {
        None => DEFAULT_INTERVAL,
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => {
                return Err(UsageError(format!(
                    "--interval needs a whole number of seconds > 0, got {text:?}"
                )));
            }
        },
    };

    let name = name.unwrap_or_else(aisopsflow_runner::default_name);
    if name.trim().is_empty() {
        return Err(UsageError("--name must not be empty".into()));
    }

    Ok(Config {
        core_url,
        name,
        interval,
        once,
    })
}
