//! A whole release world on this machine, for `cargo xtask release VERSION --rehearse` and the
//! end-to-end tests: a throwaway bare remote holding the workspace's HEAD, a work clone whose
//! `origin` is that remote, the GHCR-like registry harness, and the GitHub stand-in seeded as a
//! compliant repository whose workflow runs execute `cargo xtask publish` for real.
//!
//! The pieces meet only through configuration, as in production: the operator's side sees
//! `GITHUB_API_URL`, `GITHUB_TOKEN` and `AISOPSFLOW_REGISTRY`; the run executor gives the
//! publish step the registry credentials as `secrets.GITHUB_TOKEN`. One token serves both
//! the API and the registry, as a personal access token does on github.com and ghcr.io.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Visibility;
use crate::effects::git;
use crate::secrets::Secret;
use crate::standin::github::{self as gh, StandIn, StandInHandle, Trigger, World};
use crate::standin::registry::{HarnessOptions, PackageEvent, Principal, RegistryHarness};
use crate::standin::runs::{Executor, ExecutorConfig, watch_tags};
use crate::workspace::Workspace;

/// How to set the rehearsal up.
#[derive(Debug, Clone, Default)]
pub struct RehearsalOptions {
    /// The xtask binary the publish runs execute (default: this process's executable).
    pub xtask_exe: Option<PathBuf>,
    /// Delay before a queued run starts (default 1 s), so pollers see `queued`.
    pub queue_delay: Option<Duration>,
    /// Tags whose publish run fails at the publish step (fault injection for tests).
    pub fail_refs: Vec<String>,
    /// Keep the scratch directory when dropped (for `--keep`).
    pub keep: bool,
    /// Start with the public editions already public (as after an earlier release's admin
    /// flip) instead of ghcr.io's first-release state, where pushes create them private.
    pub seeded_visibility: bool,
}

