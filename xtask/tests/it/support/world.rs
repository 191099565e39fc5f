//! The one world of the release tests: a committed copy of the release layout pushed to a bare
//! git remote and cloned as the operator's checkout, the in-process GitHub stand-in, and the
//! registry harness (distribution behind our GHCR-like token service), with the binary run
//! against them in the closed environment of [`Xtask`](super::Xtask).
//!
//! The publish workflow is simulated by a run hook kept here: a watcher notices tags pushed to
//! the bare remote (as GitHub notices a push) and tells the stand-in, whose hook creates the
//! run and plays it: `in_progress` with the workflow's steps, then small FROM-scratch images
//! pushed to the harness over the registry API with the tags the tag policy names, then
//! `completed`. Tests can fail runs, hold them in progress, or pause the watcher
//! ([`Control`]), which is how interruptions at each stage are staged without timing
//! assumptions. Needs `docker-registry` and `skopeo` (`apt-get install docker-registry
//! skopeo`); `AISOPSFLOW_SKIP_DOCKER=1` skips, loudly.
//!
//! ```ignore
//! let Some(world) = World::start().await else { return };
//! world.release("5.1.0", &["--latest"]).await.expect(0, &["released 5.1.0"]);
//! world.xtask(&["promote", "5.1.0", "--yes"]).await.expect(0, &["nothing to do"]);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use xtask::config::Config;
use xtask::secrets::Secret;
use xtask::standin::github::{self as gh, ADMIN_TOKEN, JobSeed, NewRun, StandIn, Trigger};
use xtask::standin::registry::{HarnessOptions, RegistryHarness};
use xtask::standin::rehearsal::{Rehearsal, RehearsalOptions};
use xtask::tags::{self, Event};

use super::{Closed, Layout, Run, Xtask, git, git_identity, repo_root, skip_docker};

