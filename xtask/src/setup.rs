//! Provisioning: finds or brings up each local part a command needs (the Docker engine, the
//! CNCF distribution registry, skopeo), and says what it did, one line each on stderr.
//!
//! Used by `cargo xtask rehearse` (and `release --rehearse`) and `cargo xtask test`, which
//! `.ci/run` calls, so a fresh machine needs nothing installed by hand. The rules:
//!
//! - An engine that answers at `DOCKER_HOST` (or the default socket) is used as it is.
//! - Else, when `dockerd` is installed and we are root, a `dockerd` is started as a child on
//!   that unix socket, waited for, and stopped when the command ends (unless `--keep`). It makes
//!   no firewall or sysctl changes (`--iptables=false --ip-forward=false`): our builds need no
//!   network, smoke runs use none or the host's, and it must not disturb another engine on the
//!   same machine. It keeps the default bridge: `--bridge=none` would make dockerd delete an
//!   existing `docker0`, another engine's. On a socket other than the default one it gets its
//!   own data root, exec root, pidfile and containerd namespaces beside the socket
//!   (`<socket>.d/`).
//! - What is missing is installed with apt-get on Debian or Ubuntu as root, each command
//!   printed before it runs; never without root, never silently, and never with
//!   `--no-install` or `AISOPSFLOW_NO_INSTALL=1`, which exit 3 saying what would be installed.
//!   Anywhere else setup exits 3 with the install commands for Debian/Ubuntu, Fedora and macOS.
//! - Where apt-get is unavailable but an engine is, the registry runs as the `registry:2`
//!   image in a container (`AISOPSFLOW_REGISTRY_IMAGE`, read by `standin::registry`).
//!
//! `decide` is the pure part (facts in, steps or a refusal out) and is unit-tested; `provision`
//! gathers the facts, runs the steps and returns a guard that stops what it started.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::effects::docker::Docker;
use crate::exit;

/// Set to `1` to refuse every install, like `--no-install`.
pub const ENV_NO_INSTALL: &str = "AISOPSFLOW_NO_INSTALL";
/// The image `standin::registry` runs as a container instead of the `docker-registry` binary.
pub const ENV_REGISTRY_IMAGE: &str = "AISOPSFLOW_REGISTRY_IMAGE";
/// The CNCF distribution image offered where apt-get is unavailable.
pub(crate) const REGISTRY_IMAGE: &str = "registry:2";
/// The engine's default socket when `DOCKER_HOST` is unset.
pub(crate) const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The parts a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub engine: bool,
    pub registry: bool,
    pub skopeo: bool,
}

impl Needs {
    /// What the rehearsal needs: the engine (builds, pushes) and the registry.
    #[cfg(feature = "rehearse")]
    pub(crate) const REHEARSAL: Needs = Needs {
        engine: true,
        registry: true,
        skopeo: false,
    };
    /// What the test suite needs: all three (skopeo cross-checks digests).
    pub(crate) const TESTS: Needs = Needs {
        engine: true,
        registry: true,
        skopeo: true,
    };
}

/// The operating system family, for which install commands apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    /// Debian, Ubuntu and their derivatives (`ID` or `ID_LIKE` in /etc/os-release).
    Debian,
    Fedora,
    Mac,
    Other,
}

/// A package setup can install with apt-get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Package {
    /// `docker.io`: dockerd, containerd and the docker CLI.
    DockerIo,
    /// `docker-registry`: the CNCF distribution registry.
    DockerRegistry,
    Skopeo,
}

impl Package {
    pub(crate) fn apt_name(self) -> &'static str {
        match self {
            Package::DockerIo => "docker.io",
            Package::DockerRegistry => "docker-registry",
            Package::Skopeo => "skopeo",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Package::DockerIo => "the Docker engine (`dockerd`)",
            Package::DockerRegistry => "the `docker-registry` binary (CNCF distribution)",
            Package::Skopeo => "`skopeo`",
        }
    }
}

