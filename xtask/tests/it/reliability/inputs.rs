//! Bad inputs: versions, release.toml, invocations and workflows.

use super::*;

/// A version string, the class it belongs to, and what the message must name (problem, fix).
pub(super) const BAD_VERSIONS: &[(&str, &str, &[&str])] = &[
    (
        "two components",
        "1.2",
        &["`1.2` is not semver", "pass MAJOR.MINOR.PATCH"],
    ),
    (
        "leading zero",
        "01.2.3",
        &["leading zero", "without leading zeros"],
    ),
    (
        "leading v",
        "v1.2.3",
        &["leading `v`", "pass the bare version `1.2.3`"],
    ),
    (
        "build metadata",
        "1.2.3+build",
        &["build metadata", "so pass `1.2.3`"],
    ),
    (
        "full-width unicode digits",
        "１.２.３",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "unicode letter in prerelease",
        "1.2.3-ß",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "shell: command separator",
        "1.2.3;rm -rf /",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "shell: command substitution",
        "$(id)",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "shell: backticks and pipe",
        "1.2.3`id`|sh",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "embedded newline",
        "1.2.3\nv9.9.9",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "empty",
        "",
        &["empty version", "pass a semver version such as 1.2.3"],
    ),
    (
        "too long for an image tag",
        "",
        &["characters", "at most 128"],
    ),
    (
        "prerelease with empty identifier",
        "1.2.3-",
        &["is not semver", "pass MAJOR.MINOR.PATCH"],
    ),
];

pub(super) fn long_version() -> String {
    format!("1.2.3-{}", "a".repeat(200))
}

/// Versions for `verify` and `preflight --release`: exit 2, the problem and the fix named, and
/// nothing changed. (`release --dry-run` and `promote` are in `release_bad_versions`.)
#[test]
pub(super) fn bad_versions_are_usage_errors_that_name_the_fix() {
    let repo = Repo::new();
    let work = repo.work();
    let before = repo.snapshot();
    for (class, v, needles) in BAD_VERSIONS {
        let v = if *class == "too long for an image tag" {
            long_version()
        } else {
            v.to_string()
        };
        for args in [
            vec!["verify", v.as_str()],
            vec![
                "preflight",
                "--offline",
                "--only",
                "workflow",
                "--release",
                v.as_str(),
            ],
        ] {
            let run = xtask(&work, &args, &[]);
            expect(&format!("{class}: {}", args[0]), &run, 2, needles);
            // Untrusted input is shown escaped, never raw: a newline cannot forge a line.
            assert!(!run.stderr.contains("\nv9.9.9"), "{class}: {}", run.stderr);
        }
    }
    // A version that starts with a dash is refused by the parser before any work.
    let run = xtask(&work, &["verify", "-1.2.3"], &[]);
    expect("leading dash", &run, 2, &["unexpected argument", "--"]);
    assert_eq!(
        repo.snapshot(),
        before,
        "a bad version changed the repository"
    );
}

