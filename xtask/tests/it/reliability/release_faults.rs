//! The release path: bad versions, and faults while a release runs.

use super::*;

/// `release VERSION --dry-run` and `promote VERSION` refuse every bad version before reading
/// anything (exit 2, the fix named, nothing changed).
#[test]
pub(super) fn release_and_promote_refuse_bad_versions() {
    let repo = Repo::new();
    let work = repo.work();
    let before = repo.snapshot();
    for (class, v, needles) in BAD_VERSIONS {
        let v = if *class == "too long for an image tag" {
            long_version()
        } else {
            v.to_string()
        };
        for args in [
            vec!["release", v.as_str(), "--dry-run"],
            vec!["release", v.as_str(), "--latest", "--yes"],
            vec!["promote", v.as_str(), "--yes"],
        ] {
            let run = xtask(&work, &args, &[("GITHUB_TOKEN", "ghp_notused000")]);
            expect(&format!("{class}: {}", args.join(" ")), &run, 2, needles);
        }
    }
    assert_eq!(
        repo.snapshot(),
        before,
        "a bad version changed the repository"
    );
}

/// Runs `release VERSION --yes` in a release test world with the registry at `registry` (the
/// harness itself, or a fault proxy in front of it).
pub(super) async fn release_through(
    env: &crate::support::World,
    version: &str,
    registry: &str,
    extra: &[&str],
) -> Run {
    let mut args = strings(&["--repo", env.work.to_str().unwrap()]);
    args.extend(env.release_args(version));
    args.extend(strings(extra));
    xtask_async(
        env.work.clone(),
        args,
        envs(&[
            ("GITHUB_API_URL", &env.gh.base_url),
            ("GITHUB_TOKEN", ADMIN_TOKEN),
            ("AISOPSFLOW_REGISTRY", registry),
        ]),
    )
    .await
}

/// `latest` of every package, read from the harness directly.
pub(super) async fn latest_digests(
    env: &crate::support::World,
) -> BTreeMap<String, Option<String>> {
    let all = env.all_tags().await;
    env.packages()
        .into_iter()
        .map(|p| {
            let d = all.get(&(p.clone(), "latest".to_string())).cloned();
            (p, d)
        })
        .collect()
}

/// After a release of `version` as `tag` completed: exactly one tag for it here and on the
/// remote, its notes and customer notes, no resume record.
pub(super) fn assert_released(env: &crate::support::World, version: &str, tag: &str) {
    let remote: Vec<String> = env
        .remote_tags()
        .into_iter()
        .filter(|t| t.ends_with(&format!("v{version}")))
        .collect();
    assert_eq!(
        remote,
        vec![tag.to_string()],
        "exactly one remote tag for {version}"
    );
    let files: Vec<String> = env
        .notes_files()
        .into_iter()
        .filter(|f| f.starts_with(version) || f.starts_with(&format!(".{version}")))
        .collect();
    assert_eq!(
        files,
        vec![
            format!("{version}.customer.md"),
            format!("{version}.json"),
            format!("{version}.md"),
        ],
        "the notes, the release record and nothing else for {version}"
    );
}

