//! The git adapter, through the `git` CLI: reads for checks and planning, and the two writes a
//! release makes (an annotated tag, and a push of exactly that tag).
//!
//! We shell out instead of linking libgit2 (git2) to save ~100 s of cold build, and because
//! the operator's git already knows their configuration: credentials, SSH and tag signing
//! work as they do on the command line.
//!
//! The same configuration can change what git prints, so every call goes through [`command`],
//! which pins what we parse whatever the operator's (or the repository's) config says:
//! no colour, no columns, no pager, no signature text in `log`/`show` output, unquoted paths,
//! the C locale, and no diff paths relative to a subdirectory. Paths are read with `-z`, tags
//! with `for-each-ref`, and tags are created with `--cleanup=verbatim` so that no
//! `core.commentChar` can strip a line of the message. Under `--yes` or in CI git never waits
//! for a terminal prompt (`GIT_TERMINAL_PROMPT=0`). A repository git refuses for dubious
//! ownership is reported with the `safe.directory` command that admits it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

use crate::exit::usage;

/// Configuration that overrides whatever changes the output we parse. Command-line `-c`
/// wins over every config file (system, global, repository, worktree, includes).
pub(crate) const PINNED_CONFIG: &[&str] = &[
    "color.ui=never",
    "color.diff=never",
    "color.status=never",
    "color.branch=never",
    "column.ui=never",
    "column.tag=never",
    "column.status=never",
    "log.showSignature=false",
    "core.quotepath=off",
    "core.pager=cat",
    "diff.relative=false",
    "status.relativePaths=false",
    "i18n.logOutputEncoding=UTF-8",
];

static NON_INTERACTIVE: AtomicBool = AtomicBool::new(false);

/// Declares the run unattended (`--yes`): git must fail instead of prompting for credentials.
pub fn set_non_interactive() {
    NON_INTERACTIVE.store(true, Ordering::Relaxed);
}

/// Whether git may prompt: never under `--yes` or in CI (`CI` set and not `false`).
pub(crate) fn non_interactive() -> bool {
    NON_INTERACTIVE.load(Ordering::Relaxed)
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
        || std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// A `git` command in `root` with the pinned configuration and environment. Every git call
/// of the product is built here.
pub fn command(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.current_dir(root).arg("--no-pager");
    for kv in PINNED_CONFIG {
        c.arg("-c").arg(kv);
    }
    c.args(args)
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env_remove("LANGUAGE")
        .env("GIT_PAGER", "cat")
        .env("PAGER", "cat")
        .env_remove("GIT_EXTERNAL_DIFF")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null());
    if non_interactive() {
        // An askpass program or credential helper still answers; only the terminal prompt,
        // which would hang an unattended run, is refused.
        c.env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never");
    }
    c
}

/// What one git call gave.
struct Ran {
    ok: bool,
    stdout: Vec<u8>,
    stderr: String,
}

fn run_raw(root: &Path, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Ran> {
    let mut c = command(root, args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    }
    let mut child = c
        .spawn()
        .context("running git (is it installed? apt-get install git)")?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes())
            .context("writing to git's stdin")?;
    }
    let out = child.wait_with_output().context("waiting for git")?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        refused_ownership(root, &stderr)?;
    }
    Ok(Ran {
        ok: out.status.success(),
        stdout: out.stdout,
        stderr,
    })
}

/// The `safe.directory` error, when git refused the repository for dubious ownership.
fn refused_ownership(root: &Path, stderr: &str) -> anyhow::Result<()> {
    if !stderr.contains("dubious ownership") {
        return Ok(());
    }
    // git names the directory it refuses in its own advice; fall back to the root we ran in.
    let dir = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("git config --global --add safe.directory ")
        })
        .map(|d| d.trim().to_string())
        .unwrap_or_else(|| root.display().to_string());
    Err(usage(format!(
        "git refuses the repository at {dir}: it is owned by another user (\"dubious ownership\"); if you trust it, run `git config --global --add safe.directory {dir}` and rerun"
    )))
}

/// Runs git and returns stdout; a failure carries git's stderr and `what`.
fn read(root: &Path, args: &[&str], what: &str) -> anyhow::Result<Vec<u8>> {
    let r = run_raw(root, args, None)?;
    if !r.ok {
        anyhow::bail!(
            "{what} in {}: git {}: {}",
            root.display(),
            args.join(" "),
            r.stderr
        );
    }
    Ok(r.stdout)
}

