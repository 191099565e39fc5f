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
const PROBE_ATTEMPTS: u32 = 500;
const PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// What a passing smoke run saw, for evidence.
#[derive(Debug, Clone)]
pub struct SmokeReport {
    pub version_line: String,
    /// For images with a health probe: what the probe printed and after how many attempts.
    pub health: Option<String>,
}

/// What a service prints once it listens: `<build info> listening on <address>`.
const LISTENING: &str = " listening on ";

/// The address in a service's `listening on` line, once it printed one.
pub(crate) fn listen_address(logs: &str) -> Option<String> {
    logs.lines()
        .find_map(|l| l.split(LISTENING).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}

/// The `--version` line an image must print.
pub(crate) fn expected_version_line(image: &BuiltImage, version: &str, commit: &str) -> String {
    version_line(&image.spec, version, commit)
}

/// The `--version` line an image of `spec` prints when built for `version` at `commit`.
pub fn version_line(spec: &crate::config::ImageSpec, version: &str, commit: &str) -> String {
    format!(
        "{} {version} (commit {commit}, edition {})",
        spec.krate, spec.edition
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
    // health probe executed inside it. One container instead of two, in the host's network
    // namespace on an ephemeral loopback port (so two cores never collide and nothing is
    // exposed), keeps the smoke run cheap on small machines.
    let bin = format!("/usr/local/bin/{}", image.spec.krate);
    let probe_bin = bin.clone();
    let run = docker
        .run_service(
            &image.tag,
            &["serve", "--listen", "127.0.0.1:0"],
            Network::Host,
            &[&bin, "--version"],
            move |logs| {
                listen_address(logs).map(|addr| {
                    vec![
                        probe_bin.clone(),
                        "healthcheck".to_string(),
                        "--url".to_string(),
                        format!("http://{addr}/healthz"),
                    ]
                })
            },
            crate::effects::docker::Probes {
                attempts: PROBE_ATTEMPTS,
                interval: PROBE_INTERVAL,
            },
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
        .find(|l| l.contains(LISTENING))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_is_read_from_the_startup_line() {
        let logs = "starting\naisopsflow-core 1.0.0 (commit abc, edition public) listening on 127.0.0.1:41234\n";
        assert_eq!(listen_address(logs).as_deref(), Some("127.0.0.1:41234"));
        assert_eq!(listen_address("starting\n"), None);
    }
}
