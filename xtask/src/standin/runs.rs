//! The workflow-run executor of the GitHub stand-in: it turns a tag push to the stand-in's bare
//! remote, or a workflow dispatch, into a run that executes the publish workflow for real.
//!
//! A `TagWatcher` polls the bare remote's tags. For each new release tag, `Executor` creates a
//! run through a `RunSink` (the stand-in's state), then plays the workflow's single job the way
//! a runner would: it reads the job's steps from the workflow file *at the tagged commit*,
//! checks the commit out into a scratch directory, treats `uses:` steps as set-up that
//! succeeds, and runs each `run:` step with the environment GitHub gives (`GITHUB_REF`,
//! `GITHUB_SHA`, `GITHUB_EVENT_NAME`, inputs, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, and the
//! step's `env:` with `${{ ... }}` expressions expanded). A `cargo xtask ...` step runs this
//! very binary with `--repo <checkout>`, so the run does what CI would, against the local
//! registry, without compiling xtask again. Runs move through queued, in_progress and
//! completed, with job and step states, and failure can be injected per run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use yaml_rust2::{Yaml, YamlLoader};

use crate::secrets::Secret;

/// A step's state as the jobs API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StepState {
    pub number: u32,
    pub name: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
}

/// A new run, as the stand-in records it.
#[derive(Debug, Clone, Serialize)]
pub struct NewRun {
    pub workflow_file: String,
    /// `push` or `workflow_dispatch`.
    pub event: String,
    /// The tag name for tag pushes (GitHub puts it in `head_branch`), or the dispatched ref.
    pub head_branch: String,
    pub head_sha: String,
    pub inputs: BTreeMap<String, String>,
}

/// Where the executor reports: the stand-in's state. Kept narrow so the executor does not
/// depend on how the stand-in stores runs.
pub(crate) trait RunSink: Send + Sync + 'static {
    /// Creates a queued run and returns its id.
    fn create_run(&self, run: NewRun) -> u64;
    /// Sets the run's status (`queued`, `in_progress`, `completed`) and conclusion.
    fn set_run_status(&self, run_id: u64, status: &str, conclusion: Option<&str>);
    /// Replaces the job's state and steps (one job per run, named after the workflow job).
    fn set_job(
        &self,
        run_id: u64,
        job_name: &str,
        status: &str,
        conclusion: Option<&str>,
        steps: Vec<StepState>,
    );
}

/// How runs execute.
#[derive(Clone)]
pub(crate) struct ExecutorConfig {
    /// The bare remote the stand-in serves.
    pub bare_repo: PathBuf,
    /// The workflow file, relative to the repository root.
    pub workflow_path: String,
    /// `owner/name`, for `GITHUB_REPOSITORY`.
    pub repository: String,
    /// The xtask binary that `cargo xtask ...` steps run.
    pub xtask_exe: PathBuf,
    /// Scratch space for checkouts, outputs and logs.
    pub work_dir: PathBuf,
    /// Extra environment for every step, e.g. `AISOPSFLOW_REGISTRY`, `CARGO_TARGET_DIR`.
    pub env: BTreeMap<String, String>,
    /// The token the run's `secrets.GITHUB_TOKEN` expands to (the registry password here).
    pub token: Secret,
    /// The login `github.actor` expands to.
    pub actor: String,
    /// Delay before a queued run starts, so pollers see `queued`.
    pub queue_delay: Duration,
    /// Runs whose tag or ref matches one of these fail at the publish step (fault injection).
    pub fail_refs: Vec<String>,
}

impl std::fmt::Debug for ExecutorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorConfig")
            .field("bare_repo", &self.bare_repo)
            .field("workflow_path", &self.workflow_path)
            .field("xtask_exe", &self.xtask_exe)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// One step of the workflow's job, as read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkflowStep {
    pub name: String,
    pub uses: Option<String>,
    pub run: Option<String>,
    pub env: BTreeMap<String, String>,
}