/// stdout as text (lossy), for output that holds no paths.
fn read_text(root: &Path, args: &[&str], what: &str) -> anyhow::Result<String> {
    Ok(String::from_utf8_lossy(&read(root, args, what)?).into_owned())
}

/// NUL-separated records of `-z` output.
fn split_z(out: &[u8]) -> Vec<String> {
    out.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Whether `root` is inside a git work tree. A repository git refuses (dubious ownership) is
/// an error naming the `safe.directory` fix, not "not a repository".
pub(crate) fn is_repo(root: &Path) -> anyhow::Result<bool> {
    let r = run_raw(root, &["rev-parse", "--is-inside-work-tree"], None)?;
    Ok(r.ok && String::from_utf8_lossy(&r.stdout).trim() == "true")
}

/// The full 40-hex commit of `rev` (e.g. `HEAD`).
pub(crate) fn rev_parse(root: &Path, rev: &str) -> anyhow::Result<String> {
    match try_rev_parse(root, rev)? {
        Some(sha) => Ok(sha),
        None => Err(usage(format!(
            "resolving `{rev}` in {}: no such commit; run inside a git checkout with at least one commit",
            root.display()
        ))),
    }
}

/// HEAD's full commit.
pub fn head(root: &Path) -> anyhow::Result<String> {
    rev_parse(root, "HEAD")
}

/// Tags whose commits are ancestors of (or equal to) HEAD, read with `for-each-ref` (one NUL
/// per name) rather than `git tag --merged`, whose listing `column.ui` can reflow.
pub fn tags_merged_into_head(root: &Path) -> anyhow::Result<Vec<String>> {
    let out = read(
        root,
        &[
            "for-each-ref",
            "--merged=HEAD",
            "--format=%(refname)%00",
            "refs/tags/",
        ],
        "listing tags merged into HEAD",
    )?;
    Ok(split_z(&out)
        .into_iter()
        .filter_map(|r| r.trim().strip_prefix("refs/tags/").map(String::from))
        .collect())
}

/// Every tag name in the repository (`refs/tags/*`).
pub fn tags(root: &Path) -> anyhow::Result<Vec<String>> {
    let out = read(
        root,
        &["for-each-ref", "--format=%(refname)%00", "refs/tags/"],
        "listing tags",
    )?;
    Ok(split_z(&out)
        .into_iter()
        .filter_map(|r| r.trim().strip_prefix("refs/tags/").map(String::from))
        .collect())
}

/// Whether the repository is a shallow clone (history cut off at a depth).
pub(crate) fn is_shallow(root: &Path) -> anyhow::Result<bool> {
    let out = read_text(
        root,
        &["rev-parse", "--is-shallow-repository"],
        "asking whether the clone is shallow",
    )?;
    Ok(out.trim() == "true")
}

/// The URL of `remote`, or `None` when no such remote is configured.
pub(crate) fn remote_url(root: &Path, remote: &str) -> anyhow::Result<Option<String>> {
    let r = run_raw(
        root,
        &["remote", "get-url", "--end-of-options", remote],
        None,
    )?;
    let url = String::from_utf8_lossy(&r.stdout).trim().to_string();
    Ok((r.ok && !url.is_empty()).then_some(url))
}

/// Files changed between `from` and `to` (commits or tags), as paths relative to the root,
/// read with `-z` so no path is quoted or escaped.
pub fn changed_files(root: &Path, from: &str, to: &str) -> anyhow::Result<Vec<String>> {
    let range = format!("{from}..{to}");
    let out = read(
        root,
        &[
            "diff",
            "-z",
            "--name-only",
            "--no-renames",
            "--no-ext-diff",
            "--no-relative",
            &range,
            "--",
        ],
        &format!("diffing {range}"),
    )?;
    Ok(split_z(&out))
}

/// Files git tracks (for tidy checks); `None` when `root` is not a git work tree.
#[cfg(test)]
pub(crate) fn ls_files(root: &Path) -> Option<Vec<String>> {
    let r = run_raw(root, &["ls-files", "-z"], None).ok()?;
    r.ok.then(|| split_z(&r.stdout))
}

/// The full commit of `rev`, or `None` when it does not resolve.
pub fn try_rev_parse(root: &Path, rev: &str) -> anyhow::Result<Option<String>> {
    let spec = format!("{rev}^{{commit}}");
    let r = run_raw(root, &["rev-parse", "--verify", "--quiet", &spec], None)?;
    let text = String::from_utf8_lossy(&r.stdout).trim().to_string();
    Ok((r.ok && text.len() == 40).then_some(text))
}

/// The current branch, or `None` when HEAD is detached.
pub fn branch(root: &Path) -> anyhow::Result<Option<String>> {
    let r = run_raw(root, &["symbolic-ref", "--quiet", "--short", "HEAD"], None)?;
    let text = String::from_utf8_lossy(&r.stdout).trim().to_string();
    Ok((r.ok && !text.is_empty()).then_some(text))
}

/// `git status --porcelain` entries (untracked files included), one `XY path` per entry
/// (`XY old -> new` for a rename), read with `-z` so paths are never quoted.
pub fn status(root: &Path) -> anyhow::Result<Vec<String>> {
    let out = read(
        root,
        &["status", "--porcelain", "-z", "--untracked-files=all"],
        "reading git status",
    )?;
    Ok(porcelain_z(&out))
}

/// Parses `status --porcelain -z`: a rename or copy (`R`/`C` in either column) is followed by
/// its source path as the next record.
fn porcelain_z(out: &[u8]) -> Vec<String> {
    let mut records = split_z(out).into_iter();
    let mut lines = Vec::new();
    while let Some(rec) = records.next() {
        let xy = rec.get(..2).unwrap_or_default();
        if xy.contains(['R', 'C']) {
            let from = records.next().unwrap_or_default();
            lines.push(format!(
                "{xy} {from} -> {}",
                rec.get(3..).unwrap_or_default()
            ));
        } else {
            lines.push(rec);
        }
    }
    lines
}

/// Refs on `remote` matching `patterns`, with annotated tags peeled to their commits
/// (`git ls-remote` prints `<sha> refs/tags/x` and `<commit> refs/tags/x^{}`).
pub fn ls_remote(
    root: &Path,
    remote: &str,
    patterns: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    // An exact pattern (`refs/tags/v1.2.3`) does not match the peeled line
    // (`refs/tags/v1.2.3^{}`), so ask for that line too.
    let patterns: Vec<String> = patterns
        .iter()
        .flat_map(|p| [p.clone(), format!("{p}^{{}}")])
        .collect();
    let mut args = vec!["ls-remote", "--end-of-options", remote];
    args.extend(patterns.iter().map(String::as_str));
    let r = run_raw(root, &args, None)?;
    if !r.ok {
        return Err(crate::exit::external(format!(
            "listing refs of remote `{remote}` failed: {}; check `git remote -v` and your credentials (git fetch {remote} should work)",
            r.stderr
        )));
    }
    let out = String::from_utf8_lossy(&r.stdout);
    let mut refs = std::collections::BTreeMap::new();
    let mut peeled = std::collections::BTreeMap::new();
    for line in out.lines() {
        let Some((sha, name)) = line.split_once('\t') else {
            continue;
        };
        match name.strip_suffix("^{}") {
            Some(base) => {
                peeled.insert(base.to_string(), sha.to_string());
            }
            None => {
                refs.insert(name.to_string(), sha.to_string());
            }
        }
    }
    for (name, sha) in peeled {
        refs.insert(name, sha);
    }
    Ok(refs)
}

/// What a tag name holds locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// No such tag.
    Missing,
    /// A lightweight tag (a ref straight to a commit): it carries no message.
    Lightweight,
    /// An annotated tag and its whole message.
    Annotated(String),
}