/// `release.toml` broken in one way per case: `preflight` refuses it (exit 2) naming the file,
/// the key and the fix, before touching anything.
#[test]
pub(super) fn bad_release_toml_is_refused_naming_the_key_and_the_fix() {
    type Edit = (&'static str, &'static str);
    let cases: &[(&str, &[Edit], &[&str])] = &[
        (
            "missing key",
            &[("latest = \"latest\"\n", "")],
            &["missing field `latest`", "fix:"],
        ),
        (
            "unknown key",
            &[("[tags]\n", "[tags]\ncolour = \"blue\"\n")],
            &["unknown field `colour`", "fix:"],
        ),
        (
            "unknown table",
            &[("[notes]\n", "[extras]\nx = 1\n[notes]\n")],
            &["unknown field `extras`", "fix:"],
        ),
        (
            "wrong type: bool as string",
            &[(
                "prerelease_moves_latest = false",
                "prerelease_moves_latest = \"no\"",
            )],
            &["prerelease_moves_latest", "invalid type", "fix:"],
        ),
        (
            "wrong type: list as string",
            &[("features = []", "features = \"\"")],
            &["features", "invalid type", "fix:"],
        ),
        (
            "unknown enum value",
            &[("scope = \"when-in-scope\"", "scope = \"sometimes\"")],
            &["unknown variant `sometimes`", "fix:"],
        ),
        (
            "toml syntax error",
            &[("[registry]\n", "[registry\n")],
            &["release.toml", "fix:"],
        ),
        (
            "package name collision",
            &[(
                "package = \"aisopsflow-{component}-commercial\"",
                "package = \"aisopsflow-{component}\"",
            )],
            &[
                "produced by both",
                "fix: give each edition a distinct package pattern",
            ],
        ),
        (
            "allowlist violation",
            &[(
                "package = \"aisopsflow-{component}-commercial\"",
                "package = \"aisopsflow-{component}-pro\"",
            )],
            &["not in the allowlist", "[[packages.exceptions]]"],
        ),
        (
            "allowlist entry outside the checklist",
            &[(
                "  \"aisopsflow-console-commercial\",\n]",
                "  \"aisopsflow-console-commercial\",\n  \"aisopsflow-extra\",\n]",
            )],
            &[
                "`aisopsflow-extra` is not one of the checklist's six packages",
                "fix:",
            ],
        ),
        (
            "exception without a reason",
            &[(
                "[customer]\n",
                "[[packages.exceptions]]\nname = \"aisopsflow-extra\"\nreason = \"x\"\n\n[customer]\n",
            )],
            &["has no real reason", "fix: explain in `reason`"],
        ),
        (
            "tag pattern without {semver}",
            &[("release = \"v{semver}\"", "release = \"v{version}\"")],
            &["key `tags.release`", "no `{semver}` placeholder", "fix:"],
        ),
        (
            "release and release_latest equal",
            &[(
                "release_latest = \"release-v{semver}\"",
                "release_latest = \"v{semver}\"",
            )],
            &["tags.release_latest", "same pattern", "fix:"],
        ),
        (
            "image tag with `+`",
            &[(
                "image_tags = [\"{semver}\", \"sha-{sha7}\"]",
                "image_tags = [\"{semver}+x\", \"sha-{sha7}\"]",
            )],
            &["does not expand to a valid image tag", "fix:"],
        ),
        (
            "image tag with unknown placeholder",
            &[(
                "image_tags = [\"{semver}\", \"sha-{sha7}\"]",
                "image_tags = [\"{semver}\", \"{branch}\"]",
            )],
            &["`{branch}` does not expand", "fix:"],
        ),
        (
            "no image tags",
            &[(
                "image_tags = [\"{semver}\", \"sha-{sha7}\"]",
                "image_tags = []",
            )],
            &["tags.image_tags", "is empty", "fix:"],
        ),
        (
            "latest not a tag",
            &[("latest = \"latest\"", "latest = \"la test\"")],
            &["tags.latest", "not a valid image tag", "fix:"],
        ),
        (
            "enterprise URL as SDK link",
            &[(
                "sdk_repository = \"https://github.com/aisopsflow/aisopsflow-sdk\"",
                "sdk_repository = \"https://github.com/aisopsflow/aisopsflow-enterprise\"",
            )],
            &[
                "customer.sdk_repository",
                "points at the enterprise repository",
                "fix:",
            ],
        ),
        (
            "SDK link not https",
            &[(
                "sdk_repository = \"https://github.com/aisopsflow/aisopsflow-sdk\"",
                "sdk_repository = \"http://github.com/aisopsflow/aisopsflow-sdk\"",
            )],
            &["not an https URL", "fix:"],
        ),
        (
            "bad glob",
            &[(
                "docs = [\"docs/customer/**/*.md\"]",
                "docs = [\"docs/[customer/**/*.md\"]",
            )],
            &["bad glob", "fix: use a glob"],
        ),
        (
            "registry host with a path",
            &[("host = \"ghcr.io\"", "host = \"ghcr.io/aisopsflow\"")],
            &["registry.host", "fix:"],
        ),
        (
            "organisation in upper case",
            &[("org = \"aisopsflow\"", "org = \"AisOpsFlow\"")],
            &["registry.org", "fix:"],
        ),
        (
            "repository not owner/name",
            &[(
                "name = \"aisopsflow/aisopsflow-enterprise\"",
                "name = \"aisopsflow-enterprise\"",
            )],
            &["repository.name", "not `owner/name`", "fix:"],
        ),
        (
            "workflow outside .github/workflows",
            &[(
                "publish_workflow = \".github/workflows/publish-images.yml\"",
                "publish_workflow = \"publish-images.yml\"",
            )],
            &["repository.publish_workflow", "fix:"],
        ),
        (
            "no release operators",
            &[(
                "release_operators = [\"Team:release-operators\"]",
                "release_operators = []",
            )],
            &["release_operators", "is empty", "fix:"],
        ),
        (
            "unknown bypass actor type",
            &[(
                "release_operators = [\"Team:release-operators\"]",
                "release_operators = [\"Squad:ops\"]",
            )],
            &["unknown actor type `Squad`", "fix: use `Team:<slug>`"],
        ),
        (
            "API URL not http(s)",
            &[(
                "github = \"https://api.github.com\"",
                "github = \"ftp://api.github.com\"",
            )],
            &["api.github", "not an http(s) URL", "fix:"],
        ),
        (
            "component dir escapes the workspace",
            &[("dir = \"core\"", "dir = \"../core\"")],
            &[
                "components.core.dir",
                "not a directory inside the workspace",
                "fix:",
            ],
        ),
        (
            "component dir absolute",
            &[("dir = \"core\"", "dir = \"/etc\"")],
            &["components.core.dir", "fix:"],
        ),
        (
            "edition without {component}",
            &[(
                "package = \"aisopsflow-{component}\"",
                "package = \"aisopsflow-core\"",
            )],
            &["no `{component}` placeholder", "fix:"],
        ),
        (
            // The commercial edition made public is refused first, as what it is.
            "two public editions",
            &[("visibility = \"private\"", "visibility = \"public\"")],
            &["commercial images must never be public", "fix:"],
        ),
        (
            "package README pattern without {package}",
            &[(
                "package_readmes = \"docs/packages/{package}.md\"",
                "package_readmes = \"docs/packages/README.md\"",
            )],
            &["customer.package_readmes", "fix:"],
        ),
        (
            "empty dispatch input",
            &[(
                "dispatch_input = \"publish_latest\"",
                "dispatch_input = \"\"",
            )],
            &["tags.dispatch_input", "fix:"],
        ),
    ];
    let repo = Repo::new();
    let work = repo.work();
    let path = work.join("release.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    for (class, edits, needles) in cases {
        std::fs::write(&path, &original).unwrap();
        for (from, to) in *edits {
            repo.edit_config(from, to);
        }
        let before = repo.snapshot();
        let run = xtask(
            &work,
            &["preflight", "--offline", "--only", "workflow"],
            &[],
        );
        expect(class, &run, 2, needles);
        assert!(
            run.stderr.contains("release.toml"),
            "[{class}] names no file: {}",
            run.stderr
        );
        assert_eq!(repo.snapshot(), before, "[{class}] changed the repository");
    }
    // Not text at all, and empty.
    for (class, bytes) in [
        ("release.toml not UTF-8", &b"\xff\xfe[registry]\x00"[..]),
        ("release.toml empty", &b""[..]),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let run = xtask(
            &work,
            &["preflight", "--offline", "--only", "workflow"],
            &[],
        );
        expect(class, &run, 2, &["release.toml"]);
    }
}