/// A running rehearsal world. Dropping it stops the stand-ins and removes the scratch
/// directory (unless kept).
pub struct Rehearsal {
    /// The work clone the release runs in; its `origin` is `remote`.
    pub work_dir: PathBuf,
    /// The bare remote the stand-in watches.
    pub remote: PathBuf,
    pub github: StandInHandle,
    pub registry: RegistryHarness,
    /// The operator's environment for the stand-ins.
    pub env: Vec<(String, String)>,
    /// The token valid for both the API stand-in and the registry.
    pub token: Secret,
    dir: Option<tempfile::TempDir>,
    kept: Option<PathBuf>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The token the rehearsal world accepts for both the API and the registry. It is a fixed,
/// recognisable test value, registered as a secret so it is still never printed.
const REHEARSAL_TOKEN: &str = "ghp_REHEARSALonlyTOKEN000000000000000000000";

/// The file of a kept world's scratch directory that holds `REHEARSAL_TOKEN`.
pub(crate) const TOKEN_FILE: &str = "token";

/// The publish runs' workflow token (a `GITHUB_TOKEN` of the enterprise repository).
const ACTIONS_TOKEN: &str = "ghs_REHEARSALworkflowTOKEN0000000000000000";

impl Rehearsal {
    /// Sets the world up from the workspace's working tree (HEAD when it is clean).
    pub async fn start(ws: &Workspace, opts: RehearsalOptions) -> anyhow::Result<Rehearsal> {
        // Only its owner may open it: a kept world's token file lives here.
        let dir = tempfile::Builder::new()
            .prefix("aisopsflow-rehearsal-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .context("creating the rehearsal directory")?;
        let base = dir.path().to_path_buf();
        let remote = base.join("remote.git");
        let work_dir = base.join("work");
        let cfg = &ws.config;
        let branch = cfg.raw.repository.default_branch.clone();

        // The remote holds exactly the committed HEAD on the default branch, and no tags: the
        // rehearsal starts from a repository that has never released.
        // A rehearsal releases the working tree as it is, uncommitted changes included (the
        // runbook recommends rehearsing a changed workflow), and says which it rehearses.
        let head = git::head(&ws.root).context("reading HEAD of the workspace")?;
        let head = match git::working_tree_commit(
            &ws.root,
            &cfg.raw.notes.dir,
            "rehearsal: the working tree, uncommitted changes included\n",
        )
        .context(
            "committing the working tree for the rehearsal (nothing in the checkout changes)",
        )? {
            Some((commit, n)) => {
                crate::note!(
                    "rehearsal: rehearsing the working tree: HEAD {} plus {n} uncommitted change(s), as commit {} in the throwaway remote only",
                    &head[..12],
                    &commit[..12]
                );
                commit
            }
            None => {
                crate::note!(
                    "rehearsal: rehearsing HEAD {} (the working tree is clean)",
                    &head[..12]
                );
                head
            }
        };
        run_git(
            &base,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch",
                &branch,
                "remote.git",
            ],
        )
        .await?;
        run_git(
            &ws.root,
            &[
                "push",
                "--quiet",
                "--no-verify",
                path_str(&remote)?,
                &format!("{head}:refs/heads/{branch}"),
            ],
        )
        .await?;
        run_git(&base, &["clone", "--quiet", path_str(&remote)?, "work"]).await?;
        // Tags need an identity; machines without a global one (CI) get a rehearsal identity
        // in the throwaway clone only.
        if git_config(&work_dir, "user.email").await.is_none() {
            run_git(
                &work_dir,
                &["config", "user.email", "rehearsal@aisopsflow.invalid"],
            )
            .await?;
            run_git(&work_dir, &["config", "user.name", "aisopsflow rehearsal"]).await?;
        }

        let token = Secret::new(REHEARSAL_TOKEN);
        // The publish runs' `secrets.GITHUB_TOKEN`: the enterprise repository's workflow
        // token, which may create packages (linked to the repository, private) and write the
        // packages that grant it Actions access, as on ghcr.io.
        let actions_token = Secret::new(ACTIONS_TOKEN);
        let public: Vec<String> = if opts.seeded_visibility {
            cfg.all_images()
                .into_iter()
                .filter(|i| i.visibility == Visibility::Public)
                .map(|i| format!("{}/{}", cfg.org(), i.package))
                .collect()
        } else {
            Vec::new()
        };
        let registry = RegistryHarness::start(HarnessOptions {
            password: Some(token.clone()),
            credentials: vec![(
                actions_token.clone(),
                Principal::ActionsToken {
                    repository: cfg.raw.repository.name.clone(),
                    write: true,
                },
            )],
            public,
            repository: cfg.raw.repository.name.clone(),
            ..HarnessOptions::default()
        })
        .await?;

        let (owner, name) = cfg.repo_owner_name();
        let mut world = World::compliant(owner, name, cfg.org());
        // The registry starts empty, so the Packages API lists nothing either; it follows the
        // registry from then on (packages created by pushes, versions, the admin's flips).
        world.packages.clear();
        // The same token works for the API (an admin of the repository with package scopes).
        if let Some(admin) = world.tokens.get(gh::ADMIN_TOKEN).cloned() {
            world.tokens.insert(REHEARSAL_TOKEN.to_string(), admin);
        }
        let github = gh::start(world).await?;
        let mirror = github.standin.clone();
        let linked_repo = cfg.raw.repository.name.clone();
        registry.on_package_event(Arc::new(move |e: &PackageEvent| {
            let short = |n: &str| {
                n.split_once('/')
                    .map(|(_, p)| p.to_string())
                    .unwrap_or_default()
            };
            mirror.with_world(|w| match e {
                PackageEvent::Created { name, package } => {
                    let pkg = short(name);
                    if w.package_mut(&pkg).is_none() {
                        w.add_package(
                            &pkg,
                            if package.public { "public" } else { "private" },
                            package.linked.as_deref() == Some(linked_repo.as_str()),
                        );
                    }
                }
                PackageEvent::Pushed {
                    name,
                    digest,
                    reference,
                } => {
                    if !digest.is_empty() {
                        let tags: Vec<&str> = if reference.starts_with("sha256:") {
                            Vec::new()
                        } else {
                            vec![reference.as_str()]
                        };
                        w.push_version(&short(name), digest, &tags);
                    }
                }
                PackageEvent::Visibility { name, public } => w.set_package_visibility(
                    &short(name),
                    if *public { "public" } else { "private" },
                ),
            })
        }));

        let mut env = BTreeMap::new();
        env.insert(
            crate::config::ENV_REGISTRY.to_string(),
            registry.host.clone(),
        );
        // Publish runs build the components in a fresh checkout; sharing the workspace's
        // target directory keeps a rehearsal from compiling everything from scratch.
        env.insert(
            "AISOPSFLOW_IMAGES_TARGET_DIR".to_string(),
            crate::images::compile::default_target_dir(&ws.root)
                .display()
                .to_string(),
        );
        let exec_cfg = ExecutorConfig {
            bare_repo: remote.clone(),
            workflow_path: cfg.raw.repository.publish_workflow.clone(),
            repository: cfg.raw.repository.name.clone(),
            xtask_exe: match &opts.xtask_exe {
                Some(p) => p.clone(),
                None => std::env::current_exe().context("finding the xtask executable")?,
            },
            work_dir: base.join("runs"),
            env,
            token: actions_token,
            actor: registry.user.clone(),
            queue_delay: opts.queue_delay.unwrap_or(Duration::from_secs(1)),
            fail_refs: opts.fail_refs.clone(),
        };
        std::fs::create_dir_all(&exec_cfg.work_dir)?;
        let sink = Arc::new(github.standin.clone());
        let executor = Executor::new(exec_cfg, sink);
        let hook_exec = Arc::clone(&executor);
        github
            .standin
            .set_run_hook(Arc::new(move |_: &StandIn, t: &Trigger| match t {
                Trigger::TagPush { tag, sha, .. } => Some(hook_exec.start_push(tag, sha)),
                Trigger::Dispatch {
                    git_ref,
                    sha,
                    inputs,
                    ..
                } => {
                    let tag = git_ref.strip_prefix("refs/tags/").unwrap_or(git_ref);
                    Some(hook_exec.start_dispatch(tag, sha, inputs.clone()))
                }
            }));
        // A push to the bare remote becomes a push event, as on GitHub.
        let standin = github.standin.clone();
        let watcher = watch_tags(
            remote.clone(),
            Duration::from_millis(250),
            move |tag: String, sha: String| {
                standin.push_tag(&tag, &sha, "release-operator");
            },
        );

        let env = vec![
            ("GITHUB_API_URL".to_string(), github.base_url.clone()),
            ("GITHUB_TOKEN".to_string(), token.expose().to_string()),
            (
                crate::config::ENV_REGISTRY.to_string(),
                registry.host.clone(),
            ),
        ];
        let (dir, kept) = if opts.keep {
            // A kept world is reached from outside this process, so its token is where the
            // operator can read it without it ever being printed: `DIR/token`, in the
            // scratch directory only its owner can open (0700).
            crate::fsx::write_atomic(&base.join(TOKEN_FILE), token.expose().as_bytes())
                .context("writing the kept world's token file")?;
            (None, Some(dir.keep()))
        } else {
            (Some(dir), None)
        };
        Ok(Rehearsal {
            work_dir,
            remote,
            github,
            registry,
            env,
            token,
            dir,
            kept,
            watcher,
        })
    }

