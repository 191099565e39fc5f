//! The GitHub client, the GitHub stand-in and the online settings checks, exercised together
//! over real HTTP on 127.0.0.1; and `cargo xtask preflight` run as a binary against the
//! stand-in.

pub(crate) use crate::support::repo_root as root;
use std::sync::Arc;
use std::time::Duration;

use xtask::checks::{CheckId, Ctx, Evidence, Outcome, Status, settings};
use xtask::config::Config;
use xtask::effects::github::{
    API_2022, API_2026, Github, GithubError, NewRelease, RetryPolicy, RunFilter,
};
use xtask::exit;
use xtask::secrets::Secret;
use xtask::standin::github::{
    self as standin, ADMIN_TOKEN, FINE_GRAINED_TOKEN, FaultAction, JobSeed, NO_ADMIN_TOKEN,
    NO_PACKAGES_TOKEN, NewRun, Role, StandIn, StandInHandle, TokenSeed, Trigger, World,
    fake_digest, fake_sha,
};
use xtask::workspace::Workspace;

pub(crate) const OWNER: &str = "aisopsflow";
pub(crate) const REPO: &str = "aisopsflow-enterprise";

pub(crate) async fn compliant() -> StandInHandle {
    standin::start(World::compliant(OWNER, REPO, OWNER))
        .await
        .expect("starting the GitHub stand-in")
}

pub(crate) async fn with_world(f: impl FnOnce(&mut World)) -> StandInHandle {
    let mut w = World::compliant(OWNER, REPO, OWNER);
    f(&mut w);
    standin::start(w)
        .await
        .expect("starting the GitHub stand-in")
}

pub(crate) fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(20),
    }
}

pub(crate) fn client(h: &StandInHandle, token: Option<&str>) -> Github {
    Github::new(h.base_url.clone(), API_2022, token.map(Secret::new))
        .expect("client")
        .with_retry(fast())
}

pub(crate) fn ctx(only: &[&str]) -> Ctx {
    let root = root();
    let config = Config::load(&root).expect("release.toml of the workspace");
    Ctx {
        ws: Workspace {
            root,
            config,
            verbose: 0,
        },
        components: vec!["core".into(), "runner".into()],
        only: only.iter().map(|s| s.to_string()).collect(),
        offline: false,
        release: None,
    }
}

pub(crate) fn status_of(outs: &[Outcome], id: CheckId) -> Status {
    let mine: Vec<&Outcome> = outs.iter().filter(|o| o.id == id).collect();
    assert_eq!(
        mine.len(),
        1,
        "expected one outcome for {}: {outs:#?}",
        id.id()
    );
    mine[0].status
}

pub(crate) fn outcome(outs: &[Outcome], id: CheckId) -> &Outcome {
    outs.iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no outcome for {}: {outs:#?}", id.id()))
}

pub(crate) fn has_api_evidence(o: &Outcome) -> bool {
    o.evidence.iter().any(|e| matches!(e, Evidence::Api { .. }))
}

// --- Client behaviour ---

#[tokio::test]
async fn pagination_follows_link_headers_with_absolute_urls() {
    let h = with_world(|w| {
        for i in 0..250 {
            w.add_package(&format!("other-{i:03}"), "private", false);
        }
    })
    .await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    let all = gh.org_packages(OWNER, "container").await.unwrap();
    assert_eq!(all.len(), 256);
    let mut names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 256, "no page was read twice");
    let pages: Vec<String> = h
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/orgs/aisopsflow/packages"))
        .map(|r| r.path)
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages[1].contains("page=2") && pages[2].contains("page=3"),
        "{pages:?}"
    );

    // Raw: default page size 30, absolute links that repeat per_page, none on the last page.
    let http = xtask::effects::http::client();
    let url = format!(
        "{}/orgs/aisopsflow/packages?package_type=container",
        h.base_url
    );
    let resp = http
        .get(&url)
        .header("user-agent", "t")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    let items: Vec<serde_json::Value> = resp.json().await.unwrap();
    assert_eq!(items.len(), 30);
    assert!(
        link.contains(&format!("<{}/orgs/aisopsflow/packages?", h.base_url)),
        "{link}"
    );
    assert!(link.contains("per_page=30&page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=9>; rel=\"last\""), "{link}");
    let last = http
        .get(format!("{url}&page=9&per_page=30"))
        .header("user-agent", "t")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let link = last.headers()["link"].to_str().unwrap().to_string();
    assert!(!link.contains("rel=\"next\""), "{link}");
    // per_page is clamped to 100, and past 10,000 items the packages list answers 400.
    let clamped: Vec<serde_json::Value> = http
        .get(format!("{url}&per_page=500"))
        .header("user-agent", "t")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clamped.len(), 100);
    let too_far = http
        .get(format!("{url}&per_page=100&page=101"))
        .header("user-agent", "t")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(too_far.status().as_u16(), 400);
}

