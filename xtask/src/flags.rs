//! The command-line grammar, in one place.
//!
//! Flags become typed options here, at the edge. Each subcommand's options type has a `run`
//! method in the module that owns the subcommand (`preflight`, `release`, `verify`, `publish`,
//! `promote`, `docs`), so `main` is one line per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::ColorWhen;

/// Release orchestrator for aisopsflow-enterprise: proves every line of the GHCR operations
/// checklist.
///
/// Exit codes: 0 all required checks pass; 1 a policy check failed or the release failed;
/// 2 usage or configuration error; 3 an external system (Docker, registry, GitHub) unreachable;
/// 4 not ready (preflight: checks could not run or attestations are missing).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
pub struct Xtask {
    /// The workspace root (default: found upward from the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// More output: -v shows each step, -vv shows requests.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress or status lines on stderr; reports, warnings and errors still print.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Colour: auto (a terminal, unless NO_COLOR is set or CLICOLOR=0; CLICOLOR_FORCE forces
    /// it), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Everything that must hold before a release tag.
    Preflight(Preflight),
    /// Plan, gate, tag, wait for the publish run, verify and write release notes.
    Release(Release),
    /// Post-release and customer-delivery checks against the registry and the Packages API.
    Verify(Verify),
    /// Build, tag and push the images for a ref (run by the publish workflow).
    Publish(Publish),
    /// Move `latest` to an existing release by dispatching the publish workflow.
    Promote(Promote),
    /// Generate docs/checks.md from the check registry.
    DocsChecks(DocsChecks),
    /// Rehearse a whole release on this machine: `release VERSION --rehearse --yes`, after
    /// finding or bringing up the engine and the registry.
    Rehearse(Rehearse),
    /// Find or bring up what the tests need, then run `cargo test --workspace --locked ARGS`.
    Test(Test),
}

/// How setup may provision the local parts (`setup.rs`).
#[derive(Debug, Clone, Default, Args)]
pub struct Provision {
    /// Install nothing (also AISOPSFLOW_NO_INSTALL=1): exit 3 saying what would be installed.
    #[arg(long)]
    pub no_install: bool,
}

#[derive(Debug, Args)]
pub struct Rehearse {
    /// The version to rehearse.
    #[arg(default_value = "0.1.0")]
    pub version: String,
    /// Leave the stand-ins (and an engine setup started) running; print how to reach them.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub provision: Provision,
}

#[derive(Debug, Args)]
pub struct Test {
    /// Leave an engine setup started running after the tests.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub provision: Provision,
    /// Passed to `cargo test` (e.g. `-p xtask --test it setup -- --nocapture`); `--workspace`
    /// is added unless they choose packages. Test-binary arguments alone need two dashes:
    /// `cargo xtask test -- -- --nocapture`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CARGO_TEST_ARGS"
    )]
    pub args: Vec<String>,
}

impl Cmd {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Cmd::Preflight(_) => "preflight",
            Cmd::Release(_) => "release",
            Cmd::Verify(_) => "verify",
            Cmd::Publish(_) => "publish",
            Cmd::Promote(_) => "promote",
            Cmd::DocsChecks(_) => "docs-checks",
            Cmd::Rehearse(_) => "rehearse",
            Cmd::Test(_) => "test",
        }
    }

    /// The document format stdout carries (`Human` for commands without `--format`).
    pub fn format(&self) -> Format {
        match self {
            Cmd::Preflight(c) => c.checks.format,
            Cmd::Release(c) => c.format,
            Cmd::Verify(c) => c.format,
            Cmd::Publish(c) => c.format,
            Cmd::Promote(_) | Cmd::DocsChecks(_) | Cmd::Rehearse(_) | Cmd::Test(_) => Format::Human,
        }
    }
}

/// The `--format` asked for on a command line clap refused, read from the raw arguments so
/// a usage error still gets its one document (`--format json`, `--format=sarif`).
pub fn format_in_args(args: &[String]) -> Format {
    let mut it = args.iter();
    let mut found = Format::Human;
    while let Some(a) = it.next() {
        let v = match a.strip_prefix("--format=") {
            Some(v) => Some(v.to_string()),
            None if a == "--format" => it.next().cloned(),
            None => None,
        };
        match v.as_deref() {
            Some("json") => found = Format::Json,
            Some("sarif") => found = Format::Sarif,
            _ => {}
        }
    }
    found
}

/// The subcommand named on a raw command line, if any.
pub fn command_in_args(args: &[String]) -> Option<&'static str> {
    [
        "preflight",
        "release",
        "verify",
        "publish",
        "promote",
        "docs-checks",
    ]
    .into_iter()
    .find(|c| args.iter().skip(1).any(|a| a == c))
}

/// The components a release covers.
#[derive(Debug, Clone, Default, Args)]
pub struct Scope {
    /// Components in this release, comma separated; core and runner are always in,
    /// console only when named.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub components: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`), for preflight and verify.
    Github,
}

#[derive(Debug, Clone, Default, Args)]
pub struct Checks {
    /// Run only checks whose id starts with PREFIX (repeatable), e.g. `--only workflow`.
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,

