//! Project conventions, enforced by `cargo test` (after rust-analyzer's tidy tests).
//!
//! Files are listed with `git ls-files` when the workspace is a git checkout, else by walking
//! the tree. Every failure names `path:line` and the fix.

use std::path::{Path, PathBuf};

use crate::checks::ALL;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// Relative paths of the workspace's files (tracked files in a git checkout).
fn files(root: &Path) -> Vec<String> {
    if let Some(list) = crate::effects::git::ls_files(root) {
        return list;
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name() != "target" && e.file_name() != ".git" {
                    stack.push(p);
                }
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

fn rust_sources(root: &Path) -> Vec<String> {
    const DIRS: [&str; 4] = ["xtask/src/", "core/src/", "runner/src/", "console/src/"];
    files(root)
        .into_iter()
        .filter(|f| f.ends_with(".rs") && DIRS.iter().any(|d| f.starts_with(d)))
        .collect()
}

#[test]
fn every_source_file_has_a_module_doc() {
    let root = root();
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        if !text.trim_start().starts_with("//!") {
            bad.push(format!(
                "{f}:1: add a `//!` comment saying what this file owns"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "files without a module doc:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_dbg_macro() {
    let root = root();
    // Built at run time so this file does not flag itself.
    let needle = format!("{}!(", "dbg");
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if line.contains(&needle) {
                bad.push(format!("{f}:{}: remove the debugging macro", i + 1));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_check_id_is_documented() {
    let root = root();
    let path = root.join(crate::checkdocs::PATH);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let missing: Vec<String> = ALL
        .iter()
        .filter(|c| !text.contains(&format!("### {}\n", c.id())))
        .map(|c| format!("{}: no section for `{}`", crate::checkdocs::PATH, c.id()))
        .collect();
    assert!(
        missing.is_empty(),
        "{}\nfix: run `{}`",
        missing.join("\n"),
        crate::checkdocs::REGENERATE
    );
}

#[test]
fn generated_checks_doc_is_current() {
    assert!(
        crate::checkdocs::is_current(&root()),
        "{}:1: stale; fix: run `{}` and commit the result",
        crate::checkdocs::PATH,
        crate::checkdocs::REGENERATE
    );
}
