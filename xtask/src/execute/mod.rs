//! Executing a release: observing the world, walking the plan's steps, waiting for the
//! publish run, verifying and writing the notes. `promote` (`promote.rs`) shares the run
//! search and the wait.
//!
//! `observe` reads everything planning needs through the adapters (git, the registry, the notes
//! directory) into a `plan::World`; `plan::plan` decides. `release` then walks the steps, and
//! each step first checks whether its work is already done, so a rerun after an interruption
//! (Ctrl-C, a lost connection, a timeout) continues where the last run stopped. What a rerun
//! cannot observe after the tag is pushed, namely what `latest` was before the publish run
//! moved it and when the tag was pushed, lives in a resume record,
//! `<notes dir>/.<version>.state.json`, written atomically before the push and removed once
//! the notes are written.
//!
//! Waiting polls the run and its jobs with conditional requests: the GitHub client sends the
//! ETag it has, an unchanged run answers 304, and a 304 does not count against the primary
//! rate limit. The interval starts at 2 s, grows to 10 s while nothing changes, drops back on
//! any change, and stretches further when the rate-limit headers say the budget is low.

mod observe;
mod resume;
mod steps;
mod wait;

pub use observe::*;
pub use resume::*;
pub use wait::*;

use steps::Releasing;

pub use crate::checks::manual::operator;

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;

use crate::checks::manual::Attestations;
use crate::exit::usage;
use crate::flags::Format;
use crate::notes::{self};
use crate::plan::{self, Plan, Request};
use crate::workspace::Workspace;

/// Everything `release` needs besides the workspace.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    pub request: Request,
    pub yes: bool,
    pub dry_run: bool,
    pub format: Format,
    /// The bound on finding and waiting for the publish run.
    pub timeout: Duration,
    pub attestations: Attestations,
    /// Gate check-id prefixes to skip (recorded as skipped in the notes).
    pub skip_checks: Vec<String>,
    pub poll: Poll,
    /// Who plays the org admin when the first release needs one (the rehearsal does); `None`
    /// in a real release, which then stops with the admin's instructions.
    pub admin: Option<Admin>,
}

/// The org admin's one-way visibility flip of a package (`org/name`), which has no API on
/// GitHub. Returns one line saying what was done.
#[derive(Clone)]
pub struct Admin(pub std::sync::Arc<AdminFlip>);

/// What [`Admin`] holds: given `org/name`, flips that package and says what it did.
pub(crate) type AdminFlip =
    dyn Fn(&str) -> futures_util::future::BoxFuture<'static, anyhow::Result<String>> + Send + Sync;

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admin(..)")
    }
}

/// Prints a progress line (stderr, so stdout stays the plan and the result).
/// A status line on stderr (redacted); `--quiet` drops it.
pub(crate) fn say(msg: impl AsRef<str>) {
    if !crate::output::quiet() {
        crate::note!("{}", crate::secrets::redact_all(msg.as_ref()));
    }
}

/// Whether a confirmation prompt is reading the terminal. A blocked read cannot be cancelled,
/// and the runtime would wait for it on shutdown, so Ctrl-C at the prompt exits at once.
static PROMPTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Handles Ctrl-C: says how to resume; exits at once when a prompt holds the terminal.
pub(crate) fn interrupted(resume: &str) -> u8 {
    // Printed even with --quiet: it says how to resume.
    crate::note!(
        "{}",
        crate::secrets::redact_all(&format!("interrupted: rerun `{resume}` to resume"))
    );
    if PROMPTING.load(std::sync::atomic::Ordering::SeqCst) {
        std::process::exit(130);
    }
    130
}

/// Asks on the terminal; no terminal is a usage error naming `--yes`.
pub(crate) async fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no terminal to ask for confirmation on; rerun with --yes to proceed without asking",
        ));
    }
    crate::note_part!("{question} [y/N] ");
    PROMPTING.store(true, std::sync::atomic::Ordering::SeqCst);
    let line = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s).map(|_| s)
    })
    .await;
    PROMPTING.store(false, std::sync::atomic::Ordering::SeqCst);
    let line = line
        .context("reading the answer")?
        .context("reading the answer")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `cargo xtask release`: Ctrl-C at any point exits 130 with the command that resumes.
