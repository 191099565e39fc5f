//! End-to-end preflight tests: the real binary against copies of the repository layout, the
//! check-id snapshot, generated docs, report formats and release.toml validation.

use crate::support::{Run, Xtask, repo_root};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::git;
use xtask::checks::{ALL, CheckId};
use xtask::config::Config;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The binary with the closed environment of `support::Xtask`, run to the end.
fn xtask(args: &[&str]) -> Run {
    Xtask::new().args(args).run()
}

/// A committed copy of the repository layout: release.toml, docs/ and the given fixture
/// workflow as the publish workflow.
fn repo_copy(workflow: &str) -> tempfile::TempDir {
    crate::support::Layout::new()
        .docs()
        .workflow(fixtures().join("workflows").join(workflow))
        .commit()
}

fn line_of(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn check_ids_match_the_snapshot() {
    let golden = fixtures().join("check-ids.txt");
    let now: String = ALL.iter().map(|c| format!("{}\n", c.id())).collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &now).unwrap();
    }
    let snap = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        snap, now,
        "the check id list changed; ids are never renamed or reused (retire them in RETIRED). \
         If the change is intended, regenerate with `UPDATE_GOLDEN=1 cargo test -p xtask --test it check_ids` \
         and `cargo xtask docs-checks`"
    );
}

#[test]
fn docs_checks_md_is_current() {
    let on_disk =
        std::fs::read_to_string(repo_root().join(xtask::checkdocs::PATH)).unwrap_or_default();
    assert!(
        on_disk == xtask::checkdocs::render(),
        "docs/checks.md is stale; regenerate it with `cargo xtask docs-checks`"
    );
    xtask(&[
        "--repo",
        repo_root().to_str().unwrap(),
        "docs-checks",
        "--check",
    ])
    .expect(0, &[]);
}

#[test]
fn docs_checks_check_fails_when_stale() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join("release.toml"),
        dir.path().join("release.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/checks.md"), "old\n").unwrap();
    let root = dir.path().to_str().unwrap();
    xtask(&["--repo", root, "docs-checks", "--check"]).expect(1, &["cargo xtask docs-checks"]);
    xtask(&["--repo", root, "docs-checks"]).expect(0, &[]);
    xtask(&["--repo", root, "docs-checks", "--check"]).expect(0, &[]);
}

#[test]
fn the_repository_passes_its_offline_docs_checks() {
    xtask(&[
        "--repo",
        repo_root().to_str().unwrap(),
        "preflight",
        "--offline",
        "--only",
        "docs",
        "--only",
        "packages",
        "--only",
        "delivery",
    ])
    .expect(0, &[]);
}

#[test]
fn over_granting_workflow_fails_with_id_file_and_line() {
    let dir = repo_copy("overgrant-job.yml");
    let root = dir.path();
    let wf = root.join(".github/workflows/publish-images.yml");
    let t = xtask(&[
        "--repo",
        root.to_str().unwrap(),
        "preflight",
        "--offline",
        "--only",
        "workflow",
        "--only",
        "docs",
    ])
    .expect(1, &["workflow-permissions"])
    .text();
    let want = format!(
        ".github/workflows/publish-images.yml:{}",
        line_of(&wf, "id-token: write")
    );
    assert!(t.contains(&want), "expected {want} in:\n{t}");
}