/// What `refs/tags/<tag>` is: missing, lightweight, or annotated with its message.
pub fn tag(root: &Path, tag: &str) -> anyhow::Result<Tag> {
    let refname = format!("refs/tags/{tag}");
    let out = read(
        root,
        &[
            "for-each-ref",
            "--format=%(objecttype)%00%(contents)",
            &refname,
        ],
        &format!("reading tag {tag}"),
    )?;
    if out.is_empty() {
        return Ok(Tag::Missing);
    }
    let text = String::from_utf8_lossy(&out);
    Ok(match text.split_once('\0') {
        Some(("tag", msg)) => Tag::Annotated(msg.to_string()),
        _ => Tag::Lightweight,
    })
}

/// The message of an annotated tag, or `None` for a lightweight or missing tag.
pub fn tag_message(root: &Path, name: &str) -> anyhow::Result<Option<String>> {
    Ok(match tag(root, name)? {
        Tag::Annotated(m) => Some(m),
        _ => None,
    })
}

/// Creates an annotated tag at `commit`. Signing follows the operator's `tag.gpgSign` setting.
/// The message is kept verbatim: the default clean-up would drop every line that starts with
/// the operator's `core.commentChar` (e.g. `c` strips `components:`).
pub fn create_annotated_tag(
    root: &Path,
    tag: &str,
    commit: &str,
    message: &str,
) -> anyhow::Result<()> {
    let r = run_raw(
        root,
        &[
            "tag",
            "--annotate",
            "--cleanup=verbatim",
            "--file=-",
            "--end-of-options",
            tag,
            commit,
        ],
        Some(message),
    )?;
    if !r.ok {
        anyhow::bail!("creating tag {tag} at {commit}: {}", r.stderr);
    }
    Ok(())
}