#[tokio::test]
async fn wrapped_run_lists_paginate_newest_first_with_filters() {
    let h = compliant().await;
    let mut ids = Vec::new();
    for i in 0..120 {
        let id = h
            .create_run(NewRun {
                workflow: "publish-images.yml".into(),
                event: if i % 2 == 0 {
                    "push"
                } else {
                    "workflow_dispatch"
                }
                .into(),
                head_branch: Some(format!("v1.0.{i}")),
                head_sha: fake_sha(&format!("c{i}")),
                actor: "octo-admin".into(),
                inputs: Default::default(),
                delay: None,
            })
            .unwrap();
        ids.push(id);
    }
    let gh = client(&h, Some(ADMIN_TOKEN));
    let all = gh
        .workflow_runs(OWNER, REPO, "publish-images.yml", &RunFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 120);
    assert_eq!(all[0].id, *ids.last().unwrap(), "newest first");
    let wf_id = all[0].workflow_id;
    let by_id = gh
        .workflow_runs(
            OWNER,
            REPO,
            &wf_id.to_string(),
            &RunFilter {
                event: Some("push".into()),
                branch: Some("v1.0.42".into()),
                ..RunFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].head_sha, fake_sha("c42"));
    let none = gh
        .workflow_runs(
            OWNER,
            REPO,
            "publish-images.yml",
            &RunFilter {
                event: Some("workflow_dispatch".into()),
                head_sha: Some(fake_sha("c42")),
                ..RunFilter::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let later = gh
        .workflow_runs(
            OWNER,
            REPO,
            "publish-images.yml",
            &RunFilter {
                created: Some(">=2000-01-01".into()),
                status: Some("queued".into()),
                ..RunFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(later.len(), 120);
}

#[tokio::test]
async fn etag_304_reuses_the_body_and_does_not_count() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    let first = gh.repo(OWNER, REPO).await.unwrap();
    let rate1 = gh.stats().last_rate.unwrap();
    let second = gh.repo(OWNER, REPO).await.unwrap();
    assert_eq!(first, second);
    let s = gh.stats();
    assert_eq!((s.sent, s.not_modified, s.counted()), (2, 1, 1));
    assert_eq!(
        s.last_rate.unwrap().remaining,
        rate1.remaining,
        "a 304 must not decrement x-ratelimit-remaining"
    );
    let log = h.requests();
    assert_eq!(
        log.iter()
            .map(|r| (r.status, r.counted))
            .collect::<Vec<_>>(),
        vec![(200, true), (304, false)]
    );

    // Polling a run: 304 while nothing changes, a fresh body once the status changes.
    let run = h
        .create_run(NewRun {
            workflow: "publish-images.yml".into(),
            event: "push".into(),
            head_branch: Some("v1.2.3".into()),
            head_sha: fake_sha("x"),
            actor: "octo-admin".into(),
            inputs: Default::default(),
            delay: None,
        })
        .unwrap();
    assert_eq!(
        gh.workflow_run(OWNER, REPO, run)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("queued")
    );
    assert_eq!(
        gh.workflow_run(OWNER, REPO, run)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("queued")
    );
    let before = gh.stats().not_modified;
    h.set_run_status(run, "completed", Some("success"));
    let done = gh.workflow_run(OWNER, REPO, run).await.unwrap();
    assert!(done.succeeded());
    assert_eq!(
        gh.stats().not_modified,
        before,
        "a changed run is not a 304"
    );
}

#[tokio::test]
async fn retries_5xx_and_secondary_limits_honouring_retry_after() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    h.inject("/repos/", 1, FaultAction::Status(502));
    h.inject("/repos/", 1, FaultAction::Status(503));
    assert!(gh.repo(OWNER, REPO).await.unwrap().private);
    let statuses: Vec<u16> = h.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![502, 503, 200]);

    h.clear_log();
    h.secondary_limit(1, 403, 1);
    gh.actions_permissions(OWNER, REPO).await.unwrap();
    h.secondary_limit(1, 429, 1);
    gh.workflow_permissions(OWNER, REPO).await.unwrap();
    let statuses: Vec<u16> = h.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![403, 200, 429, 200]);
    assert!(gh.stats().retries >= 4);

    // 5xx forever: bounded attempts, classified as unreachable (exit 3).
    h.clear_log();
    h.inject("/repos/", 10, FaultAction::Status(500));
    let err = gh.repo(OWNER, REPO).await.unwrap_err();
    assert_eq!(exit::code_for(&err), exit::EXTERNAL, "{err:#}");
    assert_eq!(h.requests().len(), 4, "max_attempts bounds the retries");

    // A POST that may have taken effect is not repeated on a 5xx.
    h.clear_faults();
    h.clear_log();
    h.inject(
        "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows",
        1,
        FaultAction::Status(502),
    );
    let inputs = serde_json::Map::new();
    let err = gh
        .dispatch(OWNER, REPO, "publish-images.yml", "main", &inputs, false)
        .await
        .unwrap_err();
    assert_eq!(exit::code_for(&err), exit::EXTERNAL, "{err:#}");
    let statuses: Vec<u16> = h.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![502]);
    assert!(
        h.with_world(|w| w.runs.is_empty()),
        "the failed dispatch created no run"
    );
}

