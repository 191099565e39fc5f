//! The release path through planning, with a real repository and a bare remote.

use super::*;

/// What `execute` will observe before planning, read through the same git adapter.
pub(super) fn observe(
    repo: &Repo,
    version: &semver::Version,
) -> anyhow::Result<xtask::plan::World> {
    use xtask::effects::git;
    use xtask::tags::{TagKind, git_tag};
    let root = repo.work();
    let config = xtask::config::Config::load(&root)?;
    let rules = &config.raw.tags;
    let tags = [
        git_tag(rules, version, TagKind::Release),
        git_tag(rules, version, TagKind::ReleaseLatest),
    ];
    let mut patterns = vec![format!(
        "refs/heads/{}",
        config.raw.repository.default_branch
    )];
    patterns.extend(tags.iter().map(|t| format!("refs/tags/{t}")));
    let remote = git::ls_remote(&root, &config.raw.repository.remote, &patterns)?;
    let notes_dir = config.raw.notes.dir.clone();
    let mut world = xtask::plan::World {
        head: git::head(&root)?,
        branch: git::branch(&root)?,
        dirty: git::status(&root)?
            .into_iter()
            .filter(|l| !l[3..].starts_with(&notes_dir))
            .collect(),
        remote_default: remote.get(&patterns[0]).cloned(),
        notes_exist: config.notes_dir().join(format!("{version}.md")).is_file(),
        ..Default::default()
    };
    for t in &tags {
        if let Some(sha) = git::try_rev_parse(&root, &format!("refs/tags/{t}"))? {
            world.local_tags.insert(t.clone(), sha);
            world
                .tag_messages
                .insert(t.clone(), git::tag_message(&root, t)?);
        }
        if let Some(sha) = remote.get(&format!("refs/tags/{t}")) {
            world.remote_tags.insert(t.clone(), sha.clone());
        }
    }
    Ok(world)
}

/// The message `cargo xtask release 1.2.3` writes for core and runner at HEAD.
pub(super) fn ours(r: &Repo) -> String {
    xtask::plan::tag_message_for(
        "1.2.3",
        &["core".to_string(), "runner".to_string()],
        &r.head(),
        false,
    )
}

pub(super) fn plan_for(
    repo: &Repo,
    version: &str,
    latest: bool,
) -> anyhow::Result<xtask::plan::Plan> {
    let version = xtask::tags::parse_version(version)?;
    let world = observe(repo, &version)?;
    let config = xtask::config::Config::load(&repo.work())?;
    xtask::plan::plan(
        &config,
        &xtask::plan::Request {
            version,
            latest,
            components: vec![],
            draft_release: false,
            allow_downgrade: false,
        },
        &world,
    )
}