    /// Record a manual attestation by check id (repeatable), e.g. `--attest manual-package-inheritance`.
    #[arg(long, value_name = "ID")]
    pub attest: Vec<String>,

    /// A TOML file of attestations: `[[attestation]] id = "...", by = "...", note = "..."`.
    #[arg(long, value_name = "FILE")]
    pub attestations: Option<PathBuf>,

    /// Treat warnings as failures (for CI).
    #[arg(long)]
    pub deny_warnings: bool,

    /// Skip everything that needs GitHub or a registry, saying so.
    #[arg(long)]
    pub offline: bool,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct Preflight {
    #[command(flatten)]
    pub scope: Scope,
    #[command(flatten)]
    pub checks: Checks,
    /// The version about to be released (enables the release-notes draft check).
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    /// Save every GitHub API answer seen (status, a few headers, body) into DIR, one JSON
    /// file each, redacted (no tokens or secrets), for replay against the stand-in's tests.
    #[arg(long, value_name = "DIR")]
    pub record_github: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct Release {
    /// The semver version to release, e.g. 1.2.3 (no leading v).
    pub version: String,
    /// Cut `release-v<version>`, which moves `latest`; default is `v<version>`.
    #[arg(long)]
    pub latest: bool,
    #[command(flatten)]
    pub scope: Scope,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Plan format for --dry-run.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Run the whole flow on this machine against local stand-ins (bare remote, GitHub
    /// stand-in, local registry).
    #[arg(long)]
    pub rehearse: bool,
    /// With --rehearse: leave the stand-ins running and print how to reach and stop them.
    #[arg(long, requires = "rehearse")]
    pub keep: bool,
    /// With --rehearse: install nothing (also AISOPSFLOW_NO_INSTALL=1); exit 3 saying what
    /// would be installed.
    #[arg(long, requires = "rehearse")]
    pub no_install: bool,
    /// Seconds to wait for the publish workflow run.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub timeout: u64,
    /// Also create the GitHub release as a draft.
    #[arg(long)]
    pub draft_release: bool,
    /// Record a manual attestation by check id (repeatable).
    #[arg(long, value_name = "ID")]
    pub attest: Vec<String>,
    /// A TOML file of attestations.
    #[arg(long, value_name = "FILE")]
    pub attestations: Option<PathBuf>,
    /// With --latest: let `latest` move to this version although it holds a newer one
    /// (recorded in the release notes, with who allowed it).
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Skip a gate check by id, or an area of them (repeatable), e.g. `--skip-checks build`
    /// where no image can be built; each is recorded in the release notes with who skipped
    /// it. Manual attestations cannot be skipped. `verify-runs` and `verify-contents` skip
    /// those checks of the release's verify.
    #[arg(long, value_name = "ID")]
    pub skip_checks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Verify {
    /// The released version, e.g. 1.2.3 (not needed with --from-notes).
    #[arg(required_unless_present = "from_notes")]
    pub version: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
    /// Print customer-ready references (by digest) and the public SDK and catalog links.
    #[arg(long)]
    pub delivery: bool,
    /// Run only checks whose id starts with PREFIX (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The digest `latest` had before the release, if known (release records it).
    #[arg(long, value_name = "DIGEST")]
    pub latest_before: Option<String>,
    /// Whether this release was meant to move `latest` (default: from the git tag that exists).
    #[arg(long)]
    pub expect_latest: Option<bool>,
    /// Skip the GitHub Packages API cross-check (the registry is still read), saying so.
    #[arg(long)]
    pub offline: bool,
    /// Also pull each image by digest and run it (verify-runs) and read its layers
    /// (verify-contents); needs a Docker engine.
    #[arg(long)]
    pub deep: bool,
    /// Re-prove a past release from its record (docs/releases/VERSION.json) alone: no
    /// workspace, git tags or resume state needed.
    #[arg(long, visible_alias = "record", value_name = "FILE", conflicts_with_all = ["version", "components", "latest_before", "expect_latest"])]
    pub from_notes: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Publish {
    /// The git ref (default: $GITHUB_REF), e.g. refs/tags/v1.2.3.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// The commit (default: $GITHUB_SHA).
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
    /// The triggering event (default: $GITHUB_EVENT_NAME).
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
    /// The dispatch input publish_latest (default: $PUBLISH_LATEST).
    #[arg(long, value_name = "BOOL")]
    pub publish_latest: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
    /// Compute and print what would be pushed, then stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Record format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct Promote {
    /// The existing release to move `latest` to, e.g. 1.2.3.
    pub version: String,
    #[command(flatten)]
    pub scope: Scope,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan (what moves, and the steps) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds to wait for the dispatched run.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub timeout: u64,
    /// Move `latest` to this version although it holds a newer one (said on the output,
    /// with who allowed it).
    #[arg(long)]
    pub allow_downgrade: bool,
}

#[derive(Debug, Args)]
pub struct DocsChecks {
    /// Fail if docs/checks.md is not current instead of writing it.
    #[arg(long)]
    pub check: bool,
}

#[cfg(test)]
impl Test {
    /// `--no-install` (the environment variable is read by `setup`).
    pub(crate) fn no_install(&self) -> bool {
        self.provision.no_install
    }
}
