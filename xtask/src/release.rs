//! `cargo xtask release` and `cargo xtask promote`: flags to typed options, then `execute`.
//!
//! `--rehearse` runs the very same code path against a rehearsal world on this machine
//! (`standin::rehearsal`): a throwaway bare remote and work clone, the GitHub stand-in whose
//! runs execute `cargo xtask publish` for real, and the GHCR-like registry harness. Only the
//! workspace root and the environment (API URL, token, registry host) differ.

use std::time::Duration;

#[cfg(feature = "rehearse")]
use anyhow::Context;

#[cfg(feature = "rehearse")]
use crate::checks::manual::Attestation;
use crate::checks::manual::Attestations;
use crate::execute::{self, Poll, ReleaseOptions};
use crate::flags;
use crate::plan::Request;
use crate::promote::PromoteOptions;
#[cfg(feature = "rehearse")]
use crate::standin::rehearsal::{Rehearsal, RehearsalOptions};
use crate::tags::parse_version;
use crate::workspace::Global;

impl flags::Release {
    /// Typed options for `execute::release`.
    pub fn options(&self) -> anyhow::Result<ReleaseOptions> {
        if matches!(self.format, flags::Format::Sarif | flags::Format::Github) {
            return Err(crate::exit::usage(
                "--format sarif and --format github are for check reports (preflight, verify); the release plan prints as `human` or `json`",
            ));
        }
        crate::preflight::validate_skips(&self.skip_checks)?;
        Ok(ReleaseOptions {
            request: Request {
                version: parse_version(&self.version)?,
                latest: self.latest,
                components: self.scope.components.clone(),
                draft_release: self.draft_release,
                allow_downgrade: self.allow_downgrade,
            },
            yes: self.yes,
            dry_run: self.dry_run,
            format: self.format,
            timeout: Duration::from_secs(self.timeout),
            attestations: Attestations::load(&self.attest, self.attestations.as_deref())?,
            skip_checks: self.skip_checks.clone(),
            poll: Poll::default(),
            admin: None,
        })
    }

    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let opts = self.options()?;
        if self.rehearse {
            return rehearse(self, g, opts).await;
        }
        let ws = g.workspace()?;
        execute::release(&ws, &opts).await
    }
}

/// The message when `--rehearse` is asked of a build without the stand-ins.
#[cfg(not(feature = "rehearse"))]
const NO_REHEARSE_FEATURE: &str = "--rehearse needs the `rehearse` cargo feature, which this xtask was built without (`--no-default-features`, as the publish workflow builds it); run `cargo xtask release --rehearse` from a checkout with the default features, or build with `--features rehearse`";

#[cfg(not(feature = "rehearse"))]
async fn rehearse(_: flags::Release, _: &Global, _: ReleaseOptions) -> anyhow::Result<u8> {
    Err(crate::exit::usage(NO_REHEARSE_FEATURE))
}