/// Flags, paths and files given wrong.
#[test]
pub(super) fn bad_invocations_are_usage_errors() {
    let repo = Repo::new();
    let work = repo.work();
    let before = repo.snapshot();
    let head = repo.head();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("att.toml"), "[[attestation]\nid = ").unwrap();
    std::fs::write(
        outside.path().join("att-unknown.toml"),
        "[[attestation]]\nid = \"manual-no-such-thing\"\nby = \"me\"\nnote = \"checked it by hand\"\n",
    )
    .unwrap();
    let att = outside.path().join("att.toml");
    let att_unknown = outside.path().join("att-unknown.toml");
    let missing = outside.path().join("missing.toml");
    type Case<'a> = (&'a str, &'a Path, Vec<&'a str>, i32, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "--repo does not exist",
            &work,
            vec!["preflight", "--repo", "/nonexistent/checkout"],
            2,
            vec![
                "/nonexistent/checkout",
                "pass the path of an aisopsflow-enterprise checkout",
            ],
        ),
        (
            "--repo without release.toml",
            &work,
            vec!["preflight", "--repo", outside.path().to_str().unwrap()],
            2,
            vec!["no release.toml there", "pass the root"],
        ),
        (
            "no workspace above the cwd",
            outside.path(),
            vec!["preflight", "--offline"],
            2,
            vec!["no aisopsflow-enterprise workspace", "pass --repo DIR"],
        ),
        (
            "unknown component",
            &work,
            vec!["preflight", "--offline", "--components", "gui"],
            2,
            vec![
                "unknown component `gui`",
                "known components: console, core, runner",
            ],
        ),
        (
            "unknown --only prefix",
            &work,
            vec!["preflight", "--offline", "--only", "nosuch"],
            2,
            vec!["--only nosuch selects no preflight check", "check ids are:"],
        ),
        (
            "unknown attestation id",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attest",
                "manual-no-such-thing",
            ],
            2,
            vec!["manual-no-such-thing"],
        ),
        (
            "attestations file malformed",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attestations",
                att.to_str().unwrap(),
            ],
            2,
            vec!["att.toml"],
        ),
        (
            "attestations file with an unknown id",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attestations",
                att_unknown.to_str().unwrap(),
            ],
            2,
            vec!["manual-no-such-thing"],
        ),
        (
            "attestations file missing",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attestations",
                missing.to_str().unwrap(),
            ],
            2,
            vec!["missing.toml"],
        ),
        (
            "unknown subcommand",
            &work,
            vec!["deploy"],
            2,
            vec!["unrecognized subcommand 'deploy'"],
        ),
        (
            "unknown format",
            &work,
            vec!["preflight", "--format", "xml"],
            2,
            vec!["invalid value 'xml'", "possible values"],
        ),
        (
            "release without a version",
            &work,
            vec!["release"],
            2,
            vec!["<VERSION>"],
        ),
        (
            "promote without a version",
            &work,
            vec!["promote"],
            2,
            vec!["<VERSION>"],
        ),
        (
            "--keep without --rehearse",
            &work,
            vec!["release", "1.2.3", "--keep"],
            2,
            vec!["--rehearse"],
        ),
        (
            "GitHub API URL not a URL",
            &work,
            vec!["preflight", "--only", "repo-private"],
            2,
            vec!["not a valid GitHub API URL", "GITHUB_API_URL"],
        ),
        (
            "verify: release tag does not exist",
            &work,
            vec!["verify", "9.9.9"],
            2,
            vec![
                "neither release-v9.9.9 nor v9.9.9 exists",
                "git fetch --tags",
            ],
        ),
        (
            "publish: a branch instead of a tag",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/heads/main",
                "--sha",
                &head,
                "--event",
                "push",
            ],
            2,
            vec![
                "`refs/heads/main` is not a tag",
                "published only from release tags",
            ],
        ),
        (
            "publish: an event that cannot publish",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3",
                "--sha",
                &head,
                "--event",
                "schedule",
            ],
            2,
            vec!["event `schedule` cannot publish", "only `push`"],
        ),
        (
            "publish: a short commit",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3",
                "--sha",
                "ABC",
                "--event",
                "push",
            ],
            2,
            vec!["`ABC` is not a full 40-hex lower-case SHA"],
        ),
        (
            "publish: publish_latest not a boolean",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3",
                "--sha",
                &head,
                "--event",
                "workflow_dispatch",
                "--publish-latest",
                "yes",
            ],
            2,
            vec!["`publish_latest` is `yes`", "true or false"],
        ),
        (
            "publish: no ref and no GITHUB_REF",
            &work,
            vec!["publish", "--dry-run", "--sha", &head, "--event", "push"],
            2,
            vec!["no ref", "pass --ref or set GITHUB_REF"],
        ),
        (
            "publish: a tag with build metadata",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3+b",
                "--sha",
                &head,
                "--event",
                "push",
            ],
            2,
            vec!["build metadata", "so pass `1.2.3`"],
        ),
    ];
    for (class, cwd, args, code, needles) in cases {
        let env: Vec<(&str, &str)> = if class == "GitHub API URL not a URL" {
            vec![
                ("GITHUB_API_URL", "not a url"),
                ("GITHUB_TOKEN", "ghp_notused000"),
            ]
        } else {
            vec![]
        };
        let run = xtask(cwd, &args, &env);
        expect(class, &run, code, &needles);
    }
    assert_eq!(repo.snapshot(), before);
}

