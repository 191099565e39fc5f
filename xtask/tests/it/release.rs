//! `cargo xtask release` and `cargo xtask promote`, end to end: the real binary against the one
//! release world of `support::world` (a bare git remote, the GitHub stand-in with a simulated
//! publish workflow, and the registry harness: distribution behind our GHCR-like token
//! service), and in rehearsal worlds whose publish runs are real.
//! Needs `docker-registry` and `skopeo` (`apt-get install docker-registry skopeo`);
//! `AISOPSFLOW_SKIP_DOCKER=1` skips, loudly.

use crate::support::world::{
    Rehearsed, STEPS, WORKFLOW, all_tags, operator, run_within_an_hour, tag_release,
};
use crate::support::{World, repo_root};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::git;
use xtask::config::Config;
use xtask::secrets::Secret;
use xtask::standin::github::{self as gh, ADMIN_TOKEN, JobSeed, NewRun};
use xtask::standin::rehearsal::RehearsalOptions;

/// The JSON plan of `release 2.0.0 --latest`, printed and stopped.
const PLAN_2_0_0_JSON: [&str; 6] = [
    "release",
    "2.0.0",
    "--latest",
    "--dry-run",
    "--format",
    "json",
];

/// The marker comments of internal notes: (digest, latest-before, latest-after) per package.
fn recorded(notes: &str) -> xtask::notes::Recorded {
    xtask::notes::parse_recorded(notes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_latest_writes_notes_whose_digests_skopeo_confirms() {
    let Some(env) = World::start().await else {
        return;
    };
    let head = env.head();
    env.release("2.0.0", &["--latest"]).await.expect(0, &[]);
    assert_eq!(
        env.remote_tags(),
        BTreeSet::from(["release-v2.0.0".to_string()]),
        "exactly one tag was pushed"
    );
    let notes = env.notes("2.0.0").expect("internal notes written");
    assert!(!env.state_exists("2.0.0"), "the resume record is removed");
    assert!(env.notes_dir().join("2.0.0.customer.md").is_file());
    let r = recorded(&notes);
    assert_eq!(r.commit.as_deref(), Some(head.as_str()));
    assert_eq!(r.tag.as_deref(), Some("release-v2.0.0"));
    assert!(
        notes.contains("https://github.com/aisopsflow/aisopsflow-enterprise/actions/runs/"),
        "{notes}"
    );
    for p in env.packages() {
        let skopeo = env
            .skopeo_digest(&p, "2.0.0")
            .unwrap_or_else(|| panic!("skopeo sees {p}:2.0.0"));
        assert_eq!(r.digests[&p], skopeo, "{p}: notes vs skopeo");
        assert_eq!(r.latest_before[&p], None, "{p} had no latest before");
        assert_eq!(r.latest_after[&p].as_deref(), Some(skopeo.as_str()));
        assert!(
            notes.contains(&format!(
                "{}/{}/{p}:2.0.0@{skopeo}",
                env.reg.host,
                env.config.org()
            )),
            "pull-by-digest reference for {p}"
        );
        assert_eq!(env.skopeo_digest(&p, "latest"), Some(skopeo.clone()));
    }
    // The check summary and the attestations are recorded.
    assert!(notes.contains("`verify-latest-policy`: pass"), "{notes}");
    assert!(notes.contains("`workflow-permissions`"), "{notes}");
    assert!(
        notes.contains("`build-core`: skip: skipped: by ")
            && notes.contains(" with --skip-checks build"),
        "{notes}"
    );
    assert!(
        notes.contains("`manual-package-inheritance` attested by alice"),
        "{notes}"
    );

    // A rerun of a complete release changes nothing; with --draft-release it adds the draft
    // GitHub release (and a second time finds it there).
    for _ in 0..2 {
        env.release("2.0.0", &["--latest", "--draft-release"])
            .await
            .expect(0, &["is complete"]);
    }
    assert_eq!(env.control.runs.load(Ordering::SeqCst), 1);
    assert_eq!(env.notes("2.0.0").unwrap(), notes);
    let drafts = env.gh.with_world(|w| {
        w.releases
            .iter()
            .map(|r| (r.tag_name.clone(), r.draft))
            .collect::<Vec<_>>()
    });
    assert_eq!(drafts, vec![("release-v2.0.0".to_string(), true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v_release_keeps_latest_and_promote_moves_only_latest() {
    let Some(env) = World::start().await else {
        return;
    };
    env.release("2.0.0", &["--latest"]).await.expect(0, &[]);
    let first: BTreeMap<String, String> = env
        .packages()
        .into_iter()
        .map(|p| {
            let d = env.skopeo_digest(&p, "2.0.0").unwrap();
            (p, d)
        })
        .collect();

    env.commit_and_push("core/CHANGE.txt", "a fix\n");
    env.release("2.1.0", &[]).await.expect(0, &[]);
    assert!(env.remote_tags().contains("v2.1.0"));
    assert!(!env.remote_tags().contains("release-v2.1.0"));
    let r = recorded(&env.notes("2.1.0").unwrap());
    for p in env.packages() {
        let released = env.skopeo_digest(&p, "2.1.0").unwrap();
        assert_ne!(released, first[&p]);
        assert_eq!(r.digests[&p], released);
        assert_eq!(r.latest_before[&p].as_ref(), Some(&first[&p]), "{p} before");
        assert_eq!(r.latest_after[&p].as_ref(), Some(&first[&p]), "{p} after");
        assert_eq!(env.skopeo_digest(&p, "latest").as_ref(), Some(&first[&p]));
    }

    // Promote 2.1.0: `latest` moves to it, and nothing else moves.
    let before = env.all_tags().await;
    env.xtask(&["promote", "2.1.0", "--yes"])
        .await
        .expect(0, &[]);
    let after = env.all_tags().await;
    let mut moved = Vec::new();
    for (k, d) in &after {
        if before.get(k) != Some(d) {
            moved.push(k.clone());
        }
    }
    let expected: Vec<(String, String)> = {
        let mut v: Vec<(String, String)> = env
            .packages()
            .into_iter()
            .map(|p| (p, "latest".to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(moved, expected, "only latest moved");
    assert_eq!(before.len(), after.len(), "no tag appeared or vanished");
    for p in env.packages() {
        assert_eq!(
            after[&(p.clone(), "latest".into())],
            after[&(p.clone(), "2.1.0".into())]
        );
    }
    // The dispatch was the checklist's manual dispatch with publish_latest=true.
    let runs = env.gh.with_world(|w| w.runs.clone());
    let dispatch = runs
        .iter()
        .find(|r| r.event == "workflow_dispatch")
        .expect("a dispatch run");
    assert_eq!(
        dispatch.inputs.get("publish_latest").map(String::as_str),
        Some("true")
    );
    assert_eq!(dispatch.head_branch.as_deref(), Some("v2.1.0"));

    // Promoting again is a no-op.
    env.xtask(&["promote", "2.1.0", "--yes"])
        .await
        .expect(0, &["nothing to do"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_run_names_job_step_and_url_and_writes_no_notes() {
    let Some(env) = World::start().await else {
        return;
    };
    env.control.fail.store(true, Ordering::SeqCst);
    env.release("2.0.0", &[]).await.expect(
        1,
        &[
            "failed at job `publish`, step `Publish images`",
            "https://github.com/aisopsflow/aisopsflow-enterprise/actions/runs/",
        ],
    );
    assert!(env.notes("2.0.0").is_none());
    assert!(!env.notes_dir().join("2.0.0.customer.md").exists());
    assert!(
        env.state_exists("2.0.0"),
        "the resume record stays for the rerun"
    );
    assert_eq!(env.remote_tags(), BTreeSet::from(["v2.0.0".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_other_commits_and_earlier_runs_are_ignored() {
    let Some(env) = World::start().await else {
        return;
    };
    let head = env.head();
    // A failed run of the same workflow for another commit, created now, and a failed run
    // for this very commit and tag, created an hour ago (before the push).
    let other = env
        .gh
        .create_run(NewRun {
            workflow: WORKFLOW.into(),
            event: "push".into(),
            head_branch: Some("v2.0.0".into()),
            head_sha: gh::fake_sha("another commit"),
            actor: "octo-admin".into(),
            inputs: BTreeMap::new(),
            delay: None,
        })
        .unwrap();
    let earlier = env
        .gh
        .create_run(NewRun {
            workflow: WORKFLOW.into(),
            event: "push".into(),
            head_branch: Some("v2.0.0".into()),
            head_sha: head.clone(),
            actor: "octo-admin".into(),
            inputs: BTreeMap::new(),
            delay: None,
        })
        .unwrap();
    for id in [other, earlier] {
        env.gh.set_jobs(
            id,
            vec![JobSeed::new(
                "publish",
                "completed",
                Some("failure"),
                &STEPS,
            )],
        );
        env.gh.set_run_status(id, "completed", Some("failure"));
    }
    env.gh.with_world(|w| {
        let r = w.run_mut(earlier).unwrap();
        r.created_at -= 3600;
        r.updated_at -= 3600;
    });
    env.release("2.0.0", &[]).await.expect(0, &[]);
    let notes = env.notes("2.0.0").unwrap();
    for id in [other, earlier] {
        assert!(
            !notes.contains(&format!("/actions/runs/{id}\n")),
            "run {id} is not this push's run:\n{notes}"
        );
    }
    assert_eq!(env.control.runs.load(Ordering::SeqCst), 1);
    let ours = env
        .gh
        .with_world(|w| w.runs.iter().map(|r| r.id).max().unwrap());
    assert!(
        notes.contains(&format!("/actions/runs/{ours}\n")),
        "{notes}"
    );
}

/// After each kind of interruption, a rerun completes the release with exactly one tag and
/// one notes file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reruns_resume_after_interruptions_at_every_stage() {
    let Some(env) = World::start().await else {
        return;
    };
    let done = |version: &str, tag: &str| {
        let tags: Vec<String> = env
            .remote_tags()
            .into_iter()
            .filter(|t| t.ends_with(&format!("v{version}")))
            .collect();
        assert_eq!(tags, vec![tag.to_string()], "exactly one tag for {version}");
        let local = git(&env.work, &["tag", "--list", &format!("*v{version}")]);
        assert_eq!(local, tag, "exactly one local tag for {version}");
        let notes: Vec<String> = env
            .notes_files()
            .into_iter()
            .filter(|f| f.starts_with(version) || f.starts_with(&format!(".{version}")))
            .collect();
        assert_eq!(
            notes,
            vec![
                format!("{version}.customer.md"),
                format!("{version}.json"),
                format!("{version}.md"),
            ],
            "one notes file (its customer variant and the release record) for {version}, no resume record"
        );
        let r = recorded(&env.notes(version).unwrap());
        assert_eq!(r.tag.as_deref(), Some(tag));
        assert_eq!(r.commit.as_deref(), Some(env.head().as_str()));
    };

    // 1. A tag created at HEAD by hand, not pushed: not this tool's (no resume record), so
    //    refused with the fix; after the fix the release completes.
    tag_release(&env.work, "2.0.0");
    let out = env
        .release("2.0.0", &[])
        .await
        .expect(2, &["git tag -d v2.0.0"])
        .text();
    assert!(env.remote_tags().is_empty(), "{out}");
    git(&env.work, &["tag", "-d", "v2.0.0"]);
    env.release("2.0.0", &[]).await.expect(0, &[]);
    done("2.0.0", "v2.0.0");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-1b.txt", "1b\n");
    // 1b. Tagged and pushed from another clone: this checkout has neither the tag nor a
    //     resume record.
    env.tag_from_another_clone("2.0.5");
    env.release("2.0.5", &[])
        .await
        .expect(0, &["no resume record for v2.0.5"]);
    done("2.0.5", "v2.0.5");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-2.txt", "2\n");
    // 2. Pushed, but the run has not appeared yet (GitHub has not noticed the push).
    env.control.pause_watcher.store(true, Ordering::SeqCst);
    env.release_interrupted_at("2.1.0", "waiting for the")
        .await
        .expect(
            130,
            &["interrupted: rerun `cargo xtask release 2.1.0` to resume"],
        );
    assert!(env.remote_tags().contains("v2.1.0"));
    assert!(env.state_exists("2.1.0"));
    assert!(env.notes("2.1.0").is_none());
    env.control.pause_watcher.store(false, Ordering::SeqCst);
    env.release("2.1.0", &[])
        .await
        .expect(0, &["[done] push exactly one tag"]);
    done("2.1.0", "v2.1.0");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-3.txt", "3\n");
    // 3. During the wait.
    env.control.hold.store(true, Ordering::SeqCst);
    env.release_interrupted_at("2.2.0", "found run")
        .await
        .expect(130, &[]);
    env.control.hold.store(false, Ordering::SeqCst);
    let runs_before = env.control.runs.load(Ordering::SeqCst);
    env.release("2.2.0", &[]).await.expect(0, &[]);
    assert_eq!(
        env.control.runs.load(Ordering::SeqCst),
        runs_before,
        "the rerun waited for the same run"
    );
    done("2.2.0", "v2.2.0");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-4.txt", "4\n");
    // 4. After verify, before the notes: writing them failed (a directory is in the way).
    let blocker = env.notes_dir().join("2.3.0.customer.md");
    std::fs::create_dir_all(&blocker).unwrap();
    env.release("2.3.0", &[])
        .await
        .expect(1, &["verify passed"]);
    assert!(env.notes("2.3.0").is_none(), "no partial notes");
    assert!(env.state_exists("2.3.0"));
    std::fs::remove_dir(&blocker).unwrap();
    let runs_before = env.control.runs.load(Ordering::SeqCst);
    env.release("2.3.0", &[]).await.expect(0, &[]);
    assert_eq!(env.control.runs.load(Ordering::SeqCst), runs_before);
    done("2.3.0", "v2.3.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_change_nothing() {
    let Some(env) = World::start().await else {
        return;
    };

    // No terminal and no --yes.
    env.xtask(&["release", "2.0.0"]).await.expect(2, &["--yes"]);
    env.assert_unchanged();

    // No registry credentials: the plan cannot read `latest`.
    let empty = env.dir.path().join("docker-config");
    std::fs::create_dir_all(&empty).unwrap();
    let out = env
        .command(&["release", "2.0.0", "--dry-run"])
        .env_remove("GITHUB_TOKEN")
        .env("DOCKER_CONFIG", &empty)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("no registry credentials") && text.contains("GITHUB_TOKEN"),
        "{text}"
    );
    env.assert_unchanged();

    // The dry run prints the plan (JSON here) and stops.
    let out = env.xtask(&PLAN_2_0_0_JSON).await.expect(0, &[]).text();
    let json_end = out.rfind('}').unwrap();
    let plan: serde_json::Value = serde_json::from_str(&out[..=json_end]).unwrap();
    assert_eq!(plan["tag"], "release-v2.0.0");
    assert_eq!(plan["moves_latest"], true);
    assert_eq!(plan["commit"], env.head());
    assert!(
        plan["latest_read"]
            .as_str()
            .unwrap()
            .contains("0 of 4 packages")
    );
    env.assert_unchanged();

    // The human plan, with the commit and the registry address redacted.
    let out = env
        .xtask(&["release", "2.0.0", "--dry-run"])
        .await
        .expect(0, &[])
        .text();
    let head = env.head();
    let got = out
        .replace(&head, "<HEAD>")
        .replace(&head[..12], "<HEAD12>")
        .replace(&head[..7], "<SHA7>")
        .replace(&env.reg.host, "<REGISTRY>");
    assert_eq!(
        got.trim(),
        r#"Release 2.0.0 as tag v2.0.0 at commit <HEAD>
Components: core, runner
`latest` stays: tag v2.0.0 matches v{semver}, which never moves it
Packages:
  <REGISTRY>/aisopsflow/aisopsflow-core (public): tags 2.0.0, sha-<SHA7>; latest now none
  <REGISTRY>/aisopsflow/aisopsflow-core-commercial (private): tags 2.0.0, sha-<SHA7>; latest now none
  <REGISTRY>/aisopsflow/aisopsflow-runner (public): tags 2.0.0, sha-<SHA7>; latest now none
  <REGISTRY>/aisopsflow/aisopsflow-runner-commercial (private): tags 2.0.0, sha-<SHA7>; latest now none
Steps:
  1. run the preflight gate (every error-severity check must pass)
  2. create annotated tag v2.0.0 at <HEAD>
  3. push exactly one tag, v2.0.0, to origin
  4. find the publish-images.yml run for push v2.0.0 at <HEAD12>
  5. wait for the run to complete successfully
  6. verify tags, digests, `latest` and visibility in the registry
  7. write docs/releases/2.0.0.md and the customer variant
`latest` read from <REGISTRY> (GITHUB_TOKEN): 0 of 4 packages have one"#,
        "\n--- got ---\n{got}"
    );
    env.assert_unchanged();

    // A dirty tree.
    std::fs::write(env.work.join("core/uncommitted.txt"), "x").unwrap();
    env.release("2.0.0", &[])
        .await
        .expect(2, &["uncommitted changes"]);
    std::fs::remove_file(env.work.join("core/uncommitted.txt")).unwrap();
    env.assert_unchanged();

    // A detached HEAD.
    git(&env.work, &["checkout", "-q", "--detach"]);
    env.release("2.0.0", &[])
        .await
        .expect(2, &["HEAD is detached"]);
    git(&env.work, &["checkout", "-q", "main"]);
    env.assert_unchanged();

    // HEAD behind the remote: someone merged after our pull.
    let other = env.clone_remote("other");
    std::fs::write(other.join("runner/NEW.txt"), "x").unwrap();
    git(&other, &["add", "."]);
    git(&other, &["commit", "-qm", "merged elsewhere"]);
    git(&other, &["push", "-q", "origin", "main"]);
    env.release("2.0.0", &[])
        .await
        .expect(2, &["is not the remote default branch"]);
    env.assert_unchanged();

    // A tag for this version at another commit.
    git(&env.work, &["pull", "-q", "--ff-only", "origin", "main"]);
    git(
        &other,
        &["tag", "-a", "-m", "elsewhere", "v2.0.0", "HEAD~1"],
    );
    git(&other, &["push", "-q", "origin", "v2.0.0"]);
    env.release("2.0.0", &[])
        .await
        .expect(1, &["tag v2.0.0 already exists (remote)"]);
    assert_eq!(env.remote_tags(), BTreeSet::from(["v2.0.0".to_string()]));
    assert_eq!(git(&env.work, &["tag", "--list"]), "");
    assert!(env.notes_files().is_empty());
}

/// Benchmark: requests that count against the primary rate limit while `release` waits on a
/// run that stays unchanged, against polling the run and its jobs unconditionally every 3 s,
/// and how soon completion is seen. See docs/benchmarks.md ("Release wait").
///
/// `AISOPSFLOW_BENCH_RUN_SECS=120 cargo test -p xtask --test it -- --ignored bench_release_wait --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_release_wait() {
    use xtask::effects::github::Github;
    use xtask::execute::{Poll, wait_run};
    let secs: u64 = std::env::var("AISOPSFLOW_BENCH_RUN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let config = Config::load(&repo_root()).unwrap();
    let (owner, name) = config.repo_owner_name();
    let h = gh::start(gh::World::compliant(owner, name, config.org()))
        .await
        .unwrap();
    let new_run = || NewRun {
        workflow: WORKFLOW.into(),
        event: "push".into(),
        head_branch: Some("v9.9.9".into()),
        head_sha: gh::fake_sha("bench"),
        actor: "octo-admin".into(),
        inputs: BTreeMap::new(),
        delay: None,
    };
    // One run of `secs`: in progress with its steps from the start, unchanged until it
    // completes. Returns (counted requests, 304s, total requests, completion seen after).
    async fn measure(
        h: &gh::StandInHandle,
        id: u64,
        secs: u64,
        poll: impl std::future::Future<Output = ()>,
    ) -> (u64, u64, u64, Duration) {
        h.set_run_status(id, "in_progress", None);
        h.set_jobs(
            id,
            vec![JobSeed::new("publish", "in_progress", None, &STEPS)],
        );
        h.clear_log();
        let standin = h.standin.clone();
        let completed = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            standin.set_jobs(
                id,
                vec![JobSeed::new(
                    "publish",
                    "completed",
                    Some("success"),
                    &STEPS,
                )],
            );
            standin.set_run_status(id, "completed", Some("success"));
            Instant::now()
        });
        poll.await;
        let seen = Instant::now();
        let done_at = completed.await.unwrap();
        let log = h.requests();
        let counted = log.iter().filter(|r| r.counted).count() as u64;
        let not_modified = log.iter().filter(|r| r.status == 304).count() as u64;
        (
            counted,
            not_modified,
            log.len() as u64,
            seen.saturating_duration_since(done_at),
        )
    }

    let id = h.create_run(new_run()).unwrap();
    let client = Github::new(&h.base_url, "2022-11-28", Some(Secret::new(ADMIN_TOKEN))).unwrap();
    // Warm the cache as the release does when it first sees the run.
    client.workflow_run(owner, name, id).await.unwrap();
    let ours = measure(&h, id, secs, async {
        let deadline = Instant::now() + Duration::from_secs(secs + 120);
        let _ = wait_run(&client, (owner, name), id, deadline, Poll::default())
            .await
            .map_err(|_| ())
            .unwrap();
    })
    .await;

    let id = h.create_run(new_run()).unwrap();
    let http = xtask::effects::http::client();
    let base = h.base_url.clone();
    let naive = measure(&h, id, secs, async {
        loop {
            let run: serde_json::Value = http
                .get(format!("{base}/repos/{owner}/{name}/actions/runs/{id}"))
                .bearer_auth(ADMIN_TOKEN)
                .header("user-agent", "bench")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let _jobs = http
                .get(format!(
                    "{base}/repos/{owner}/{name}/actions/runs/{id}/jobs"
                ))
                .bearer_auth(ADMIN_TOKEN)
                .header("user-agent", "bench")
                .send()
                .await
                .unwrap();
            if run["status"] == "completed" {
                break;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    })
    .await;
    println!("\nrun of {secs} s, unchanged until it completes");
    println!(
        "| poller | requests | counted against the primary limit | 304 | completion seen after |"
    );
    println!("|---|---|---|---|---|");
    for (what, (counted, nm, total, late)) in [
        ("`execute::wait_run` (ETag, 2 s -> 10 s backoff)", ours),
        ("unconditional GET run + jobs every 3 s", naive),
    ] {
        println!(
            "| {what} | {total} | {counted} | {nm} | {:.1} s |",
            late.as_secs_f64()
        );
    }
    assert!(ours.0 < naive.0, "conditional polling costs less");
}

/// The real path: `release --rehearse` clones this repository's HEAD into a rehearsal world
/// whose publish runs execute `cargo xtask publish` for real (image builds through the Docker
/// engine, pushes to the registry harness), then verifies and writes the notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsal_releases_through_the_real_publish_workflow() {
    crate::docker_required!();
    // The closed environment, with the toolchain (the rehearsal builds images) and the engine.
    let run = run_within_an_hour(
        operator()
            .arg("--repo")
            .arg(repo_root())
            .args([
                "release",
                "9.0.0",
                "--latest",
                "--rehearse",
                "--yes",
                "--skip-checks",
                "build",
            ])
            .into_tokio(),
    )
    .await;
    let text = run.expect(0, &[]).text();
    assert!(text.contains("released 9.0.0 as release-v9.0.0"), "{text}");
    assert!(text.contains("verify passed"), "{text}");
    let refs: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("  ")
                && l.contains("/aisopsflow/aisopsflow-")
                && l.contains(":9.0.0@sha256:")
        })
        .collect();
    assert_eq!(
        refs.len(),
        4,
        "one pull-by-digest reference per package:\n{text}"
    );
    // The notes are printed (they live in the throwaway clone), digests included.
    assert!(
        text.contains("<!-- aisopsflow:release version=9.0.0 tag=release-v9.0.0 commit="),
        "{text}"
    );
    for r in &refs {
        let (package, digest) = r.trim().split_once(":9.0.0@").unwrap();
        let package = package.rsplit('/').next().unwrap();
        assert!(
            text.contains(&format!("<!-- aisopsflow:digest {package} {digest} -->"))
                && text.contains(&format!(
                    "<!-- aisopsflow:latest-after {package} {digest} -->"
                )),
            "{package}: the notes record {digest} as the release and as `latest` after:\n{text}"
        );
    }
    // The rehearsal never touches this checkout: no tag, no notes here.
    assert!(!repo_root().join("docs/releases/9.0.0.md").exists());
    let tags = git(&repo_root(), &["tag", "--list", "*9.0.0"]);
    assert_eq!(tags, "", "the rehearsal tagged only its own clone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_name_the_setting_and_a_rerun_resumes() {
    let Some(env) = World::start().await else {
        return;
    };
    // No run appears (GitHub has not noticed the push).
    env.control.pause_watcher.store(true, Ordering::SeqCst);
    let out = env
        .release("2.0.0", &["--timeout", "2"])
        .await
        .expect(
            1,
            &["no publish run appeared for tag v2.0.0", "(--timeout)"],
        )
        .text();
    assert!(
        out.contains("actions-enabled") && out.contains("workflow-triggers"),
        "{out}"
    );
    // The run appears but stays in progress.
    env.control.hold.store(true, Ordering::SeqCst);
    env.control.pause_watcher.store(false, Ordering::SeqCst);
    env.release("2.0.0", &["--timeout", "3"]).await.expect(
        1,
        &["(--timeout) waiting for publish run", "to resume the wait"],
    );
    assert!(env.notes("2.0.0").is_none());
    env.control.hold.store(false, Ordering::SeqCst);
    env.release("2.0.0", &[]).await.expect(0, &[]);
    assert_eq!(
        env.control.runs.load(Ordering::SeqCst),
        1,
        "one run, waited on twice"
    );
    assert_eq!(env.remote_tags(), BTreeSet::from(["v2.0.0".to_string()]));
    assert!(env.notes("2.0.0").is_some());
}

/// The real path for promote: in a rehearsal world, a `v*` release leaves `latest` alone, then
/// `promote` dispatches the real publish workflow with publish_latest=true, which moves
/// `latest` and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsal_promote_dispatches_the_real_workflow_and_moves_only_latest() {
    crate::docker_required!();
    let world = Rehearsed::start(RehearsalOptions::default()).await;
    let config = Config::load(&world.work_dir).unwrap();
    let run = |args: Vec<&'static str>| {
        let world = &world;
        async move { world.xtask(&args).await }
    };
    let release = vec![
        "release",
        "9.1.0",
        "--yes",
        "--skip-checks",
        "build",
        "--attest",
        "manual-actions-package-write",
        "--attest",
        "manual-package-inheritance",
        "--attest",
        "manual-package-delete-restricted",
        "--attest",
        "manual-customer-credentials-scoped",
        "--attest",
        "manual-emergency-credentials-rotated",
    ];
    // The first release into an empty registry (a real release: nobody plays the admin):
    // the publish run creates the packages private, and the release stops naming the flip.
    let out = run(release.clone()).await.expect(1, &[]).text();
    assert!(
        out.contains("first release:")
            && out.contains("Change visibility")
            && out.contains("packages/container/aisopsflow-core/settings"),
        "{out}"
    );
    // The org admin flips the public editions once; the rerun verifies and writes the notes.
    for p in ["aisopsflow-core", "aisopsflow-runner"] {
        world
            .registry
            .admin_make_public(&format!("{}/{p}", config.org()))
            .unwrap();
    }
    run(release).await.expect(0, &[]);
    let before = all_tags(&world.registry, &config).await;
    assert!(
        !before.keys().any(|(_, t)| t == "latest"),
        "a v* release moves no `latest`: {before:?}"
    );
    run(vec!["promote", "9.1.0", "--yes"]).await.expect(0, &[]);
    let after = all_tags(&world.registry, &config).await;
    let mut appeared: Vec<(String, String)> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    appeared.sort();
    let mut expected: Vec<(String, String)> = config
        .images_for(&config.scope(&[]).unwrap())
        .into_iter()
        .map(|i| (i.package, "latest".to_string()))
        .collect();
    expected.sort();
    assert_eq!(appeared, expected, "only `latest` appeared");
    for (k, d) in &before {
        assert_eq!(after.get(k), Some(d), "{k:?} kept its digest");
    }
    for (p, _) in &expected {
        assert_eq!(
            after[&(p.clone(), "latest".into())],
            after[&(p.clone(), "9.1.0".into())]
        );
    }
    let dispatch = world
        .github
        .standin
        .with_world(|w| {
            w.runs
                .iter()
                .find(|r| r.event == "workflow_dispatch")
                .cloned()
        })
        .expect("promote dispatched the workflow");
    assert_eq!(dispatch.conclusion.as_deref(), Some("success"));
    assert_eq!(
        dispatch.inputs.get("publish_latest").map(String::as_str),
        Some("true")
    );
}

/// The first JSON document of a run's output (stdout comes first, and carries exactly one).
pub fn first_json(out: &str) -> serde_json::Value {
    serde_json::Deserializer::from_str(out)
        .into_iter::<serde_json::Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON document in:\n{out}"))
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

/// `(kind, description)` of each step in a JSON list of release steps.
fn kinds_and_descriptions(steps: &serde_json::Value) -> Vec<(String, String)> {
    steps
        .as_array()
        .expect("a list of steps")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["description"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `release --dry-run` prints the plan; the real run executes exactly its steps still to do,
/// in order (its JSON document's `executed`), and a rerun has nothing left but to say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_executes_exactly_the_printed_plan() {
    let Some(env) = World::start().await else {
        return;
    };
    let out = env.xtask(&PLAN_2_0_0_JSON).await.expect(0, &[]).text();
    let planned = first_json(&out);
    assert_eq!(planned["outcome"], "planned", "{out}");
    let todo: Vec<serde_json::Value> = planned["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["done"].is_null())
        .cloned()
        .collect();
    let todo = kinds_and_descriptions(&serde_json::Value::Array(todo));
    let kinds: Vec<&str> = todo.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "preflight",
            "create-tag",
            "push-tag",
            "find-run",
            "wait-run",
            "verify",
            "write-notes"
        ],
        "{out}"
    );
    assert!(env.remote_tags().is_empty(), "a dry run tagged something");

    let out = env
        .release("2.0.0", &["--latest", "--format", "json"])
        .await
        .expect(0, &[])
        .text();
    let doc = first_json(&out);
    assert_eq!(doc["outcome"], "released", "{out}");
    assert_eq!(kinds_and_descriptions(&doc["executed"]), todo, "{out}");
    // What the steps claim is so: the tag is on the remote and the notes exist.
    assert!(env.remote_tags().contains("release-v2.0.0"));
    assert!(env.notes("2.0.0").is_some());

    // Planned again, every step is done, and the real run executes none.
    let out = env.xtask(&PLAN_2_0_0_JSON).await.expect(0, &[]).text();
    let again = first_json(&out);
    assert!(
        again["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["done"].is_null()),
        "{out}"
    );
    let out = env
        .release("2.0.0", &["--latest", "--format", "json"])
        .await
        .expect(0, &[])
        .text();
    assert_eq!(first_json(&out)["executed"], serde_json::json!([]), "{out}");
}

/// The numbered steps under `Steps:` in a human plan.
fn printed_steps(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| *l != "Steps:")
        .skip(1)
        .map_while(|l| {
            let (n, rest) = l.trim_start().split_once(". ")?;
            n.parse::<u32>().ok().map(|_| rest.to_string())
        })
        .collect()
}

/// `promote --dry-run` prints the plan; the real run does exactly those steps, in order
/// (its `done:` lines), and what they claim is so in the registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_executes_exactly_the_printed_plan() {
    let Some(env) = World::start().await else {
        return;
    };
    env.release("2.0.0", &["--latest"]).await.expect(0, &[]);
    env.commit_and_push("core/CHANGE.txt", "a fix\n");
    env.release("2.1.0", &[]).await.expect(0, &[]);

    let before = env.all_tags().await;
    let out = env
        .xtask(&["promote", "2.1.0", "--dry-run"])
        .await
        .expect(0, &[])
        .text();
    let planned = printed_steps(&out);
    let packages = env.packages();
    assert_eq!(planned.len(), 2 + packages.len() + 1, "{out}");
    assert!(
        planned[0].starts_with("dispatch publish-images.yml on v2.1.0 with publish_latest=true"),
        "{out}"
    );
    for (p, step) in packages.iter().zip(&planned[2..]) {
        let to = &before[&(p.clone(), "2.1.0".to_string())];
        assert!(
            step.ends_with(&format!(
                "latest moved from {} to {to}",
                before[&(p.clone(), "latest".to_string())]
            )),
            "{step}"
        );
    }
    assert_eq!(env.all_tags().await, before, "a dry run moved a tag");
    assert!(
        env.gh
            .with_world(|w| w.runs.iter().all(|r| r.event != "workflow_dispatch")),
        "a dry run dispatched"
    );

    let out = env
        .xtask(&["promote", "2.1.0", "--yes"])
        .await
        .expect(0, &[])
        .text();
    let done: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("done: "))
        .map(String::from)
        .collect();
    assert_eq!(done, planned, "{out}");
    let after = env.all_tags().await;
    for p in &packages {
        assert_eq!(
            after[&(p.clone(), "latest".into())],
            before[&(p.clone(), "2.1.0".into())]
        );
    }

    // Nothing left: the plan has no steps, and the run does none.
    let out = env
        .xtask(&["promote", "2.1.0", "--dry-run"])
        .await
        .expect(0, &[])
        .text();
    assert!(printed_steps(&out).is_empty(), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}