/// Runs the release in a rehearsal world: the same `execute::release`, with the work clone as
/// the workspace and the stand-ins' addresses in the environment, read by the clients exactly
/// as real ones are.
#[cfg(feature = "rehearse")]
async fn rehearse(
    flags: flags::Release,
    g: &Global,
    mut opts: ReleaseOptions,
) -> anyhow::Result<u8> {
    let ws = g.workspace()?;
    // A fresh machine has neither engine nor registry: find or bring them up first. The guard
    // stops an engine it started when the rehearsal ends.
    let _parts = crate::setup::provision(
        crate::setup::Needs::REHEARSAL,
        crate::setup::Options {
            no_install: flags.no_install,
            keep: flags.keep,
        },
    )
    .await?;
    let world = Rehearsal::start(
        &ws,
        RehearsalOptions {
            keep: flags.keep,
            ..RehearsalOptions::default()
        },
    )
    .await
    .context("starting the rehearsal world")?;
    // Set before any client exists: config, the GitHub client and the registry credentials
    // read these variables.
    world.apply_env();
    // The gate builds the images in the work clone; pointing it at the cargo target dir the
    // rehearsal's publish runs share (`standin::rehearsal`) keeps it from compiling every
    // dependency again.
    if std::env::var_os("AISOPSFLOW_IMAGES_TARGET_DIR").is_none() {
        let cache = crate::images::compile::default_target_dir(&ws.root);
        // SAFETY: set before any client or build reads the environment, like `apply_env`.
        unsafe { std::env::set_var("AISOPSFLOW_IMAGES_TARGET_DIR", cache) };
    }
    if !crate::output::quiet() {
        crate::note!(
            "rehearsal: releasing {} from the work clone {} (GitHub stand-in {}, registry {})",
            opts.request.version,
            world.work_dir.display(),
            world.github.base_url,
            world.registry.host
        );
    }
    attest_for_rehearsal(&mut opts);
    // The rehearsal plays the org admin's part of a first release: the one-way visibility
    // flip of the public editions, through the stand-in's settings page.
    opts.admin = Some(world.admin());
    let rg = Global {
        repo: Some(world.work_dir.clone()),
        verbose: g.verbose,
    };
    let result = match rg.workspace() {
        Ok(rws) => {
            let r = execute::release(&rws, &opts).await;
            if matches!(r, Ok(crate::exit::OK)) && !opts.dry_run {
                show_notes(&rws, &opts);
            }
            r
        }
        Err(e) => Err(e),
    };
    if flags.keep {
        // The error is printed now, before the wait, with the code it would have had.
        let code = match result {
            Ok(code) => code,
            Err(e) => {
                crate::note!("error: {}", crate::secrets::redact_all(&format!("{e:#}")));
                crate::exit::code_for(&e)
            }
        };
        if opts.format == flags::Format::Json {
            crate::note!("{}", world.describe());
        } else {
            crate::say!("{}", world.describe());
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        crate::note!("stopping the rehearsal world");
        return Ok(code);
    }
    if result.as_ref().map_or(true, |c| *c != crate::exit::OK) {
        crate::note!(
            "rehearsal: the stand-ins and run logs are removed now; rerun with --keep to inspect them"
        );
    }
    result
}

/// The stand-in world has no settings to check by hand, so its manual lines are attested by
/// the rehearsal itself; a real release still needs the operator's attestations.
#[cfg(feature = "rehearse")]
fn attest_for_rehearsal(opts: &mut ReleaseOptions) {
    for id in crate::checks::manual::manual_ids() {
        if opts.attestations.get(id).is_none() {
            opts.attestations.entries.push(Attestation {
                id,
                by: "the rehearsal".into(),
                note: Some("stand-in world: nothing to check by hand".into()),
                source: "--rehearse".into(),
            });
        }
    }
}

/// The notes live in the throwaway clone, so they are shown: they are what the rehearsal
/// proves.
#[cfg(feature = "rehearse")]
fn show_notes(rws: &crate::workspace::Workspace, opts: &ReleaseOptions) {
    let path = crate::notes::internal_path(&rws.config, &opts.request.version.to_string());
    if let Ok(text) = std::fs::read_to_string(&path) {
        // stdout holds the one JSON document under --format json.
        let shown = format!("\n--- {} (rehearsal) ---\n{text}", path.display());
        if opts.format == flags::Format::Json {
            crate::note!("{shown}");
        } else {
            crate::say!("{shown}");
        }
    }
}

impl flags::Rehearse {
    /// `cargo xtask rehearse [VERSION]`: the long form `release VERSION --rehearse --yes`.
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        flags::Release {
            version: self.version,
            latest: false,
            scope: flags::Scope::default(),
            yes: true,
            dry_run: false,
            format: flags::Format::Human,
            rehearse: true,
            keep: self.keep,
            no_install: self.provision.no_install,
            timeout: 1800,
            draft_release: false,
            attest: Vec::new(),
            attestations: None,
            allow_downgrade: false,
            skip_checks: Vec::new(),
        }
        .run(g)
        .await
    }
}

impl flags::Promote {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let ws = g.workspace()?;
        let opts = PromoteOptions {
            version: parse_version(&self.version)?,
            components: self.scope.components.clone(),
            yes: self.yes,
            dry_run: self.dry_run,
            timeout: Duration::from_secs(self.timeout),
            poll: Poll::default(),
            allow_downgrade: self.allow_downgrade,
        };
        crate::promote::promote(&ws, &opts).await
    }
}