/// Pushes exactly one tag to `remote` (never `--tags`, which would push every local tag).
pub fn push_tag(root: &Path, remote: &str, tag: &str) -> anyhow::Result<()> {
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    let r = run_raw(
        root,
        &[
            "push",
            "--quiet",
            "--no-verify",
            "--end-of-options",
            remote,
            &refspec,
        ],
        None,
    )?;
    if !r.ok {
        return Err(crate::exit::external(format!(
            "pushing tag {tag} to `{remote}` failed: {}; if the remote rejected it (a tag ruleset), ask a release operator; otherwise check your credentials and rerun",
            r.stderr
        )));
    }
    Ok(())
}

/// Fetches exactly one tag from `remote` into the local repository (a resumed release whose
/// tag was pushed from another clone needs it locally for verify and the notes). With `force`
/// the remote's tag replaces a local one of the same name (actions/checkout leaves a
/// lightweight tag where the remote has the annotated one).
pub(crate) fn fetch_tag(root: &Path, remote: &str, tag: &str) -> anyhow::Result<()> {
    fetch_tag_with(root, remote, tag, false)
}

/// [`fetch_tag`], optionally replacing a local tag of the same name.
pub(crate) fn fetch_tag_with(
    root: &Path,
    remote: &str,
    tag: &str,
    force: bool,
) -> anyhow::Result<()> {
    let refspec = format!(
        "{}refs/tags/{tag}:refs/tags/{tag}",
        if force { "+" } else { "" }
    );
    let r = run_raw(
        root,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--end-of-options",
            remote,
            &refspec,
        ],
        None,
    )?;
    if !r.ok {
        return Err(crate::exit::external(format!(
            "fetching tag {tag} from `{remote}` failed: {}; check `git remote -v` and your credentials (git fetch {remote} should work)",
            r.stderr
        )));
    }
    Ok(())
}

/// The tagger date of an annotated tag, as epoch seconds; `None` for a lightweight or missing
/// tag. A resumed release uses it as the earliest time its publish run can have started.
pub(crate) fn tag_date(root: &Path, tag: &str) -> anyhow::Result<Option<u64>> {
    let refname = format!("refs/tags/{tag}");
    let out = read_text(
        root,
        &[
            "for-each-ref",
            "--format=%(objecttype)%00%(taggerdate:unix)",
            &refname,
        ],
        &format!("reading the date of tag {tag}"),
    )?;
    Ok(out
        .trim()
        .split_once('\0')
        .filter(|(ty, _)| *ty == "tag")
        .and_then(|(_, d)| d.trim().parse::<u64>().ok()))
}

/// HEAD of a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadInfo {
    /// The full 40-hex commit id.
    pub commit: String,
    /// The committer date in RFC 3339, UTC (`2023-11-14T22:13:20Z`), used as the image's `created` so that the same
    /// commit always gives the same labels.
    pub time: String,
    /// Whether tracked files differ from HEAD.
    pub dirty: bool,
}