    /// The org admin, as the rehearsal plays it: the one-way visibility flip through the
    /// stand-in's settings page (`POST /_ui/orgs/{org}/packages/container/{name}/visibility`,
    /// which stands in for GitHub's web UI; docs/registry-standin.md).
    pub fn admin(&self) -> crate::execute::Admin {
        let front = self.registry.host.clone();
        let token = self.token.clone();
        crate::execute::Admin(Arc::new(move |repo: &str| {
            let (front, token, repo) = (front.clone(), token.clone(), repo.to_string());
            Box::pin(async move {
                let (org, name) = repo
                    .split_once('/')
                    .with_context(|| format!("{repo} is not org/name"))?;
                let url = format!(
                    "http://{front}/_ui/orgs/{org}/packages/container/{}/visibility",
                    name.replace('/', "%2F")
                );
                let res = crate::effects::http::client()
                    .post(&url)
                    .basic_auth("rehearsal-admin", Some(token.expose()))
                    .header("content-type", "application/json")
                    .body(r#"{"visibility":"public"}"#)
                    .send()
                    .await
                    .with_context(|| format!("POST {url}"))?;
                if !res.status().is_success() {
                    anyhow::bail!(
                        "the stand-in's settings page refused to make {repo} public: {} {}",
                        res.status(),
                        res.text().await.unwrap_or_default()
                    );
                }
                Ok(format!(
                    "rehearsal: playing the org admin, made {repo} public (its settings page, Danger Zone → Change visibility → Public; one-way, as on ghcr.io)"
                ))
            })
        }))
    }

    /// Applies the operator's environment to this process, so the release code path reads
    /// the stand-ins' addresses exactly as it would read real ones.
    pub(crate) fn apply_env(&self) {
        for (k, v) in &self.env {
            // SAFETY: called before any client is created and before other threads read these
            // variables; the rehearsal owns the process environment for its duration.
            unsafe { std::env::set_var(k, v) };
        }
        unsafe { std::env::remove_var("GH_TOKEN") };
    }

    /// The scratch directory holding the remote, the work clone and run logs.
    pub fn dir(&self) -> &Path {
        self.kept
            .as_deref()
            .or(self.dir.as_ref().map(|d| d.path()))
            .expect("one of the two is set")
    }

    /// Where everything is, and how to look at it and stop it (for `--keep`).
    pub fn describe(&self) -> String {
        format!(
            "rehearsal world (kept):\n  work clone:      {}\n  bare remote:     {}\n  GitHub stand-in: {}\n  registry:        {} (token service {}; user {}, password = the token in {tok})\n  token:           {tok} (the API's and the registry's, an operator PAT; never printed)\n  run logs:        {}/runs\n\ntry:\n  skopeo inspect --tls-verify=false --no-creds docker://{}/{}/aisopsflow-core:<version>\n  export GITHUB_API_URL={} AISOPSFLOW_REGISTRY={} GITHUB_TOKEN=\"$(cat {tok})\"\n  cargo xtask verify <version> --repo {}\n\nstop: press Ctrl-C here; then remove {}",
            self.work_dir.display(),
            self.remote.display(),
            self.github.base_url,
            self.registry.host,
            self.registry.token_url,
            self.registry.user,
            self.dir().display(),
            self.registry.host,
            "aisopsflow",
            self.github.base_url,
            self.registry.host,
            self.work_dir.display(),
            self.dir().display(),
            tok = self.dir().join(TOKEN_FILE).display(),
        )
    }
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .context("the rehearsal directory is not valid UTF-8")
}

async fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .await
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        anyhow::bail!(
            "git {} in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

async fn git_config(dir: &Path, key: &str) -> Option<String> {
    let out = tokio::process::Command::new("git")
        .current_dir(dir)
        .args(["config", key])
        .output()
        .await
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}
