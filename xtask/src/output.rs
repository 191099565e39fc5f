//! Terminal conventions every command shares: colour and `--quiet`.
//!
//! Colour follows `--color auto|always|never`; with `auto` (the default) the environment
//! decides, in the order anstream (the terminal layer of clap and cargo) uses:
//! `NO_COLOR` (non-empty: never, <https://no-color.org>), then `CLICOLOR_FORCE` (set and not
//! `0`: always, even into a pipe, <https://bixense.com/clicolors/>), then `CLICOLOR=0` (never),
//! then colour only on a terminal whose `TERM` is not `dumb` (or on a terminal in CI).
//! `--quiet` drops progress and status lines on stderr; reports, warnings and errors stay.
//!
//! Every line the tool prints goes through one path, [`emit`] (the `say!` and `note!` macros,
//! for stdout and stderr): it redacts every registered secret (`secrets::redact_all`) and never
//! panics on a closed pipe (`cargo xtask verify 1.2.3 | head` ends quietly, where `println!`
//! would panic). A tidy test keeps `println!` and its kin out of the rest of the code.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::ValueEnum;

/// `--color WHEN`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR or CLICOLOR=0 say otherwise (CLICOLOR_FORCE
    /// forces it).
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: OnceLock<ColorWhen> = OnceLock::new();
static QUIET: AtomicBool = AtomicBool::new(false);

/// Records the global flags; `main` calls it once, before any output.
pub fn init(color: ColorWhen, quiet: bool) {
    let _ = COLOR.set(color);
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given: status and progress lines are not printed.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether to colour what goes to stdout.
pub(crate) fn color_stdout() -> bool {
    decide(
        COLOR.get().copied().unwrap_or_default(),
        &|k| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned()),
        std::io::stdout().is_terminal(),
    )
}

/// The colour decision for a stream, from the flag, the environment (`env`) and whether the
/// stream is a terminal.
pub(crate) fn decide(
    when: ColorWhen,
    env: &dyn Fn(&str) -> Option<String>,
    terminal: bool,
) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            let set = |k: &str| env(k).filter(|v| !v.is_empty());
            if set("NO_COLOR").is_some() {
                return false;
            }
            if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                return true;
            }
            let clicolor = env("CLICOLOR");
            if clicolor.as_deref() == Some("0") {
                return false;
            }
            let term_ok = env("TERM").is_some_and(|t| t != "dumb");
            terminal && (term_ok || clicolor.is_some() || set("CI").is_some())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let env = with(&[("NO_COLOR", "1"), ("TERM", "xterm")]);
        assert!(decide(ColorWhen::Always, &env, false));
        let env = with(&[("CLICOLOR_FORCE", "1"), ("TERM", "xterm")]);
        assert!(!decide(ColorWhen::Never, &env, true));
    }

    #[test]
    fn auto_follows_no_color_clicolor_and_the_terminal() {
        use ColorWhen::Auto;
        let term = [("TERM", "xterm-256color")];
        // (environment, stdout is a terminal, colour?)
        type Row<'a> = (&'a [(&'a str, &'a str)], bool, bool);
        let table: &[Row] = &[
            (&term, true, true),
            (&term, false, false),
            (&[("TERM", "xterm"), ("NO_COLOR", "1")], true, false),
            // An empty NO_COLOR is not set (no-color.org).
            (&[("TERM", "xterm"), ("NO_COLOR", "")], true, true),
            // NO_COLOR wins over CLICOLOR_FORCE (anstream's order).
            (&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], false, false),
            (&[("CLICOLOR_FORCE", "1")], false, true),
            (&[("CLICOLOR_FORCE", "0"), ("TERM", "xterm")], false, false),
            (&[("CLICOLOR", "0"), ("TERM", "xterm")], true, false),
            (&[("CLICOLOR", "1")], true, true),
            (&[("CLICOLOR", "1")], false, false),
            (&[("TERM", "dumb")], true, false),
            (&[], true, false),
            (&[("CI", "true")], true, true),
        ];
        for (vars, terminal, want) in table {
            assert_eq!(
                decide(Auto, &with(vars), *terminal),
                *want,
                "{vars:?} terminal={terminal}"
            );
        }
    }
}

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The one output path: writes `text` (and a newline when `line`) to `stream` with every
/// registered secret redacted; a write error (a closed pipe) is ignored.
pub fn emit(stream: Stream, text: &str, line: bool) {
    use std::io::Write as _;
    let mut text = crate::secrets::redact_all(text);
    if line {
        text.push('\n');
    }
    let _ = match stream {
        Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
        Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
    };
}

/// `println!` through the one output path (redacted, safe on a closed pipe).
#[macro_export]
macro_rules! say {
    () => { $crate::output::emit($crate::output::Stream::Stdout, "", true) };
    ($($t:tt)*) => { $crate::output::emit($crate::output::Stream::Stdout, &format!($($t)*), true) };
}

/// `print!` through the one output path.
#[macro_export]
macro_rules! say_part {
    ($($t:tt)*) => { $crate::output::emit($crate::output::Stream::Stdout, &format!($($t)*), false) };
}

/// `eprintln!` through the one output path.
#[macro_export]
macro_rules! note {
    () => { $crate::output::emit($crate::output::Stream::Stderr, "", true) };
    ($($t:tt)*) => { $crate::output::emit($crate::output::Stream::Stderr, &format!($($t)*), true) };
}

/// `eprint!` through the one output path.
#[macro_export]
macro_rules! note_part {
    ($($t:tt)*) => { $crate::output::emit($crate::output::Stream::Stderr, &format!($($t)*), false) };
}
