//! Entry point: parse flags, dispatch one line per subcommand, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use xtask::flags::{Cmd, Format, Xtask};
use xtask::workspace::Global;

unsafe extern "C" {
    /// `signal(2)` from the C library std already links; no crate is needed for one call.
    fn signal(signum: i32, handler: usize) -> usize;
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `cargo xtask preflight | head` would make every later print
    // fail and panic. Restoring the default makes a closed pipe end the process quietly, as
    // for any other command-line tool.
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: called first thing in main, before any thread exists.
    unsafe { signal(SIGPIPE, SIG_DFL) };
    let args: Vec<String> = std::env::args().collect();
    let flags = match Xtask::try_parse_from(&args) {
        Ok(flags) => flags,
        Err(e) => {
            // clap prints help and version to stdout with success; real usage errors exit 2,
            // and a `--format json|sarif` run still gets its one document on stdout.
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::from(xtask::exit::OK);
            }
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("usage error")
                .trim_start_matches("error: ");
            document_error(
                xtask::flags::format_in_args(&args),
                xtask::flags::command_in_args(&args).unwrap_or("cargo xtask"),
                first,
                xtask::exit::USAGE,
                "usage",
            );
            return ExitCode::from(xtask::exit::USAGE);
        }
    };
    let (command, format) = (flags.cmd.name(), flags.cmd.format());
    xtask::secrets::install_panic_hook();
    // Unattended runs must fail rather than wait for a git credential prompt.
    if matches!(&flags.cmd, Cmd::Release(r) if r.yes)
        || matches!(&flags.cmd, Cmd::Promote(p) if p.yes)
    {
        xtask::effects::git::set_non_interactive();
    }
    xtask::effects::registry::set_verbose(flags.verbose > 0);
    xtask::output::init(flags.color, flags.quiet);
    let global = Global {
        repo: flags.repo,
        verbose: flags.verbose,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            xtask::note!("error: cannot start the async runtime: {e}");
            return ExitCode::from(xtask::exit::EXTERNAL);
        }
    };
    let result = runtime.block_on(async move {
        match flags.cmd {
            Cmd::Preflight(cmd) => cmd.run(&global).await,
            Cmd::Release(cmd) => cmd.run(&global).await,
            Cmd::Verify(cmd) => cmd.run(&global).await,
            Cmd::Publish(cmd) => cmd.run(&global).await,
            Cmd::Promote(cmd) => cmd.run(&global).await,
            Cmd::DocsChecks(cmd) => cmd.run(&global),
            Cmd::Rehearse(cmd) => cmd.run(&global).await,
            Cmd::Test(cmd) => cmd.run(&global).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // The whole chain, lower-case, with the fix at the end where one is known.
            let message = xtask::secrets::redact_all(&format!("{err:#}"));
            let message = message.trim_start_matches("(reported on stdout): ");
            xtask::note!("error: {message}");
            let code = xtask::exit::code_for(&err);
            if !xtask::exit::is_reported(&err) {
                document_error(format, command, message, code, xtask::exit::kind_name(&err));
            }
            ExitCode::from(code)
        }
    }
}

/// With `--format json|sarif`, stdout carries exactly one document whatever the exit code:
/// on an error it is the error document (docs/report-schema.md).
fn document_error(format: Format, command: &str, message: &str, code: u8, kind: &str) {
    let doc = match format {
        Format::Json => xtask::exit::json_error(command, message, code, kind),
        Format::Sarif => xtask::exit::sarif_error(message, code),
        Format::Human | Format::Github => return,
    };
    xtask::say!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}