/// HEAD, its commit time and whether tracked files differ: what image builds embed.
pub fn head_info(root: &Path) -> anyhow::Result<HeadInfo> {
    let commit = try_rev_parse(root, "HEAD")?.ok_or_else(|| {
        anyhow::anyhow!(
            "reading HEAD of {} (is it a git checkout with a commit? run `git log -1` there)",
            root.display()
        )
    })?;
    // `log.showSignature` would print the signature check before the date; the pinned config
    // turns it off and `--no-show-signature` says so again for this call.
    // Epoch seconds, written as RFC 3339 in UTC here: `%cI` prints `+00:00` in git 2.39
    // (Debian 12) and `Z` in newer git, and the image label must not depend on which git built
    // it.
    let epoch = read_text(
        root,
        &["show", "-s", "--no-show-signature", "--format=%ct", &commit],
        "reading the commit time of HEAD",
    )?;
    let epoch: u64 = epoch.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "git printed `{}` as the commit time of HEAD in {}; expected epoch seconds (is the commit dated before 1970?)",
            epoch.trim(),
            root.display()
        )
    })?;
    let time = crate::time::rfc3339(epoch);
    let status = read(
        root,
        &["status", "--porcelain", "-z", "--untracked-files=no"],
        "reading git status",
    )?;
    Ok(HeadInfo {
        commit,
        time,
        dirty: !status.is_empty(),
    })
}

/// The files under `dirs` (relative to `root`) that git does not ignore: tracked ones and
/// untracked ones outside `.gitignore`, `.git/info/exclude` and `core.excludesFile`.
/// `None` when `root` is not a git work tree (or git fails), so callers fall back to every
/// file.
pub(crate) fn files_not_ignored(root: &Path, dirs: &[String]) -> Option<Vec<std::path::PathBuf>> {
    if dirs.is_empty() {
        return Some(Vec::new());
    }
    let mut args = vec![
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
    ];
    args.extend(dirs.iter().map(String::as_str));
    let out = command(root, &args).stderr(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| {
                use std::os::unix::ffi::OsStrExt;
                std::path::PathBuf::from(std::ffi::OsStr::from_bytes(s))
            })
            .collect(),
    )
}

/// Deletes a local tag (one this release made and did not push, when another was pushed).
pub(crate) fn delete_local_tag(root: &Path, tag: &str) -> anyhow::Result<()> {
    let refname = format!("refs/tags/{tag}");
    read(
        root,
        &["update-ref", "-d", &refname],
        &format!("deleting the local tag {tag}"),
    )?;
    Ok(())
}

/// The object a local ref names, unpeeled (an annotated tag's own id); `None` when absent.
pub(crate) fn local_ref_object(root: &Path, refname: &str) -> anyhow::Result<Option<String>> {
    let r = run_raw(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            refname,
        ],
        None,
    )?;
    let out = String::from_utf8_lossy(&r.stdout).trim().to_string();
    Ok((r.ok && !out.is_empty()).then_some(out))
}

/// The object a remote ref names, unpeeled (an annotated tag's own id); `None` when absent.
pub(crate) fn remote_ref_object(
    root: &Path,
    remote: &str,
    refname: &str,
) -> anyhow::Result<Option<String>> {
    let r = run_raw(
        root,
        &["ls-remote", "--end-of-options", remote, refname],
        None,
    )?;
    if !r.ok {
        return Err(crate::exit::external(format!(
            "listing refs of remote `{remote}` failed: {}; check `git remote -v` and your credentials (git fetch {remote} should work)",
            r.stderr
        )));
    }
    Ok(String::from_utf8_lossy(&r.stdout).lines().find_map(|l| {
        l.split_once('\t')
            .filter(|(_, name)| *name == refname)
            .map(|(sha, _)| sha.to_string())
    }))
}

/// Whether `remote` is configured in this checkout (`git remote get-url`).
pub(crate) fn has_remote(root: &Path, remote: &str) -> bool {
    run_raw(root, &["remote", "get-url", "--", remote], None).is_ok_and(|r| r.ok)
}