/// The (single) job of a workflow file: its id and steps.
pub(crate) fn read_job(text: &str) -> anyhow::Result<(String, Vec<WorkflowStep>)> {
    let docs = YamlLoader::load_from_str(text).context("parsing the workflow file")?;
    let doc = docs.first().context("the workflow file is empty")?;
    let jobs = doc["jobs"].as_hash().context("the workflow has no jobs")?;
    let (id, job) = jobs.iter().next().context("the workflow has no jobs")?;
    let id = id.as_str().unwrap_or("job").to_string();
    let mut steps = Vec::new();
    for (i, step) in job["steps"]
        .as_vec()
        .context("the job has no steps")?
        .iter()
        .enumerate()
    {
        let uses = step["uses"].as_str().map(String::from);
        let run = step["run"].as_str().map(String::from);
        let name = step["name"]
            .as_str()
            .map(String::from)
            .or_else(|| uses.as_ref().map(|u| format!("Run {u}")))
            .unwrap_or_else(|| format!("Step {}", i + 1));
        let mut env = BTreeMap::new();
        if let Some(h) = step["env"].as_hash() {
            for (k, v) in h {
                let value = match v {
                    Yaml::String(s) => s.clone(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Integer(n) => n.to_string(),
                    _ => String::new(),
                };
                env.insert(k.as_str().unwrap_or_default().to_string(), value);
            }
        }
        steps.push(WorkflowStep {
            name,
            uses,
            run,
            env,
        });
    }
    Ok((id, steps))
}

/// The values `${{ ... }}` expressions may refer to in a step's `env:`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExprContext {
    pub values: BTreeMap<String, String>,
}

