//! Release notes: the internal record an auditor reads, and a customer-facing variant.
//!
//! Rendering is pure: `render_internal` and `render_customer` take plain data and return text.
//! The internal notes carry machine-readable markers (HTML comments) so a later `verify` can
//! read what was recorded, for example the digest `latest` had before this release:
//!
//! ```text
//! <!-- aisopsflow:release version=1.2.3 tag=v1.2.3 commit=<40 hex> -->
//! <!-- aisopsflow:digest aisopsflow-core sha256:... -->
//! <!-- aisopsflow:latest-before aisopsflow-core sha256:...|none -->
//! <!-- aisopsflow:latest-after aisopsflow-core sha256:...|none -->
//! ```
//!
//! The customer variant names nothing internal: no repository, no run URL, no commit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Visibility};

/// One package in the notes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PackageNotes {
    pub package: String,
    pub component: String,
    pub edition: String,
    pub visibility: Visibility,
    /// `host/org/package`.
    pub repository: String,
    /// Every tag pushed for this release, `latest` included when it moved.
    pub tags: Vec<String>,
    /// The digest the release's tags resolve to.
    pub digest: String,
    pub latest_before: Option<String>,
    pub latest_after: Option<String>,
}

impl PackageNotes {
    /// The pull-by-digest reference customers should use.
    pub fn reference(&self, version: &str) -> String {
        format!("{}:{}@{}", self.repository, version, self.digest)
    }
}

/// A check result as summarised in the notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLine {
    pub id: String,
    pub status: String,
    pub message: String,
}

/// A recorded operator attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationLine {
    pub id: String,
    pub by: String,
    pub note: String,
}

/// Everything the notes say.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotesInput {
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub run_url: Option<String>,
    /// RFC 3339 UTC time the notes were written.
    pub written_at: String,
    pub moves_latest: bool,
    pub latest_reason: String,
    pub packages: Vec<PackageNotes>,
    pub checks: Vec<CheckLine>,
    /// How and when the gate ran (or that its run is unknown), and what was allowed.
    pub gate: Vec<String>,
    pub attestations: Vec<AttestationLine>,
    pub sdk_repository: String,
    pub catalog_repository: String,
}

/// `docs/releases/<version>.md`.
pub(crate) fn internal_path(config: &Config, version: &str) -> PathBuf {
    config.notes_dir().join(format!("{version}.md"))
}

/// `docs/releases/<version>.customer.md`.
pub(crate) fn customer_path(config: &Config, version: &str) -> PathBuf {
    config.notes_dir().join(format!("{version}.customer.md"))
}

fn digest_or_none(d: &Option<String>) -> &str {
    d.as_deref().unwrap_or("none")
}

/// The internal release notes.
pub(crate) fn render_internal(n: &NotesInput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Release {}", n.version);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "<!-- aisopsflow:release version={} tag={} commit={} -->",
        n.version, n.tag, n.commit
    );
    let _ = writeln!(
        s,
        "<!-- Written by `cargo xtask release {}`; do not edit by hand. -->",
        n.version
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "- Commit: `{}`", n.commit);
    let _ = writeln!(s, "- Tag: `{}`", n.tag);
    let _ = writeln!(
        s,
        "- Publish run: {}",
        n.run_url.as_deref().unwrap_or("(none recorded)")
    );
    let _ = writeln!(s, "- Written at: {}", n.written_at);
    let _ = writeln!(s, "- `latest`: {}", n.latest_reason);
    let _ = writeln!(s);
    internal_images(&mut s, n);
    internal_latest(&mut s, n);
    internal_gate(&mut s, n);
    internal_checks(&mut s, n);
    internal_attestations(&mut s, n);
    s
}