#[tokio::test]
async fn primary_exhaustion_waits_for_reset_or_names_when() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    // Reset far away: no retry, an error naming the reset time, exit 3.
    h.exhaust_primary(403, Duration::from_secs(3600));
    let err = gh.repo(OWNER, REPO).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        matches!(
            GithubError::find(&err),
            Some(GithubError::RateLimited {
                secondary: false,
                reset: Some(_),
                ..
            })
        ),
        "{msg}"
    );
    assert!(
        msg.contains("primary rate limit") && msg.contains("until 20"),
        "{msg}"
    );
    assert_eq!(exit::code_for(&err), exit::EXTERNAL);
    assert_eq!(h.requests().len(), 1, "never retried before the reset");

    // Reset soon: the client waits for it and succeeds.
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    h.exhaust_primary(429, Duration::from_secs(1));
    assert!(gh.repo(OWNER, REPO).await.unwrap().private);
    let statuses: Vec<u16> = h.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.first(), Some(&429));
    assert_eq!(statuses.last(), Some(&200));
}

#[tokio::test]
async fn dropped_connections_are_retried_then_reported_unreachable() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    h.inject(
        "/repos/aisopsflow/aisopsflow-enterprise",
        2,
        FaultAction::Drop,
    );
    assert!(gh.repo(OWNER, REPO).await.unwrap().private);
    let statuses: Vec<u16> = h.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 0, 200]);

    h.inject("/repos/", 10, FaultAction::Drop);
    let err = gh.actions_permissions(OWNER, REPO).await.unwrap_err();
    assert_eq!(exit::code_for(&err), exit::EXTERNAL, "{err:#}");
    assert!(format!("{err:#}").contains("GitHub API at"), "{err:#}");

    // A closed port is unreachable too.
    let base = h.base_url.clone();
    drop(h);
    let gh = Github::new(base, API_2022, Some(Secret::new(ADMIN_TOKEN)))
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 2,
            ..fast()
        });
    let err = gh.repo(OWNER, REPO).await.unwrap_err();
    assert_eq!(exit::code_for(&err), exit::EXTERNAL, "{err:#}");
}

#[tokio::test]
async fn permission_errors_name_what_is_missing() {
    let h = compliant().await;
    // Classic token without admin: 403 naming administration=read and the scope.
    let err = client(&h, Some(NO_ADMIN_TOKEN))
        .actions_permissions(OWNER, REPO)
        .await
        .unwrap_err();
    match GithubError::find(&err) {
        Some(GithubError::Forbidden {
            accepted_permissions,
            ..
        }) => {
            assert_eq!(accepted_permissions.as_deref(), Some("administration=read"))
        }
        other => panic!("{other:?}"),
    }
    let msg = format!("{err:#}");
    assert!(
        msg.contains("administration=read") && msg.contains("fix:"),
        "{msg}"
    );

    // Fine-grained token without Administration.
    let err = client(&h, Some(FINE_GRAINED_TOKEN))
        .workflow_permissions(OWNER, REPO)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("Resource not accessible by personal access token")
            && msg.contains("administration=read"),
        "{msg}"
    );

    // Packages need read:packages on a classic token.
    let err = client(&h, Some(NO_PACKAGES_TOKEN))
        .org_packages(OWNER, "container")
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("read:packages"), "{msg}");

    // No token on a private repository: 404, with the explanation.
    let err = client(&h, None).repo(OWNER, REPO).await.unwrap_err();
    assert!(matches!(
        GithubError::find(&err),
        Some(GithubError::NotFound { .. })
    ));
    assert!(
        format!("{err:#}").contains("private ones the token cannot see"),
        "{err:#}"
    );

    // Retired tag protection API: 404.
    let http = xtask::effects::http::client();
    let r = http
        .get(format!(
            "{}/repos/{OWNER}/{REPO}/tags/protection",
            h.base_url
        ))
        .header("user-agent", "t")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "404");
    assert!(body["documentation_url"].is_string());
}

