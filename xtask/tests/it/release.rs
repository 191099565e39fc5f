//! `cargo xtask release` and `cargo xtask promote`, end to end: the real binary against a bare
//! git remote, the GitHub stand-in and the registry harness (distribution behind our GHCR-like
//! token service).
//!
//! The publish workflow is simulated by a run hook kept in this file: a watcher notices tags
//! pushed to the bare remote (as GitHub notices a push) and tells the stand-in, whose hook
//! creates the run and plays it: `in_progress` with the workflow's steps, then small
//! FROM-scratch images pushed to the harness over the registry API with the tags the tag
//! policy names, then `completed`. Tests can fail runs, hold them in progress, or pause the
//! watcher, which is how interruptions at each stage are staged without timing assumptions.
//! Needs `docker-registry` and `skopeo` (`apt-get install docker-registry skopeo`);
//! `AISOPSFLOW_SKIP_DOCKER=1` skips, loudly.

use crate::support::copy_tree as copy_dir;
use crate::support::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::git;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use xtask::config::Config;
use xtask::policy::{self, Event};
use xtask::secrets::Secret;
use xtask::standin::github::{self as gh, ADMIN_TOKEN, JobSeed, NewRun, StandIn, Trigger, World};
use xtask::standin::registry::{HarnessOptions, RegistryHarness};

const WORKFLOW: &str = "publish-images.yml";
const STEPS: [&str; 5] = [
    "Set up job",
    "Check out the tagged commit",
    "Install the Rust toolchain",
    "Publish images",
    "Complete job",
];
const MANUAL: [&str; 5] = [
    "manual-actions-package-write",
    "manual-package-inheritance",
    "manual-package-delete-restricted",
    "manual-customer-credentials-scoped",
    "manual-emergency-credentials-rotated",
];

fn skip() -> bool {
    crate::support::skip_docker("a release test", &["docker-registry", "skopeo", "git"])
}

/// How the simulated publish runs behave; tests flip these while a release runs.
#[derive(Default)]
pub struct Control {
    /// Runs conclude `failure` at the publish step.
    pub fail: AtomicBool,
    /// Runs stay `in_progress` (before publishing) until this is cleared.
    pub hold: AtomicBool,
    /// The watcher ignores the bare remote until this is cleared (GitHub has not noticed
    /// the push yet).
    pub pause_watcher: AtomicBool,
    /// How long a run spends publishing, in milliseconds.
    pub duration_ms: AtomicU64,
    /// Epoch milliseconds at which the last run was marked completed.
    pub completed_at_ms: AtomicU64,
    /// Runs started so far.
    pub runs: AtomicU64,
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The whole world of one test.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub remote: PathBuf,
    pub work: PathBuf,
    pub gh: gh::StandInHandle,
    pub reg: Arc<RegistryHarness>,
    pub control: Arc<Control>,
    pub attestations: PathBuf,
    pub config: Config,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// A committed copy of the repository layout (release.toml, docs, the real publish workflow,
/// component directories), pushed to a bare remote and cloned as the operator's checkout.
fn fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let seed = dir.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::copy(repo_root().join("release.toml"), seed.join("release.toml")).unwrap();
    copy_dir(&repo_root().join("docs"), &seed.join("docs"));
    let _ = std::fs::remove_dir_all(seed.join("docs/releases"));
    std::fs::create_dir_all(seed.join(".github/workflows")).unwrap();
    std::fs::copy(
        repo_root().join(".github/workflows/publish-images.yml"),
        seed.join(".github/workflows/publish-images.yml"),
    )
    .unwrap();
    for c in ["core", "runner", "console"] {
        std::fs::create_dir_all(seed.join(c)).unwrap();
        std::fs::write(seed.join(c).join("Dockerfile"), "FROM scratch\n").unwrap();
    }
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-qm", "initial"]);
    git(dir, &["clone", "-q", "--bare", "seed", "remote.git"]);
    git(dir, &["clone", "-q", "remote.git", "work"]);
    let work = dir.join("work");
    git(&work, &["config", "user.name", "release tester"]);
    git(&work, &["config", "user.email", "tester@example.test"]);
    (dir.join("remote.git"), work)
}

