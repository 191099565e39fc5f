//! The closed environment of `support::Xtask`, proved: a bogus `GITHUB_TOKEN`/`GH_TOKEN` (and
//! Docker and registry settings) in the CALLER's environment changes no result of a run.
//!
//! The caller's environment is made real, not simulated: the test re-runs this test binary as a
//! child with the bogus variables set, and the child's run of `xtask` is compared with the
//! parent's, which has none. The run asks GitHub (at a closed loopback port) only when it has a
//! token, so a leaked token would turn "no token" into "unreachable" and change the result.

use std::process::Command;

use crate::support::{Xtask, text};

const INNER: &str = "AISOPSFLOW_SUPPORT_ENV_INNER_OUT";

/// One run of the repository-settings checks against a committed layout, GitHub at a closed port.
fn run() -> (Option<i32>, String) {
    let dir = crate::hostile_git::workspace();
    let out = Xtask::new()
        .arg("--repo")
        .arg(dir.path())
        .args(["preflight", "--only", "repo"])
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .output();
    // The temporary directory's name is the one thing that differs between two runs.
    let t = text(&out).replace(dir.path().to_str().unwrap(), "<repo>");
    (out.status.code(), t)
}

#[test]
fn inner_run_for_closed_environment() {
    // Does nothing unless started by `a_bogus_token_in_the_callers_environment_changes_nothing`.
    let Some(out) = std::env::var_os(INNER) else {
        return;
    };
    assert_eq!(
        std::env::var("GITHUB_TOKEN").as_deref(),
        Ok("ghp_bogus_from_caller")
    );
    let env = Xtask::new().environment();
    for (k, _) in &env {
        let k = k.to_string_lossy();
        assert!(
            !["GITHUB_TOKEN", "GH_TOKEN", "DOCKER_HOST", "DOCKER_CONFIG"].contains(&&*k)
                && !k.starts_with("AISOPSFLOW_"),
            "{k} leaked into the run's environment"
        );
    }
    let (code, t) = run();
    std::fs::write(out, format!("{code:?}\n{t}")).unwrap();
}

#[test]
fn a_bogus_token_in_the_callers_environment_changes_nothing() {
    let (code, clean) = run();
    // The comparison can fail: with a token this run asks GitHub and ends unreachable (3).
    // Without a token the settings checks could not run: not ready (exit 4), never ok.
    assert_eq!(code, Some(4), "{clean}");
    assert!(clean.contains("could not run: no GitHub token"), "{clean}");
    let file = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "support_env::inner_run_for_closed_environment",
            "--exact",
            "--test-threads=1",
        ])
        .env(INNER, file.path())
        .env("GITHUB_TOKEN", "ghp_bogus_from_caller")
        .env("GH_TOKEN", "ghp_bogus_from_caller")
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .env("AISOPSFLOW_REGISTRY", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(child.status.success(), "inner run: {}", text(&child));
    let dirty = std::fs::read_to_string(file.path()).unwrap();
    assert!(
        !dirty.is_empty(),
        "the inner test ran (it wrote its result)"
    );
    assert_eq!(dirty, format!("{code:?}\n{clean}"));
    assert!(!dirty.contains("ghp_bogus"), "{dirty}");
}