/// The publish workflow the simulated runs belong to.
pub const WORKFLOW: &str = "publish-images.yml";
/// The steps of a simulated publish run's one job.
pub const STEPS: [&str; 5] = [
    "Set up job",
    "Check out the tagged commit",
    "Install the Rust toolchain",
    "Publish images",
    "Complete job",
];

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
pub struct World {
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

impl Drop for World {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// A committed copy of the repository layout (release.toml, docs without release notes, the
/// real publish workflow, component directories), pushed to a bare remote and cloned as the
/// operator's checkout.
fn fixture(dir: &Path) -> (PathBuf, PathBuf) {
    Layout::new()
        .docs()
        .without("docs/releases")
        .workflow(repo_root().join(".github/workflows/publish-images.yml"))
        .commit_in(&dir.join("seed"), "initial");
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
    let plan = tags::plan_tags(
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
        let (body, _) = super::registry::push_image(
            &reg,
            &repo,
            &plan.version_tags[0],
            &content,
            &BTreeMap::new(),
        )
        .await;
        for t in plan.tags.iter().skip(1) {
            super::registry::put_manifest(
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

impl World {
    /// The world of one test: `None` (the test returns) only when `AISOPSFLOW_SKIP_DOCKER=1`.
    pub async fn start() -> Option<World> {
        if skip_docker("a release test", &["docker-registry", "skopeo", "git"]) {
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
        let handle = gh::start(gh::World::compliant(owner, name, config.org()))
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
        let text: String = xtask::checks::manual::manual_ids()
            .iter()
            .map(|c| c.id())
            .map(|id| {
                format!("[[attestation]]\nid = \"{id}\"\nby = \"alice\"\nnote = \"checked for the test\"\n")
            })
            .collect();
        std::fs::write(&attestations, text).unwrap();
        Some(World {
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

    /// `xtask --repo work ARGS` with the closed environment of [`Xtask`]: the stand-ins'
    /// addresses, their token, the test identity, and `USER` (which the notes name), nothing
    /// else of the caller's.
    pub fn command(&self, args: &[&str]) -> Closed<tokio::process::Command> {
        Xtask::new()
            .arg("--repo")
            .arg(&self.work)
            .args(args)
            .env("GITHUB_API_URL", &self.gh.base_url)
            .env("GITHUB_TOKEN", ADMIN_TOKEN)
            .env("AISOPSFLOW_REGISTRY", &self.reg.host)
            .envs(git_identity())
            .pass("USER")
            .into_tokio()
    }

    /// Runs `xtask --repo work ARGS` to the end (within 10 minutes).
    pub async fn xtask(&self, args: &[&str]) -> Run {
        let out = tokio::time::timeout(Duration::from_secs(600), self.command(args).output())
            .await
            .expect("xtask finished within 10 minutes")
            .expect("running the xtask binary");
        Run::from(&out)
    }

    /// `release VERSION --yes --attestations FILE` and the checks this world cannot pass
    /// skipped: the layout has no crates to build (the build checks are recorded as skips in
    /// the notes, which the release tests assert), and the simulated runs push stand-in images,
    /// which do not run.
    pub fn release_args(&self, version: &str) -> Vec<String> {
        [
            "release",
            version,
            "--yes",
            "--attestations",
            self.attestations.to_str().unwrap(),
            "--skip-checks",
            "build",
            "--skip-checks",
            "verify-runs",
            "--skip-checks",
            "verify-contents",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Runs [`release_args`](World::release_args) `EXTRA...`.
    pub async fn release(&self, version: &str, extra: &[&str]) -> Run {
        let mut args = self.release_args(version);
        args.extend(extra.iter().map(|a| a.to_string()));
        self.xtask(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await
    }

    /// Starts `release VERSION` (as [`release`](World::release) does), waits until its stderr
    /// shows `marker`, runs `act` with the child's pid (another operator's move, or a signal),
    /// and returns the run once it ends.
    pub async fn release_until<F, Fut>(&self, version: &str, marker: &str, act: F) -> Run
    where
        F: FnOnce(u32) -> Fut,
        Fut: Future<Output = ()>,
    {
        let args = self.release_args(version);
        // Held until the child ends: it owns the run's temporary HOME.
        let mut cmd = self.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
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
        act(child.id().unwrap()).await;
        while let Ok(Some(line)) = stderr.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
        }
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .await
            .unwrap();
        let status = child.wait().await.unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: seen,
        }
    }

    /// Starts `release VERSION`, waits until its stderr shows `marker`, sends SIGINT, and
    /// returns the run once it ends.
    pub async fn release_interrupted_at(&self, version: &str, marker: &str) -> Run {
        self.release_until(version, marker, |pid| async move {
            assert!(xtask::setup::signal(pid, xtask::setup::SIGINT));
        })
        .await
    }

    /// Nothing was pushed, tagged or written, and no publish run started: a refusal came
    /// before the release did.
    #[track_caller]
    pub fn assert_unchanged(&self) {
        assert!(self.remote_tags().is_empty(), "no tag pushed");
        assert_eq!(git(&self.work, &["tag", "--list"]), "", "no local tag");
        assert!(
            self.notes_files().is_empty(),
            "no notes, no resume record: {:?}",
            self.notes_files()
        );
        assert_eq!(
            self.control.runs.load(Ordering::SeqCst),
            0,
            "no publish run"
        );
    }

    /// Another clone of the remote, `name` beside the operator's checkout (a colleague's).
    pub fn clone_remote(&self, name: &str) -> PathBuf {
        git(self.dir.path(), &["clone", "-q", "remote.git", name]);
        self.dir.path().join(name)
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
        let other = self.clone_remote(&format!("other-{version}"));
        tag_release(&other, version);
        git(&other, &["push", "-q", "origin", &format!("v{version}")]);
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

    /// The digest of `package:tag` as skopeo sees it (an independent client), if it resolves.
    pub fn skopeo_digest(&self, package: &str, tag: &str) -> Option<String> {
        super::registry::skopeo_inspect(&self.reg, &self.repo(package), tag).ok()
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

/// Tags HEAD in `dir` `v<version>`, annotated as a release tag of the tool names its
/// components (`aisopsflow <version>`, components core and runner), without pushing it.
pub fn tag_release(dir: &Path, version: &str) {
    git(
        dir,
        &[
            "tag",
            "-a",
            "-m",
            &format!("aisopsflow {version}\n\ncomponents: core,runner\n"),
            &format!("v{version}"),
        ],
    );
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

/// The binary as the operator of a world whose publish runs build images runs it: the closed
/// environment of [`Xtask`] with the test identity, `USER` (which the notes name), the Rust
/// toolchain and the caller's Docker engine.
pub fn operator() -> Xtask {
    Xtask::new()
        .envs(git_identity())
        .toolchain()
        .pass("DOCKER_HOST")
        .pass("USER")
}

/// Runs `cmd` to the end, within an hour (a run that builds images).
pub async fn run_within_an_hour(mut cmd: Closed<tokio::process::Command>) -> Run {
    let out = tokio::time::timeout(Duration::from_secs(3600), cmd.output())
        .await
        .expect("finished within an hour")
        .expect("running the xtask binary");
    Run::from(&out)
}

/// A rehearsal world of this repository's working tree (`standin::rehearsal`): the same three
/// parts, but publish runs that execute this build of `cargo xtask publish` for real (image
/// builds through the Docker engine, pushes to the registry harness).
pub struct Rehearsed(pub Rehearsal);

impl std::ops::Deref for Rehearsed {
    type Target = Rehearsal;
    fn deref(&self) -> &Rehearsal {
        &self.0
    }
}

impl Rehearsed {
    /// Starts the world with `options`, its runs executing this test build's binary and
    /// queueing for 200 ms.
    pub async fn start(options: RehearsalOptions) -> Rehearsed {
        let ws = xtask::workspace::Global {
            repo: Some(repo_root()),
            verbose: 0,
        }
        .workspace()
        .unwrap();
        let world = Rehearsal::start(
            &ws,
            RehearsalOptions {
                xtask_exe: Some(env!("CARGO_BIN_EXE_xtask").into()),
                queue_delay: Some(Duration::from_millis(200)),
                ..options
            },
        )
        .await
        .unwrap();
        Rehearsed(world)
    }

    /// Runs `xtask ARGS` in `cwd` as the [`operator`] with the world's operator settings.
    pub async fn xtask_in(&self, cwd: &Path, args: &[&str]) -> Run {
        let cmd = operator()
            .current_dir(cwd)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .into_tokio();
        run_within_an_hour(cmd).await
    }

    /// Runs `xtask --repo WORK ARGS` in the world's work clone.
    pub async fn xtask(&self, args: &[&str]) -> Run {
        let mut all = vec!["--repo", self.work_dir.to_str().unwrap()];
        all.extend_from_slice(args);
        self.xtask_in(&self.work_dir, &all).await
    }
}
