//! Command-line plumbing shared by the three binaries: flag parsing, the environment variables
//! that stand in for flags in containers, the `healthcheck` subcommand and process signals.
//!
//! The binaries run as PID 1 in FROM-scratch images with no shell, so everything an operator or
//! a Dockerfile `HEALTHCHECK` needs has to be built in, and must behave identically in each one.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use crate::build_info::BuildInfo;
use crate::http::Client;

/// Overrides the default listen address of the core and console services.
pub const LISTEN_ENV: &str = "AISOPSFLOW_LISTEN";

/// Tells the runner and the console where core is.
pub const CORE_URL_ENV: &str = "AISOPSFLOW_CORE_URL";

/// Where core is when nothing says otherwise: its service name on the deployment network.
pub const DEFAULT_CORE_URL: &str = "http://core:8080";

/// The exit code for command-line mistakes, as BSD `sysexits` and most CLIs use.
pub const EXIT_USAGE: u8 = 2;

/// A command-line mistake, reported together with the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Prints `error` and the usage text to stderr and returns the usage exit code (2).
pub fn usage_error(usage: &str, error: &UsageError) -> ExitCode {
    eprintln!("error: {error}\n\n{usage}");
    ExitCode::from(EXIT_USAGE)
}

/// Recognises `flag VALUE` and `flag=VALUE`. Returns `Ok(None)` when `arg` is a different
/// argument, and an error when `flag` is given without a value.
pub fn flag_value(
    flag: &str,
    arg: &str,
    rest: &mut impl Iterator<Item = String>,
) -> Result<Option<String>, UsageError> {
    if arg == flag {
        return match rest.next() {
            Some(value) => Ok(Some(value)),
            None => Err(UsageError(format!("{flag} needs a value"))),
        };
    }
    Ok(arg
        .strip_prefix(flag)
        .and_then(|tail| tail.strip_prefix('='))
        .map(str::to_owned))
}

/// Reads an environment variable, treating an empty value as unset so that compose files can
/// declare a variable without forcing a value.
pub fn env_non_empty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The address to listen on: the flag, else `AISOPSFLOW_LISTEN`, else `default`.
pub fn listen_address(flag: Option<String>, default: &str) -> String {
    flag.or_else(|| env_non_empty(LISTEN_ENV))
        .unwrap_or_else(|| default.to_owned())
}

/// Core's base URL: the flag, else `AISOPSFLOW_CORE_URL`, else [`DEFAULT_CORE_URL`], with any
/// trailing slash removed so that paths can be appended directly.
pub fn core_url(flag: Option<String>) -> String {
    let url = flag
        .or_else(|| env_non_empty(CORE_URL_ENV))
        .unwrap_or_else(|| DEFAULT_CORE_URL.into());
    url.trim_end_matches('/').to_owned()
}

/// Binds `address` and prints the startup line, `<build info> listening on <address>`, to
/// stderr. The printed address is the bound one, so `127.0.0.1:0` shows the real port; tests and
/// scripts read it from there.
pub fn bind_and_announce(info: &BuildInfo, address: &str) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(address)?;
    let bound: SocketAddr = listener.local_addr()?;
    eprintln!("{info} listening on {bound}");
    Ok(listener)
}

/// The URL `healthcheck` probes by default: `/healthz` on loopback at the port the service
/// listens on, taken from `AISOPSFLOW_LISTEN` when set, so that a container started with a
/// different port still passes its `HEALTHCHECK` without extra arguments.
pub fn default_healthcheck_url(default_listen: &str) -> String {
    let listen = listen_address(None, default_listen);
    let port = listen.rsplit_once(':').map_or("80", |(_, port)| port);
    format!("http://127.0.0.1:{port}/healthz")
}

/// Runs the `healthcheck [--url URL]` subcommand: exit 0 when `GET URL` answers 200, else 1.
pub fn healthcheck_command(
    args: impl IntoIterator<Item = String>,
    default_listen: &str,
    usage: &str,
) -> ExitCode {
    let mut args = args.into_iter();
    let mut url = None;
    while let Some(arg) = args.next() {
        match flag_value("--url", &arg, &mut args) {
            Ok(Some(value)) => url = Some(value),
            Ok(None) => {
                return usage_error(usage, &UsageError(format!("unexpected argument {arg:?}")));
            }
            Err(error) => return usage_error(usage, &error),
        }
    }
    let url = url.unwrap_or_else(|| default_healthcheck_url(default_listen));
    match check_health(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("unhealthy: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Probes `url` once. Timeouts are short because Docker runs health checks with their own
/// deadline, and a check that hangs is reported as a failure anyway.
pub fn check_health(url: &str) -> Result<(), String> {
    let client = Client {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(5),
        ..Client::default()
    };
    match client.get(url) {
        Ok(response) if response.status == 200 => Ok(()),
        Ok(response) => {
            // Enough of the body to say why (a 502 page's message), not a whole HTML document.
            let text = response.text();
            let excerpt: String = text.trim().chars().take(200).collect();
            Err(format!("GET {url} answered {}: {excerpt}", response.status))
        }
        Err(error) => Err(format!("GET {url} failed: {error}")),
    }
}

/// Makes SIGTERM and SIGINT end the process when it runs as PID 1.
///
/// The kernel does not apply default signal actions to PID 1, which is what each binary is in
/// its FROM-scratch container; without a handler `docker stop` waits its full grace period and
/// then kills. The services keep no state worth flushing (the registry is in memory by design),
/// so exiting at once with status 0 is the graceful shutdown. Outside PID 1 the default actions
/// already do the right thing and nothing is installed.
pub fn exit_on_termination_signals_as_pid1() {
    #[cfg(target_os = "linux")]
    if std::process::id() == 1 {
        linux_signals::install();
    }
}

#[cfg(target_os = "linux")]
mod linux_signals {
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;

    // std already links libc, so declaring these two functions adds no dependency.
    unsafe extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
        fn _exit(status: i32) -> !;
    }

    extern "C" fn on_termination(_signum: i32) {
        // Only async-signal-safe calls are allowed here; `_exit` is one, `std::process::exit`
        // (which runs atexit handlers and flushes stdio) is not.
        unsafe { _exit(0) }
    }

    pub(super) fn install() {
        // SAFETY: `on_termination` is an `extern "C" fn(i32)`, the handler type `signal`
        // expects, and it only calls `_exit`, which is async-signal-safe.
        unsafe {
            signal(SIGINT, on_termination);
            signal(SIGTERM, on_termination);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_value_accepts_both_spellings() {
        let mut rest = vec!["127.0.0.1:1".to_owned()].into_iter();
        assert_eq!(
            flag_value("--listen", "--listen", &mut rest),
            Ok(Some("127.0.0.1:1".into()))
        );
        let mut rest = std::iter::empty();
        assert_eq!(
            flag_value("--listen", "--listen=a:1", &mut rest),
            Ok(Some("a:1".into()))
        );
        assert_eq!(flag_value("--listen", "--listener=a", &mut rest), Ok(None));
        assert_eq!(flag_value("--listen", "--core", &mut rest), Ok(None));
        assert!(flag_value("--listen", "--listen", &mut rest).is_err());
    }
}