#[tokio::test]
async fn tokens_never_appear_in_debug_or_errors() {
    const FAKE: &str = "ghp_RECOGNISABLEfakeTOKENvalue1234567890";
    let h = compliant().await;
    let gh = client(&h, Some(FAKE));
    assert!(!format!("{gh:?}").contains(FAKE));
    let err = gh.repo(OWNER, REPO).await.unwrap_err();
    assert!(matches!(
        GithubError::find(&err),
        Some(GithubError::Unauthorized { .. })
    ));
    assert_eq!(exit::code_for(&err), exit::USAGE);
    for text in [format!("{err}"), format!("{err:#}"), format!("{err:?}")] {
        assert!(!text.contains(FAKE), "token leaked: {text}");
        assert!(!text.contains("RECOGNISABLE"), "token leaked: {text}");
    }
    // The settings checks do not leak it either.
    let outs = settings::run_with(&ctx(&["repo-private"]), &gh)
        .await
        .unwrap();
    assert!(!format!("{outs:?}").contains(FAKE));
    assert_eq!(status_of(&outs, CheckId::RepoPrivate), Status::NotRun);
}

#[tokio::test]
async fn api_versions_and_dispatch_behaviour() {
    let h = compliant().await;
    // Unknown version string: 400.
    let gh = Github::new(
        h.base_url.clone(),
        "2099-01-01",
        Some(Secret::new(ADMIN_TOKEN)),
    )
    .unwrap();
    let err = gh.repo(OWNER, REPO).await.unwrap_err();
    assert!(
        matches!(
            GithubError::find(&err),
            Some(GithubError::Validation { status: 400, .. })
        ),
        "{err:#}"
    );

    let inputs =
        serde_json::Map::from_iter([("publish_latest".to_string(), serde_json::json!("true"))]);
    let gh = client(&h, Some(ADMIN_TOKEN));
    // 2022-11-28: 204 without details, 200 with return_run_details.
    assert_eq!(
        gh.dispatch(OWNER, REPO, "publish-images.yml", "main", &inputs, false)
            .await
            .unwrap(),
        None
    );
    let d = gh
        .dispatch(OWNER, REPO, "publish-images.yml", "main", &inputs, true)
        .await
        .unwrap()
        .unwrap();
    let run = gh
        .workflow_run(OWNER, REPO, d.workflow_run_id)
        .await
        .unwrap();
    assert_eq!(run.event, "workflow_dispatch");
    assert_eq!(run.head_sha, fake_sha("main"));
    // 2026-03-10: always 200 with the run.
    let gh26 = client(&h, Some(ADMIN_TOKEN)).with_api_version(API_2026);
    let d = gh26
        .dispatch(OWNER, REPO, "publish-images.yml", "main", &inputs, false)
        .await
        .unwrap();
    assert!(d.is_some());
    let log = h.requests();
    let dispatches: Vec<u16> = log
        .iter()
        .filter(|r| r.path.ends_with("/dispatches"))
        .map(|r| r.status)
        .collect();
    assert_eq!(dispatches, vec![204, 200, 200]);

    // Errors: undeclared input 422, unknown ref 404, unknown workflow 404, no trigger 422.
    let bad = serde_json::Map::from_iter([("x".to_string(), serde_json::json!("1"))]);
    let err = gh
        .dispatch(OWNER, REPO, "publish-images.yml", "main", &bad, false)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("Unexpected inputs provided: [\"x\"]"),
        "{err:#}"
    );
    let err = gh
        .dispatch(OWNER, REPO, "publish-images.yml", "nope", &inputs, false)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("No ref found for: nope"),
        "{err:#}"
    );
    let err = gh
        .dispatch(OWNER, REPO, "other.yml", "main", &inputs, false)
        .await
        .unwrap_err();
    assert!(matches!(
        GithubError::find(&err),
        Some(GithubError::NotFound { .. })
    ));
    h.with_world(|w| w.workflows[0].dispatch_inputs = None);
    let err = gh
        .dispatch(OWNER, REPO, "publish-images.yml", "main", &inputs, false)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("does not have 'workflow_dispatch' trigger"),
        "{err:#}"
    );
}

