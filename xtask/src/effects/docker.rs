//! The Docker engine adapter: the only code that talks to the engine (through bollard).
//!
//! It connects per `DOCKER_HOST` (or the default socket) and negotiates the API version down
//! to what the engine speaks, so an old engine (API 1.41) and new ones both work. It offers
//! just the calls the release needs: build from a streamed context, inspect, run a container
//! to completion, run a service and exec in it, export a container's files, tag and push.
//! Every container it creates is removed again, also on error and on Ctrl-C.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, ImageInspect};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptions, ListImagesOptionsBuilder, LogsOptionsBuilder,
    PushImageOptionsBuilder, RemoveContainerOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::{Stream, StreamExt};

use crate::exit;
use crate::secrets::Secret;

/// Labels on every container we create, so a leftover one (after `kill -9`) is easy to find:
/// `docker ps -a --filter label=io.aisopsflow.xtask`.
pub const CONTAINER_LABEL: &str = "io.aisopsflow.xtask";

/// A connection to the engine.
#[derive(Clone)]
pub struct Docker {
    inner: bollard::Docker,
    host: String,
}

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The local tag for the result, `name:tag`.
    pub tag: String,
    pub build_args: HashMap<String, String>,
    /// Labels added on top of the Dockerfile's.
    pub labels: HashMap<String, String>,
}

/// Why a build failed: the Dockerfile step the engine was on, and its message unchanged.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub step: Option<String>,
    pub message: String,
}

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.step {
            Some(step) => write!(f, "failed at `{step}`: {}", self.message),
            None => write!(f, "failed before the first step: {}", self.message),
        }
    }
}

impl std::error::Error for BuildFailure {}

/// The facts about an image that checks read.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    pub labels: HashMap<String, String>,
    pub env: Vec<String>,
    /// The image's whole config and metadata as JSON, for scanning.
    pub config_json: String,
}

/// A service run by `run_service`.
#[derive(Debug, Clone)]
pub(crate) struct ServiceRun {
    /// The first command executed in the running service.
    pub first: RunOutput,
    /// The probe's last run, and how many runs it took.
    pub probe: RunOutput,
    pub probe_attempts: u32,
    /// The service's own output.
    pub stdout: String,
    pub stderr: String,
}

/// The network of a container we run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Loopback only, in a fresh network namespace: for anything that listens.
    None,
    /// The host's network namespace, which the engine sets up about a third faster than a
    /// new one. Only for commands that use no network (`--version`) or listen on an
    /// ephemeral loopback port (`serve --listen 127.0.0.1:0`).
    Host,
}

impl Network {
    fn mode(self) -> &'static str {
        match self {
            Network::None => "none",
            Network::Host => "host",
        }
    }
}

/// A finished container run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Resolves once the operator pressed Ctrl-C (SIGINT). The first call installs one listener
/// for the whole process; every caller then sees the same flag, so all running builds and
/// containers stop and clean up, instead of only the one that happened to be listening. The
/// listener lives on the runtime that installed it; when that runtime is gone (tests run one
/// runtime per test) the next call installs a new one.
pub async fn interrupted() {
    use std::sync::Mutex;
    use tokio::sync::watch;
    static STATE: Mutex<Option<watch::Receiver<bool>>> = Mutex::new(None);
    let mut rx = {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_ref() {
            Some(rx) if rx.has_changed().is_ok() => rx.clone(),
            _ => {
                let (tx, rx) = watch::channel(false);
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        let _ = tx.send(true);
                    }
                    // Keep the sender alive so receivers never mistake a closed channel for
                    // a signal.
                    std::future::pending::<()>().await;
                });
                *state = Some(rx.clone());
                rx
            }
        }
    };
    if rx.wait_for(|pressed| *pressed).await.is_err() {
        // The runtime that listened is shutting down; nothing was pressed.
        std::future::pending::<()>().await;
    }
}

/// Whether Ctrl-C has been pressed (after `interrupted` was first awaited).
pub(crate) fn was_interrupted() -> bool {
    futures_util::FutureExt::now_or_never(interrupted()).is_some()
}

fn describe(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => format!("the engine answered {status_code}: {message}"),
        other => other.to_string(),
    }
}

impl Docker {
    /// The engine named by `DOCKER_HOST`, or the default socket.
    pub(crate) fn host_from_env() -> String {
        std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
    }

