//! The registry harness's two ways to run the CNCF distribution registry: the `docker-registry`
//! binary as a child process (Debian's package), or, where that binary is missing and an engine
//! answers (an operator's laptop), the `registry:2` image as a container with the same
//! config.yml and token auth, published on a loopback port.
//!
//! The container is driven through the docker CLI (which Docker Desktop, colima and docker.io
//! all ship): the harness dir is mounted at the same path inside, so config.yml's paths hold;
//! `docker logs -f` is the child whose stdout and stderr become access.log and registry.log, as
//! the binary's own would. The container is removed when the harness is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use super::HarnessOptions;
use crate::exit::{external, usage};

/// The environment variable naming the image to run where the binary is missing
/// (`setup` sets it; `registry:2` is the CNCF distribution image).
pub(crate) const ENV_IMAGE: &str = crate::setup::ENV_REGISTRY_IMAGE;

/// How the registry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Runtime {
    Binary(PathBuf),
    Image(String),
}

impl Runtime {
    /// The explicit binary, else the explicit image, else `docker-registry` on PATH, else the
    /// image from `AISOPSFLOW_REGISTRY_IMAGE`; none of these is a usage error naming the fix.
    pub(crate) fn choose(opts: &HarnessOptions) -> anyhow::Result<Runtime> {
        if let Some(b) = &opts.binary {
            return Ok(Runtime::Binary(b.clone()));
        }
        if let Some(i) = &opts.image {
            return Ok(Runtime::Image(i.clone()));
        }
        if let Some(b) = super::find_on_path("docker-registry") {
            return Ok(Runtime::Binary(b));
        }
        if let Some(i) = std::env::var(ENV_IMAGE).ok().filter(|i| !i.is_empty()) {
            return Ok(Runtime::Image(i));
        }
        Err(usage(format!(
            "the `docker-registry` binary (CNCF distribution) is not on PATH; install it with `apt-get install docker-registry` (run through `cargo xtask test` or `cargo xtask rehearse`, which install it as root), or set {ENV_IMAGE}=registry:2 to run it as a container"
        )))
    }

    /// The registry's `http.addr`: an ephemeral loopback port for the binary; the image's
    /// port 5000 in the container, published on a loopback port of the host.
    pub(crate) fn listen_addr(&self) -> &'static str {
        match self {
            Runtime::Binary(_) => "127.0.0.1:0",
            Runtime::Image(_) => ":5000",
        }
    }
}

fn docker(args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running the docker CLI (the registry container needs it: it comes with docker.io, Docker Desktop and colima)")
}

/// Starts `image` serving `config`, and returns the `docker logs -f` child, the container id
/// and the published `127.0.0.1:PORT`.
pub async fn start(
    image: &str,
    dir: &Path,
    config: &Path,
    access: std::fs::File,
    log: std::fs::File,
) -> anyhow::Result<(Child, String, String)> {
    let present = docker(&["image", "inspect", "--format", "{{.Id}}", image])?;
    if !present.status.success() {
        crate::note!("registry: pulling {image}");
        let pull = docker(&["pull", "--quiet", image])?;
        if !pull.status.success() {
            return Err(external(format!(
                "the registry image {image} is not in the engine and cannot be pulled: {}; install the registry binary instead (`apt-get install docker-registry`), or load the image (`docker pull {image}` where there is internet; `docker save`/`docker load` to carry it)",
                String::from_utf8_lossy(&pull.stderr).trim()
            )));
        }
    }
    let name = format!(
        "aisopsflow-registry-{}-{}",
        std::process::id(),
        super::random_hex(4)
    );
    let mount = format!("{}:{}", dir.display(), dir.display());
    let cfg = config.display().to_string();
    let run = docker(&[
        "run",
        "--detach",
        "--rm",
        "--name",
        &name,
        "--label",
        crate::effects::docker::CONTAINER_LABEL,
        "--publish",
        "127.0.0.1::5000",
        "--volume",
        &mount,
        image,
        "serve",
        &cfg,
    ])?;
    if !run.status.success() {
        return Err(external(format!(
            "starting the registry container from {image}: {}",
            String::from_utf8_lossy(&run.stderr).trim()
        )));
    }
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let started = (|| -> anyhow::Result<(Child, String)> {
        let port = docker(&["port", &id, "5000/tcp"])?;
        let host = String::from_utf8_lossy(&port.stdout)
            .lines()
            .find(|l| l.starts_with("127.0.0.1:"))
            .map(str::to_string)
            .with_context(|| {
                format!(
                    "the registry container {name} published no loopback port: {}",
                    String::from_utf8_lossy(&port.stderr).trim()
                )
            })?;
        let logs = Command::new("docker")
            .args(["logs", "--follow", &id])
            .stdin(Stdio::null())
            .stdout(Stdio::from(access))
            .stderr(Stdio::from(log))
            .spawn()
            .context("following the registry container's logs")?;
        Ok((logs, host))
    })();
    match started {
        Ok((logs, host)) => Ok((logs, id, host)),
        Err(e) => {
            remove(&id);
            Err(e)
        }
    }
}

/// Removes the container (stopping it first).
pub fn remove(id: &str) {
    let _ = Command::new("docker")
        .args(["rm", "--force", id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
