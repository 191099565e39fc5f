//! The `aisopsflow-console` binary: command-line entry point of the console service.
//!
//! The service itself lives in the `aisopsflow_console` library so tests can run it in-process.

use std::process::ExitCode;

use aisopsflow_console::{COMPONENT, DEFAULT_LISTEN};
use aisopsflow_core::BuildInfo;
use aisopsflow_core::cli::{self, UsageError};
use aisopsflow_core::http::Url;

const USAGE: &str = "\
usage: aisopsflow-console [--version]
       aisopsflow-console [serve] [--listen ADDR] [--core URL]
       aisopsflow-console healthcheck [--url URL]  (default http://127.0.0.1:8081/healthz)

  --listen ADDR  address to listen on (env AISOPSFLOW_LISTEN, default 0.0.0.0:8081)
  --core URL     core's base URL (env AISOPSFLOW_CORE_URL, default http://core:8080)";

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
        // Flags without a subcommand mean `serve`, which is also what a bare invocation does.
        Some(first) if first.starts_with("--") => {
            serve(std::iter::once(first.to_owned()).chain(args).collect())
        }
        None => serve(Vec::new()),
        Some(other) => cli::usage_error(USAGE, &UsageError(format!("unknown command {other:?}"))),
    }
}

fn serve(args: Vec<String>) -> ExitCode {
    let (listen, core) = match parse_serve_args(args) {
        Ok(flags) => flags,
        Err(error) => return cli::usage_error(USAGE, &error),
    };
    let address = cli::listen_address(listen, DEFAULT_LISTEN);
    let core_url = cli::core_url(core);
    // A bad core URL would make every page a 502; refusing to start makes the mistake obvious.
    if let Err(error) = Url::parse(&core_url) {
        return cli::usage_error(USAGE, &UsageError(format!("--core: {error}")));
    }

    cli::exit_on_termination_signals_as_pid1();
    let info = BuildInfo::for_component(COMPONENT);
    match cli::bind_and_announce(&info, &address) {
        Ok(listener) => {
            eprintln!("reading core at {core_url}");
            aisopsflow_console::serve(listener, &core_url);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot listen on {address}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the `--listen` and `--core` values, if given.
fn parse_serve_args(args: Vec<String>) -> Result<(Option<String>, Option<String>), UsageError> {
    let mut args = args.into_iter();
    let (mut listen, mut core) = (None, None);
    while let Some(arg) = args.next() {
        if let Some(value) = cli::flag_value("--listen", &arg, &mut args)? {
            listen = Some(value);
        } else if let Some(value) = cli::flag_value("--core", &arg, &mut args)? {
            core = Some(value);
        } else {
            return Err(UsageError(format!("unexpected argument {arg:?}")));
        }
    }
    Ok((listen, core))
}