impl ExprContext {
    /// Expands every `${{ expr }}` in `s`. Unknown expressions expand to the empty string, as
    /// GitHub does for missing context values.
    pub fn expand(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            match after.find("}}") {
                Some(end) => {
                    let expr = after[..end].trim();
                    out.push_str(self.values.get(expr).map(String::as_str).unwrap_or(""));
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Executes runs for tag pushes and dispatches.
pub(crate) struct Executor<S: RunSink> {
    pub config: ExecutorConfig,
    pub sink: Arc<S>,
}

impl<S: RunSink> Executor<S> {
    pub fn new(config: ExecutorConfig, sink: Arc<S>) -> Arc<Self> {
        Arc::new(Executor { config, sink })
    }

    /// Starts a run for a pushed tag and returns its id at once; the run proceeds in the
    /// background.
    pub(crate) fn start_push(self: &Arc<Self>, tag: &str, commit: &str) -> u64 {
        self.start(NewRun {
            workflow_file: file_name(&self.config.workflow_path),
            event: "push".into(),
            head_branch: tag.into(),
            head_sha: commit.into(),
            inputs: BTreeMap::new(),
        })
    }

    /// Starts a run for a dispatch on `git_ref` (a tag name) with `inputs`.
    pub(crate) fn start_dispatch(
        self: &Arc<Self>,
        git_ref: &str,
        commit: &str,
        inputs: BTreeMap<String, String>,
    ) -> u64 {
        self.start(NewRun {
            workflow_file: file_name(&self.config.workflow_path),
            event: "workflow_dispatch".into(),
            head_branch: git_ref.into(),
            head_sha: commit.into(),
            inputs,
        })
    }

    fn start(self: &Arc<Self>, run: NewRun) -> u64 {
        let id = self.sink.create_run(run.clone());
        let this = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(this.config.queue_delay).await;
            let outcome = this.execute(id, &run).await;
            let conclusion = match &outcome {
                Ok(true) => "success",
                Ok(false) => "failure",
                Err(_) => "startup_failure",
            };
            if let Err(e) = &outcome {
                let _ = std::fs::write(
                    this.config.work_dir.join(format!("run-{id}.error.txt")),
                    crate::secrets::redact_all(&format!("{e:#}")),
                );
            }
            this.sink.set_run_status(id, "completed", Some(conclusion));
        });
        id
    }

    /// Plays the job. `Ok(false)` is a failed step; `Err` is a run that could not start.
    async fn execute(&self, id: u64, run: &NewRun) -> anyhow::Result<bool> {
        let dir = self.config.work_dir.join(format!("run-{id}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let text = git_show(
            &self.config.bare_repo,
            &run.head_sha,
            &self.config.workflow_path,
        )
        .await?;
        let (job, wf_steps) = read_job(&text)?;
        let mut names = vec!["Set up job".to_string()];
        names.extend(wf_steps.iter().map(|s| s.name.clone()));
        names.push("Complete job".into());
        let mut steps: Vec<StepState> = names
            .iter()
            .enumerate()
            .map(|(i, n)| StepState {
                number: i as u32 + 1,
                name: n.clone(),
                status: "queued".into(),
                conclusion: None,
            })
            .collect();
        self.sink.set_run_status(id, "in_progress", None);
        self.sink
            .set_job(id, &job, "in_progress", None, steps.clone());

        let checkout = dir.join("checkout");
        let output = dir.join("github_output");
        let summary = dir.join("step_summary.md");
        std::fs::write(&output, "")?;
        std::fs::write(&summary, "")?;
        let mut ctx = ExprContext::default();
        ctx.values.insert(
            "secrets.GITHUB_TOKEN".into(),
            self.config.token.expose().to_string(),
        );
        ctx.values.insert(
            "github.token".into(),
            self.config.token.expose().to_string(),
        );
        ctx.values
            .insert("github.actor".into(), self.config.actor.clone());
        ctx.values.insert(
            "github.ref".into(),
            format!("refs/tags/{}", run.head_branch),
        );
        ctx.values.insert("github.sha".into(), run.head_sha.clone());
        for (k, v) in &run.inputs {
            ctx.values.insert(format!("inputs.{k}"), v.clone());
            ctx.values
                .insert(format!("github.event.inputs.{k}"), v.clone());
        }

        let mut ok = true;
        for i in 0..steps.len() {
            steps[i].status = "in_progress".into();
            self.sink
                .set_job(id, &job, "in_progress", None, steps.clone());
            let result = if i == 0 || i == steps.len() - 1 {
                Ok(true)
            } else if !ok {
                // After a failure, later steps are skipped, as on GitHub.
                steps[i].status = "completed".into();
                steps[i].conclusion = Some("skipped".into());
                continue;
            } else {
                let step = &wf_steps[i - 1];
                let files = StepFiles {
                    checkout: &checkout,
                    output: &output,
                    summary: &summary,
                    log: &dir.join(format!("step-{}.log", i + 1)),
                };
                self.run_step(id, step, run, &ctx, files).await
            };
            let success = matches!(result, Ok(true));
            if let Err(e) = &result {
                let _ = std::fs::write(
                    dir.join(format!("step-{}.error.txt", i + 1)),
                    crate::secrets::redact_all(&format!("{e:#}")),
                );
            }
            steps[i].status = "completed".into();
            steps[i].conclusion = Some(if success { "success" } else { "failure" }.into());
            ok &= success;
            self.sink
                .set_job(id, &job, "in_progress", None, steps.clone());
        }
        self.sink.set_job(
            id,
            &job,
            "completed",
            Some(if ok { "success" } else { "failure" }),
            steps,
        );
        Ok(ok)
    }

    async fn run_step(
        &self,
        id: u64,
        step: &WorkflowStep,
        run: &NewRun,
        ctx: &ExprContext,
        files: StepFiles<'_>,
    ) -> anyhow::Result<bool> {
        let StepFiles {
            checkout,
            output,
            summary,
            log,
        } = files;
        if let Some(uses) = &step.uses {
            if uses.starts_with("actions/checkout@") {
                // A real checkout of the tagged commit from the stand-in's remote.
                let status = tokio::process::Command::new("git")
                    .args(["clone", "--quiet", "--no-hardlinks"])
                    .arg(&self.config.bare_repo)
                    .arg(checkout)
                    .status()
                    .await
                    .context("running git clone")?;
                if !status.success() {
                    return Ok(false);
                }
                let status = tokio::process::Command::new("git")
                    .current_dir(checkout)
                    .args([
                        "-c",
                        "advice.detachedHead=false",
                        "checkout",
                        "--quiet",
                        &run.head_sha,
                    ])
                    .status()
                    .await
                    .context("running git checkout")?;
                return Ok(status.success());
            }
            // Toolchain and similar set-up actions: this machine already has what they install.
            return Ok(true);
        }
        let Some(script) = &step.run else {
            return Ok(true);
        };
        if self.config.fail_refs.iter().any(|r| r == &run.head_branch) {
            std::fs::write(log, "injected failure (stand-in fault)\n")?;
            return Ok(false);
        }
        let script = script.trim();
        let mut cmd = if let Some(args) = script.strip_prefix("cargo xtask") {
            let mut c = tokio::process::Command::new(&self.config.xtask_exe);
            c.arg("--repo").arg(checkout);
            c.args(args.split_whitespace());
            c
        } else {
            let mut c = tokio::process::Command::new("bash");
            c.args(["-e", "-c", script]);
            c
        };
        let logf =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.current_dir(checkout)
            .stdin(std::process::Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf)
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", &self.config.repository)
            .env("GITHUB_RUN_ID", id.to_string())
            .env("GITHUB_EVENT_NAME", &run.event)
            .env("GITHUB_REF", format!("refs/tags/{}", run.head_branch))
            .env("GITHUB_REF_NAME", &run.head_branch)
            .env("GITHUB_SHA", &run.head_sha)
            .env("GITHUB_OUTPUT", output)
            .env("GITHUB_STEP_SUMMARY", summary)
            .env("GITHUB_WORKSPACE", checkout)
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN");
        for (k, v) in &self.config.env {
            cmd.env(k, v);
        }
        for (k, v) in &step.env {
            cmd.env(k, ctx.expand(v));
        }
        let status = cmd
            .status()
            .await
            .with_context(|| format!("running step `{}`", step.name))?;
        Ok(status.success())
    }
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// `git show <commit>:<path>` in a bare repository.
async fn git_show(repo: &Path, commit: &str, path: &str) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["show", &format!("{commit}:{path}")])
        .output()
        .await
        .context("running git show")?;
    if !out.status.success() {
        anyhow::bail!(
            "{path} does not exist at {commit}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tags of a bare repository, peeled to commits.
pub async fn list_tags(repo: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let out = tokio::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args([
            "for-each-ref",
            "--format=%(refname:strip=2) %(objectname) %(*objectname)",
            "refs/tags",
        ])
        .output()
        .await
        .context("running git for-each-ref")?;
    if !out.status.success() {
        anyhow::bail!(
            "listing tags of {}: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut tags = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [name, _obj, peeled] => tags.insert(name.to_string(), peeled.to_string()),
            [name, obj] => tags.insert(name.to_string(), obj.to_string()),
            _ => None,
        };
    }
    Ok(tags)
}

/// Watches a bare remote for new or moved tags and calls `on_push(tag, commit)` for each, as
/// GitHub turns a tag push into a push event. Tags present at start are not pushes: they were
/// there before the stand-in existed. Which workflows a push triggers is the stand-in's call.
pub(crate) fn watch_tags(
    repo: PathBuf,
    poll: Duration,
    on_push: impl Fn(String, String) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut known = list_tags(&repo).await.unwrap_or_default();
        loop {
            tokio::time::sleep(poll).await;
            let Ok(now) = list_tags(&repo).await else {
                continue;
            };
            for (tag, commit) in &now {
                if known.get(tag) != Some(commit) {
                    on_push(tag.clone(), commit.clone());
                }
            }
            known = now;
        }
    })
}

/// The files one step of a run works with: the checkout, `GITHUB_OUTPUT`,
/// `GITHUB_STEP_SUMMARY` and the step's log.
#[derive(Clone, Copy)]
struct StepFiles<'a> {
    checkout: &'a Path,
    output: &'a Path,
    summary: &'a Path,
    log: &'a Path,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_publish_job_from_the_real_workflow() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text =
            std::fs::read_to_string(root.join(".github/workflows/publish-images.yml")).unwrap();
        let (job, steps) = read_job(&text).unwrap();
        assert_eq!(job, "publish");
        let last = steps.last().unwrap();
        assert_eq!(
            last.run.as_deref().map(str::trim),
            Some("cargo xtask publish")
        );
        assert!(
            steps[0]
                .uses
                .as_deref()
                .unwrap()
                .starts_with("actions/checkout@")
        );
        let ctx = ExprContext {
            values: BTreeMap::from([("secrets.GITHUB_TOKEN".to_string(), "tok".to_string())]),
        };
        assert_eq!(ctx.expand(&last.env["REGISTRY_TOKEN"]), "tok");
        assert_eq!(ctx.expand(&last.env["PUBLISH_LATEST"]), "");
    }

    #[test]
    fn expands_expressions() {
        let ctx = ExprContext {
            values: BTreeMap::from([("inputs.publish_latest".to_string(), "true".to_string())]),
        };
        assert_eq!(
            ctx.expand("x=${{ inputs.publish_latest }}, y=${{unknown}}, z=${{"),
            "x=true, y=, z=${{"
        );
    }
}