/// The publish workflow broken in several ways: preflight reports a failed `workflow-present`
/// (exit 1, a policy failure with the file named), never a crash or a pass.
#[test]
pub(super) fn malformed_workflows_fail_workflow_present() {
    let repo = Repo::new();
    let work = repo.work();
    let wf = work.join(".github/workflows/publish-images.yml");
    let cases: &[(&str, Option<&[u8]>)] = &[
        (
            "workflow YAML malformed",
            Some(b"on: [push\njobs:\n  build: {runs-on: x\n"),
        ),
        (
            "workflow YAML truncated",
            Some(b"name: publish\non:\n  push:\n    tags: ['v*'\n"),
        ),
        ("workflow not UTF-8", Some(b"name: \xff\xfe\n")),
        ("workflow is a YAML list", Some(b"- a\n- b\n")),
        ("workflow empty", Some(b"")),
        ("workflow missing", None),
    ];
    for (class, content) in cases {
        match content {
            Some(c) => std::fs::write(&wf, c).unwrap(),
            None => {
                let _ = std::fs::remove_file(&wf);
            }
        }
        let before = repo.snapshot();
        let run = xtask(
            &work,
            &[
                "preflight",
                "--offline",
                "--only",
                "workflow",
                "--format",
                "json",
            ],
            &[],
        );
        expect(class, &run, 1, &["workflow-present", "publish-images.yml"]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("[{class}] report is not JSON ({e}):\n{}", run.stdout));
        let present = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "workflow-present")
            .unwrap_or_else(|| panic!("[{class}] no workflow-present:\n{json:#}"));
        assert_eq!(present["status"], "fail", "[{class}] {present:#}");
        assert_eq!(repo.snapshot(), before, "[{class}] changed the repository");
    }
}