/// What is on this machine, as `provision` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub os: Os,
    /// `apt-get` is on PATH.
    pub apt: bool,
    /// The effective user is root.
    pub root: bool,
    /// `--no-install` or `AISOPSFLOW_NO_INSTALL=1`.
    pub no_install: bool,
    /// `DOCKER_HOST`, or the default socket.
    pub engine_host: String,
    /// The engine's version when it answers at `engine_host`.
    pub engine_answers: Option<String>,
    /// `engine_host` is a unix socket that exists (an engine may run, but not answer us).
    pub engine_socket_exists: bool,
    pub dockerd: Option<PathBuf>,
    pub registry_binary: Option<PathBuf>,
    /// `AISOPSFLOW_REGISTRY_IMAGE`, when the operator chose the container already.
    pub registry_image: Option<String>,
    pub skopeo: Option<PathBuf>,
}

/// One thing setup does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `apt-get update`, then `apt-get install -y` of these.
    Install(Vec<Package>),
    UseEngine {
        host: String,
        version: String,
    },
    /// Start `dockerd` as a child on this unix socket path.
    StartEngine {
        socket: PathBuf,
    },
    UseRegistry(PathBuf),
    /// Run the registry as this image in a container.
    RegistryContainer(String),
    UseSkopeo(PathBuf),
}

