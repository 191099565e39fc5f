//! The publish path end to end: tags pushed to the stand-in's bare remote (and a dispatch)
//! become workflow runs that execute `cargo xtask publish` for real against the local
//! registry. Read back with our registry client and with `skopeo inspect`: exactly the
//! policy's tags exist, the semver and sha tags share a digest, and `latest` appears or stays
//! exactly as the policy says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::git;
use crate::support::registry::skopeo_digest;
use xtask::effects::github::Github;
use xtask::effects::registry::{Credentials, RegistryClient};
use xtask::standin::rehearsal::{Rehearsal, RehearsalOptions};
use xtask::workspace::Global;

const ORG: &str = "aisopsflow";
const ALL: [&str; 6] = [
    "aisopsflow-core",
    "aisopsflow-runner",
    "aisopsflow-console",
    "aisopsflow-core-commercial",
    "aisopsflow-runner-commercial",
    "aisopsflow-console-commercial",
];

async fn world() -> Rehearsal {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let ws = Global {
        repo: Some(root),
        verbose: 0,
    }
    .workspace()
    .unwrap();
    Rehearsal::start(
        &ws,
        RehearsalOptions {
            xtask_exe: Some(env!("CARGO_BIN_EXE_xtask").into()),
            queue_delay: Some(Duration::from_millis(100)),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// Tags `tag` at the work clone's HEAD (with every component in scope) and pushes it.
fn push_tag(r: &Rehearsal, tag: &str) -> String {
    let head = git(&r.work_dir, &["rev-parse", "HEAD"]);
    git(
        &r.work_dir,
        &[
            "tag",
            "-a",
            "-m",
            &format!("release {tag}\n\ncomponents: core,runner,console"),
            tag,
        ],
    );
    git(
        &r.work_dir,
        &["push", "--quiet", "origin", &format!("refs/tags/{tag}")],
    );
    head
}

/// A new commit on main, pushed, so the next release has its own sha tag.
fn new_commit(r: &Rehearsal, msg: &str) -> String {
    git(
        &r.work_dir,
        &["commit", "--quiet", "--allow-empty", "-m", msg],
    );
    git(&r.work_dir, &["push", "--quiet", "origin", "HEAD:main"]);
    git(&r.work_dir, &["rev-parse", "HEAD"])
}

/// Waits (bounded) for the newest run of `event` at `sha` to complete, through the runs API,
/// and asserts it succeeded.
async fn run_succeeds(r: &Rehearsal, sha: &str, event: &str) -> u64 {
    run_concludes(r, sha, event, None, true).await
}

/// Waits (bounded) for the newest run of `event` at `sha` (and `branch`, the tag) to complete,
/// and asserts whether it succeeded.
async fn run_concludes(
    r: &Rehearsal,
    sha: &str,
    event: &str,
    branch: Option<&str>,
    success: bool,
) -> u64 {
    let gh = Github::new(
        r.github.base_url.clone(),
        "2022-11-28",
        Some(r.token.clone()),
    )
    .unwrap();
    let filter = xtask::effects::github::RunFilter {
        event: Some(event.into()),
        head_sha: Some(sha.into()),
        branch: branch.map(String::from),
        ..Default::default()
    };
    let start = Instant::now();
    loop {
        let runs = gh
            .workflow_runs(
                "aisopsflow",
                "aisopsflow-enterprise",
                "publish-images.yml",
                &filter,
            )
            .await
            .unwrap();
        if let Some(run) = runs.first().filter(|x| x.is_completed()) {
            let logs = std::fs::read_dir(r.dir().join("runs").join(format!("run-{}", run.id)))
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                        .collect::<Vec<_>>()
                        .join("\n---\n")
                })
                .unwrap_or_default();
            assert_eq!(
                run.succeeded(),
                success,
                "run {} for {sha} concluded {:?}\n{logs}",
                run.id,
                run.conclusion
            );
            assert_eq!(run.head_sha, sha);
            return run.id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "no completed {event} run for {sha}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every package's tags and the digest each resolves to.
async fn registry_state(r: &Rehearsal) -> BTreeMap<String, BTreeMap<String, String>> {
    let client = RegistryClient::new(
        &r.registry.host,
        Credentials::Basic {
            user: r.registry.user.clone(),
            password: r.registry.password.clone(),
            source: "test".into(),
        },
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for p in ALL {
        let repo = format!("{ORG}/{p}");
        let mut tags = BTreeMap::new();
        for t in client.list_tags(&repo).await.unwrap().unwrap_or_default() {
            let d = client
                .resolve(&repo, &t)
                .await
                .unwrap()
                .expect("listed tag resolves")
                .digest;
            tags.insert(t, d);
        }
        out.insert(p.to_string(), tags);
    }
    out
}

fn tags(state: &BTreeMap<String, String>) -> BTreeSet<&str> {
    state.keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_and_dispatches_publish_exactly_the_policys_tags() {
    crate::docker_required!();
    let r = world().await;

    // v0.1.0: the semver and sha tags, no latest.
    let c1 = push_tag(&r, "v0.1.0");
    run_succeeds(&r, &c1, "push").await;
    let s1 = registry_state(&r).await;
    let sha1 = format!("sha-{}", &c1[..7]);
    for p in ALL {
        assert_eq!(
            tags(&s1[p]),
            BTreeSet::from(["0.1.0", sha1.as_str()]),
            "{p}: {:?}",
            s1[p]
        );
        assert_eq!(
            s1[p]["0.1.0"], s1[p][&sha1],
            "{p}: semver and sha tags differ"
        );
        assert_eq!(
            skopeo_digest(&r.registry, &format!("{ORG}/{p}"), "0.1.0"),
            s1[p]["0.1.0"],
            "{p}: skopeo disagrees"
        );
    }

    // A second version from the same commit is refused: its sha tag already names 0.1.0's
    // image, and retagging would publish that image as 0.1.5.
    push_tag(&r, "v0.1.5");
    run_concludes(&r, &c1, "push", Some("v0.1.5"), false).await;
    assert_eq!(
        registry_state(&r).await,
        s1,
        "a refused publish changed the registry"
    );

    // release-v0.1.1 on a new commit: latest appears, at 0.1.1's digest.
    let c2 = new_commit(&r, "second");
    push_tag(&r, "release-v0.1.1");
    run_succeeds(&r, &c2, "push").await;
    let s2 = registry_state(&r).await;
    let sha2 = format!("sha-{}", &c2[..7]);
    for p in ALL {
        assert_eq!(
            tags(&s2[p]),
            BTreeSet::from(["0.1.0", sha1.as_str(), "0.1.1", sha2.as_str(), "latest"]),
            "{p}"
        );
        assert_eq!(s2[p]["latest"], s2[p]["0.1.1"], "{p}: latest is not 0.1.1");
        assert_eq!(s2[p][&sha2], s2[p]["0.1.1"]);
        assert_eq!(s2[p]["0.1.0"], s1[p]["0.1.0"], "{p}: 0.1.0 moved");
        assert_eq!(
            skopeo_digest(&r.registry, &format!("{ORG}/{p}"), "latest"),
            s2[p]["0.1.1"],
            "{p}: skopeo disagrees on latest"
        );
    }

    // A prerelease pushed as release-v*: never moves latest.
    let c3 = new_commit(&r, "third");
    push_tag(&r, "release-v0.2.0-rc.1");
    run_succeeds(&r, &c3, "push").await;
    let s3 = registry_state(&r).await;
    for p in ALL {
        assert!(s3[p].contains_key("0.2.0-rc.1"), "{p}");
        assert_eq!(
            s3[p]["latest"], s2[p]["latest"],
            "{p}: a prerelease moved latest"
        );
    }

    // A dispatch on v0.1.0 with publish_latest=true: latest moves to 0.1.0, nothing else moves,
    // and nothing is rebuilt.
    let gh = Github::new(
        r.github.base_url.clone(),
        "2022-11-28",
        Some(r.token.clone()),
    )
    .unwrap();
    let mut inputs = serde_json::Map::new();
    inputs.insert(
        "publish_latest".into(),
        serde_json::Value::String("true".into()),
    );
    gh.dispatch(
        "aisopsflow",
        "aisopsflow-enterprise",
        "publish-images.yml",
        "v0.1.0",
        &inputs,
        true,
    )
    .await
    .unwrap();
    run_succeeds(&r, &c1, "workflow_dispatch").await;
    let s4 = registry_state(&r).await;
    for p in ALL {
        assert_eq!(
            s4[p]["latest"], s1[p]["0.1.0"],
            "{p}: latest is not 0.1.0 after the dispatch"
        );
        for (t, d) in &s3[p] {
            if t != "latest" {
                assert_eq!(&s4[p][t], d, "{p}:{t} moved during the dispatch");
            }
        }
    }
}

/// `publish --dry-run` reads the registry and prints the plan (the record's `steps`); the
/// real run executes exactly those steps, in order (its record's `steps`), and the registry
/// then holds what they say. Here: a dispatch with publish_latest=true on an existing `v`
/// release, so the version is already published from this commit and nothing is built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_executes_exactly_the_printed_plan() {
    let Some(env) = crate::support::World::start().await else {
        return;
    };
    env.release("2.1.0", &[]).await.expect(0, &[]);
    let head = env.head();
    let before = env.all_tags().await;
    let args = |dry: bool| {
        let mut a = vec![
            "publish",
            "--ref",
            "refs/tags/v2.1.0",
            "--sha",
            head.as_str(),
            "--event",
            "workflow_dispatch",
            "--publish-latest",
            "true",
            "--format",
            "json",
        ];
        if dry {
            a.push("--dry-run");
        }
        a
    };
    let out = env.xtask(&args(true)).await.expect(0, &[]).text();
    let planned = crate::release::first_json(&out)["steps"].clone();
    let steps = planned.as_array().expect("the plan's steps");
    let packages = env.packages();
    // Per package the semver tag (the sha tag holds the image already), then `latest` last.
    assert_eq!(steps.len(), 2 * packages.len(), "{out}");
    for (i, p) in packages.iter().enumerate() {
        let digest = &before[&(p.clone(), "2.1.0".to_string())];
        assert_eq!(
            steps[i],
            serde_json::json!({"step": "tag", "package": p, "tag": "2.1.0", "digest": digest}),
            "{out}"
        );
        assert_eq!(
            steps[packages.len() + i],
            serde_json::json!({"step": "move-latest", "package": p, "tag": "latest", "digest": digest}),
            "{out}"
        );
    }
    assert_eq!(env.all_tags().await, before, "a dry run moved a tag");

    let out = env.xtask(&args(false)).await.expect(0, &[]).text();
    let record = crate::release::first_json(&out);
    assert_eq!(record["steps"], planned, "{out}");
    let after = env.all_tags().await;
    for p in &packages {
        assert_eq!(
            after[&(p.clone(), "latest".into())],
            before[&(p.clone(), "2.1.0".into())],
            "{p}: latest"
        );
    }
    for (k, d) in &before {
        if k.1 != "latest" {
            assert_eq!(&after[k], d, "{k:?} moved");
        }
    }
}
