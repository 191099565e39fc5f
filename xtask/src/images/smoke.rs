//! Smoke runs: does a built image run and say it is what we meant to build?
//!
//! Each image runs `--version` in a fresh container (created, started, waited for, its logs
//! read, removed), which must print exactly `<crate> <version> (commit <sha>, edition <e>)`.
//! The core image also runs `serve` detached while `aisopsflow-core healthcheck` is executed in
//! it until `/healthz` answers, within a bounded number of attempts.

use std::time::Duration;

use anyhow::bail;

use super::BuiltImage;
use crate::effects::docker::{Docker, Network};

/// How often, and how far apart, the health probe is tried before the smoke run fails (10 s).
const PROBE_ATTEMPTS: u32 = 200;
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// What a passing smoke run saw, for evidence.
#[derive(Debug, Clone)]
pub struct SmokeReport {
    pub version_line: String,
    /// For images with a health probe: what the probe printed and after how many attempts.
    pub health: Option<String>,
}

/// The `--version` line an image must print.
pub fn expected_version_line(image: &BuiltImage, version: &str, commit: &str) -> String {
    format!(
        "{} {version} (commit {commit}, edition {})",
        image.spec.krate, image.spec.edition
    )
}

/// Smoke-runs one image.
pub async fn smoke(
    docker: &Docker,
    image: &BuiltImage,
    version: &str,
    commit: &str,
) -> anyhow::Result<SmokeReport> {
    let want = expected_version_line(image, version, commit);
    let check_version = |exit_code: i64, stdout: &str, stderr: &str| -> anyhow::Result<String> {
        let got = stdout.trim().to_string();
        if exit_code != 0 || got != want {
            bail!(
                "{} --version exited {exit_code} and printed `{got}`{}; expected `{want}`",
                image.tag,
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(" (stderr: {})", stderr.trim())
                }
            );
        }
        Ok(got)
    };
    if image.spec.component != "core" {
        let out = docker
            .run(
                &image.tag,
                &["--version"],
                Network::Host,
                Duration::from_secs(60),
            )
            .await?;
        return Ok(SmokeReport {
            version_line: check_version(out.exit_code, &out.stdout, &out.stderr)?,
            health: None,
        });
    }
    // Core runs as the service it is: `serve` in the background, with `--version` and the
    // health probe executed inside it. One container instead of two keeps the smoke run cheap
    // on small machines.
    let bin = format!("/usr/local/bin/{}", image.spec.krate);
    let run = docker
        .run_service(
            &image.tag,
            &["serve"],
            &[&bin, "--version"],
            &[&bin, "healthcheck"],
            PROBE_ATTEMPTS,
            PROBE_INTERVAL,
        )
        .await?;
    let version_line = check_version(run.first.exit_code, &run.first.stdout, &run.first.stderr)?;
    if run.probe.exit_code != 0 {
        bail!(
            "{}: `{} healthcheck` never succeeded against `serve` ({PROBE_ATTEMPTS} attempts, {} ms apart); last exit {}: {}{}\n--- service output ---\n{}{}",
            image.tag,
            image.spec.krate,
            PROBE_INTERVAL.as_millis(),
            run.probe.exit_code,
            run.probe.stdout.trim(),
            run.probe.stderr.trim(),
            run.stdout,
            run.stderr
        );
    }
    let listening = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .find(|l| l.contains("listening on"))
        .map(|l| format!("; it logged `{}`", l.trim()))
        .unwrap_or_default();
    let health = Some(format!(
        "`{} healthcheck` inside `serve` exited 0 after {} attempt(s){listening}",
        image.spec.krate, run.probe_attempts,
    ));
    Ok(SmokeReport {
        version_line,
        health,
    })
}