/// The images: tags and digests, and the pull-by-digest references.
fn internal_images(s: &mut String, n: &NotesInput) {
    let _ = writeln!(s, "## Images");
    let _ = writeln!(s);
    let _ = writeln!(s, "| package | visibility | tags | digest |");
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for p in &n.packages {
        let _ = writeln!(
            s,
            "| {} | {} | {} | `{}` |",
            p.package,
            p.visibility,
            p.tags
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
            p.digest
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Pull by digest:");
    let _ = writeln!(s);
    let _ = writeln!(s, "```text");
    for p in &n.packages {
        let _ = writeln!(s, "{}", p.reference(&n.version));
    }
    let _ = writeln!(s, "```");
    let _ = writeln!(s);
}

/// `latest` before and after, with the machine-readable markers.
fn internal_latest(s: &mut String, n: &NotesInput) {
    let _ = writeln!(s, "## `latest` before and after");
    let _ = writeln!(s);
    let _ = writeln!(s, "| package | before | after |");
    let _ = writeln!(s, "| --- | --- | --- |");
    for p in &n.packages {
        let _ = writeln!(
            s,
            "| {} | `{}` | `{}` |",
            p.package,
            digest_or_none(&p.latest_before),
            digest_or_none(&p.latest_after)
        );
    }
    let _ = writeln!(s);
    for p in &n.packages {
        let _ = writeln!(s, "<!-- aisopsflow:digest {} {} -->", p.package, p.digest);
        let _ = writeln!(
            s,
            "<!-- aisopsflow:latest-before {} {} -->",
            p.package,
            digest_or_none(&p.latest_before)
        );
        let _ = writeln!(
            s,
            "<!-- aisopsflow:latest-after {} {} -->",
            p.package,
            digest_or_none(&p.latest_after)
        );
    }
    let _ = writeln!(s);
}

/// Which gate ran, when and by whom.
fn internal_gate(s: &mut String, n: &NotesInput) {
    let _ = writeln!(s, "## Gate");
    let _ = writeln!(s);
    for g in &n.gate {
        let _ = writeln!(s, "- {g}");
    }
    if n.gate.is_empty() {
        let _ = writeln!(
            s,
            "- No record of the gate's run: whether a gate ran before the push is unknown."
        );
    }
    let _ = writeln!(s);
}

/// Every check of the gate and of verify, with a summary.
fn internal_checks(s: &mut String, n: &NotesInput) {
    let _ = writeln!(s, "## Checks");
    let _ = writeln!(s);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &n.checks {
        *counts.entry(c.status.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(
        s,
        "Summary: {}.",
        if summary.is_empty() {
            "no checks recorded".to_string()
        } else {
            summary.join(", ")
        }
    );
    let _ = writeln!(s);
    for c in &n.checks {
        let _ = writeln!(
            s,
            "- `{}`: {}: {}",
            c.id,
            c.status,
            c.message.replace('\n', " ")
        );
    }
    let _ = writeln!(s);
}

/// The operators' attestations.
fn internal_attestations(s: &mut String, n: &NotesInput) {
    let _ = writeln!(s, "## Attestations");
    let _ = writeln!(s);
    if n.attestations.is_empty() {
        let _ = writeln!(s, "None recorded.");
    }
    for a in &n.attestations {
        let _ = writeln!(
            s,
            "- `{}` attested by {}{}",
            a.id,
            a.by,
            if a.note.is_empty() {
                String::new()
            } else {
                format!(": {}", a.note)
            }
        );
    }
}

/// The customer-facing notes: references by digest and public links, nothing internal.
pub(crate) fn render_customer(n: &NotesInput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# aisopsflow {}", n.version);
    let _ = writeln!(s);
    let _ = writeln!(s, "Pin images by digest: a tag can move, a digest cannot.");
    let _ = writeln!(s);
    for (title, vis) in [
        ("Public images", Visibility::Public),
        (
            "Commercial images (private; pull with your read-only credentials)",
            Visibility::Private,
        ),
    ] {
        let pkgs: Vec<&PackageNotes> = n.packages.iter().filter(|p| p.visibility == vis).collect();
        if pkgs.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {title}");
        let _ = writeln!(s);
        let _ = writeln!(s, "```text");
        for p in pkgs {
            let _ = writeln!(s, "{}", p.reference(&n.version));
        }
        let _ = writeln!(s, "```");
        let _ = writeln!(s);
    }
    s.push_str(&customer_proof(n));
    let _ = writeln!(s, "## Plugin developers");
    let _ = writeln!(s);
    let _ = writeln!(s, "- SDK: {}", n.sdk_repository);
    let _ = writeln!(s, "- Catalog: {}", n.catalog_repository);
    s
}

/// The heading of the customer's own proof in the customer notes.
pub const PROOF_HEADING: &str = "## Check what you pull";

/// Commands a customer runs with tools they already have to confirm every digest: `docker
/// pull` by digest (the engine refuses content that does not hash to it) and `skopeo inspect
/// --raw` of the version tag, whose manifest bytes must hash to the same digest. Each
/// `sha256sum` line is followed by `# expect: <hex>  -`, what it must print.
pub(crate) fn customer_proof(n: &NotesInput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{PROOF_HEADING}");
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Confirm that what you run is what was released, with tools you already have. `docker pull` by digest refuses content that does not match the digest; `skopeo inspect --raw` prints the manifest the version tag points at, and its SHA-256 is the digest. For commercial images, log in first (`docker login`, `skopeo login`) with your read-only credentials."
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "```sh");
    for p in &n.packages {
        let hex = p.digest.strip_prefix("sha256:").unwrap_or(&p.digest);
        let _ = writeln!(s, "docker pull {}@{}", p.repository, p.digest);
        // A loopback registry (a rehearsal) speaks plain HTTP, which skopeo must be told.
        let host = p.repository.split('/').next().unwrap_or_default();
        let tls = if crate::effects::registry::is_loopback(host) {
            "--tls-verify=false "
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "skopeo inspect {tls}--raw docker://{}:{} | sha256sum",
            p.repository, n.version
        );
        let _ = writeln!(s, "# expect: {hex}  -");
    }
    let _ = writeln!(s, "```");
    let _ = writeln!(s);
    s
}

/// What earlier notes recorded, read back from their markers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    pub version: Option<String>,
    pub tag: Option<String>,
    pub commit: Option<String>,
    pub digests: BTreeMap<String, String>,
    pub latest_before: BTreeMap<String, Option<String>>,
    pub latest_after: BTreeMap<String, Option<String>>,
}

/// Parses the markers of internal notes.
pub fn parse_recorded(text: &str) -> Recorded {
    let mut r = Recorded::default();
    for line in text.lines() {
        let Some(body) = line
            .trim()
            .strip_prefix("<!-- aisopsflow:")
            .and_then(|l| l.strip_suffix("-->"))
        else {
            continue;
        };
        let mut words = body.split_whitespace();
        let kind = words.next().unwrap_or_default();
        let rest: Vec<&str> = words.collect();
        let opt = |d: &str| {
            if d == "none" {
                None
            } else {
                Some(d.to_string())
            }
        };
        match (kind, rest.as_slice()) {
            ("release", kv) => {
                for pair in kv {
                    match pair.split_once('=') {
                        Some(("version", v)) => r.version = Some(v.to_string()),
                        Some(("tag", v)) => r.tag = Some(v.to_string()),
                        Some(("commit", v)) => r.commit = Some(v.to_string()),
                        _ => {}
                    }
                }
            }
            ("digest", [pkg, d]) => {
                r.digests.insert(pkg.to_string(), d.to_string());
            }
            ("latest-before", [pkg, d]) => {
                r.latest_before.insert(pkg.to_string(), opt(d));
            }
            ("latest-after", [pkg, d]) => {
                r.latest_after.insert(pkg.to_string(), opt(d));
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> NotesInput {
        let pkg = |package: &str, vis, before: Option<&str>, after: Option<&str>| PackageNotes {
            package: package.into(),
            component: "core".into(),
            edition: if vis == Visibility::Public {
                "public".into()
            } else {
                "commercial".into()
            },
            visibility: vis,
            repository: format!("ghcr.io/aisopsflow/{package}"),
            tags: vec!["1.2.3".into(), "sha-0123456".into()],
            digest: format!("sha256:{}", "a".repeat(64)),
            latest_before: before.map(String::from),
            latest_after: after.map(String::from),
        };
        NotesInput {
            version: "1.2.3".into(),
            tag: "v1.2.3".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            run_url: Some(
                "https://github.com/aisopsflow/aisopsflow-enterprise/actions/runs/7".into(),
            ),
            written_at: "2026-11-28T00:00:00Z".into(),
            moves_latest: false,
            latest_reason: "`latest` stays".into(),
            packages: vec![
                pkg(
                    "aisopsflow-core",
                    Visibility::Public,
                    Some("sha256:bbbb"),
                    Some("sha256:bbbb"),
                ),
                pkg(
                    "aisopsflow-core-commercial",
                    Visibility::Private,
                    None,
                    None,
                ),
            ],
            checks: vec![CheckLine {
                id: "verify-semver-tag".into(),
                status: "pass".into(),
                message: "ok".into(),
            }],
            gate: vec!["The gate ran before the tag was created.".into()],
            attestations: vec![AttestationLine {
                id: "manual-package-inheritance".into(),
                by: "alice".into(),
                note: String::new(),
            }],
            sdk_repository: "https://github.com/aisopsflow/aisopsflow-sdk".into(),
            catalog_repository: "https://github.com/aisopsflow/aisopsflow-catalog".into(),
        }
    }

    /// The internal notes, whole (`UPDATE_EXPECT=1 cargo test -p xtask --lib notes`
    /// rewrites the golden after an intended change).
    #[test]
    fn internal_notes_match_the_golden() {
        expect_test::expect![[r#"
            # Release 1.2.3

            <!-- aisopsflow:release version=1.2.3 tag=v1.2.3 commit=0123456789abcdef0123456789abcdef01234567 -->
            <!-- Written by `cargo xtask release 1.2.3`; do not edit by hand. -->

            - Commit: `0123456789abcdef0123456789abcdef01234567`
            - Tag: `v1.2.3`
            - Publish run: https://github.com/aisopsflow/aisopsflow-enterprise/actions/runs/7
            - Written at: 2026-11-28T00:00:00Z
            - `latest`: `latest` stays

            ## Images

            | package | visibility | tags | digest |
            | --- | --- | --- | --- |
            | aisopsflow-core | public | `1.2.3`, `sha-0123456` | `sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` |
            | aisopsflow-core-commercial | private | `1.2.3`, `sha-0123456` | `sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` |

            Pull by digest:

            ```text
            ghcr.io/aisopsflow/aisopsflow-core:1.2.3@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
            ghcr.io/aisopsflow/aisopsflow-core-commercial:1.2.3@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
            ```

            ## `latest` before and after

            | package | before | after |
            | --- | --- | --- |
            | aisopsflow-core | `sha256:bbbb` | `sha256:bbbb` |
            | aisopsflow-core-commercial | `none` | `none` |

            <!-- aisopsflow:digest aisopsflow-core sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -->
            <!-- aisopsflow:latest-before aisopsflow-core sha256:bbbb -->
            <!-- aisopsflow:latest-after aisopsflow-core sha256:bbbb -->
            <!-- aisopsflow:digest aisopsflow-core-commercial sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -->
            <!-- aisopsflow:latest-before aisopsflow-core-commercial none -->
            <!-- aisopsflow:latest-after aisopsflow-core-commercial none -->

            ## Gate

            - The gate ran before the tag was created.

            ## Checks

            Summary: 1 pass.

            - `verify-semver-tag`: pass: ok

            ## Attestations

            - `manual-package-inheritance` attested by alice
        "#]].assert_eq(&render_internal(&input()));
    }

    #[test]
    fn internal_notes_round_trip_through_markers() {
        let text = render_internal(&input());
        let r = parse_recorded(&text);
        assert_eq!(
            r.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(r.tag.as_deref(), Some("v1.2.3"));
        assert_eq!(
            r.digests["aisopsflow-core"],
            format!("sha256:{}", "a".repeat(64))
        );
        assert_eq!(
            r.latest_before["aisopsflow-core"],
            Some("sha256:bbbb".to_string())
        );
        assert_eq!(r.latest_after["aisopsflow-core-commercial"], None);
        assert!(text.contains("ghcr.io/aisopsflow/aisopsflow-core:1.2.3@sha256:"));
        assert!(text.contains("`manual-package-inheritance` attested by alice"));
    }

    #[test]
    fn customer_notes_end_with_commands_that_prove_every_digest() {
        let n = input();
        let text = render_customer(&n);
        let proof = text.split(PROOF_HEADING).nth(1).expect("the proof section");
        let hex = "a".repeat(64);
        for p in &n.packages {
            assert!(
                proof.contains(&format!("docker pull {}@sha256:{hex}\n", p.repository)),
                "{proof}"
            );
            assert!(
                proof.contains(&format!(
                    "skopeo inspect --raw docker://{}:1.2.3 | sha256sum\n# expect: {hex}  -\n",
                    p.repository
                )),
                "{proof}"
            );
        }
        assert!(!proof.contains("tls-verify"), "ghcr.io speaks TLS: {proof}");
        let mut local = input();
        for p in &mut local.packages {
            p.repository = p.repository.replace("ghcr.io", "127.0.0.1:5000");
        }
        assert!(
            render_customer(&local)
                .contains("skopeo inspect --tls-verify=false --raw docker://127.0.0.1:5000/")
        );
    }

    #[test]
    fn customer_notes_name_nothing_internal() {
        let n = input();
        let text = render_customer(&n);
        assert!(!text.contains("aisopsflow-enterprise"), "{text}");
        assert!(!text.contains(&n.commit));
        assert!(!text.contains("actions/runs"));
        assert!(text.contains("ghcr.io/aisopsflow/aisopsflow-core:1.2.3@sha256:"));
        assert!(text.contains("aisopsflow-sdk") && text.contains("aisopsflow-catalog"));
    }
}