/// This checkout's git directory (a worktree's own), absolute; `None` outside a repository.
pub(crate) fn git_dir(root: &Path) -> Option<std::path::PathBuf> {
    let out = read_text(
        root,
        &["rev-parse", "--absolute-git-dir"],
        "finding the git directory",
    )
    .ok()?;
    let out = out.trim();
    (!out.is_empty()).then(|| std::path::PathBuf::from(out))
}

/// A commit of the working tree as it is now (tracked changes and untracked, unignored files,
/// outside `exclude`), whose parent is HEAD; `None` when the tree has no such change. Made
/// with a temporary index, so the checkout's index, refs and files are left as they were.
/// The rehearsal releases this commit, so a changed workflow can be rehearsed before commit.
#[cfg(feature = "rehearse")]
pub(crate) fn working_tree_commit(
    root: &Path,
    exclude: &str,
    message: &str,
) -> anyhow::Result<Option<(String, usize)>> {
    let dir = tempfile::tempdir().context("creating a temporary index")?;
    let index = dir.path().join("index");
    let git = |args: &[&str], stdin: Option<&str>| -> anyhow::Result<Vec<u8>> {
        let mut c = command(root, args);
        c.env("GIT_INDEX_FILE", &index)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().context("running git (is it installed?)")?;
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            anyhow::bail!(
                "git {} in {}: {}",
                args.join(" "),
                root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    };
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).trim().to_string();
    git(&["read-tree", "HEAD"], None)?;
    let exclude = format!(":(exclude){}", exclude.trim_end_matches('/'));
    git(&["add", "-A", "--", ".", &exclude], None)?;
    let changed = git(&["diff", "--cached", "--name-only", "-z", "HEAD"], None)?;
    let n = split_z(&changed).len();
    if n == 0 {
        return Ok(None);
    }
    let tree = text(git(&["write-tree"], None)?);
    let commit = text(git(
        &["commit-tree", &tree, "-p", "HEAD", "-F", "-"],
        Some(message),
    )?);
    Ok(Some((commit, n)))
}

/// Takes this checkout's lock (`<git dir>/aisopsflow-xtask.lock`, `fsx::lock_in`) for
/// `command`: one release, promote or publish per checkout at a time.
pub(crate) fn lock_checkout(
    root: &Path,
    command: &str,
) -> anyhow::Result<crate::fsx::CheckoutLock> {
    let dir = git_dir(root).unwrap_or_else(|| root.to_path_buf());
    let started = crate::time::rfc3339(crate::time::now_epoch());
    crate::fsx::lock_in(&dir, command, &started)
}

/// The checkout's lock for a command that writes (`lock_checkout` for the command line as
/// typed); `None` for a dry run, which only reads.
pub(crate) fn lock_unless_dry_run(
    root: &Path,
    dry_run: bool,
) -> anyhow::Result<Option<crate::fsx::CheckoutLock>> {
    if dry_run {
        return Ok(None);
    }
    lock_checkout(root, &crate::fsx::command_line()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_z_keeps_renames_and_odd_paths() {
        let out = b"R  new name\0old\0?? caf\xc3\xa9 \"x\"\0 M a\tb\0";
        assert_eq!(
            porcelain_z(out),
            vec![
                "R  old -> new name".to_string(),
                "?? café \"x\"".to_string(),
                " M a\tb".to_string()
            ]
        );
    }

    #[test]
    fn every_call_pins_the_output_config() {
        let c = command(Path::new("."), &["status"]);
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for kv in [
            "color.ui=never",
            "column.ui=never",
            "log.showSignature=false",
            "core.quotepath=off",
        ] {
            assert!(args.iter().any(|a| a == kv), "{kv} missing from {args:?}");
        }
        assert_eq!(args[0], "--no-pager");
        assert_eq!(args.last().map(String::as_str), Some("status"));
        let env: Vec<(String, Option<String>)> = c
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(
            env.contains(&("LC_ALL".into(), Some("C".into()))),
            "{env:?}"
        );
    }

    #[test]
    fn unattended_runs_never_prompt() {
        set_non_interactive();
        let c = command(Path::new("."), &["fetch"]);
        assert!(
            c.get_envs()
                .any(|(k, v)| k == "GIT_TERMINAL_PROMPT" && v == Some("0".as_ref())),
            "GIT_TERMINAL_PROMPT=0 under --yes"
        );
    }
}