/// Every refusal of the release path, on a real repository: the exit code, the fix, and no
/// tag created or pushed. Resumable states plan with the finished steps marked done.
#[test]
pub(super) fn release_path_refusals_and_resumes_through_the_planner() {
    use xtask::plan::StepKind;
    type Setup = fn(&Repo);
    type Expected = Result<(), (u8, &'static [&'static str])>;
    let cases: &[(&str, Setup, bool, Expected)] = &[
        (
            "dirty tree: modified file",
            |r| {
                std::fs::write(
                    r.work().join("core/Dockerfile"),
                    "FROM scratch\nLABEL x=y\n",
                )
                .unwrap()
            },
            false,
            Err((
                2,
                &["uncommitted changes", "core/Dockerfile", "git stash -u"],
            )),
        ),
        (
            "dirty tree: untracked file",
            |r| std::fs::write(r.work().join("stray.txt"), "x").unwrap(),
            false,
            Err((2, &["uncommitted changes", "stray.txt"])),
        ),
        (
            "dirty tree: staged file",
            |r| {
                std::fs::write(r.work().join("new.txt"), "x").unwrap();
                git(&r.work(), &["add", "new.txt"]);
            },
            false,
            Err((2, &["uncommitted changes", "new.txt"])),
        ),
        (
            "detached HEAD",
            |r| git(&r.work(), &["checkout", "-q", "--detach"]).truncate(0),
            false,
            Err((2, &["HEAD is detached", "git switch main"])),
        ),
        (
            "HEAD ahead of the remote",
            |r| git(&r.work(), &["commit", "-q", "--allow-empty", "-m", "local"]).truncate(0),
            false,
            Err((
                2,
                &[
                    "is not the remote default branch",
                    "git pull --ff-only origin main",
                ],
            )),
        ),
        (
            "remote has no default branch",
            |r| git(&r.remote(), &["update-ref", "-d", "refs/heads/main"]).truncate(0),
            false,
            Err((2, &["has no branch main", "git remote -v"])),
        ),
        (
            "tag exists locally at another commit",
            |r| {
                let w = r.work();
                git(&w, &["commit", "-q", "--allow-empty", "-m", "x"]);
                git(&w, &["tag", "v1.2.3"]);
                git(&w, &["reset", "-q", "--hard", "HEAD~1"]);
            },
            false,
            Err((
                1,
                &[
                    "tag v1.2.3 already exists (local) at commit",
                    "releases are immutable",
                ],
            )),
        ),
        (
            "tag exists remotely at another commit",
            |r| {
                let w = r.work();
                git(&w, &["commit", "-q", "--allow-empty", "-m", "x"]);
                git(&w, &["tag", "v1.2.3"]);
                git(&w, &["push", "-q", "origin", "refs/tags/v1.2.3"]);
                git(&w, &["tag", "-d", "v1.2.3"]);
                git(&w, &["reset", "-q", "--hard", "HEAD~1"]);
            },
            false,
            Err((
                1,
                &[
                    "tag v1.2.3 already exists (remote) at commit",
                    "releases are immutable",
                ],
            )),
        ),
        (
            "released before as the other kind",
            |r| {
                git(&r.work(), &["tag", "v1.2.3"]);
            },
            true,
            Err((
                2,
                &["already released as v1.2.3", "cargo xtask promote 1.2.3"],
            )),
        ),
        (
            "released before as release-v, asked without --latest",
            |r| {
                git(&r.work(), &["tag", "release-v1.2.3"]);
            },
            false,
            Err((
                2,
                &["already released as release-v1.2.3", "rerun with --latest"],
            )),
        ),
        (
            "remote unreachable",
            |r| {
                git(
                    &r.work(),
                    &["remote", "set-url", "origin", "/nonexistent/remote.git"],
                )
                .truncate(0)
            },
            false,
            Err((
                3,
                &["listing refs of remote `origin` failed", "git remote -v"],
            )),
        ),
        (
            // Made by hand: the publish run would read no components from it.
            "tag exists locally at HEAD, made by hand",
            |r| git(&r.work(), &["tag", "-a", "-m", "v1.2.3", "v1.2.3"]).truncate(0),
            false,
            Err((
                2,
                &[
                    "exists locally at HEAD",
                    "no `components:` line",
                    "git tag -d v1.2.3",
                ],
            )),
        ),
        (
            "tag exists locally at HEAD, lightweight",
            |r| git(&r.work(), &["tag", "v1.2.3"]).truncate(0),
            false,
            Err((2, &["lightweight", "git tag -d v1.2.3"])),
        ),
        (
            "tag pushed at HEAD, made by hand",
            |r| {
                git(&r.work(), &["tag", "-a", "-m", "v1.2.3", "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
            },
            false,
            Err((
                1,
                &[
                    "exists on `origin` at HEAD",
                    "cannot finish",
                    "git push origin :refs/tags/v1.2.3",
                ],
            )),
        ),
        (
            "tag pushed at HEAD naming other components",
            |r| {
                let m = ours(r).replace("components: core,runner", "components: core");
                git(&r.work(), &["tag", "-a", "-m", &m, "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
            },
            false,
            Err((
                1,
                &["names components core, but this release asks for core,runner"],
            )),
        ),
        (
            // The tool writes its resume record before it creates the tag.
            "tag exists locally at HEAD with this tool's message, but no resume record",
            |r| git(&r.work(), &["tag", "-a", "-m", &ours(r), "v1.2.3"]).truncate(0),
            false,
            Err((2, &["no resume record", "git tag -d v1.2.3"])),
        ),
        (
            "tag pushed at HEAD, made by this tool (resume)",
            |r| {
                git(&r.work(), &["tag", "-a", "-m", &ours(r), "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
            },
            false,
            Ok(()),
        ),
        (
            "detached HEAD at the pushed tag (resume)",
            |r| {
                git(&r.work(), &["tag", "-a", "-m", &ours(r), "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
                git(&r.work(), &["checkout", "-q", "v1.2.3"]);
            },
            false,
            Ok(()),
        ),
    ];
    for (class, setup, latest, expected) in cases {
        let repo = Repo::new();
        setup(&repo);
        let before = repo.snapshot();
        let got = plan_for(&repo, "1.2.3", *latest);
        assert_eq!(
            repo.snapshot(),
            before,
            "[{class}] planning changed the repository"
        );
        match (got, expected) {
            (Err(e), Err((code, needles))) => {
                let msg = format!("{e:#}");
                assert_eq!(xtask::exit::code_for(&e), *code, "[{class}] {msg}");
                for n in *needles {
                    assert!(msg.contains(n), "[{class}] {msg:?} does not name {n:?}");
                }
            }
            (Ok(plan), Ok(())) => {
                let local = git(&repo.work(), &["tag", "-l", "v1.2.3"]) == "v1.2.3";
                let remote = git(&repo.remote(), &["tag", "-l", "v1.2.3"]) == "v1.2.3";
                assert_eq!(
                    plan.step(StepKind::CreateTag).unwrap().done.is_some(),
                    local || remote,
                    "[{class}]"
                );
                assert_eq!(
                    plan.step(StepKind::PushTag).unwrap().done.is_some(),
                    remote,
                    "[{class}]"
                );
                assert!(
                    plan.step(StepKind::Verify).unwrap().done.is_none(),
                    "[{class}]"
                );
                assert_eq!(plan.commit, repo.head(), "[{class}]");
            }
            (got, want) => panic!("[{class}] got {:?}, want {want:?}", got.map(|p| p.tag)),
        }
    }
}
