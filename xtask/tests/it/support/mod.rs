//! The one test-support layer of the integration tests: the workspace root, a tree copy, git
//! with the test identity, and the binary runner with a closed environment.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The root of this workspace (the directory holding release.toml).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent: the workspace root")
        .to_path_buf()
}

/// Copies the tree at `from` to `to` (directories and regular files), creating `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// The identity test commits and tags are made with, whatever the machine's git config says.
pub fn git_identity() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_AUTHOR_NAME", "release tester"),
        ("GIT_AUTHOR_EMAIL", "tester@example.test"),
        ("GIT_COMMITTER_NAME", "release tester"),
        ("GIT_COMMITTER_EMAIL", "tester@example.test"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ]
}

/// Runs git in `dir` with the test identity; fails the test with git's stderr on error and
/// returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(git_identity())
        .output()
        .expect("git is installed (apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The real `xtask` binary with a CLOSED environment: the caller's environment is cleared,
/// and the run gets only `PATH`, an empty temporary `HOME`, `NO_COLOR=1`, and what the test
/// sets with [`Xtask::env`]. So no developer's
/// `GITHUB_TOKEN`/`GH_TOKEN`, docker config, `DOCKER_HOST` or registry setting can change an
/// outcome. A test that needs the engine passes `DOCKER_HOST` on explicitly when
/// the caller has one.
pub struct Xtask {
    cmd: Command,
    // Kept alive for the run: the temporary HOME.
    _home: tempfile::TempDir,
}

impl Xtask {
    pub fn new() -> Self {
        let home = tempfile::tempdir().expect("a temporary HOME");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.env_clear()
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        Xtask { cmd, _home: home }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    /// The variables the run will see (for the test that proves the closure).
    pub fn environment(&self) -> Vec<(OsString, OsString)> {
        self.cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_os_string(), v?.to_os_string())))
            .collect()
    }

    /// Starts the run with piped stdout and stderr; the temporary HOME lives as long as the
    /// returned guard.
    pub fn spawn(mut self) -> (std::process::Child, tempfile::TempDir) {
        let child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the xtask binary");
        (child, self._home)
    }

    /// Removes a variable the runner sets itself (`NO_COLOR`, for the colour tests).
    pub fn without(mut self, k: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// The caller's value of `k`, passed on explicitly where the caller has one (`USER`,
    /// which the notes name; `DOCKER_HOST` for a test that needs the engine).
    pub fn pass(self, k: &str) -> Self {
        match std::env::var_os(k) {
            Some(v) => self.env(k, v),
            None => self,
        }
    }

    /// The Rust toolchain's homes, for a run that compiles (an image build, a rehearsal):
    /// `CARGO_HOME` and `RUSTUP_HOME` as the caller has them, or where rustup puts them under
    /// the caller's HOME. Only where the toolchain is, never the caller's other settings.
    pub fn toolchain(self) -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut me = self;
        for (k, dir) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            let v =
                std::env::var_os(k).or_else(|| home.as_ref().map(|h| h.join(dir).into_os_string()));
            if let Some(v) = v {
                me = me.env(k, v);
            }
        }
        me
    }

    pub fn output(mut self) -> Output {
        self.cmd.output().expect("running the xtask binary")
    }

    /// The same closed command as a std `Command` (to spawn, pipe or signal), holding the
    /// temporary HOME for as long as it lives.
    pub fn into_std(self) -> Closed<Command> {
        Closed {
            cmd: self.cmd,
            _home: self._home,
        }
    }

    /// The same closed command for tokio (killed on drop), holding the temporary HOME.
    pub fn into_tokio(self) -> Closed<tokio::process::Command> {
        let mut cmd = tokio::process::Command::from(self.cmd);
        cmd.kill_on_drop(true);
        Closed {
            cmd,
            _home: self._home,
        }
    }
}

/// A command with the closed environment of [`Xtask`], and the temporary HOME it runs with:
/// keep it alive until the child ends.
pub struct Closed<C> {
    cmd: C,
    _home: tempfile::TempDir,
}

impl<C> std::ops::Deref for Closed<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.cmd
    }
}

impl<C> std::ops::DerefMut for Closed<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.cmd
    }
}

impl Default for Xtask {
    fn default() -> Self {
        Self::new()
    }
}