#[tokio::test]
async fn run_hook_delay_jobs_and_tag_push_runs() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    // A hook that records triggers and creates runs itself.
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Trigger>::new()));
    let seen2 = seen.clone();
    h.set_run_hook(Arc::new(move |s: &StandIn, t: &Trigger| {
        seen2.lock().unwrap().push(t.clone());
        let Trigger::TagPush {
            workflow, tag, sha, ..
        } = t
        else {
            return None;
        };
        s.create_run(NewRun {
            workflow: workflow.clone(),
            event: "push".into(),
            head_branch: Some(tag.clone()),
            head_sha: sha.clone(),
            actor: "hook".into(),
            inputs: Default::default(),
            delay: Some(Duration::from_secs(3600)),
        })
    }));
    let commit = fake_sha("release-commit");
    let created = gh
        .create_ref(OWNER, REPO, "refs/tags/v1.4.0", &commit)
        .await
        .unwrap();
    assert_eq!(created.object.sha, commit);
    assert_eq!(seen.lock().unwrap().len(), 1);
    let filter = RunFilter {
        event: Some("push".into()),
        head_sha: Some(commit.clone()),
        ..RunFilter::default()
    };
    // The run exists but is not listed until its delay passes.
    assert!(
        gh.workflow_runs(OWNER, REPO, "publish-images.yml", &filter)
            .await
            .unwrap()
            .is_empty()
    );
    h.with_world(|w| {
        for r in &mut w.runs {
            r.visible_at = std::time::Instant::now();
        }
    });
    let runs = gh
        .workflow_runs(OWNER, REPO, "publish-images.yml", &filter)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].head_branch.as_deref(), Some("v1.4.0"));
    let id = runs[0].id;
    h.set_jobs(
        id,
        vec![JobSeed::new(
            "publish",
            "completed",
            Some("failure"),
            &["Set up job", "cargo xtask publish"],
        )],
    );
    h.set_run_status(id, "completed", Some("failure"));
    let jobs = gh.run_jobs(OWNER, REPO, id).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].steps.len(), 2);
    assert_eq!(jobs[0].steps[1].conclusion.as_deref(), Some("failure"));
    assert!(!gh.workflow_run(OWNER, REPO, id).await.unwrap().succeeded());

    // A writer outside the release-operators team cannot create release tags.
    let err = client(&h, Some(NO_ADMIN_TOKEN))
        .create_ref(OWNER, REPO, "refs/tags/v1.5.0", &commit)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("Cannot create ref due to creations being restricted"),
        "{err:#}"
    );
    // An existing ref: 422 Reference already exists.
    let err = gh
        .create_ref(OWNER, REPO, "refs/tags/v1.4.0", &commit)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("Reference already exists"),
        "{err:#}"
    );
}

#[tokio::test]
async fn refs_releases_and_packages_model() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    let commit = fake_sha("c1");
    h.with_world(|w| {
        w.add_annotated_tag("v2.0.0", &fake_sha("tagobj"), &commit, "release 2.0.0");
        w.add_tag("v2.0.1", &commit);
        w.add_tag("v2.0.10", &commit);
    });
    let r = gh
        .git_ref(OWNER, REPO, "tags/v2.0.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.object.kind, "tag");
    let peeled = gh.tag_object(OWNER, REPO, &r.object.sha).await.unwrap();
    assert_eq!(peeled.object.sha, commit);
    assert!(
        gh.git_ref(OWNER, REPO, "tags/v9.9.9")
            .await
            .unwrap()
            .is_none()
    );
    let m = gh.matching_refs(OWNER, REPO, "tags/v2.0.1").await.unwrap();
    assert_eq!(
        m.iter().map(|r| r.full_ref.as_str()).collect::<Vec<_>>(),
        vec!["refs/tags/v2.0.1", "refs/tags/v2.0.10"]
    );
    assert!(
        gh.matching_refs(OWNER, REPO, "tags/zzz")
            .await
            .unwrap()
            .is_empty()
    );

    // Releases: drafts are invisible by tag; duplicates are 422 already_exists.
    let draft = NewRelease {
        tag_name: "v2.0.0".into(),
        draft: true,
        ..NewRelease::default()
    };
    gh.create_release(OWNER, REPO, &draft).await.unwrap();
    assert!(
        gh.release_by_tag(OWNER, REPO, "v2.0.0")
            .await
            .unwrap()
            .is_none()
    );
    let err = gh.create_release(OWNER, REPO, &draft).await.unwrap_err();
    match GithubError::find(&err) {
        Some(GithubError::Validation { codes, .. }) => {
            assert_eq!(codes, &vec!["already_exists".to_string()])
        }
        other => panic!("{other:?}"),
    }
    let publ = NewRelease {
        tag_name: "v2.0.1".into(),
        ..NewRelease::default()
    };
    gh.create_release(OWNER, REPO, &publ).await.unwrap();
    assert_eq!(
        gh.release_by_tag(OWNER, REPO, "v2.0.1")
            .await
            .unwrap()
            .unwrap()
            .tag_name,
        "v2.0.1"
    );

    // Packages: percent-encoded names, tags on one version only.
    h.with_world(|w| {
        w.push_version("app/worker", &fake_digest("a"), &["1.0.0", "latest"]);
        w.push_version("app/worker", &fake_digest("b"), &["1.1.0", "latest"]);
        w.push_version("app/worker", &fake_digest("b-amd64"), &[]);
    });
    let p = gh
        .org_package(OWNER, "container", "app/worker")
        .await
        .unwrap();
    assert_eq!(p.name, "app/worker");
    assert_eq!(
        p.repository.unwrap().full_name,
        "aisopsflow/aisopsflow-enterprise"
    );
    let versions = gh
        .org_package_versions(OWNER, "container", "app/worker")
        .await
        .unwrap();
    let with_latest: Vec<&str> = versions
        .iter()
        .filter(|v| v.tags().contains(&"latest".to_string()))
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(with_latest, vec![fake_digest("b")]);
    assert!(
        versions.iter().any(|v| v.tags().is_empty()),
        "untagged child versions are listed"
    );
    let http = xtask::effects::http::client();
    let unencoded = http
        .get(format!(
            "{}/orgs/{OWNER}/packages/container/app/worker",
            h.base_url
        ))
        .header("user-agent", "t")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unencoded.status().as_u16(), 404);
    // A user without access to the repository sees only public packages.
    h.with_world(|w| {
        w.tokens.insert(
            "ghp_outsider0000000000".into(),
            TokenSeed::classic("outsider", 7, Role::None, &["read:packages"]),
        );
    });
    let seen = client(&h, Some("ghp_outsider0000000000"))
        .org_packages(OWNER, "container")
        .await
        .unwrap();
    assert!(seen.iter().all(|p| p.visibility == "public"));
    assert_eq!(seen.len(), 3);
}