/// The content of a simulated image: unique per package, version and commit, identical when
/// republished (so a promote re-pushes the same digest).
fn image_content(package: &str, version: &str, sha: &str) -> String {
    format!("{package} {version} {sha}\n")
}

/// Plays one run: in progress, (held,) publish the policy's tags, completed.
#[allow(clippy::too_many_arguments)]
async fn play(
    standin: StandIn,
    reg: Arc<RegistryHarness>,
    control: Arc<Control>,
    config: Config,
    run_id: u64,
    event: Event,
    tag: String,
    sha: String,
    publish_latest: Option<String>,
) {
    let steps = |done: usize, last: Option<&str>| -> JobSeed {
        let mut j = JobSeed::new("publish", "in_progress", None, &STEPS);
        for (i, s) in j.steps.iter_mut().enumerate() {
            if i < done {
                s.status = "completed".into();
                s.conclusion = Some("success".into());
            } else if i == done {
                s.status = "in_progress".into();
                s.conclusion = None;
            } else {
                s.status = "queued".into();
                s.conclusion = None;
            }
        }
        if let Some(c) = last {
            j.status = "completed".into();
            j.conclusion = Some(c.into());
        }
        j
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    standin.set_run_status(run_id, "in_progress", None);
    standin.set_jobs(run_id, vec![steps(3, None)]);
    for _ in 0..6000 {
        if !control.hold.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(
        control.duration_ms.load(Ordering::SeqCst),
    ))
    .await;
    if control.fail.load(Ordering::SeqCst) {
        let mut j = steps(3, Some("failure"));
        j.steps[3].status = "completed".into();
        j.steps[3].conclusion = Some("failure".into());
        j.steps[4].status = "completed".into();
        j.steps[4].conclusion = Some("skipped".into());
        standin.set_jobs(run_id, vec![j]);
        standin.set_run_status(run_id, "completed", Some("failure"));
        control.completed_at_ms.store(epoch_ms(), Ordering::SeqCst);
        return;
    }
    let plan = policy::plan_tags(
        &config.raw.tags,
        event,
        &format!("refs/tags/{tag}"),
        &sha,
        publish_latest.as_deref(),
    )
    .expect("a release tag");
    let components = config.scope(&[]).unwrap();
    for img in config.images_for(&components) {
        let repo = format!("{}/{}", config.org(), img.package);
        let content = image_content(&img.package, &plan.version, &sha);
        let (body, _) = crate::registry::push_image(
            &reg,
            &repo,
            &plan.version_tags[0],
            &content,
            &BTreeMap::new(),
        )
        .await;
        for t in plan.tags.iter().skip(1) {
            crate::registry::put_manifest(
                &reg,
                &repo,
                t,
                "application/vnd.oci.image.manifest.v1+json",
                &body,
            )
            .await;
        }
    }
    let mut j = steps(5, Some("success"));
    for s in &mut j.steps {
        s.status = "completed".into();
        s.conclusion = Some("success".into());
    }
    standin.set_jobs(run_id, vec![j]);
    standin.set_run_status(run_id, "completed", Some("success"));
    control.completed_at_ms.store(epoch_ms(), Ordering::SeqCst);
}

impl Env {
    pub async fn start() -> Option<Env> {
        if skip() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (remote, work) = fixture(dir.path());
        let config = Config::load(&work).unwrap();
        let public: Vec<String> = config
            .all_images()
            .into_iter()
            .filter(|i| i.visibility == xtask::config::Visibility::Public)
            .map(|i| format!("{}/{}", config.org(), i.package))
            .collect();
        let reg = Arc::new(
            RegistryHarness::start(HarnessOptions {
                password: Some(Secret::new(ADMIN_TOKEN)),
                public,
                ..HarnessOptions::default()
            })
            .await
            .expect("starting the registry harness"),
        );
        let (owner, name) = config.repo_owner_name();
        let handle = gh::start(World::compliant(owner, name, config.org()))
            .await
            .unwrap();
        let control = Arc::new(Control::default());

        let (hreg, hcontrol, hconfig) = (reg.clone(), control.clone(), config.clone());
        handle.set_run_hook(Arc::new(move |s: &StandIn, t: &Trigger| {
            let (new, event, tag, sha, latest) = match t {
                Trigger::TagPush { tag, sha, .. } => (
                    NewRun {
                        workflow: WORKFLOW.into(),
                        event: "push".into(),
                        head_branch: Some(tag.clone()),
                        head_sha: sha.clone(),
                        actor: "octo-admin".into(),
                        inputs: BTreeMap::new(),
                        delay: None,
                    },
                    Event::Push,
                    tag.clone(),
                    sha.clone(),
                    None,
                ),
                Trigger::Dispatch {
                    git_ref,
                    sha,
                    inputs,
                    ..
                } => (
                    NewRun {
                        workflow: WORKFLOW.into(),
                        event: "workflow_dispatch".into(),
                        head_branch: Some(git_ref.clone()),
                        head_sha: sha.clone(),
                        actor: "octo-admin".into(),
                        inputs: inputs.clone(),
                        delay: None,
                    },
                    Event::WorkflowDispatch,
                    git_ref.clone(),
                    sha.clone(),
                    inputs.get("publish_latest").cloned(),
                ),
            };
            let id = s.create_run(new)?;
            hcontrol.runs.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(play(
                s.clone(),
                hreg.clone(),
                hcontrol.clone(),
                hconfig.clone(),
                id,
                event,
                tag,
                sha,
                latest,
            ));
            Some(id)
        }));

        // GitHub notices a tag push: the watcher turns new tags of the bare remote into push
        // events of the stand-in.
        let (wremote, wstandin, wcontrol) =
            (remote.clone(), handle.standin.clone(), control.clone());
        let watcher = tokio::spawn(async move {
            let mut known = xtask::standin::runs::list_tags(&wremote)
                .await
                .unwrap_or_default();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if wcontrol.pause_watcher.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(now) = xtask::standin::runs::list_tags(&wremote).await else {
                    continue;
                };
                for (tag, sha) in &now {
                    if known.get(tag) != Some(sha) {
                        wstandin.push_tag(tag, sha, "octo-admin");
                    }
                }
                known = now;
            }
        });

        let attestations = dir.path().join("attestations.toml");
        let text: String = MANUAL
            .iter()
            .map(|id| {
                format!("[[attestation]]\nid = \"{id}\"\nby = \"alice\"\nnote = \"checked for the test\"\n")
            })
            .collect();
        std::fs::write(&attestations, text).unwrap();
        Some(Env {
            dir,
            remote,
            work,
            gh: handle,
            reg,
            control,
            attestations,
            config,
            watcher,
        })
    }

    /// `xtask --repo work ARGS` with the closed environment of `support::Xtask`: the
    /// stand-ins' addresses, their token, the test identity, and `USER` (which the notes
    /// name), nothing else of the caller's.
    pub(crate) fn command(&self, args: &[&str]) -> crate::support::Closed<tokio::process::Command> {
        crate::support::Xtask::new()
            .arg("--repo")
            .arg(&self.work)
            .args(args)
            .env("GITHUB_API_URL", &self.gh.base_url)
            .env("GITHUB_TOKEN", ADMIN_TOKEN)
            .env("AISOPSFLOW_REGISTRY", &self.reg.host)
            .envs(crate::git_identity())
            .pass("USER")
            .into_tokio()
    }

    /// Runs `xtask --repo work ARGS`; returns (exit code, stdout + stderr).
    pub async fn xtask(&self, args: &[&str]) -> (i32, String) {
        let out = tokio::time::timeout(Duration::from_secs(600), self.command(args).output())
            .await
            .expect("xtask finished within 10 minutes")
            .expect("running the xtask binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// `release VERSION --yes --attestations FILE EXTRA...`.
    pub async fn release(&self, version: &str, extra: &[&str]) -> (i32, String) {
        let att = self.attestations.to_str().unwrap().to_string();
        // The fixture has no crates to build: the build checks are skipped, visibly (they
        // are recorded as skips in the notes, which the first test asserts).
        let mut args = vec![
            "release",
            version,
            "--yes",
            "--attestations",
            &att,
            "--skip-checks",
            "build",
            // The simulated runs push stand-in images, which do not run.
            "--skip-checks",
            "verify-runs",
            "--skip-checks",
            "verify-contents",
        ];
        args.extend_from_slice(extra);
        self.xtask(&args).await
    }

    /// Starts `release VERSION`, waits until its stderr shows `marker`, sends SIGINT, and
    /// returns (exit code, output).
    pub async fn release_interrupted_at(&self, version: &str, marker: &str) -> (i32, String) {
        let att = self.attestations.to_str().unwrap();
        // Held until the child ends: it owns the run's temporary HOME.
        let mut cmd = self.command(&[
            "release",
            version,
            "--yes",
            "--attestations",
            att,
            "--skip-checks",
            "build",
            "--skip-checks",
            "verify-runs",
            "--skip-checks",
            "verify-contents",
        ]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let found = tokio::time::timeout(Duration::from_secs(300), async {
            while let Ok(Some(line)) = stderr.next_line().await {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(marker) {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        assert!(found, "never saw `{marker}`:\n{seen}");
        let pid = child.id().unwrap();
        assert!(xtask::setup::signal(pid, xtask::setup::SIGINT));
        let mut rest = String::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        let status = child.wait().await.unwrap();
        (status.code().unwrap_or(-1), format!("{out}{seen}{rest}"))
    }

    pub fn head(&self) -> String {
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// A new commit on main, pushed to the remote (what a merged pull request does).
    pub fn commit_and_push(&self, file: &str, content: &str) {
        std::fs::write(self.work.join(file), content).unwrap();
        git(&self.work, &["add", file]);
        git(&self.work, &["commit", "-qm", &format!("change {file}")]);
        git(&self.work, &["push", "-q", "origin", "main"]);
    }

    /// `aisopsflow <version>` tagged `v<version>` (components core and runner) in another
    /// clone of the remote and pushed from there: this checkout has neither the tag nor a
    /// resume record.
    pub fn tag_from_another_clone(&self, version: &str) {
        let name = format!("other-{version}");
        let other = self.dir.path().join(&name);
        git(self.dir.path(), &["clone", "-q", "remote.git", &name]);
        let tag = format!("v{version}");
        git(
            &other,
            &[
                "tag",
                "-a",
                "-m",
                &format!("aisopsflow {version}\n\ncomponents: core,runner\n"),
                &tag,
            ],
        );
        git(&other, &["push", "-q", "origin", &tag]);
    }

    /// Tags on the bare remote.
    pub fn remote_tags(&self) -> BTreeSet<String> {
        git(&self.remote, &["tag", "--list"])
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn notes_dir(&self) -> PathBuf {
        self.work.join("docs/releases")
    }

    pub fn notes(&self, version: &str) -> Option<String> {
        std::fs::read_to_string(self.notes_dir().join(format!("{version}.md"))).ok()
    }

    pub fn state_exists(&self, version: &str) -> bool {
        self.notes_dir()
            .join(format!(".{version}.state.json"))
            .exists()
    }

    /// Files in the notes directory (the release's own output).
    pub fn notes_files(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.notes_dir())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn repo(&self, package: &str) -> String {
        format!("{}/{package}", self.config.org())
    }

    /// The digest of `package:tag` as skopeo sees it (an independent client).
    pub fn skopeo_digest(&self, package: &str, tag: &str) -> Option<String> {
        let creds = format!("{}:{}", self.reg.user, ADMIN_TOKEN);
        let out = std::process::Command::new("skopeo")
            .args([
                "inspect",
                "--tls-verify=false",
                "--creds",
                &creds,
                "--format",
                "{{.Digest}}",
            ])
            .arg(format!(
                "docker://{}/{}:{tag}",
                self.reg.host,
                self.repo(package)
            ))
            .output()
            .expect("skopeo is installed (apt-get install skopeo)");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Every tag of every package and its digest (see [`all_tags`]).
    pub async fn all_tags(&self) -> BTreeMap<(String, String), String> {
        all_tags(&self.reg, &self.config).await
    }

    /// The public and commercial packages of core and runner.
    pub fn packages(&self) -> Vec<String> {
        let c = self.config.scope(&[]).unwrap();
        self.config
            .images_for(&c)
            .into_iter()
            .map(|i| i.package)
            .collect()
    }
}

/// Every tag of every package and its digest, read over the registry API with a token the
/// harness mints (independent of the product's registry client).
pub async fn all_tags(
    reg: &RegistryHarness,
    config: &Config,
) -> BTreeMap<(String, String), String> {
    let http = xtask::effects::http::client();
    let mut out = BTreeMap::new();
    for img in config.all_images() {
        let repo = format!("{}/{}", config.org(), img.package);
        let tok = reg.mint_token(&repo, &["pull"]).unwrap();
        let res = http
            .get(format!("http://{}/v2/{repo}/tags/list", reg.host))
            .bearer_auth(tok.expose())
            .send()
            .await
            .unwrap();
        if res.status() == 404 {
            continue;
        }
        let v: serde_json::Value = res.json().await.unwrap();
        for t in v["tags"].as_array().into_iter().flatten() {
            let t = t.as_str().unwrap().to_string();
            let res = http
                .head(format!("http://{}/v2/{repo}/manifests/{t}", reg.host))
                .bearer_auth(tok.expose())
                .header(
                    "accept",
                    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
                )
                .send()
                .await
                .unwrap();
            let d = res.headers()["docker-content-digest"]
                .to_str()
                .unwrap()
                .to_string();
            out.insert((img.package.clone(), t), d);
        }
    }
    out
}

/// The marker comments of internal notes: (digest, latest-before, latest-after) per package.
fn recorded(notes: &str) -> xtask::notes::Recorded {
    xtask::notes::parse_recorded(notes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_latest_writes_notes_whose_digests_skopeo_confirms() {
    let Some(env) = Env::start().await else {
        return;
    };
    let head = env.head();
    let (code, out) = env.release("2.0.0", &["--latest"]).await;
    assert_eq!(code, 0, "{out}");
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
        let (code, out) = env.release("2.0.0", &["--latest", "--draft-release"]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("is complete"), "{out}");
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
    let Some(env) = Env::start().await else {
        return;
    };
    let (code, out) = env.release("2.0.0", &["--latest"]).await;
    assert_eq!(code, 0, "{out}");
    let first: BTreeMap<String, String> = env
        .packages()
        .into_iter()
        .map(|p| {
            let d = env.skopeo_digest(&p, "2.0.0").unwrap();
            (p, d)
        })
        .collect();

    env.commit_and_push("core/CHANGE.txt", "a fix\n");
    let (code, out) = env.release("2.1.0", &[]).await;
    assert_eq!(code, 0, "{out}");
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
    let (code, out) = env.xtask(&["promote", "2.1.0", "--yes"]).await;
    assert_eq!(code, 0, "{out}");
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
    let (code, out) = env.xtask(&["promote", "2.1.0", "--yes"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_run_names_job_step_and_url_and_writes_no_notes() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.control.fail.store(true, Ordering::SeqCst);
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("failed at job `publish`, step `Publish images`"),
        "{out}"
    );
    assert!(
        out.contains("https://github.com/aisopsflow/aisopsflow-enterprise/actions/runs/"),
        "{out}"
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
    let Some(env) = Env::start().await else {
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
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 0, "{out}");
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
    let Some(env) = Env::start().await else {
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
    git(
        &env.work,
        &[
            "tag",
            "-a",
            "-m",
            "aisopsflow 2.0.0\n\ncomponents: core,runner\n",
            "v2.0.0",
        ],
    );
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("git tag -d v2.0.0"), "{out}");
    assert!(env.remote_tags().is_empty(), "{out}");
    git(&env.work, &["tag", "-d", "v2.0.0"]);
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 0, "{out}");
    done("2.0.0", "v2.0.0");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-1b.txt", "1b\n");
    // 1b. Tagged and pushed from another clone: this checkout has neither the tag nor a
    //     resume record.
    env.tag_from_another_clone("2.0.5");
    let (code, out) = env.release("2.0.5", &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no resume record for v2.0.5"), "{out}");
    done("2.0.5", "v2.0.5");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-2.txt", "2\n");
    // 2. Pushed, but the run has not appeared yet (GitHub has not noticed the push).
    env.control.pause_watcher.store(true, Ordering::SeqCst);
    let (code, out) = env.release_interrupted_at("2.1.0", "waiting for the").await;
    assert_eq!(code, 130, "{out}");
    assert!(
        out.contains("interrupted: rerun `cargo xtask release 2.1.0` to resume"),
        "{out}"
    );
    assert!(env.remote_tags().contains("v2.1.0"));
    assert!(env.state_exists("2.1.0"));
    assert!(env.notes("2.1.0").is_none());
    env.control.pause_watcher.store(false, Ordering::SeqCst);
    let (code, out) = env.release("2.1.0", &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[done] push exactly one tag"), "{out}");
    done("2.1.0", "v2.1.0");

    // One commit gives one image: each version is released from its own commit.
    env.commit_and_push("core/stage-3.txt", "3\n");
    // 3. During the wait.
    env.control.hold.store(true, Ordering::SeqCst);
    let (code, out) = env.release_interrupted_at("2.2.0", "found run").await;
    assert_eq!(code, 130, "{out}");
    env.control.hold.store(false, Ordering::SeqCst);
    let runs_before = env.control.runs.load(Ordering::SeqCst);
    let (code, out) = env.release("2.2.0", &[]).await;
    assert_eq!(code, 0, "{out}");
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
    let (code, out) = env.release("2.3.0", &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("verify passed"), "{out}");
    assert!(env.notes("2.3.0").is_none(), "no partial notes");
    assert!(env.state_exists("2.3.0"));
    std::fs::remove_dir(&blocker).unwrap();
    let runs_before = env.control.runs.load(Ordering::SeqCst);
    let (code, out) = env.release("2.3.0", &[]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.control.runs.load(Ordering::SeqCst), runs_before);
    done("2.3.0", "v2.3.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_change_nothing() {
    let Some(env) = Env::start().await else {
        return;
    };
    let unchanged = |env: &Env| {
        assert!(env.remote_tags().is_empty(), "no tag pushed");
        assert_eq!(git(&env.work, &["tag", "--list"]), "", "no local tag");
        assert!(env.notes_files().is_empty(), "no notes, no resume record");
        assert_eq!(env.control.runs.load(Ordering::SeqCst), 0);
    };

    // No terminal and no --yes.
    let (code, out) = env.xtask(&["release", "2.0.0"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--yes"), "{out}");
    unchanged(&env);

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
    unchanged(&env);

    // The dry run prints the plan (JSON here) and stops.
    let (code, out) = env
        .xtask(&[
            "release",
            "2.0.0",
            "--latest",
            "--dry-run",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, 0, "{out}");
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
    unchanged(&env);

    // The human plan, with the commit and the registry address redacted.
    let (code, out) = env.xtask(&["release", "2.0.0", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}");
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
    unchanged(&env);

    // A dirty tree.
    std::fs::write(env.work.join("core/uncommitted.txt"), "x").unwrap();
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("uncommitted changes"), "{out}");
    std::fs::remove_file(env.work.join("core/uncommitted.txt")).unwrap();
    unchanged(&env);

    // A detached HEAD.
    git(&env.work, &["checkout", "-q", "--detach"]);
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("HEAD is detached"), "{out}");
    git(&env.work, &["checkout", "-q", "main"]);
    unchanged(&env);

    // HEAD behind the remote: someone merged after our pull.
    let other = env.dir.path().join("other");
    git(env.dir.path(), &["clone", "-q", "remote.git", "other"]);
    std::fs::write(other.join("runner/NEW.txt"), "x").unwrap();
    git(&other, &["add", "."]);
    git(&other, &["commit", "-qm", "merged elsewhere"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not the remote default branch"), "{out}");
    unchanged(&env);

    // A tag for this version at another commit.
    git(&env.work, &["pull", "-q", "--ff-only", "origin", "main"]);
    git(
        &other,
        &["tag", "-a", "-m", "elsewhere", "v2.0.0", "HEAD~1"],
    );
    git(&other, &["push", "-q", "origin", "v2.0.0"]);
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tag v2.0.0 already exists (remote)"), "{out}");
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
    let h = gh::start(World::compliant(owner, name, config.org()))
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
    let mut c = crate::support::Xtask::new()
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
        .envs(crate::git_identity())
        .toolchain()
        .pass("DOCKER_HOST")
        .pass("USER")
        .into_tokio();
    let out = tokio::time::timeout(Duration::from_secs(3600), c.output())
        .await
        .expect("the rehearsal finished within an hour")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
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
    let Some(env) = Env::start().await else {
        return;
    };
    // No run appears (GitHub has not noticed the push).
    env.control.pause_watcher.store(true, Ordering::SeqCst);
    let (code, out) = env.release("2.0.0", &["--timeout", "2"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no publish run appeared for tag v2.0.0"),
        "{out}"
    );
    assert!(out.contains("(--timeout)"), "{out}");
    assert!(
        out.contains("actions-enabled") && out.contains("workflow-triggers"),
        "{out}"
    );
    // The run appears but stays in progress.
    env.control.hold.store(true, Ordering::SeqCst);
    env.control.pause_watcher.store(false, Ordering::SeqCst);
    let (code, out) = env.release("2.0.0", &["--timeout", "3"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(--timeout) waiting for publish run"), "{out}");
    assert!(out.contains("to resume the wait"), "{out}");
    assert!(env.notes("2.0.0").is_none());
    env.control.hold.store(false, Ordering::SeqCst);
    let (code, out) = env.release("2.0.0", &[]).await;
    assert_eq!(code, 0, "{out}");
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
    let ws = xtask::workspace::Global {
        repo: Some(repo_root()),
        verbose: 0,
    }
    .workspace()
    .unwrap();
    let world = xtask::standin::rehearsal::Rehearsal::start(
        &ws,
        xtask::standin::rehearsal::RehearsalOptions {
            xtask_exe: Some(env!("CARGO_BIN_EXE_xtask").into()),
            queue_delay: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let config = Config::load(&world.work_dir).unwrap();
    let run = |args: Vec<&'static str>| {
        let mut c = crate::support::Xtask::new()
            .arg("--repo")
            .arg(&world.work_dir)
            .args(args)
            .envs(world.env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .envs(crate::git_identity())
            .toolchain()
            .pass("DOCKER_HOST")
            .pass("USER")
            .into_tokio();
        async move {
            let out = tokio::time::timeout(Duration::from_secs(3600), c.output())
                .await
                .expect("finished within an hour")
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code().unwrap_or(-1), text)
        }
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
    let (code, out) = run(release.clone()).await;
    assert_eq!(code, 1, "{out}");
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
    let (code, out) = run(release).await;
    assert_eq!(code, 0, "{out}");
    let before = all_tags(&world.registry, &config).await;
    assert!(
        !before.keys().any(|(_, t)| t == "latest"),
        "a v* release moves no `latest`: {before:?}"
    );
    let (code, out) = run(vec!["promote", "9.1.0", "--yes"]).await;
    assert_eq!(code, 0, "{out}");
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
    let Some(env) = Env::start().await else {
        return;
    };
    let (code, out) = env
        .xtask(&[
            "release",
            "2.0.0",
            "--latest",
            "--dry-run",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, 0, "{out}");
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

    let (code, out) = env
        .release("2.0.0", &["--latest", "--format", "json"])
        .await;
    assert_eq!(code, 0, "{out}");
    let doc = first_json(&out);
    assert_eq!(doc["outcome"], "released", "{out}");
    assert_eq!(kinds_and_descriptions(&doc["executed"]), todo, "{out}");
    // What the steps claim is so: the tag is on the remote and the notes exist.
    assert!(env.remote_tags().contains("release-v2.0.0"));
    assert!(env.notes("2.0.0").is_some());

    // Planned again, every step is done, and the real run executes none.
    let (code, out) = env
        .xtask(&[
            "release",
            "2.0.0",
            "--latest",
            "--dry-run",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, 0, "{out}");
    let again = first_json(&out);
    assert!(
        again["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["done"].is_null()),
        "{out}"
    );
    let (code, out) = env
        .release("2.0.0", &["--latest", "--format", "json"])
        .await;
    assert_eq!(code, 0, "{out}");
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
    let Some(env) = Env::start().await else {
        return;
    };
    let (code, out) = env.release("2.0.0", &["--latest"]).await;
    assert_eq!(code, 0, "{out}");
    env.commit_and_push("core/CHANGE.txt", "a fix\n");
    let (code, out) = env.release("2.1.0", &[]).await;
    assert_eq!(code, 0, "{out}");

    let before = env.all_tags().await;
    let (code, out) = env.xtask(&["promote", "2.1.0", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}");
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

    let (code, out) = env.xtask(&["promote", "2.1.0", "--yes"]).await;
    assert_eq!(code, 0, "{out}");
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
    let (code, out) = env.xtask(&["promote", "2.1.0", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(printed_steps(&out).is_empty(), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}
