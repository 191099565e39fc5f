//! Smoke runs: does a built image run and say it is what we meant to build?
//!
//! Each image runs `--version` in a fresh container (created, started, waited for, its logs
//! read, removed), which must print exactly `<crate> <version> (commit <sha>, edition <e>)`.
//! The core image also runs `serve` detached while `aisopsflow-core healthcheck` is executed in
//! it until `/healthz` answers, within a bounded number of attempts.

use std::time::Duration;

use anyhow::bail;

use super::BuiltImage;
use crate::effects::docker::Docker;

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
    let out = docker
        .run(&image.tag, &["--version"], Duration::from_secs(60))
        .await?;
    let got = out.stdout.trim().to_string();
    if out.exit_code != 0 || got != want {
        bail!(
            "{} --version exited {} and printed `{got}`{}; expected `{want}`",
            image.tag,
            out.exit_code,
            if out.stderr.trim().is_empty() {
                String::new()
            } else {
                format!(" (stderr: {})", out.stderr.trim())
            }
        );
    }
    let health = if image.spec.component == "core" {
        let bin = format!("/usr/local/bin/{}", image.spec.krate);
        let probe = docker
            .serve_and_probe(
                &image.tag,
                &["serve"],
                &[&bin, "healthcheck"],
                50,
                Duration::from_millis(200),
            )
            .await?;
        if probe.exit_code != 0 {
            bail!(
                "{}: `{} healthcheck` never succeeded against `serve` (50 attempts, 200 ms apart); last exit {}: {}{}",
                image.tag,
                image.spec.krate,
                probe.exit_code,
                probe.stdout.trim(),
                probe.stderr.trim()
            );
        }
        Some(format!(
            "`{} healthcheck` inside `serve` exited 0{}",
            image.spec.krate,
            if probe.stdout.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", probe.stdout.trim())
            }
        ))
    } else {
        None
    };
    Ok(SmokeReport {
        version_line: got,
        health,
    })
}