/// Faults while `release` runs, on GitHub (while it finds and waits for the publish run) and
/// on the registry (while it reads `latest` and while it verifies). Transient faults are
/// retried and the release completes; persistent ones stop it with exit 3, the tag pushed at
/// most once, no notes, `latest` not moved by us, and the rerun completes the release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn release_faults_then_the_rerun_completes() {
    let Some(env) = crate::support::World::start().await else {
        return;
    };
    let reg = env.reg.host.clone();
    // The runs list and the run itself: only the wait, not the gate's settings reads.
    let runs = "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows/";
    let run_detail = "/repos/aisopsflow/aisopsflow-enterprise/actions/runs/";

    // Transient GitHub faults while waiting: retried, the release completes.
    env.gh.inject(runs, 1, FaultAction::Status(502));
    env.gh.inject(runs, 1, FaultAction::Status(503));
    env.gh.inject(run_detail, 2, FaultAction::Drop);
    env.gh.secondary_limit(1, 429, 1);
    let latest_before = latest_digests(&env).await;
    let run = release_through(&env, "3.0.0", &reg, &[]).await;
    expect(
        "release: transient GitHub faults while waiting",
        &run,
        0,
        &["released 3.0.0 as v3.0.0"],
    );
    let seen: Vec<u16> = env.gh.requests().iter().map(|r| r.status).collect();
    assert!(
        seen.contains(&502) && seen.contains(&503) && seen.contains(&0) && seen.contains(&429),
        "{seen:?}"
    );
    assert_released(&env, "3.0.0", "v3.0.0");
    assert_eq!(
        latest_digests(&env).await,
        latest_before,
        "a v* release moved latest"
    );
    env.gh.clear_faults();

    // GitHub down while waiting: exit 3 after the push, no notes; the rerun completes.
    env.gh.inject(runs, 1000, FaultAction::Status(503));
    env.gh.inject(run_detail, 1000, FaultAction::Status(503));
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.1.txt", "3.1\n");
    let run = release_through(&env, "3.1.0", &reg, &[]).await;
    expect(
        "release: GitHub 503 on every attempt while waiting",
        &run,
        3,
        &["503", "retry later"],
    );
    assert!(
        env.remote_tags().contains("v3.1.0"),
        "the tag was pushed before the wait"
    );
    assert!(env.notes("3.1.0").is_none(), "no notes after a failed wait");
    env.gh.clear_faults();
    let rerun = release_through(&env, "3.1.0", &reg, &[]).await;
    expect(
        "release: GitHub 503 while waiting (rerun)",
        &rerun,
        0,
        &["[done] push exactly one tag"],
    );
    assert_released(&env, "3.1.0", "v3.1.0");
    assert_eq!(
        latest_digests(&env).await,
        latest_before,
        "a v* release moved latest"
    );

    // The registry fails before anything is tagged: nothing happens at all.
    let proxy = FaultProxy::start(&reg, &env.reg.token_url).await;
    proxy.add(
        Rule::new(
            Some("HEAD"),
            "/manifests/latest",
            Action::Answer(Canned::new(503, "text/plain", "busy")),
        )
        .times(1000),
    );
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.2.txt", "3.2\n");
    let tags_before = env.remote_tags();
    let run = release_through(&env, "3.2.0", &proxy.addr, &[]).await;
    expect(
        "release: registry 503 while reading latest",
        &run,
        3,
        &["nothing was tagged"],
    );
    assert_eq!(
        env.remote_tags(),
        tags_before,
        "a tag was pushed although latest was unknown"
    );
    assert!(!env.state_exists("3.2.0") && env.notes("3.2.0").is_none());
    // The dry run gives the same refusal: planning refuses, not the executor after the plan.
    let dry = release_through(&env, "3.2.0", &proxy.addr, &["--dry-run"]).await;
    expect(
        "release --dry-run: registry 503 while reading latest",
        &dry,
        3,
        &["nothing was tagged"],
    );
    let error_line = |r: &Run| {
        r.stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .map(String::from)
    };
    assert!(error_line(&run).is_some(), "{}", run.stderr);
    assert_eq!(error_line(&dry), error_line(&run), "{}", dry.stderr);
    assert_eq!(env.remote_tags(), tags_before);
    proxy.clear();

    // The registry fails in the middle of the release's verify (after the run published):
    // exit 3, no notes; the rerun verifies again and completes. `--latest` this time: latest
    // must end on this release, and only through the publish run.
    proxy.add(
        Rule::new(
            Some("HEAD"),
            "/manifests/3.2.0",
            Action::Answer(Canned::new(503, "text/plain", "busy")),
        )
        .times(1000),
    );
    let run = release_through(&env, "3.2.0", &proxy.addr, &["--latest"]).await;
    expect(
        "release: registry 503 in the middle of verify",
        &run,
        3,
        &["503", "retry later"],
    );
    assert!(env.notes("3.2.0").is_none(), "no partial notes");
    // The gate asks the registry what the publish run will ask (this release's version tags)
    // before tagging, so the 503 on `/manifests/3.2.0` now stops the release before the tag
    // exists: nothing to finish, and the rerun completes.
    assert!(
        !env.remote_tags().contains("release-v3.2.0"),
        "refused before tagging"
    );
    assert!(!proxy.fired().is_empty());
    proxy.clear();
    let rerun = release_through(&env, "3.2.0", &proxy.addr, &["--latest"]).await;
    expect(
        "release: registry 503 in the middle of verify (rerun)",
        &rerun,
        0,
        &["released 3.2.0 as release-v3.2.0"],
    );
    assert_released(&env, "3.2.0", "release-v3.2.0");
    let all = env.all_tags().await;
    for p in env.packages() {
        assert_eq!(
            all.get(&(p.clone(), "latest".to_string())),
            all.get(&(p.clone(), "3.2.0".to_string())),
            "{p}: latest is not on 3.2.0"
        );
    }

    // A connection reset while reading a manifest during verify, then slow answers: the
    // first run stops with exit 3, the rerun completes despite the slowness.
    proxy.add(Rule::new(Some("GET"), "/manifests/sha256:", Action::ResetMidBody).times(1000));
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.3.txt", "3.3\n");
    let run = release_through(&env, "3.3.0", &proxy.addr, &[]).await;
    expect(
        "release: connection reset during verify",
        &run,
        3,
        &["check that the registry is reachable"],
    );
    assert!(!proxy.fired().is_empty() && env.notes("3.3.0").is_none());
    proxy.clear();
    proxy.add(Rule::new(None, "/v2/", Action::Delay(Duration::from_millis(700))).times(6));
    let rerun = release_through(&env, "3.3.0", &proxy.addr, &[]).await;
    expect(
        "release: slow registry (rerun)",
        &rerun,
        0,
        &["released 3.3.0 as v3.3.0"],
    );
    assert_released(&env, "3.3.0", "v3.3.0");

    // Ctrl-C while verify waits on a hung registry: exit 130 naming the rerun, the tag pushed
    // once, no notes; the rerun completes.
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.4.txt", "3.4\n");
    // The hold goes in once the tag is pushed: before it, the gate asks the registry about
    // 3.4.0 too (what the publish run will ask), and that is not the stage under test.
    let mut args = vec!["--repo".to_string(), env.work.to_str().unwrap().to_string()];
    args.extend(env.release_args("3.4.0"));
    let cmd = xtask_cmd(
        &env.work,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[
            ("GITHUB_API_URL", &env.gh.base_url),
            ("GITHUB_TOKEN", ADMIN_TOKEN),
            ("AISOPSFLOW_REGISTRY", &proxy.addr),
        ],
    );
    let held = proxy.held.clone();
    let armed = std::sync::atomic::AtomicBool::new(false);
    let status = interrupt_when(cmd, || {
        if !armed.load(Ordering::SeqCst) && env.remote_tags().contains("v3.4.0") {
            proxy.add(Rule::new(Some("HEAD"), "/manifests/3.4.0", Action::Hold));
            armed.store(true, Ordering::SeqCst);
        }
        held.load(Ordering::SeqCst) > 0
    })
    .await;
    assert!(ended_by_sigint(&status), "release: {status:?}");
    assert!(env.remote_tags().contains("v3.4.0") && env.notes("3.4.0").is_none());
    proxy.clear();
    let rerun = release_through(&env, "3.4.0", &proxy.addr, &[]).await;
    expect(
        "release: Ctrl-C during verify (rerun)",
        &rerun,
        0,
        &["released 3.4.0 as v3.4.0"],
    );
    assert_released(&env, "3.4.0", "v3.4.0");
    // `latest` stayed on 3.2.0, the last `release-v*`, through every v* release and fault.
    let all = env.all_tags().await;
    for p in env.packages() {
        assert_eq!(
            all.get(&(p.clone(), "latest".to_string())),
            all.get(&(p.clone(), "3.2.0".to_string())),
            "{p}: latest moved off 3.2.0"
        );
    }
}