///
/// With `--format json`, stdout carries exactly one document whatever happens: the plan, and
/// then what came of it (`outcome`: planned, released, not-released, interrupted or error,
/// with the error inside); progress and the human report go to stderr.
pub async fn release(ws: &Workspace, opts: &ReleaseOptions) -> anyhow::Result<u8> {
    let version = opts.request.version.to_string();
    let mut doc = serde_json::Map::new();
    let result = tokio::select! {
        r = release_steps(ws, opts, &mut doc) => r,
        _ = tokio::signal::ctrl_c() => Ok(interrupted(&format!(
            "cargo xtask release {version}{}",
            if opts.request.latest { " --latest" } else { "" }
        ))),
    };
    if opts.format != Format::Json {
        return result;
    }
    let (outcome, code) = match &result {
        Ok(_) if opts.dry_run => ("planned", crate::exit::OK),
        Ok(crate::exit::OK) => ("released", crate::exit::OK),
        Ok(130) => ("interrupted", 130),
        Ok(c) => ("not-released", *c),
        Err(e) => ("error", crate::exit::code_for(e)),
    };
    doc.insert("outcome".into(), serde_json::json!(outcome));
    doc.insert("exit_code".into(), serde_json::json!(code));
    if let Err(e) = &result {
        doc.insert(
            "error".into(),
            serde_json::json!({
                "kind": crate::exit::kind_name(e),
                "exit_code": code,
                "message": crate::secrets::redact_all(&format!("{e:#}")),
            }),
        );
    }
    crate::say!(
        "{}",
        crate::secrets::redact_all(&serde_json::to_string_pretty(&doc)?)
    );
    result.map_err(crate::exit::reported)
}

/// A line of the result for people: stdout, unless stdout carries the JSON document.
fn result_line(format: Format, line: impl AsRef<str>) {
    let line = crate::secrets::redact_all(line.as_ref());
    if format == Format::Json {
        crate::note!("{line}");
    } else {
        crate::say!("{line}");
    }
}

async fn release_steps(
    ws: &Workspace,
    opts: &ReleaseOptions,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<u8> {
    let config = &ws.config;
    let req = &opts.request;
    // One release, promote or publish per checkout at a time; a dry run only reads.
    let _lock = crate::effects::git::lock_unless_dry_run(&ws.root, opts.dry_run)?;
    let registry = registry_client(config)?;
    let obs = observe(ws, req, &registry).await?;
    let plan = plan::plan(config, req, &obs.world)?;
    print_plan(opts.format, &plan, &obs, doc)?;
    if opts.dry_run {
        return Ok(crate::exit::OK);
    }
    let mut run = Releasing::new(ws, opts, &plan, &obs, &registry);
    // Finished notes mark every step before them done: only the optional draft release
    // can remain (it is idempotent), so nothing needs confirming.
    let finished = plan.notes_written();
    if finished {
        // A resume record left beside finished notes is stale.
        let _ = std::fs::remove_file(state_path(config, &run.version));
    } else {
        if !opts.yes && !confirm(&format!("release {} as {}?", run.version, plan.tag)).await? {
            say("not confirmed; nothing was changed");
            return Ok(crate::exit::POLICY);
        }
        // GitHub is needed for the rest; no token stops the release before the gate runs.
        run.github().await?;
    }
    let walked = run.walk().await;
    doc.insert("executed".into(), serde_json::to_value(&run.executed)?);
    walked?;
    if finished {
        say(format!(
            "release {} is complete: {} records it",
            run.version,
            notes::internal_path(config, &run.version).display()
        ));
    } else {
        run.report_released(doc)?;
    }
    Ok(crate::exit::OK)
}

/// The plan, on stdout (or into the JSON document).
fn print_plan(
    format: Format,
    plan: &Plan,
    obs: &Observation,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            if let serde_json::Value::Object(o) = serde_json::to_value(plan)? {
                doc.extend(o);
            }
            doc.insert("latest_read".into(), serde_json::json!(obs.latest_note));
        }
        _ => {
            crate::say_part!("{}", crate::secrets::redact_all(&plan::render_human(plan)));
            crate::say!("{}", crate::secrets::redact_all(&obs.latest_note));
        }
    }
    Ok(())
}