/// Why setup cannot provide what the command needs, and how to get it (exit 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// What is missing, one line each.
    pub missing: Vec<String>,
    /// Why setup did not fix it itself.
    pub reason: String,
    /// The commands that would fix it, one per line.
    pub fix: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "setup cannot provide what this command needs: {}",
            self.reason
        )?;
        for m in &self.missing {
            writeln!(f, "  missing: {m}")?;
        }
        writeln!(f, "nothing was installed or started; to fix it:")?;
        for (i, line) in self.fix.iter().enumerate() {
            if i + 1 == self.fix.len() {
                write!(f, "  {line}")?;
            } else {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// The apt-get commands for `pkgs`, as setup runs them (and prints them).
pub(crate) fn apt_commands(pkgs: &[Package]) -> [String; 2] {
    let names: Vec<&str> = pkgs.iter().map(|p| p.apt_name()).collect();
    [
        "apt-get update".to_string(),
        format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y {}",
            names.join(" ")
        ),
    ]
}

/// The install commands for every supported system, for a refusal.
fn install_elsewhere(pkgs: &[Package]) -> Vec<String> {
    let names: Vec<&str> = pkgs.iter().map(|p| p.apt_name()).collect();
    let engine = pkgs.contains(&Package::DockerIo);
    let skopeo = pkgs.contains(&Package::Skopeo);
    let mut fedora: Vec<&str> = Vec::new();
    let mut brew: Vec<&str> = Vec::new();
    if engine {
        fedora.push("moby-engine");
    }
    if skopeo {
        fedora.push("skopeo");
        brew.push("skopeo");
    }
    let mut out = vec![format!(
        "Debian/Ubuntu: sudo apt-get install -y {}",
        names.join(" ")
    )];
    if !fedora.is_empty() {
        out.push(format!(
            "Fedora:        sudo dnf install -y {}{}",
            fedora.join(" "),
            if engine {
                " && sudo systemctl start docker"
            } else {
                ""
            }
        ));
    }
    if engine {
        out.push(
            "macOS:         Docker Desktop (brew install --cask docker, then open Docker.app), or colima (brew install colima docker && colima start)".to_string(),
        );
    }
    if !brew.is_empty() {
        out.push(format!("macOS:         brew install {}", brew.join(" ")));
    }
    if pkgs.contains(&Package::DockerRegistry) {
        out.push(format!(
            "where apt-get is unavailable, the registry runs as the {REGISTRY_IMAGE} container once an engine answers (export {ENV_REGISTRY_IMAGE}={REGISTRY_IMAGE} to choose it)"
        ));
    }
    out
}

fn unix_socket(host: &str) -> Option<PathBuf> {
    host.strip_prefix("unix://").map(PathBuf::from)
}

/// The pure decision: given what is present, what setup does (in order), or why it cannot.
pub(crate) fn decide(needs: Needs, f: &Facts) -> Result<Vec<Step>, Refusal> {
    let apt_here = f.os == Os::Debian && f.apt;
    let engine_ok = f.engine_answers.is_some();
    // The registry as a container needs an engine now or after setup; it is the fallback where
    // apt-get cannot install the binary.
    let engine_coming = engine_ok || (f.root && (f.dockerd.is_some() || apt_here));
    let registry_container = needs.registry
        && f.registry_binary.is_none()
        && (f.registry_image.is_some() || (!apt_here && engine_coming));

    let mut missing = Vec::new();
    if needs.engine && !engine_ok && f.dockerd.is_none() {
        missing.push(Package::DockerIo);
    }
    if needs.registry && f.registry_binary.is_none() && !registry_container {
        missing.push(Package::DockerRegistry);
    }
    if needs.skopeo && f.skopeo.is_none() {
        missing.push(Package::Skopeo);
    }

    let mut steps = Vec::new();
    if !missing.is_empty() {
        let refuse = |reason: String, fix: Vec<String>| Refusal {
            missing: missing.iter().map(|p| p.what().to_string()).collect(),
            reason,
            fix,
        };
        if f.no_install {
            let mut fix = Vec::new();
            if apt_here {
                let [update, install] = apt_commands(&missing);
                fix.push(format!(
                    "would run: {update} && {install} (as root, without --no-install)"
                ));
            }
            fix.extend(install_elsewhere(&missing));
            return Err(refuse(
                format!(
                    "installing is refused (--no-install or {ENV_NO_INSTALL}=1), and would install {}",
                    missing
                        .iter()
                        .map(|p| p.apt_name())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                fix,
            ));
        }
        if !apt_here {
            return Err(refuse(
                "setup installs only with apt-get on Debian or Ubuntu; install these yourself"
                    .into(),
                install_elsewhere(&missing),
            ));
        }
        if !f.root {
            let mut fix = vec!["rerun as root (e.g. `sudo -E env PATH=$PATH cargo xtask ...`) to let setup install them".to_string()];
            fix.extend(install_elsewhere(&missing));
            return Err(refuse("not root, so nothing can be installed".into(), fix));
        }
        steps.push(Step::Install(missing.clone()));
    }

    if needs.engine {
        if let Some(version) = &f.engine_answers {
            steps.push(Step::UseEngine {
                host: f.engine_host.clone(),
                version: version.clone(),
            });
        } else {
            let Some(socket) = unix_socket(&f.engine_host) else {
                return Err(Refusal {
                    missing: vec![format!("a Docker engine answering at {}", f.engine_host)],
                    reason: "DOCKER_HOST names an engine that does not answer, and only an engine on a local unix socket can be started here".into(),
                    fix: vec![format!(
                        "start the engine at {}, or unset DOCKER_HOST to use the default socket",
                        f.engine_host
                    )],
                });
            };
            if !f.root && f.engine_socket_exists {
                return Err(Refusal {
                    missing: vec![format!("a Docker engine answering at {}", f.engine_host)],
                    reason: format!(
                        "{} exists but the engine does not answer this user (usually: not in the `docker` group)",
                        socket.display()
                    ),
                    fix: vec![
                        "sudo usermod -aG docker $USER, then log in again; or run as root".into(),
                        "if no engine runs: sudo systemctl start docker (or `sudo dockerd &`)"
                            .into(),
                    ],
                });
            }
            if !f.root {
                return Err(Refusal {
                    missing: vec![format!("a Docker engine answering at {}", f.engine_host)],
                    reason: "dockerd is installed but not running, and only root can start it"
                        .into(),
                    fix: vec![
                        "sudo systemctl start docker (or `sudo dockerd &`), or rerun as root to let setup start one for this command".into(),
                        "macOS: open Docker Desktop, or `colima start`".into(),
                    ],
                });
            }
            steps.push(Step::StartEngine { socket });
        }
    }
    if needs.registry {
        match (&f.registry_binary, registry_container) {
            (_, true) => steps.push(Step::RegistryContainer(
                f.registry_image
                    .clone()
                    .unwrap_or_else(|| REGISTRY_IMAGE.to_string()),
            )),
            (Some(bin), false) => steps.push(Step::UseRegistry(bin.clone())),
            // Installed by the step above; the caller decides again after installing.
            (None, false) => {}
        }
    }
    if needs.skopeo
        && let Some(bin) = &f.skopeo
    {
        steps.push(Step::UseSkopeo(bin.clone()));
    }
    Ok(steps)
}

/// How to provision.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Refuse to install anything (also `AISOPSFLOW_NO_INSTALL=1`).
    pub no_install: bool,
    /// Leave a started engine running when the command ends.
    pub keep: bool,
}

/// What provisioning brought up. Dropping it stops the engine it started (unless kept).
pub(crate) struct Provisioned {
    /// The lines printed, one per part.
    pub lines: Vec<String>,
    engine: Option<StartedEngine>,
}

impl Provisioned {}

/// Finds or brings up what `needs` asks for, printing one line per part on stderr.
pub(crate) async fn provision(needs: Needs, opts: Options) -> anyhow::Result<Provisioned> {
    let no_install =
        opts.no_install || std::env::var(ENV_NO_INSTALL).is_ok_and(|v| v == "1" || v == "true");
    let mut facts = Facts::gather(no_install).await;
    let mut out = Provisioned {
        lines: Vec::new(),
        engine: None,
    };
    let mut say = |line: String| {
        crate::note!("setup: {line}");
        out.lines.push(line);
    };
    let mut steps = decide(needs, &facts).map_err(|r| exit::external(r.to_string()))?;
    if let Some(Step::Install(pkgs)) = steps.first().cloned() {
        for cmd in apt_commands(&pkgs) {
            say(format!("installing: running `{cmd}`"));
            let status = Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .stdin(Stdio::null())
                .status()
                .with_context(|| format!("running `{cmd}`"))?;
            if !status.success() {
                return Err(exit::external(format!(
                    "`{cmd}` failed ({status}); fix apt (network, sources) and rerun, or install {} yourself",
                    pkgs.iter()
                        .map(|p| p.apt_name())
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
        }
        // An installed package may have started its own service (docker.io does under
        // systemd); decide again from what is there now.
        facts = Facts::gather(no_install).await;
        steps = decide(needs, &facts).map_err(|r| exit::external(r.to_string()))?;
        if let Some(Step::Install(still)) = steps.first() {
            return Err(exit::external(format!(
                "apt-get installed {}, but these are still missing from PATH: {}",
                pkgs.iter()
                    .map(|p| p.apt_name())
                    .collect::<Vec<_>>()
                    .join(" "),
                still
                    .iter()
                    .map(|p| p.apt_name())
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
    }
    for step in steps {
        match step {
            Step::Install(_) => unreachable!("installs come first and were run above"),
            Step::UseEngine { host, version } => say(format!(
                "engine: using the engine at {host} (Docker {version})"
            )),
            Step::StartEngine { socket } => {
                let dockerd = facts
                    .dockerd
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("dockerd"));
                let engine = StartedEngine::start(&dockerd, &socket, opts.keep).await?;
                say(format!(
                    "engine: none answered at unix://{}; started {} (pid {}, Docker {}, log {}){}",
                    socket.display(),
                    dockerd.display(),
                    engine.child.id(),
                    engine.version,
                    engine.log.display(),
                    if opts.keep {
                        format!(
                            "; --keep: it keeps running, stop it with `kill {}`",
                            engine.child.id()
                        )
                    } else {
                        "; it is stopped when this command ends".to_string()
                    }
                ));
                out.engine = Some(engine);
            }
            Step::UseRegistry(bin) => say(format!("registry: using {}", bin.display())),
            Step::RegistryContainer(image) => {
                // SAFETY: provisioning runs first, before any other thread reads the
                // environment.
                unsafe { std::env::set_var(ENV_REGISTRY_IMAGE, &image) };
                say(format!(
                    "registry: no `docker-registry` binary{}; running the {image} image as a container on a loopback port, behind the same token service",
                    if facts.registry_image.is_some() {
                        format!(" and {ENV_REGISTRY_IMAGE}={image}")
                    } else {
                        " and no apt-get".to_string()
                    }
                ));
            }
            Step::UseSkopeo(bin) => say(format!("skopeo: using {}", bin.display())),
        }
    }
    Ok(out)
}

impl Facts {
    /// Reads the facts from this machine: PATH, /etc/os-release, the effective uid, and
    /// whether the engine answers.
    pub(crate) async fn gather(no_install: bool) -> Facts {
        let engine_host = Docker::host_from_env();
        let engine_answers = engine_version(&engine_host).await;
        let engine_socket_exists = unix_socket(&engine_host).is_some_and(|p| p.exists());
        Facts {
            os: os(),
            apt: find_on_path("apt-get").is_some(),
            root: is_root(),
            no_install,
            engine_host,
            engine_answers,
            engine_socket_exists,
            dockerd: find_on_path("dockerd"),
            registry_binary: find_on_path("docker-registry"),
            registry_image: std::env::var(ENV_REGISTRY_IMAGE)
                .ok()
                .filter(|v| !v.is_empty()),
            skopeo: find_on_path("skopeo"),
        }
    }
}

/// The engine's version when one answers at `host`.
async fn engine_version(host: &str) -> Option<String> {
    let docker = tokio::time::timeout(Duration::from_secs(10), Docker::connect_to(host))
        .await
        .ok()?
        .ok()?;
    docker.server_version().await.ok()
}

fn os() -> Os {
    if cfg!(target_os = "macos") {
        return Os::Mac;
    }
    os_from_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default())
}

/// The family from /etc/os-release's `ID` and `ID_LIKE`.
pub(crate) fn os_from_release(text: &str) -> Os {
    let mut ids = Vec::new();
    for line in text.lines() {
        if let Some(v) = line
            .strip_prefix("ID=")
            .or_else(|| line.strip_prefix("ID_LIKE="))
        {
            ids.extend(
                v.trim_matches(|c| c == '"' || c == '\'')
                    .split_whitespace()
                    .map(str::to_string),
            );
        }
    }
    if ids.iter().any(|i| i == "debian" || i == "ubuntu") {
        Os::Debian
    } else if ids.iter().any(|i| i == "fedora") {
        Os::Fedora
    } else {
        Os::Other
    }
}

#[cfg(unix)]
fn is_root() -> bool {
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

/// The first `name` on PATH that is a file.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A `dockerd` setup started. Dropping it stops it (unless kept).
struct StartedEngine {
    child: Child,
    version: String,
    log: PathBuf,
    /// The exec root when it is ours (`<socket>.d/exec`): its leftover mounts are undone.
    own_dir: Option<PathBuf>,
    keep: bool,
}

impl StartedEngine {
    async fn start(dockerd: &Path, socket: &Path, keep: bool) -> anyhow::Result<StartedEngine> {
        let host = format!("unix://{}", socket.display());
        let default = host == DEFAULT_HOST || socket == Path::new("/run/docker.sock");
        let mut cmd = Command::new(dockerd);
        cmd.arg("-H")
            .arg(&host)
            // No firewall rules and no sysctl changes, so it cannot disturb another engine on
            // this machine; nothing we run needs them. NOT `--bridge=none`: with it, dockerd
            // deletes an existing `docker0` at start, breaking another engine's default network.
            .arg("--iptables=false")
            .arg("--ip-forward=false");
        let (log, own_dir) = if default {
            let log =
                std::env::temp_dir().join(format!("aisopsflow-dockerd.{}.log", std::process::id()));
            (log, None)
        } else {
            // Beside another engine's socket: everything of its own, next to the socket.
            let dir = PathBuf::from(format!("{}.d", socket.display()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating {} for dockerd", dir.display()))?;
            cmd.arg("--data-root")
                .arg(dir.join("data"))
                .arg("--exec-root")
                .arg(dir.join("exec"))
                .arg("--pidfile")
                .arg(dir.join("dockerd.pid"))
                // Its own containerd namespaces, should it find a shared containerd.
                .arg("--containerd-namespace")
                .arg("aisopsflow-setup")
                .arg("--containerd-plugins-namespace")
                .arg("aisopsflow-setup-plugins");
            (dir.join("dockerd.log"), Some(dir))
        };
        if let Some(parent) = socket.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        let logf = std::fs::File::create(&log)
            .with_context(|| format!("creating the dockerd log {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(logf.try_clone()?))
            .stderr(Stdio::from(logf));
        if keep {
            // Out of our process group, so the Ctrl-C that ends a kept rehearsal leaves it.
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd.spawn().map_err(|e| {
            exit::external(format!(
                "starting {}: {e}; install the engine with `apt-get install -y docker.io`",
                dockerd.display()
            ))
        })?;
        let mut engine = StartedEngine {
            child,
            version: String::new(),
            log,
            own_dir,
            keep: false,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(v) = engine_version(&host).await {
                engine.version = v;
                break;
            }
            if let Ok(Some(status)) = engine.child.try_wait() {
                return Err(exit::external(format!(
                    "dockerd exited ({status}) before answering at {host}; its log ({}):\n{}",
                    engine.log.display(),
                    tail(&engine.log, 30)
                )));
            }
            if Instant::now() > deadline {
                // Dropping `engine` stops it.
                return Err(exit::external(format!(
                    "dockerd did not answer at {host} within 90 s; its log ({}):\n{}",
                    engine.log.display(),
                    tail(&engine.log, 30)
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        engine.keep = keep;
        Ok(engine)
    }

    /// SIGTERM, wait (dockerd stops its containers first), SIGKILL if it will not stop; then
    /// undo the mounts it leaves in an exec root of ours.
    fn stop(&mut self) {
        let pid = self.child.id();
        signal(pid, SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        if let Some(dir) = &self.own_dir {
            for m in mounts_under(dir) {
                let _ = Command::new("umount")
                    .arg(&m)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        crate::note!("setup: engine: stopped the dockerd it started (pid {pid})");
    }
}

impl Drop for StartedEngine {
    fn drop(&mut self) {
        if !self.keep {
            self.stop();
        }
    }
}

pub const SIGINT: i32 = 2;
pub(crate) const SIGTERM: i32 = 15;

/// Sends `sig` (`SIGTERM`, `SIGINT`) to `pid`; false when there is no such process. Through the
/// C library, not the `kill` program: a minimal system (Debian minbase) has no procps.
pub fn signal(pid: u32, sig: i32) -> bool {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory preconditions; a positive pid names one process.
    pid > 0 && unsafe { kill(pid, sig) } == 0
}

/// Mount points at or under `dir`, deepest first, from /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect();
    out.sort_by(|a, b| b.cmp(a));
    out
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl crate::flags::Test {
    /// `cargo xtask test [ARGS]`: provision what the tests need, then run
    /// `cargo test --workspace --locked ARGS` with this environment (the engine's `DOCKER_HOST`,
    /// an installed registry on PATH); a started engine is stopped when the tests end.
    pub async fn run(self, g: &crate::workspace::Global) -> anyhow::Result<u8> {
        let root = match &g.repo {
            Some(r) => r.clone(),
            None => g.workspace()?.root,
        };
        let parts = provision(
            Needs::TESTS,
            Options {
                no_install: self.provision.no_install,
                keep: self.keep,
            },
        )
        .await?;
        let args = cargo_test_args(&self.args);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        crate::note!("setup: tests: running `cargo {}`", args.join(" "));
        let status = tokio::process::Command::new(&cargo)
            .args(&args)
            .current_dir(&root)
            .status()
            .await
            .with_context(|| format!("running {} test", Path::new(&cargo).display()))?;
        drop(parts);
        Ok(match status.code() {
            Some(0) => exit::OK,
            // cargo's own usage errors; every other failure (101 for failed tests, signals) is
            // a failed run.
            Some(2) => exit::USAGE,
            _ => exit::POLICY,
        })
    }
}

/// `test --locked ARGS`, with `--workspace` unless ARGS choose packages.
pub(crate) fn cargo_test_args(extra: &[String]) -> Vec<String> {
    let before_dashdash = extra.iter().take_while(|a| *a != "--");
    let chooses = before_dashdash.clone().any(|a| {
        a == "-p"
            || a.starts_with("--package")
            || a.starts_with("-p")
            || a == "--workspace"
            || a == "--all"
    });
    let mut args = vec!["test".to_string()];
    if !chooses {
        args.push("--workspace".into());
    }
    if !before_dashdash.clone().any(|a| a == "--locked") {
        args.push("--locked".into());
    }
    args.extend(extra.iter().cloned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian_root() -> Facts {
        Facts {
            os: Os::Debian,
            apt: true,
            root: true,
            no_install: false,
            engine_host: DEFAULT_HOST.into(),
            engine_answers: None,
            engine_socket_exists: false,
            dockerd: None,
            registry_binary: None,
            registry_image: None,
            skopeo: None,
        }
    }

    fn all_present() -> Facts {
        Facts {
            engine_answers: Some("20.10.24".into()),
            dockerd: Some("/usr/sbin/dockerd".into()),
            registry_binary: Some("/usr/bin/docker-registry".into()),
            skopeo: Some("/usr/bin/skopeo".into()),
            ..debian_root()
        }
    }

    #[test]
    fn everything_present_is_used_as_it_is() {
        let steps = decide(Needs::TESTS, &all_present()).unwrap();
        assert_eq!(
            steps,
            vec![
                Step::UseEngine {
                    host: DEFAULT_HOST.into(),
                    version: "20.10.24".into()
                },
                Step::UseRegistry("/usr/bin/docker-registry".into()),
                Step::UseSkopeo("/usr/bin/skopeo".into()),
            ]
        );
    }

    #[test]
    fn a_fresh_debian_root_installs_everything_then_starts_the_engine() {
        let steps = decide(Needs::TESTS, &debian_root()).unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Install(vec![
                    Package::DockerIo,
                    Package::DockerRegistry,
                    Package::Skopeo
                ]),
                Step::StartEngine {
                    socket: "/var/run/docker.sock".into()
                },
            ]
        );
        // The rehearsal needs no skopeo.
        let steps = decide(Needs::REHEARSAL, &debian_root()).unwrap();
        assert_eq!(
            steps[0],
            Step::Install(vec![Package::DockerIo, Package::DockerRegistry])
        );
    }

    #[test]
    fn an_installed_but_stopped_engine_is_started_as_root_only() {
        let f = Facts {
            engine_answers: None,
            ..all_present()
        };
        let steps = decide(Needs::REHEARSAL, &f).unwrap();
        assert_eq!(
            steps[0],
            Step::StartEngine {
                socket: "/var/run/docker.sock".into()
            }
        );
        let r = decide(
            Needs::REHEARSAL,
            &Facts {
                root: false,
                ..f.clone()
            },
        )
        .unwrap_err();
        assert!(r.reason.contains("only root can start it"), "{r}");
        assert!(r.to_string().contains("sudo systemctl start docker"), "{r}");
        // A socket that is there but refuses this user is a group problem, not a stopped engine.
        let r = decide(
            Needs::REHEARSAL,
            &Facts {
                root: false,
                engine_socket_exists: true,
                ..f
            },
        )
        .unwrap_err();
        assert!(
            r.to_string().contains("sudo usermod -aG docker $USER"),
            "{r}"
        );
    }

    #[test]
    fn docker_host_names_the_socket_to_start_on() {
        let f = Facts {
            engine_answers: None,
            engine_host: "unix:///tmp/x/docker.sock".into(),
            ..all_present()
        };
        assert_eq!(
            decide(Needs::REHEARSAL, &f).unwrap()[0],
            Step::StartEngine {
                socket: "/tmp/x/docker.sock".into()
            }
        );
        let tcp = Facts {
            engine_host: "tcp://10.0.0.5:2375".into(),
            ..f
        };
        let r = decide(Needs::REHEARSAL, &tcp).unwrap_err();
        assert!(r.to_string().contains("tcp://10.0.0.5:2375"), "{r}");
    }

    #[test]
    fn no_install_refuses_and_names_the_command() {
        let f = Facts {
            registry_binary: None,
            no_install: true,
            ..all_present()
        };
        let r = decide(Needs::REHEARSAL, &f).unwrap_err();
        let text = r.to_string();
        assert!(text.contains("would install docker-registry"), "{text}");
        assert!(
            text.contains("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-registry"),
            "{text}"
        );
        assert!(text.contains("nothing was installed"), "{text}");
        // Present parts need no install, so --no-install changes nothing for them.
        assert!(
            decide(
                Needs::REHEARSAL,
                &Facts {
                    no_install: true,
                    ..all_present()
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn never_installs_without_root() {
        let f = Facts {
            root: false,
            ..debian_root()
        };
        let r = decide(Needs::TESTS, &f).unwrap_err();
        assert!(r.reason.contains("not root"), "{r}");
        assert!(
            r.to_string()
                .contains("sudo apt-get install -y docker.io docker-registry skopeo"),
            "{r}"
        );
    }

    #[test]
    fn elsewhere_it_prints_the_install_commands_for_each_system() {
        for os in [Os::Fedora, Os::Mac, Os::Other] {
            let f = Facts {
                os,
                apt: false,
                ..debian_root()
            };
            let text = decide(Needs::TESTS, &f).unwrap_err().to_string();
            for want in [
                "Debian/Ubuntu: sudo apt-get install -y docker.io docker-registry skopeo",
                "Fedora:        sudo dnf install -y moby-engine skopeo",
                "colima start",
                "Docker Desktop",
                "brew install skopeo",
                "registry:2",
            ] {
                assert!(text.contains(want), "{os:?}: missing {want:?} in\n{text}");
            }
        }
        // Debian without apt-get on PATH is the same as elsewhere.
        let f = Facts {
            apt: false,
            ..debian_root()
        };
        assert!(decide(Needs::TESTS, &f).is_err());
    }

    #[test]
    fn without_apt_but_with_an_engine_the_registry_runs_as_a_container() {
        let f = Facts {
            os: Os::Mac,
            apt: false,
            root: false,
            registry_binary: None,
            ..all_present()
        };
        let steps = decide(Needs::REHEARSAL, &f).unwrap();
        assert_eq!(
            steps,
            vec![
                Step::UseEngine {
                    host: DEFAULT_HOST.into(),
                    version: "20.10.24".into()
                },
                Step::RegistryContainer(REGISTRY_IMAGE.into()),
            ]
        );
        // With apt-get as root, the binary is installed instead.
        let f = Facts {
            registry_binary: None,
            ..all_present()
        };
        assert_eq!(
            decide(Needs::REHEARSAL, &f).unwrap()[0],
            Step::Install(vec![Package::DockerRegistry])
        );
        // The operator can choose the container anywhere.
        let f = Facts {
            registry_binary: None,
            registry_image: Some("registry:2.8".into()),
            no_install: true,
            ..all_present()
        };
        assert_eq!(
            decide(Needs::REHEARSAL, &f).unwrap()[1],
            Step::RegistryContainer("registry:2.8".into())
        );
    }

    #[test]
    fn cargo_test_args_add_workspace_and_locked() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cargo_test_args(&[]),
            v(&["test", "--workspace", "--locked"])
        );
        assert_eq!(
            cargo_test_args(&v(&["-p", "xtask", "--test", "it", "setup"])),
            v(&["test", "--locked", "-p", "xtask", "--test", "it", "setup"])
        );
        // After `--`, arguments belong to the test binaries.
        assert_eq!(
            cargo_test_args(&v(&["--", "--nocapture", "-p"])),
            v(&["test", "--workspace", "--locked", "--", "--nocapture", "-p"])
        );
        assert_eq!(
            cargo_test_args(&v(&["--locked", "--lib"])),
            v(&["test", "--workspace", "--locked", "--lib"])
        );
    }

    #[test]
    fn test_command_passes_its_arguments_through() {
        use clap::Parser;
        let parse = |a: &[&str]| {
            let x = crate::flags::Xtask::try_parse_from(a).unwrap();
            match x.cmd {
                crate::flags::Cmd::Test(t) => (t.no_install(), t.args),
                other => panic!("{other:?}"),
            }
        };
        let (no, args) = parse(&["cargo xtask", "test", "-p", "xtask", "--", "--nocapture"]);
        assert!(!no);
        assert_eq!(args, ["-p", "xtask", "--", "--nocapture"]);
        let (no, args) = parse(&["cargo xtask", "test", "--no-install", "--lib"]);
        assert!(no);
        assert_eq!(args, ["--lib"]);
        // clap takes a first `--` as its own separator, so test-binary arguments alone need
        // two (the help says so).
        let (_, args) = parse(&["cargo xtask", "test", "--", "--", "--nocapture"]);
        assert_eq!(args, ["--", "--nocapture"]);
    }

    #[test]
    fn os_release_families() {
        assert_eq!(
            os_from_release("ID=debian\nVERSION_ID=\"12\"\n"),
            Os::Debian
        );
        assert_eq!(os_from_release("ID=ubuntu\nID_LIKE=debian\n"), Os::Debian);
        assert_eq!(
            os_from_release("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"),
            Os::Debian
        );
        assert_eq!(os_from_release("ID=fedora\n"), Os::Fedora);
        assert_eq!(os_from_release("ID=arch\n"), Os::Other);
        assert_eq!(os_from_release(""), Os::Other);
    }
}
