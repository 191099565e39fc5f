//! The one runner of the binary: [`Xtask`], with a closed environment, and [`Run`], what a
//! run did, with [`Run::expect`] to assert its exit code and what its output names.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

    /// Runs to the end: what the run did.
    pub fn run(self) -> Run {
        Run::from(&self.output())
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

/// What one run of the binary did: its exit code (-1 when a signal ended it), stdout and
/// stderr.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<&Output> for Run {
    fn from(o: &Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// stdout then stderr.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code is `code` and that stdout or stderr names every needle; on a
    /// mismatch the test fails showing both streams. Returns the run, for what the test
    /// asserts next.
    #[track_caller]
    pub fn expect(&self, code: i32, needles: &[&str]) -> &Run {
        self.expect_for("", code, needles)
    }

    /// [`expect`](Run::expect), with `what` ran (a case of a loop) named in a failure.
    #[track_caller]
    pub fn expect_for(&self, what: &str, code: i32, needles: &[&str]) -> &Run {
        let shown = || {
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(" [{what}]")
            };
            format!(
                "{what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.stdout, self.stderr
            )
        };
        assert_eq!(self.code, code, "exit code{}", shown());
        let text = self.text();
        for n in needles {
            assert!(
                text.contains(n),
                "the output does not name {n:?}{}",
                shown()
            );
        }
        self
    }
}
