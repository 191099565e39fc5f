//! Operator conventions, through the binary: `--version`, `-q/--quiet`, `--color` with
//! NO_COLOR / CLICOLOR / CLICOLOR_FORCE, `--format github` (workflow commands) and the step
//! summary written when GITHUB_STEP_SUMMARY is set.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::repo_root as root;

/// The xtask binary with the closed environment of `support::Xtask`, without its `NO_COLOR`
/// (so no colour setting, `CI` or GitHub Actions variable of the caller's reaches it), on a
/// colour terminal type.
fn xtask() -> crate::support::Closed<Command> {
    crate::support::Xtask::new()
        .without("NO_COLOR")
        .env("TERM", "xterm-256color")
        .into_std()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A workspace whose publish workflow is the corpus fixture `name` (offline checks only).
fn workspace_with_workflow(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["Cargo.toml", "release.toml"] {
        std::fs::copy(root().join(f), dir.path().join(f)).unwrap();
    }
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::copy(
        root().join("xtask/tests/fixtures/workflows").join(name),
        wf.join("publish-images.yml"),
    )
    .unwrap();
    dir
}

fn preflight(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = xtask();
    cmd.args(extra)
        .args(["preflight", "--offline", "--only", "workflow", "--repo"])
        .arg(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn version_prints_the_package_version() {
    let out = xtask().arg("--version").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("cargo xtask {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn quiet_drops_status_lines_and_conflicts_with_verbose() {
    let run = |args: &[&str]| {
        let out = xtask()
            .args(args)
            .args(["docs-checks", "--check", "--repo"])
            .arg(root())
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stdout, _) = run(&[]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("is current"), "{stdout}");
    for q in ["-q", "--quiet"] {
        let (code, stdout, stderr) = run(&[q]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(stdout, "", "{q}");
        assert_eq!(stderr, "", "{q}");
    }
    let (code, _, stderr) = run(&["-q", "-v"]);
    assert_eq!(code, Some(2), "usage error: {stderr}");
    assert!(
        stderr.contains("--quiet") && stderr.contains("--verbose"),
        "{stderr}"
    );
}

#[test]
fn color_follows_the_flag_then_no_color_clicolor_and_clicolor_force() {
    let ws = workspace_with_workflow("overgrant-top.yml");
    let colored = |extra: &[&str], env: &[(&str, &str)]| {
        let out = preflight(ws.path(), extra, env);
        text(&out.stdout).contains("\x1b[")
    };
    // stdout is a pipe here, so `auto` means no colour unless CLICOLOR_FORCE says so.
    assert!(!colored(&[], &[]));
    assert!(colored(&["--color", "always"], &[]));
    assert!(colored(&["--color=always"], &[("NO_COLOR", "1")]));
    assert!(!colored(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    assert!(colored(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!colored(&[], &[("CLICOLOR_FORCE", "0")]));
    assert!(!colored(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(colored(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]));
    let bad = preflight(ws.path(), &["--color", "sometimes"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}

#[test]
fn format_github_annotates_the_workflow_file_and_line() {
    let ws = workspace_with_workflow("overgrant-top.yml");
    let out = preflight(ws.path(), &[], &[]);
    let human_code = out.status.code();
    let out = {
        let mut cmd = xtask();
        cmd.args([
            "preflight",
            "--offline",
            "--only",
            "workflow",
            "--format",
            "github",
            "--repo",
        ])
        .arg(ws.path());
        cmd.output().unwrap()
    };
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        human_code,
        "same verdict as the human report"
    );
    let fixture =
        std::fs::read_to_string(root().join("xtask/tests/fixtures/workflows/overgrant-top.yml"))
            .unwrap();
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert!(!commands.is_empty(), "{stdout}");
    for c in &commands {
        // ::error|warning|notice props::message, the message escaped onto one line.
        let (head, message) = c[2..].split_once("::").expect("a command and its message");
        let (kind, props) = head.split_once(' ').unwrap_or((head, ""));
        assert!(matches!(kind, "error" | "warning" | "notice"), "{c}");
        assert!(props.contains("title="), "{c}");
        assert!(!message.is_empty(), "{c}");
        if let Some(file) = props.split(',').find_map(|p| p.strip_prefix("file=")) {
            assert_eq!(file, ".github/workflows/publish-images.yml", "{c}");
            let line: usize = props
                .split(',')
                .find_map(|p| p.strip_prefix("line="))
                .expect("a line with the file")
                .parse()
                .unwrap();
            assert!(line >= 1 && line <= fixture.lines().count(), "{c}");
        }
    }
    assert!(
        commands
            .iter()
            .any(|c| c.contains("file=.github/workflows/publish-images.yml,line=")),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("preflight: ") && last.contains(" pass"),
        "{last}"
    );
}

#[test]
fn step_summary_is_appended_when_github_step_summary_is_set() {
    let ws = workspace_with_workflow("overgrant-top.yml");
    let summary = ws.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = preflight(
        ws.path(),
        &[],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n### `cargo xtask preflight`: "),
        "{md}"
    );
    let verdict = if out.status.code() == Some(0) {
        "passed"
    } else {
        "failed"
    };
    assert!(
        md.contains(&format!("`cargo xtask preflight`: {verdict}")),
        "{md}"
    );
    assert!(
        md.contains("| pass | fail | warn | skip | manual |\n|---|---|---|---|---|\n| "),
        "{md}"
    );
    assert!(
        md.contains("| `workflow-"),
        "the workflow finding is listed: {md}"
    );
    // Without the variable nothing is written anywhere.
    let before = std::fs::read_to_string(&summary).unwrap();
    preflight(ws.path(), &[], &[]);
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), before);
}