// --- Settings checks ---

const ALL_SETTINGS: [CheckId; 10] = settings::IDS;

pub(crate) async fn run_checks(h: &StandInHandle, token: Option<&str>) -> Vec<Outcome> {
    settings::run_with(&ctx(&[]), &client(h, token))
        .await
        .expect("settings checks")
}

#[tokio::test]
async fn compliant_world_passes_every_settings_check() {
    let h = compliant().await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    for id in ALL_SETTINGS {
        let o = outcome(&outs, id);
        assert_eq!(o.status, Status::Pass, "{o:#?}");
        assert!(has_api_evidence(o), "{o:#?}");
    }
    assert_eq!(outs.len(), ALL_SETTINGS.len());
}

#[tokio::test]
async fn each_flipped_setting_fails_exactly_its_check() {
    type Flip = fn(&mut World);
    let cases: Vec<(CheckId, Flip)> = vec![
        (CheckId::RepoPrivate, |w| w.make_public()),
        (CheckId::RepoDefaultBranchProtected, |w| {
            w.unprotect_default_branch()
        }),
        (CheckId::RepoTagCreationRestricted, |w| {
            w.allow_tag_creation()
        }),
        (CheckId::RepoTagCreationRestricted, |w| {
            w.add_tag_bypass("User", Some(9002))
        }),
        (CheckId::RepoTagCreationRestricted, |w| {
            w.ruleset_mut("tag").unwrap().include = vec!["refs/tags/v*".into()]
        }),
        (CheckId::RepoTagCreationRestricted, |w| {
            w.ruleset_mut("tag").unwrap().enforcement = "evaluate".into()
        }),
        (CheckId::ActionsEnabled, |w| w.disable_actions()),
        (CheckId::ActionsDefaultPermissionsRead, |w| {
            w.set_default_workflow_permissions("write")
        }),
        (CheckId::ActionsCannotApprovePrs, |w| {
            w.set_can_approve_prs(true)
        }),
        (CheckId::PackagesRegistrySet, |w| {
            w.add_package("aisopsflow-stray", "private", true);
        }),
        (CheckId::PackagesPublicVisibility, |w| {
            w.set_package_visibility("aisopsflow-core", "private")
        }),
        (CheckId::PackagesCommercialPrivate, |w| {
            w.set_package_visibility("aisopsflow-runner-commercial", "public")
        }),
        (CheckId::PackagesLinkedRepository, |w| {
            w.unlink_package("aisopsflow-console")
        }),
    ];
    for (i, (id, flip)) in cases.into_iter().enumerate() {
        let h = with_world(flip).await;
        let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
        for other in ALL_SETTINGS {
            let o = outcome(&outs, other);
            if other == id {
                assert_eq!(o.status, Status::Fail, "case {i}: {o:#?}");
                assert!(has_api_evidence(o), "case {i}: {o:#?}");
            } else {
                assert_eq!(
                    o.status,
                    Status::Pass,
                    "case {i} ({}) also changed {}: {o:#?}",
                    id.id(),
                    other.id()
                );
            }
        }
    }
}