/// Faults while `promote` dispatches and waits: a dispatch answered 502 is not repeated (a POST
/// may have taken effect) and ends in exit 3 with `latest` where it was; the rerun dispatches
/// once and moves only `latest`. GitHub failing while promote waits ends in exit 3 too, and
/// the rerun completes without a second dispatch when the first one's run finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn promote_faults_then_the_rerun_completes() {
    let Some(env) = crate::support::World::start().await else {
        return;
    };
    let reg = env.reg.host.clone();
    let run = release_through(&env, "5.0.0", &reg, &["--latest"]).await;
    expect(
        "promote setup: release-v5.0.0",
        &run,
        0,
        &["released 5.0.0"],
    );
    env.commit_and_push("core/CHANGE.txt", "a fix\n");
    let run = release_through(&env, "5.1.0", &reg, &[]).await;
    expect("promote setup: v5.1.0", &run, 0, &["released 5.1.0"]);
    let before = env.all_tags().await;
    let dispatches = || {
        env.gh.with_world(|w| {
            w.runs
                .iter()
                .filter(|r| r.event == "workflow_dispatch")
                .count()
        })
    };

    // The dispatch itself answered 502: not repeated, exit 3, nothing moved.
    env.gh.inject(
        "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows/publish-images.yml/dispatches",
        1,
        FaultAction::Status(502),
    );
    let promote_5_1 = || {
        xtask_async(
            env.work.clone(),
            strings(&[
                "--repo",
                env.work.to_str().unwrap(),
                "promote",
                "5.1.0",
                "--yes",
            ]),
            envs(&[
                ("GITHUB_API_URL", &env.gh.base_url),
                ("GITHUB_TOKEN", ADMIN_TOKEN),
                ("AISOPSFLOW_REGISTRY", &reg),
            ]),
        )
    };
    let run = promote_5_1().await;
    expect("promote: dispatch answered 502", &run, 3, &["502"]);
    let posts = env
        .gh
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/dispatches"))
        .count();
    assert_eq!(
        posts, 1,
        "a dispatch that may have taken effect was repeated"
    );
    assert_eq!(dispatches(), 0);
    assert_eq!(
        env.all_tags().await,
        before,
        "a failed dispatch moved a tag"
    );

    // The rerun dispatches once and moves exactly `latest` to 5.1.0.
    let run = promote_5_1().await;
    expect(
        "promote: dispatch answered 502 (rerun)",
        &run,
        0,
        &["5.1.0"],
    );
    assert_eq!(dispatches(), 1);
    let after = env.all_tags().await;
    for (k, d) in &after {
        if k.1 == "latest" {
            assert_eq!(
                Some(d),
                after.get(&(k.0.clone(), "5.1.0".to_string())),
                "{k:?}"
            );
        } else {
            assert_eq!(before.get(k), Some(d), "{k:?} moved");
        }
    }

    // GitHub fails while promote waits for the run of its dispatch: exit 3. The run still
    // finishes; the rerun sees `latest` already on 5.0.0 and dispatches nothing more.
    let waits = "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows/publish-images.yml/runs";
    env.gh.inject(waits, 1000, FaultAction::Status(503));
    env.gh.inject(
        "/repos/aisopsflow/aisopsflow-enterprise/actions/runs/",
        1000,
        FaultAction::Status(503),
    );
    let promote = |v: &'static str| {
        xtask_async(
            env.work.clone(),
            // 5.0.0 is older than the 5.1.0 `latest` holds: explicitly allowed.
            strings(&[
                "--repo",
                env.work.to_str().unwrap(),
                "promote",
                v,
                "--yes",
                "--allow-downgrade",
            ]),
            envs(&[
                ("GITHUB_API_URL", &env.gh.base_url),
                ("GITHUB_TOKEN", ADMIN_TOKEN),
                ("AISOPSFLOW_REGISTRY", &reg),
            ]),
        )
    };
    let run = promote("5.0.0").await;
    expect(
        "promote: GitHub 503 while waiting",
        &run,
        3,
        &["503", "retry later"],
    );
    assert_eq!(dispatches(), 2);
    env.gh.clear_faults();
    // The dispatched run completes on its own (the stand-in plays it); wait for it, bounded.
    for _ in 0..300 {
        let done = env.gh.with_world(|w| {
            w.runs
                .iter()
                .filter(|r| r.event == "workflow_dispatch")
                .all(|r| r.status == "completed")
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = promote("5.0.0").await;
    expect(
        "promote: GitHub 503 while waiting (rerun)",
        &run,
        0,
        &["nothing to do"],
    );
    assert_eq!(dispatches(), 2, "the rerun dispatched again");
    let last = env.all_tags().await;
    for p in env.packages() {
        assert_eq!(
            last.get(&(p.clone(), "latest".to_string())),
            last.get(&(p.clone(), "5.0.0".to_string())),
            "{p}: latest is not on 5.0.0"
        );
    }
}
