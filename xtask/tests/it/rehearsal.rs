//! The rehearsal world end to end: a tag pushed to the bare remote becomes a push event in the
//! GitHub stand-in, whose run checks the tag out and executes `cargo xtask publish` for real
//! against the local registry.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::git;
use xtask::standin::rehearsal::{Rehearsal, RehearsalOptions};
use xtask::workspace::Global;

fn workspace() -> xtask::workspace::Workspace {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    Global {
        repo: Some(root),
        verbose: 0,
    }
    .workspace()
    .unwrap()
}

/// Waits (bounded) until the stand-in has a completed run for `sha`, and returns it.
async fn completed_run(
    r: &Rehearsal,
    sha: &str,
    limit: Duration,
) -> xtask::standin::github::RunSeed {
    let start = Instant::now();
    loop {
        let run = r
            .github
            .standin
            .with_world(|w| w.runs.iter().find(|x| x.head_sha == sha).cloned());
        if let Some(run) = run.filter(|x| x.status == "completed") {
            return run;
        }
        assert!(
            start.elapsed() < limit,
            "no completed run for {sha} within {limit:?}; runs: {:?}",
            r.github.standin.with_world(|w| w.runs.clone())
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_tag_runs_the_publish_workflow_for_real() {
    crate::docker_required!();
    let ws = workspace();
    let r = Rehearsal::start(
        &ws,
        RehearsalOptions {
            xtask_exe: Some(env!("CARGO_BIN_EXE_xtask").into()),
            queue_delay: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let head = git(&r.work_dir, &["rev-parse", "HEAD"]);
    git(
        &r.work_dir,
        &[
            "tag",
            "-a",
            "-m",
            "release 0.0.1\n\ncomponents: core,runner",
            "v0.0.1",
        ],
    );
    git(
        &r.work_dir,
        &["push", "--quiet", "origin", "refs/tags/v0.0.1"],
    );
    let run = completed_run(&r, &head, Duration::from_secs(900)).await;
    assert_eq!(run.event, "push");
    assert_eq!(run.head_branch.as_deref(), Some("v0.0.1"));
    let logs = std::fs::read_dir(r.dir().join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect::<Vec<_>>();
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "run logs in {logs:?}: {}",
        logs.iter()
            .filter_map(|p| std::fs::read_dir(p).ok())
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    let job = &run.jobs[0];
    assert_eq!(job.name, "publish");
    assert!(
        job.steps
            .iter()
            .all(|s| s.conclusion.as_deref() == Some("success")),
        "{:?}",
        job.steps
    );
    // The publish untagged what it pushed: no `127.0.0.1:<port>/...` tag of this world's
    // registry is left on the engine (the images keep their local build tags).
    let out = std::process::Command::new("docker")
        .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .unwrap();
    let prefix = format!("{}/", r.registry.host);
    let left: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(String::from)
        .collect();
    assert!(left.is_empty(), "pushed tags left on the engine: {left:?}");
}