#[tokio::test]
async fn classic_protection_alone_also_passes() {
    let h = with_world(|w| w.protect_default_branch_classic()).await;
    let outs = settings::run_with(&ctx(&["repo-default"]), &client(&h, Some(ADMIN_TOKEN)))
        .await
        .unwrap();
    assert_eq!(outs.len(), 1);
    let o = outcome(&outs, CheckId::RepoDefaultBranchProtected);
    assert_eq!(o.status, Status::Pass, "{o:#?}");
    assert!(format!("{:?}", o.evidence).contains("/protection"));
}

#[tokio::test]
async fn insufficient_permissions_skip_or_warn_naming_the_permission() {
    let h = compliant().await;
    // A writer: admin settings are skipped naming administration=read; the ruleset still
    // shows protection; bypass actors are hidden, which is a warning saying why.
    let outs = run_checks(&h, Some(NO_ADMIN_TOKEN)).await;
    for id in [
        CheckId::ActionsEnabled,
        CheckId::ActionsDefaultPermissionsRead,
        CheckId::ActionsCannotApprovePrs,
    ] {
        let o = outcome(&outs, id);
        assert_eq!(o.status, Status::NotRun, "{o:#?}");
        assert!(o.message.contains("administration=read"), "{o:#?}");
    }
    assert_eq!(status_of(&outs, CheckId::RepoPrivate), Status::Pass);
    assert_eq!(
        status_of(&outs, CheckId::RepoDefaultBranchProtected),
        Status::Pass
    );
    // The writer is no release operator: GitHub says it cannot bypass, so its tag push would
    // be refused (D3).
    let tag = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(tag.status, Status::Fail, "{tag:#?}");
    assert!(
        tag.message.contains("current_user_can_bypass: never"),
        "{tag:#?}"
    );
    // A writer who is a release operator can bypass, but cannot see the bypass list: a
    // warning saying why.
    h.with_world(|w| {
        let mut t =
            TokenSeed::classic("octo-writer", 9002, Role::Write, &["repo", "read:packages"]);
        t.teams = vec!["release-operators".into()];
        w.tokens
            .insert("ghp_STANDINoperatorWRITER00000000000000008".into(), t);
    });
    let outs = settings::run_with(
        &ctx(&["repo-tag"]),
        &client(&h, Some("ghp_STANDINoperatorWRITER00000000000000008")),
    )
    .await
    .unwrap();
    let tag = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(tag.status, Status::Warn, "{tag:#?}");
    assert!(
        tag.message.contains("cannot see who may bypass") && tag.message.contains("admin"),
        "{tag:#?}"
    );

    // Classic protection only, read by a writer: unknown, so skipped naming the permission.
    let h2 = with_world(|w| w.protect_default_branch_classic()).await;
    let outs = settings::run_with(&ctx(&["repo-default"]), &client(&h2, Some(NO_ADMIN_TOKEN)))
        .await
        .unwrap();
    let o = outcome(&outs, CheckId::RepoDefaultBranchProtected);
    assert_eq!(o.status, Status::NotRun, "{o:#?}");
    assert!(o.message.contains("administration=read"), "{o:#?}");

    // No read:packages: every package check is skipped naming the scope.
    let outs = settings::run_with(&ctx(&["packages-"]), &client(&h, Some(NO_PACKAGES_TOKEN)))
        .await
        .unwrap();
    assert_eq!(outs.len(), 4);
    for o in &outs {
        assert_eq!(o.status, Status::NotRun, "{o:#?}");
        assert!(o.message.contains("read:packages"), "{o:#?}");
    }

    // A token without `repo` on a private repository sees 404: skipped with the explanation.
    h.with_world(|w| {
        w.tokens.insert(
            "ghp_norepo000000000000".into(),
            TokenSeed::classic("octo-admin", 9001, Role::Admin, &["read:packages"]),
        );
    });
    let outs = settings::run_with(
        &ctx(&["repo-", "actions-"]),
        &client(&h, Some("ghp_norepo000000000000")),
    )
    .await
    .unwrap();
    assert_eq!(outs.len(), 6);
    for o in &outs {
        assert_eq!(o.status, Status::NotRun, "{o:#?}");
        assert!(
            o.message.contains("404") && o.message.contains("invisible"),
            "{o:#?}"
        );
    }
}

