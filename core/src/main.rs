//! The `aisopsflow-core` binary: command-line entry point of the core service.
//!
//! The service itself lives in the library (`aisopsflow_core::service`) so tests can run it
//! in-process; this file only turns arguments and environment into a call to it.

use std::process::ExitCode;

use aisopsflow_core::BuildInfo;
use aisopsflow_core::cli::{self, UsageError};
use aisopsflow_core::service::{self, COMPONENT, DEFAULT_LISTEN};

const USAGE: &str = "\
usage: aisopsflow-core [--version]
       aisopsflow-core [serve] [--listen ADDR]     (default 0.0.0.0:8080, env AISOPSFLOW_LISTEN)
       aisopsflow-core healthcheck [--url URL]    (default http://127.0.0.1:8080/healthz)";

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
        Some("healthcheck") => cli::healthcheck_command(args, DEFAULT_LISTEN, USAGE),
        Some("serve") => serve(args.collect()),
        // Flags without a subcommand mean `serve`, so `--listen` works on its own too.
        Some(first) if first.starts_with("--") => {
            serve(std::iter::once(first.to_owned()).chain(args).collect())
        }
        None => serve(Vec::new()),
        Some(other) => cli::usage_error(USAGE, &UsageError(format!("unknown command {other:?}"))),
    }
}

fn serve(args: Vec<String>) -> ExitCode {
    let mut args = args.into_iter();
    let mut listen = None;
    while let Some(arg) = args.next() {
        match cli::flag_value("--listen", &arg, &mut args) {
            Ok(Some(value)) => listen = Some(value),
            Ok(None) => {
                return cli::usage_error(
                    USAGE,
                    &UsageError(format!("unexpected argument {arg:?}")),
                );
            }
            Err(error) => return cli::usage_error(USAGE, &error),
        }
    }
    let address = cli::listen_address(listen, DEFAULT_LISTEN);

    cli::exit_on_termination_signals_as_pid1();
    let info = BuildInfo::for_component(COMPONENT);
    match cli::bind_and_announce(&info, &address) {
        Ok(listener) => {
            service::serve(listener);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot listen on {address}: {error}");
            ExitCode::FAILURE
        }
    }
}