/// stdout then stderr of a run, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one gate of the tests that need the local parts. Returns `true` (the test returns at
/// once) only when `AISOPSFLOW_SKIP_DOCKER=1`, and says so loudly with `what` it skips;
/// otherwise fails the test, naming how to get it, when one of `parts` is missing: a program on
/// `PATH`, or `"engine"` for a Docker engine that answers. `cargo xtask test` provisions them
/// all first (`xtask/src/setup.rs`), so this fails only under a bare `cargo test` on a machine
/// that lacks them.
pub fn skip_docker(what: &str, parts: &[&str]) -> bool {
    if std::env::var("AISOPSFLOW_SKIP_DOCKER").as_deref() == Ok("1") {
        eprintln!("\n!!!! SKIPPED {what}: AISOPSFLOW_SKIP_DOCKER=1 !!!!\n");
        return true;
    }
    for part in parts {
        if *part == "engine" {
            let engine = Command::new("docker").arg("info").output();
            assert!(
                engine.is_ok_and(|o| o.status.success()),
                "no Docker engine answers: run the tests with `cargo xtask test`, which starts one (as root) or names the install command (or set AISOPSFLOW_SKIP_DOCKER=1 to skip, loudly)"
            );
            continue;
        }
        // Where the binary is missing, setup may run the registry as an image instead.
        let found = (*part == "docker-registry"
            && std::env::var_os(xtask::setup::ENV_REGISTRY_IMAGE).is_some())
            || std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(part).is_file()));
        assert!(
            found,
            "`{part}` is not on PATH: run the tests with `cargo xtask test`, which installs it (as root on Debian/Ubuntu) or names the install command (or set AISOPSFLOW_SKIP_DOCKER=1 to skip, loudly)"
        );
    }
    false
}

/// The one builder of the repository layout the release tools read: `release.toml` from this
/// repository and a `FROM scratch` Dockerfile per component, plus what a test asks for. Then
/// `commit` makes it a git repository on `main` with one commit.
pub struct Layout {
    docs: bool,
    workflow: Option<PathBuf>,
    cargo_stub: bool,
    files: Vec<(String, String)>,
}

impl Layout {
    pub fn new() -> Layout {
        Layout {
            docs: false,
            workflow: None,
            cargo_stub: false,
            files: Vec::new(),
        }
    }

    /// This repository's `docs/` (customer docs, package READMEs, release notes).
    pub fn docs(mut self) -> Layout {
        self.docs = true;
        self
    }

    /// `from` as `.github/workflows/publish-images.yml`.
    pub fn workflow(mut self, from: impl AsRef<Path>) -> Layout {
        self.workflow = Some(from.as_ref().to_path_buf());
        self
    }

    /// A `Cargo.toml` of an empty workspace (so nothing above the layout is mistaken for it).
    pub fn cargo_stub(mut self) -> Layout {
        self.cargo_stub = true;
        self
    }

    /// One more file, `rel` under the root.
    pub fn file(mut self, rel: &str, content: &str) -> Layout {
        self.files.push((rel.to_string(), content.to_string()));
        self
    }

    /// Writes the layout under `root` (created if missing).
    pub fn write(&self, root: &Path) {
        let real = repo_root();
        std::fs::create_dir_all(root).unwrap();
        std::fs::copy(real.join("release.toml"), root.join("release.toml")).unwrap();
        if self.cargo_stub {
            std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        }
        if self.docs {
            copy_tree(&real.join("docs"), &root.join("docs"));
        }
        if let Some(from) = &self.workflow {
            std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
            std::fs::copy(from, root.join(".github/workflows/publish-images.yml")).unwrap();
        }
        for c in ["core", "runner", "console"] {
            std::fs::create_dir_all(root.join(c)).unwrap();
            std::fs::write(root.join(c).join("Dockerfile"), "FROM scratch\n").unwrap();
        }
        for (rel, content) in &self.files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
    }

    /// Writes the layout under `root` and commits it on `main` with `message`.
    pub fn commit_in(&self, root: &Path, message: &str) {
        self.write(root);
        git(root, &["-c", "init.defaultBranch=main", "init", "-q"]);
        git(root, &["add", "."]);
        git(root, &["commit", "-qm", message]);
    }

    /// The layout in a new temporary directory, committed as "initial".
    pub fn commit(self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        self.commit_in(dir.path(), "initial");
        dir
    }
}