#[tokio::test]
async fn plan_limit_is_reported_as_a_plan_limit() {
    let h = with_world(|w| w.plan_limited = true).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    for id in [
        CheckId::RepoDefaultBranchProtected,
        CheckId::RepoTagCreationRestricted,
    ] {
        let o = outcome(&outs, id);
        assert_eq!(o.status, Status::Warn, "{o:#?}");
        assert!(
            o.message
                .contains("unavailable on this repository's GitHub plan")
                && o.message.contains("Upgrade to GitHub Pro"),
            "{o:#?}"
        );
    }
    for id in [
        CheckId::RepoPrivate,
        CheckId::ActionsEnabled,
        CheckId::PackagesLinkedRepository,
    ] {
        assert_eq!(status_of(&outs, id), Status::Pass);
    }
}

#[tokio::test]
async fn no_token_or_offline_skips_with_reason_and_no_request() {
    let h = compliant().await;
    let outs = run_checks(&h, None).await;
    assert_eq!(outs.len(), 10);
    for o in &outs {
        assert_eq!(o.status, Status::NotRun);
        assert!(
            o.message.contains("no GitHub token")
                && o.message.contains("gh auth login")
                && o.message.contains("GITHUB_TOKEN"),
            "{o:#?}"
        );
    }
    let mut c = ctx(&["repo-private", "packages-registry"]);
    c.offline = true;
    let outs = settings::run(&c).await.unwrap();
    assert_eq!(
        outs.iter().map(|o| (o.id, o.status)).collect::<Vec<_>>(),
        vec![
            (CheckId::RepoPrivate, Status::NotRun),
            (CheckId::PackagesRegistrySet, Status::NotRun)
        ]
    );
    assert!(outs[0].message.contains("--offline"));
    // Nothing selected: no work at all.
    let outs = settings::run_with(&ctx(&["workflow-"]), &client(&h, Some(ADMIN_TOKEN)))
        .await
        .unwrap();
    assert!(outs.is_empty());
    assert!(h.requests().is_empty(), "{:?}", h.requests());
}

#[tokio::test]
async fn settings_checks_cost_few_requests_and_304s_on_rerun() {
    let h = compliant().await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    let c = ctx(&[]);
    settings::run_with(&c, &gh).await.unwrap();
    let first = gh.stats();
    settings::run_with(&c, &gh).await.unwrap();
    let second = gh.stats();
    let rerun_sent = second.sent - first.sent;
    let rerun_counted = second.counted() - first.counted();
    println!(
        "settings checks: first run {} requests; rerun {} requests, {} counted against the primary limit",
        first.sent, rerun_sent, rerun_counted
    );
    // Only answers without an ETag count on a rerun: here the 404 "Branch not protected"
    // of classic protection (the branch is protected by a ruleset).
    let log = h.requests();
    let rerun = &log[log.len() - rerun_sent as usize..];
    let uncached: Vec<&str> = rerun
        .iter()
        .filter(|r| r.status != 304)
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(
        uncached,
        vec!["/repos/aisopsflow/aisopsflow-enterprise/branches/main/protection"]
    );
    assert_eq!(rerun_counted, 1);
    assert_eq!(rerun_sent, first.sent);
}

// --- The binary ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_binary_passes_against_a_compliant_standin_without_leaking_the_token() {
    let h = compliant().await;
    let root = root();
    let base = h.base_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::support::Xtask::new()
            .args([
                "preflight",
                "--only",
                "repo",
                "--only",
                "actions",
                "--only",
                "packages-registry",
                "--only",
                "packages-public",
                "--only",
                "packages-commercial",
                "--only",
                "packages-linked",
                "--repo",
            ])
            .arg(&root)
            .env("GITHUB_API_URL", &base)
            .env("GITHUB_TOKEN", ADMIN_TOKEN)
            .output()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        !stdout.contains(ADMIN_TOKEN) && !stderr.contains(ADMIN_TOKEN),
        "token leaked"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for id in ALL_SETTINGS {
        assert!(
            stdout.contains(id.id()),
            "{} missing from:\n{stdout}",
            id.id()
        );
    }
    assert!(
        h.requests()
            .iter()
            .all(|r| r.authenticated && r.status != 401)
    );

    // Flip one setting: preflight fails (exit 1) and names the check.
    h.with_world(|w| w.set_can_approve_prs(true));
    let root = self::root();
    let base = h.base_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::support::Xtask::new()
            .args(["preflight", "--only", "actions", "--repo"])
            .arg(&root)
            .env("GITHUB_API_URL", &base)
            .env("GITHUB_TOKEN", ADMIN_TOKEN)
            .output()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("actions-cannot-approve-prs"), "{stdout}");
    assert!(!stdout.contains(ADMIN_TOKEN));
}
