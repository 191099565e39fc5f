//! Build script for `aisopsflow-core`: it owns the version and commit that every component embeds.
//!
//! Release builds (the Dockerfiles and xtask) pass `AISOPSFLOW_VERSION` and `AISOPSFLOW_COMMIT`
//! explicitly, because a Docker build context usually has no `.git` directory. Developer builds
//! fall back to the package version and to `git rev-parse HEAD`. The validated values reach the
//! library as `AISOPSFLOW_BUILD_VERSION` and `AISOPSFLOW_BUILD_COMMIT`; different names from the
//! inputs make it obvious that the library only ever sees values this script has checked.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

/// The commit we embed when neither the environment nor git can tell us. Forty zeros keep the
/// format uniform, so consumers never need a special case for "unknown".
const UNKNOWN_COMMIT: &str = "0000000000000000000000000000000000000000";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=AISOPSFLOW_VERSION");
    println!("cargo::rerun-if-env-changed=AISOPSFLOW_COMMIT");

    let version = match non_empty_env("AISOPSFLOW_VERSION") {
        Some(version) => {
            if let Err(why) = check_semver(&version) {
                fail(&format!(
                    "AISOPSFLOW_VERSION={version:?} is not a semantic version ({why}); \
                     expected something like 1.2.3 or 1.2.3-rc.1, without a leading 'v'"
                ));
            }
            version
        }
        None => env::var("CARGO_PKG_VERSION").expect("cargo always sets CARGO_PKG_VERSION"),
    };

    let commit = match non_empty_env("AISOPSFLOW_COMMIT") {
        Some(commit) => {
            if !is_full_sha1(&commit) {
                fail(&format!(
                    "AISOPSFLOW_COMMIT={commit:?} is not a full commit id; expected exactly 40 \
                     lowercase hexadecimal characters, as printed by `git rev-parse HEAD`"
                ));
            }
            commit
        }
        None => commit_from_git().unwrap_or_else(|| UNKNOWN_COMMIT.to_owned()),
    };

    println!("cargo::rustc-env=AISOPSFLOW_BUILD_VERSION={version}");
    println!("cargo::rustc-env=AISOPSFLOW_BUILD_COMMIT={commit}");
}

/// Reads an environment variable, treating an empty value as unset. Docker passes an empty string
/// for a declared but unset build argument, and that must mean "use the default", not "invalid".
fn non_empty_env(name: &str) -> Option<String> {
    match env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
        Ok(_) => None,
        Err(env::VarError::NotPresent) => None,
        Err(env::VarError::NotUnicode(_)) => fail(&format!("{name} is not valid UTF-8")),
    }
}

fn fail(message: &str) -> ! {
    // Cargo prints a failed build script's stderr, so this is the message the user sees.
    eprintln!("error: {message}");
    exit(1);
}

fn is_full_sha1(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks `text` against the grammar of semver.org 2.0.0, so that a typo in a release pipeline
/// fails the build instead of shipping an image whose version nothing else can parse.
fn check_semver(text: &str) -> Result<(), String> {
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };

    let numbers: Vec<&str> = core.split('.').collect();
    if numbers.len() != 3 {
        return Err("it needs exactly MAJOR.MINOR.PATCH".into());
    }
    for number in numbers {
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{number:?} is not a number"));
        }
        if number.len() > 1 && number.starts_with('0') {
            return Err(format!("{number:?} has a leading zero"));
        }
    }

    if let Some(pre) = pre {
        for ident in pre.split('.') {
            check_identifier(ident, "pre-release")?;
            if ident.bytes().all(|b| b.is_ascii_digit())
                && ident.len() > 1
                && ident.starts_with('0')
            {
                return Err(format!(
                    "pre-release identifier {ident:?} has a leading zero"
                ));
            }
        }
    }
    if let Some(build) = build {
        for ident in build.split('.') {
            check_identifier(ident, "build metadata")?;
        }
    }
    Ok(())
}

fn check_identifier(ident: &str, what: &str) -> Result<(), String> {
    if ident.is_empty() {
        return Err(format!("{what} has an empty identifier"));
    }
    if !ident
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "{what} identifier {ident:?} may only use [0-9A-Za-z-]"
        ));
    }
    Ok(())
}

/// Asks git for the commit of the checkout this crate lives in. Any failure (no git binary, no
/// repository, no commit yet) yields `None`, because a missing commit must not break a build.
fn commit_from_git() -> Option<String> {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    watch_git_head(&dir);
    let commit = git(&dir, &["rev-parse", "HEAD"])?;
    if is_full_sha1(&commit) {
        Some(commit)
    } else {
        // A SHA-256 repository prints 64 characters; we keep the documented 40-hex format.
        println!("cargo::warning=git rev-parse HEAD printed {commit:?}, which is not 40 hex");
        None
    }
}

/// Makes cargo rerun this script when HEAD moves, so a developer build never reports a stale
/// commit. We watch HEAD itself (branch switches) and the file of the branch it points to (new
/// commits). The branch file is watched even when it does not exist yet (a repository with no
/// commits, or a packed ref): cargo then reruns the script on every build, which is cheap and
/// errs on the side of a correct commit.
fn watch_git_head(dir: &Path) {
    let Some(head) = git(dir, &["rev-parse", "--git-path", "HEAD"]) else {
        return;
    };
    println!("cargo::rerun-if-changed={}", dir.join(head).display());

    let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) else {
        // A detached HEAD stores the commit in HEAD itself, which we already watch.
        return;
    };
    if let Some(loose) = git(dir, &["rev-parse", "--git-path", &branch]) {
        println!("cargo::rerun-if-changed={}", dir.join(loose).display());
    }
    if let Some(packed) = git(dir, &["rev-parse", "--git-path", "packed-refs"]) {
        let packed = dir.join(packed);
        if packed.exists() {
            println!("cargo::rerun-if-changed={}", packed.display());
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