#[test]
fn tag_pinned_customer_doc_fails_with_file_and_line() {
    let dir = repo_copy("good.yml");
    let root = dir.path();
    let doc = root.join("docs/customer/upgrade.md");
    std::fs::write(
        &doc,
        "# Upgrading\n\nPull the new image:\n\n    docker pull aisopsflow-core:1.2.3\n",
    )
    .unwrap();
    let t = xtask(&[
        "--repo",
        root.to_str().unwrap(),
        "preflight",
        "--offline",
        "--only",
        "workflow",
        "--only",
        "docs",
    ])
    .expect(1, &["docs-digest-pinning", "docs/customer/upgrade.md:5"])
    .text();
    // The good workflow passes: only the doc fails.
    assert!(!t.contains("FAIL   workflow-"), "{t}");

    // The same run as JSON and SARIF.
    let out = xtask(&[
        "--repo",
        root.to_str().unwrap(),
        "preflight",
        "--offline",
        "--only",
        "docs",
        "--format",
        "json",
    ]);
    out.expect(1, &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json report parses");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["summary"]["verdict"], "fail");
    let checks = v["checks"].as_array().unwrap();
    let bad = checks
        .iter()
        .find(|c| c["id"] == "docs-digest-pinning" && c["status"] == "fail")
        .unwrap();
    assert_eq!(bad["evidence"][0]["path"], "docs/customer/upgrade.md");
    assert_eq!(bad["evidence"][0]["line"], 5);
    assert!(
        checks
            .iter()
            .all(|c| c["id"].as_str().unwrap().starts_with("docs"))
    );

    let out = xtask(&[
        "--repo",
        root.to_str().unwrap(),
        "preflight",
        "--offline",
        "--only",
        "docs",
        "--format",
        "sarif",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("sarif parses");
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| r["ruleId"] == "docs-digest-pinning" && r["level"] == "error")
        .unwrap();
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "docs/customer/upgrade.md");
    assert_eq!(loc["region"]["startLine"], 5);
    assert!(
        !v["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"]
            .as_str()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn only_workflow_reports_only_workflow_checks() {
    let dir = repo_copy("good.yml");
    let out = xtask(&[
        "--repo",
        dir.path().to_str().unwrap(),
        "preflight",
        "--only",
        "workflow",
        "--format",
        "json",
    ]);
    out.expect(0, &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| i.starts_with("workflow")),
        "{ids:?}"
    );
}

#[test]
fn unknown_only_prefix_and_missing_repo_are_usage_errors() {
    xtask(&["--repo", "/nonexistent", "preflight"]).expect(2, &["/nonexistent"]);
    xtask(&[
        "--repo",
        repo_root().to_str().unwrap(),
        "preflight",
        "--only",
        "nosuch",
    ])
    .expect(2, &["workflow-permissions"]);
}

#[test]
fn attestations_are_recorded_and_validated() {
    let dir = repo_copy("good.yml");
    let root = dir.path().to_str().unwrap();
    let out = xtask(&[
        "--repo",
        root,
        "preflight",
        "--only",
        "manual",
        "--format",
        "json",
    ]);
    // Unattested manual checks fail nothing, but preflight is not ready without them (exit 4).
    out.expect_for("unattested manual checks make preflight not ready", 4, &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["summary"]["verdict"], "incomplete");
    assert_eq!(v["summary"]["attestations_missing"], 5);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "manual")
    );
    xtask(&[
        "--repo",
        root,
        "preflight",
        "--only",
        "manual",
        "--deny-warnings",
    ])
    .expect(1, &[]);

    let file = dir.path().join("attest.toml");
    let mut toml = String::new();
    for id in xtask::checks::manual::manual_ids() {
        toml.push_str(&format!(
            "[[attestation]]\nid = \"{}\"\nby = \"alice\"\nnote = \"checked\"\n\n",
            id.id()
        ));
    }
    std::fs::write(&file, toml).unwrap();
    let out = xtask(&[
        "--repo",
        root,
        "preflight",
        "--only",
        "manual",
        "--deny-warnings",
        "--attestations",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    out.expect(0, &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for c in v["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass");
        assert!(c["message"].as_str().unwrap().contains("attested by alice"));
    }
    xtask(&[
        "--repo",
        root,
        "preflight",
        "--only",
        "manual",
        "--attest",
        "manual-nope",
    ])
    .expect(2, &["manual-package-inheritance"]);
}

#[test]
fn changes_must_match_the_released_components() {
    let dir = repo_copy("good.yml");
    let root = dir.path();
    git(root, &["tag", "v1.0.0"]);
    std::fs::write(root.join("console/Dockerfile"), "FROM scratch\nLABEL x=1\n").unwrap();
    std::fs::write(root.join("core/main.txt"), "change\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "change console and core"]);
    let r = root.to_str().unwrap();
    xtask(&["--repo", r, "preflight", "--only", "changes"]).expect(
        1,
        &[
            "console: 1 input file(s) changed since v1.0.0",
            "console/Dockerfile",
        ],
    );
    // Runner is in every release but unchanged: a warning, which gates only with --deny-warnings.
    xtask(&[
        "--repo",
        r,
        "preflight",
        "--only",
        "changes",
        "--components",
        "console",
    ])
    .expect(
        0,
        &["runner: in the release but none of its inputs changed"],
    );
    xtask(&[
        "--repo",
        r,
        "preflight",
        "--only",
        "changes",
        "--components",
        "console",
        "--deny-warnings",
    ])
    .expect(1, &[]);
}

#[test]
fn first_release_passes_changes_with_a_note() {
    let dir = repo_copy("good.yml");
    xtask(&[
        "--repo",
        dir.path().to_str().unwrap(),
        "preflight",
        "--only",
        "changes",
    ])
    .expect(0, &["first release"]);
}

#[test]
fn notes_draft_must_name_commit_and_tags() {
    let dir = repo_copy("good.yml");
    let root = dir.path();
    let r = root.to_str().unwrap();
    let notes_check = [
        "--repo",
        r,
        "preflight",
        "--only",
        "notes",
        "--release",
        "1.2.3",
    ];
    xtask(&notes_check).expect(0, &["skip"]);
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let head = head.trim();
    let notes = root.join("docs/releases");
    std::fs::create_dir_all(&notes).unwrap();
    let mut draft = format!("# 1.2.3\n\nCommit: {head}\n\n");
    for p in [
        "aisopsflow-core",
        "aisopsflow-core-commercial",
        "aisopsflow-runner",
    ] {
        draft.push_str(&format!(
            "- ghcr.io/aisopsflow/{p}:1.2.3\n- ghcr.io/aisopsflow/{p}:sha-{}\n",
            &head[..7]
        ));
    }
    std::fs::write(notes.join("1.2.3.draft.md"), &draft).unwrap();
    xtask(&notes_check).expect(1, &["aisopsflow-runner-commercial:1.2.3"]);
    draft.push_str(&format!("- ghcr.io/aisopsflow/aisopsflow-runner-commercial:1.2.3\n- ghcr.io/aisopsflow/aisopsflow-runner-commercial:sha-{}\n", &head[..7]));
    std::fs::write(notes.join("1.2.3.draft.md"), &draft).unwrap();
    xtask(&notes_check).expect(0, &[]);
}

// --- release.toml validation (issue 2 item 7) ---

fn real_toml() -> String {
    std::fs::read_to_string(repo_root().join("release.toml")).unwrap()
}

fn parse(text: &str) -> anyhow::Result<Config> {
    Config::parse(text, Path::new("/repo/release.toml"), Path::new("/repo"))
}

fn assert_config_error(text: &str, key: &str) {
    let err = parse(text).expect_err("invalid config must be rejected");
    let msg = format!("{err:#}");
    assert_eq!(xtask::exit::code_for(&err), 2, "{msg}");
    assert!(msg.contains("/repo/release.toml"), "names the file: {msg}");
    assert!(msg.contains(key), "names the key {key}: {msg}");
    assert!(msg.contains("fix"), "gives the fix: {msg}");
}

#[test]
fn the_real_release_toml_loads() {
    let cfg = parse(&real_toml()).unwrap();
    assert_eq!(cfg.all_images().len(), 6);
}

#[test]
fn invalid_release_toml_names_file_key_and_fix() {
    let t = real_toml();
    assert_config_error(&t.replace("org = \"aisopsflow\"\n", ""), "org");
    assert_config_error(
        &t.replace("[registry]\n", "[registry]\nmirror = \"x\"\n"),
        "mirror",
    );
    assert_config_error(
        &t.replace(
            "package = \"aisopsflow-{component}-commercial\"",
            "package = \"aisopsflow-{component}\"",
        ),
        "editions.",
    );
    assert_config_error(
        &t.replace(
            "package = \"aisopsflow-{component}-commercial\"",
            "package = \"aisopsflow-{component}-pro\"",
        ),
        "packages.allowed",
    );
    assert_config_error(
        &t.replace("release = \"v{semver}\"", "release = \"v-version\""),
        "tags.release",
    );
    assert_config_error(
        &t.replace(
            "https://github.com/aisopsflow/aisopsflow-sdk",
            "https://github.com/aisopsflow/aisopsflow-enterprise",
        ),
        "customer.sdk_repository",
    );
}

#[test]
fn every_check_id_is_known_by_preflight_or_verify() {
    // Guards the `--only` validation: every preflight id is selectable by its own id.
    for c in ALL {
        if xtask::preflight::runs(*c) {
            assert!(xtask::preflight::validate_only(&[c.id().to_string()]).is_ok());
        }
    }
    assert!(CheckId::from_id("workflow-permissions").is_some());
}