    /// Connects and negotiates the API version. An unreachable engine is one clear error
    /// (exit 3) naming `DOCKER_HOST` and how to start an engine.
    pub async fn connect() -> anyhow::Result<Docker> {
        Docker::connect_to(&Docker::host_from_env()).await
    }

    /// Connects to the engine at `host` (`unix:///path` or `tcp://host:port`), as `connect`.
    pub async fn connect_to(host: &str) -> anyhow::Result<Docker> {
        let host = host.to_string();
        let unreachable = |why: String| {
            exit::external(format!(
                "cannot reach the Docker engine at {host} (from DOCKER_HOST, default unix:///var/run/docker.sock): {why}; start an engine (`sudo systemctl start docker`, or `sudo dockerd &`) or point DOCKER_HOST at a running one"
            ))
        };
        let client =
            bollard::Docker::connect_with_host(&host).map_err(|e| unreachable(describe(&e)))?;
        let client = tokio::time::timeout(Duration::from_secs(20), client.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 20 s".into()))?
            .map_err(|e| unreachable(describe(&e)))?;
        Ok(Docker {
            inner: client,
            host,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The engine's version, e.g. `20.10.24` (a cheap call that proves the engine answers).
    pub(crate) async fn server_version(&self) -> anyhow::Result<String> {
        let v = self
            .inner
            .version()
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .with_context(|| format!("asking the engine at {} for its version", self.host))?;
        Ok(v.version.unwrap_or_else(|| "unknown".into()))
    }

    /// Inspects a local image; `None` when it does not exist.
    pub async fn image(&self, reference: &str) -> anyhow::Result<Option<ImageFacts>> {
        match self.inner.inspect_image(reference).await {
            Ok(inspect) => Ok(Some(facts(inspect)?)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => {
                Err(anyhow!(describe(&e))).with_context(|| format!("inspecting image {reference}"))
            }
        }
    }

    /// Builds an image from a streamed context with the legacy builder (no pull: `FROM scratch`
    /// needs none). `on_step` sees each `Step N/M : ...` line as the engine reaches it.
    /// Returns the image id; a failing step is a `BuildFailure` in the error chain.
    ///
    /// `context` makes the context stream, once per attempt: a build the engine failed
    /// because an image vanished under its cache probe (`lost_an_image`) is built again, at
    /// most twice more. The legacy builder compares a step with every child image of its
    /// parent (for `FROM scratch`, every image built from scratch), and one removed by
    /// anyone meanwhile, such as a concurrent build pruning its old images, fails the step with
    /// `unable to find image "sha256:…"`. That says nothing about the build.
    pub async fn build<S>(
        &self,
        req: &BuildRequest,
        context: impl Fn() -> S,
        mut on_step: impl FnMut(&str),
    ) -> anyhow::Result<String>
    where
        S: Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        let mut attempt = 1;
        loop {
            match self.build_once(req, context(), &mut on_step).await {
                Err(e) if attempt < 3 && lost_an_image(&e) => {
                    attempt += 1;
                    on_step(
                        "the engine lost a cached image to a concurrent removal; building again",
                    );
                }
                result => return result,
            }
        }
    }

    async fn build_once(
        &self,
        req: &BuildRequest,
        context: impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
        on_step: &mut impl FnMut(&str),
    ) -> anyhow::Result<String> {
        let options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(&req.tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&req.build_args)
            .labels(&req.labels)
            .build();
        let mut stream =
            self.inner
                .build_image(options, None, Some(bollard::body_try_stream(context)));
        let mut step: Option<String> = None;
        let mut image_id: Option<String> = None;
        let mut last_lines: Vec<String> = Vec::new();
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = interrupted() => bail!("interrupted (Ctrl-C) while building {}", req.tag),
            };
            let Some(item) = item else { break };
            let info = match item {
                Ok(info) => info,
                Err(BollardError::DockerStreamError { error }) => {
                    return Err(BuildFailure {
                        step,
                        message: error,
                    }
                    .into());
                }
                // The connection broke mid-build (the engine stopped or restarted): the
                // engine is unreachable (exit 3), and a rerun builds from scratch.
                Err(e) => {
                    return Err(exit::external(format!(
                        "building {} through the engine at {}: {}; check that the engine is running (`docker info`) and rerun",
                        req.tag,
                        self.host,
                        describe(&e)
                    )));
                }
            };
            if let Some(text) = &info.stream {
                for line in text.lines() {
                    let line = line.trim_end();
                    if line.starts_with("Step ") {
                        step = Some(line.to_string());
                        on_step(line);
                    } else if let Some(id) = line.strip_prefix("Successfully built ") {
                        image_id.get_or_insert_with(|| id.trim().to_string());
                    } else if !line.is_empty() {
                        last_lines.push(line.to_string());
                        if last_lines.len() > 20 {
                            last_lines.remove(0);
                        }
                    }
                }
            }
            if let Some(aux) = &info.aux
                && let Some(id) = &aux.id
            {
                image_id = Some(id.clone());
            }
            if let Some(detail) = &info.error_detail {
                let message = detail.message.clone().unwrap_or_default();
                return Err(BuildFailure { step, message }.into());
            }
        }
        let id = image_id.ok_or_else(|| {
            anyhow::Error::new(BuildFailure {
                step: step.clone(),
                message: format!(
                    "the engine reported no image id; its last output was:\n{}",
                    last_lines.join("\n")
                ),
            })
        })?;
        Ok(id)
    }

    /// Creates a labelled container, runs `run` with its id, and always removes it: on
    /// success, on error, and on Ctrl-C.
    async fn with_container<T, F, Fut>(
        &self,
        image: &str,
        cmd: &[&str],
        network: Network,
        run: F,
    ) -> anyhow::Result<T>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            labels: Some(HashMap::from([(
                CONTAINER_LABEL.to_string(),
                "smoke".to_string(),
            )])),
            host_config: Some(HostConfig {
                network_mode: Some(network.mode().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .inner
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .with_context(|| format!("creating a container from {image}"))?;
        let guard = ContainerGuard {
            docker: self.inner.clone(),
            id: Some(created.id.clone()),
        };
        let result = tokio::select! {
            r = run(created.id.clone()) => r,
            _ = interrupted() => Err(anyhow!("interrupted (Ctrl-C) while running {image}; its container was removed")),
        };
        let removed = guard.remove().await;
        let value = result?;
        removed.with_context(|| format!("removing the container {} of {image}", created.id))?;
        Ok(value)
    }

    async fn logs(&self, id: &str) -> anyhow::Result<(String, String)> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut stream = self.inner.logs(id, Some(options));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some(item) = stream.next().await {
            match item
                .map_err(|e| anyhow!(describe(&e)))
                .context("reading container logs")?
            {
                bollard::container::LogOutput::StdOut { message }
                | bollard::container::LogOutput::Console { message } => {
                    out.extend_from_slice(&message)
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.extend_from_slice(&message)
                }
                bollard::container::LogOutput::StdIn { .. } => {}
            }
        }
        Ok((
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        ))
    }

    /// Runs `cmd` in a fresh container of `image` to completion (create, start, wait, logs,
    /// remove), within `timeout`.
    pub async fn run(
        &self,
        image: &str,
        cmd: &[&str],
        network: Network,
        timeout: Duration,
    ) -> anyhow::Result<RunOutput> {
        self.with_container(image, cmd, network, |id| async move {
            self.inner
                .start_container(&id, None)
                .await
                .map_err(|e| anyhow!(describe(&e)))
                .with_context(|| format!("starting a container of {image}"))?;
            let exit_code = tokio::time::timeout(timeout, self.wait(&id))
                .await
                .map_err(|_| {
                    anyhow!(
                        "{image} {} did not exit within {} s",
                        cmd.join(" "),
                        timeout.as_secs()
                    )
                })??;
            let (stdout, stderr) = self.logs(&id).await?;
            Ok(RunOutput {
                exit_code,
                stdout,
                stderr,
            })
        })
        .await
    }

    async fn wait(&self, id: &str) -> anyhow::Result<i64> {
        let mut stream = self.inner.wait_container(id, None);
        let mut code = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(r) => code = Some(r.status_code),
                Err(BollardError::DockerContainerWaitError { code: c, .. }) => code = Some(c),
                Err(e) => return Err(anyhow!(describe(&e))).context("waiting for the container"),
            }
        }
        code.context("the engine ended the wait without an exit code")
    }

    /// Runs `image` with `cmd` as a service: starts it detached, runs `first` in it through
    /// the exec API and, at the same time, probes it: each attempt reads the service's logs so
    /// far and asks `ready` for the probe command (`None` while the logs show it is not ready,
    /// e.g. before it printed the address it listens on), then executes the probe, until it
    /// exits 0; at most `attempts` times, `interval` apart (`Probes`). The container is removed
    /// (killed) in every case; waiting for a graceful stop would double the cost of a smoke run.
    pub(crate) async fn run_service(
        &self,
        image: &str,
        cmd: &[&str],
        network: Network,
        first: &[&str],
        ready: impl Fn(&str) -> Option<Vec<String>>,
        probes: Probes,
    ) -> anyhow::Result<ServiceRun> {
        let Probes { attempts, interval } = probes;
        self.with_container(image, cmd, network, |id| async move {
            self.inner
                .start_container(&id, None)
                .await
                .map_err(|e| anyhow!(describe(&e)))
                .with_context(|| format!("starting {image} {}", cmd.join(" ")))?;
            let probing = async {
                let mut last = None;
                for attempt in 0..attempts {
                    if attempt > 0 {
                        tokio::time::sleep(interval).await;
                    }
                    let (stdout, stderr) = self.logs(&id).await?;
                    let Some(probe) = ready(&format!("{stdout}{stderr}")) else {
                        continue;
                    };
                    let probe: Vec<&str> = probe.iter().map(String::as_str).collect();
                    let out = self.exec(&id, &probe).await?;
                    let ok = out.exit_code == 0;
                    last = Some((out, attempt + 1));
                    if ok {
                        break;
                    }
                }
                anyhow::Ok(last)
            };
            let (first, last) = tokio::join!(self.exec(&id, first), probing);
            let (first, last) = (first?, last?);
            let (stdout, stderr) = self.logs(&id).await?;
            let (probe, probe_attempts) = match last {
                Some(l) => l,
                None => bail!(
                    "{image} {} never became ready to probe within {attempts} attempts; its output:\n{stdout}{stderr}",
                    cmd.join(" ")
                ),
            };
            Ok(ServiceRun {
                first,
                probe,
                probe_attempts,
                stdout,
                stderr,
            })
        })
        .await
    }

    async fn exec(&self, id: &str, cmd: &[&str]) -> anyhow::Result<RunOutput> {
        let exec = self
            .inner
            .create_exec(
                id,
                ExecConfig {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .with_context(|| format!("creating an exec of `{}`", cmd.join(" ")))?;
        let started = self
            .inner
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .with_context(|| format!("starting `{}`", cmd.join(" ")))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        if let bollard::exec::StartExecResults::Attached { mut output, .. } = started {
            let read = async {
                while let Some(Ok(item)) = output.next().await {
                    match item {
                        bollard::container::LogOutput::StdErr { message } => {
                            err.extend_from_slice(&message)
                        }
                        bollard::container::LogOutput::StdOut { message }
                        | bollard::container::LogOutput::Console { message } => {
                            out.extend_from_slice(&message)
                        }
                        bollard::container::LogOutput::StdIn { .. } => {}
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(30), read)
                .await
                .map_err(|_| anyhow!("`{}` did not finish within 30 s", cmd.join(" ")))?;
        }
        // The exit code lands shortly after the output ends; poll a bounded number of times.
        for _ in 0..250 {
            let inspect = self
                .inner
                .inspect_exec(&exec.id)
                .await
                .map_err(|e| anyhow!(describe(&e)))
                .context("inspecting an exec")?;
            if inspect.running != Some(true)
                && let Some(code) = inspect.exit_code
            {
                return Ok(RunOutput {
                    exit_code: code,
                    stdout: String::from_utf8_lossy(&out).into_owned(),
                    stderr: String::from_utf8_lossy(&err).into_owned(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("`{}` reported no exit code within 2.5 s", cmd.join(" "))
    }

    /// The paths of the files in a fresh container of `image` (its filesystem export), e.g. to
    /// see what a build context delivered.
    pub async fn list_files(&self, image: &str) -> anyhow::Result<Vec<String>> {
        self.with_container(image, &["/nonexistent"], Network::None, |id| async move {
            let mut stream = self.inner.export_container(&id);
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(
                    &chunk
                        .map_err(|e| anyhow!(describe(&e)))
                        .context("exporting a container")?,
                );
            }
            let mut archive = tar::Archive::new(&bytes[..]);
            let mut out = Vec::new();
            for entry in archive.entries().context("reading a container export")? {
                let entry = entry.context("reading a container export")?;
                let path = entry.path().context("reading a container export")?;
                out.push(path.to_string_lossy().trim_end_matches('/').to_string());
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    /// Tags a local image as `repository:tag`.
    pub(crate) async fn tag_image(
        &self,
        image: &str,
        repository: &str,
        tag: &str,
    ) -> anyhow::Result<()> {
        let options = TagImageOptionsBuilder::default()
            .repo(repository)
            .tag(tag)
            .build();
        self.inner
            .tag_image(image, Some(options))
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .with_context(|| format!("tagging {image} as {repository}:{tag}"))
    }

    /// Pushes `repository:tag` (tagging `image` first) and returns the digest the registry
    /// acknowledged, from the final status line of the push stream
    /// (`<tag>: digest: sha256:... size: N`).
    pub async fn push(
        &self,
        image: &str,
        repository: &str,
        tag: &str,
        creds: Option<(&str, &Secret)>,
    ) -> anyhow::Result<String> {
        self.tag_image(image, repository, tag).await?;
        let credentials = creds.map(|(user, secret)| bollard::auth::DockerCredentials {
            username: Some(user.to_string()),
            password: Some(secret.expose().to_string()),
            serveraddress: Some(repository.split('/').next().unwrap_or_default().to_string()),
            ..Default::default()
        });
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let mut stream = self
            .inner
            .push_image(repository, Some(options), credentials);
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item
                .map_err(|e| anyhow!(crate::secrets::redact_all(&describe(&e))))
                .with_context(|| format!("pushing {repository}:{tag}"))?;
            if let Some(detail) = info.error_detail {
                bail!(
                    "pushing {repository}:{tag}: {}; check the registry credentials and that the package exists",
                    crate::secrets::redact_all(&detail.message.unwrap_or_default())
                );
            }
            if let Some(status) = info.status.as_deref()
                && let Some(d) = parse_push_digest(status)
            {
                digest = Some(d);
            }
        }
        let digest = digest.with_context(|| {
            format!("pushing {repository}:{tag}: the engine reported no digest")
        })?;
        // The registry-qualified tag was only the engine's handle for this push. Untag it when
        // the image keeps another tag (its local build tag), so that rehearsals, whose
        // registries are `127.0.0.1:<port>`, do not pile dead tags up on the engine. Best
        // effort: the push itself succeeded.
        let pushed = format!("{repository}:{tag}");
        if let Ok(i) = self.inner.inspect_image(image).await
            && i.repo_tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| *t != pushed))
        {
            let _ = self.remove_image(&pushed).await;
        }
        Ok(digest)
    }

    /// Pulls `repository@digest` (e.g. `ghcr.io/org/pkg@sha256:…`) through the engine, which
    /// checks what it receives against the digest. `creds` go to the engine as the registry
    /// auth of this pull only. The engine talks plain HTTP to loopback registries
    /// (127.0.0.0/8 is an insecure registry by default in dockerd).
    pub(crate) async fn pull_digest(
        &self,
        repository: &str,
        digest: &str,
        creds: Option<(&str, &Secret)>,
    ) -> anyhow::Result<()> {
        let credentials = creds.map(|(user, secret)| bollard::auth::DockerCredentials {
            username: Some(user.to_string()),
            password: Some(secret.expose().to_string()),
            serveraddress: Some(repository.split('/').next().unwrap_or_default().to_string()),
            ..Default::default()
        });
        // As the docker CLI does: the name in fromImage, the digest in tag.
        let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
            .from_image(repository)
            .tag(digest)
            .build();
        let mut stream = self.inner.create_image(Some(options), None, credentials);
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = interrupted() => bail!("interrupted (Ctrl-C) while pulling {repository}@{digest}"),
            };
            let Some(item) = item else { break };
            let info = item
                .map_err(|e| anyhow!(crate::secrets::redact_all(&describe(&e))))
                .with_context(|| format!("pulling {repository}@{digest} through the engine"))?;
            if let Some(detail) = info.error_detail {
                bail!(
                    "pulling {repository}@{digest} through the engine: {}",
                    crate::secrets::redact_all(&detail.message.unwrap_or_default())
                );
            }
        }
        Ok(())
    }

    /// Local tags matching `reference` (a `name:tag` glob such as `aisopsflow-core:xtask-*`),
    /// with their image's creation time (seconds since the epoch), newest first.
    pub async fn local_tags(&self, reference: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let filters = HashMap::from([("reference", vec![reference])]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = self
            .inner
            .list_images(Some(options))
            .await
            .map_err(|e| anyhow!(describe(&e)))
            .with_context(|| format!("listing local images {reference}"))?;
        let pattern = reference.trim_end_matches('*');
        let mut out: Vec<(String, i64)> = images
            .into_iter()
            .flat_map(|i| {
                let created = i.created;
                i.repo_tags
                    .into_iter()
                    .filter(|t| t.starts_with(pattern))
                    .map(move |t| (t, created))
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Removes a local image by reference: untags it, and deletes the image when no tag is
    /// left, but never its untagged parents (`noprune`). Those are the legacy builder's
    /// intermediate images, and a concurrent build of the same Dockerfile may be using them
    /// as its cache at that moment. Pruning them made such a build fail with "unable to find
    /// image sha256:…" at a cached step. `docker image prune` reclaims them.
    pub async fn remove_image(&self, reference: &str) -> anyhow::Result<()> {
        let options = bollard::query_parameters::RemoveImageOptions {
            noprune: true,
            ..Default::default()
        };
        match self
            .inner
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => {
                Err(anyhow!(describe(&e))).with_context(|| format!("removing image {reference}"))
            }
        }
    }
}

/// The digest in a push status line such as `1.2.3: digest: sha256:ab.. size: 528`.
pub(crate) fn parse_push_digest(status: &str) -> Option<String> {
    let rest = status.split("digest: ").nth(1)?;
    let digest = rest.split_whitespace().next()?;
    (digest.starts_with("sha256:") && digest.len() == 71).then(|| digest.to_string())
}

fn facts(inspect: ImageInspect) -> anyhow::Result<ImageFacts> {
    let config = inspect.config.clone().unwrap_or_default();
    let config_json = serde_json::json!({
        "Config": inspect.config,
        "Author": inspect.author,
        "Comment": inspect.comment,
    })
    .to_string();
    Ok(ImageFacts {
        id: inspect.id.unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        config_json,
    })
}

/// Removes its container when dropped without `remove` (a panic or a cancelled task).
struct ContainerGuard {
    docker: bollard::Docker,
    id: Option<String>,
}

impl ContainerGuard {
    async fn remove(mut self) -> anyhow::Result<()> {
        let Some(id) = self.id.take() else {
            return Ok(());
        };
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match tokio::time::timeout(
            Duration::from_secs(30),
            self.docker.remove_container(&id, Some(options)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(()),
            Ok(Err(e)) => Err(anyhow!(describe(&e))),
            Err(_) => Err(anyhow!(
                "the engine did not remove it within 30 s; remove it with `docker rm -f {id}`"
            )),
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let docker = self.docker.clone();
            handle.spawn(async move {
                let options = RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build();
                let _ = docker.remove_container(&id, Some(options)).await;
            });
        }
    }
}

/// How often `Docker::run_service` probes a service, and how far apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probes {
    pub attempts: u32,
    pub interval: Duration,
}

/// Whether a build failed because the engine lost an image in the middle of its cache probe
/// (see `Docker::build`), not because of the build.
pub(crate) fn lost_an_image(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("unable to find image \"sha256:")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the engine's lost-image race is built again, never a failing step or an image
    /// that a Dockerfile names and does not exist.
    #[test]
    fn only_a_lost_image_is_built_again() {
        let failure = |message: &str| {
            anyhow::Error::new(BuildFailure {
                step: Some("Step 2/2 : COPY hello /hello".into()),
                message: message.into(),
            })
            .context("building aisopsflow-core")
        };
        assert!(lost_an_image(&failure(
            "unable to find image \"sha256:72e441576ddba89f4cae9be0301b33857589da11da55614002e1601a98a561e0\""
        )));
        assert!(!lost_an_image(&failure(
            "COPY failed: file not found in build context or excluded by .dockerignore: stat hello: file does not exist"
        )));
        assert!(!lost_an_image(&failure(
            "pull access denied for nosuchimage, repository does not exist or may require 'docker login'"
        )));
    }

    #[test]
    fn push_digest_is_read_from_the_final_status() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parse_push_digest(&format!("1.2.3: digest: {d} size: 528")),
            Some(d)
        );
        assert_eq!(parse_push_digest("Pushing"), None);
        assert_eq!(parse_push_digest("x: digest: md5:abc size: 1"), None);
    }
}
