//! Manual attestations: checklist lines no API can show, confirmed by the operator.
//!
//! An operator attests with `--attest ID` (recorded as by `$USER`) or `--attestations FILE`, a
//! TOML file of `[[attestation]] id = "...", by = "...", note = "..."`. Unknown ids and unknown
//! keys are usage errors (exit 2) that list the known ids. The release command loads the same
//! attestations with [`Attestations::load`]; the notes list them (`notes::render_internal`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ALL, CheckId, Ctx, Evidence, Kind, Outcome};
use super::{Meta, Phase, Section, Severity};
use crate::exit::usage;

/// One operator confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestation {
    pub id: CheckId,
    pub by: String,
    pub note: Option<String>,
    /// Where it came from: `--attest` or the file.
    pub source: String,
}

/// The attestations of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attestations {
    pub entries: Vec<Attestation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    attestation: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    by: String,
    #[serde(default)]
    note: Option<String>,
}

pub(crate) const MANUAL_ACTIONS_PACKAGE_WRITE: Meta = Meta {
    id: "manual-actions-package-write",
    section: Section::RepositorySettings,
    phase: Phase::Preflight,
    kind: Kind::Manual,
    severity: Severity::Error,
    checklist: "GitHub Actions allowed to create and update packages",
    summary: "Each package grants this repository's Actions write access (Package settings > Manage Actions access).",
    why: "Without it the publish workflow's GITHUB_TOKEN cannot push (GHCR answers `permission_denied: write_package` only at push time, after the tag exists), and someone reaches for a PAT. No API shows, before the tag, what the workflow's token may write, so the release gate requires this attestation instead of finding out after the push.",
    fix: "Check each package's Manage Actions access (a package that does not exist yet is created by the first push and needs nothing), then attest with `--attest manual-actions-package-write`.",
};

pub(crate) const MANUAL_PACKAGE_INHERITANCE: Meta = Meta {
    id: "manual-package-inheritance",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Manual,
    severity: Severity::Error,
    checklist: "inheritance from repository permissions: enabled unless you have a strong reason to decouple it",
    summary: "Commercial packages inherit access from the repository.",
    why: "Decoupled permissions drift from the repository's reviewed access list.",
    fix: "Package settings > Inherit access from source repository; attest with `--attest manual-package-inheritance`.",
};

pub(crate) const MANUAL_PACKAGE_DELETE_RESTRICTED: Meta = Meta {
    id: "manual-package-delete-restricted",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Manual,
    severity: Severity::Error,
    checklist: "delete/restore package permission limited to release administrators",
    summary: "Only the release administrators from release.toml hold the admin role that deletes and restores packages.",
    why: "Deleting a package version breaks every customer pinned to its digest.",
    fix: "Package settings > Manage access: admin only for repository.release_administrators; attest with `--attest manual-package-delete-restricted`.",
};

pub(crate) const MANUAL_CUSTOMER_CREDENTIALS_SCOPED: Meta = Meta {
    id: "manual-customer-credentials-scoped",
    section: Section::SecretsAndAuth,
    phase: Phase::Preflight,
    kind: Kind::Manual,
    severity: Severity::Error,
    checklist: "if customer pull access is needed, issue scoped credentials only for package read",
    summary: "Any customer pull credential is read:packages only.",
    why: "A customer credential with write or repo scope could overwrite images or read the source.",
    fix: "Reissue the credential with only read:packages; attest with `--attest manual-customer-credentials-scoped`.",
};

pub(crate) const MANUAL_EMERGENCY_CREDENTIALS_ROTATED: Meta = Meta {
    id: "manual-emergency-credentials-rotated",
    section: Section::SecretsAndAuth,
    phase: Phase::Preflight,
    kind: Kind::Manual,
    severity: Severity::Error,
    checklist: "rotate any emergency manual credentials after use",
    summary: "Emergency manual credentials used since the last release have been rotated.",
    why: "A credential used by hand may have been copied anywhere.",
    fix: "Revoke and reissue it; attest with `--attest manual-emergency-credentials-rotated`.",
};

pub(crate) const MANUAL_MINIMAL_PULL_CREDENTIALS: Meta = Meta {
    id: "manual-minimal-pull-credentials",
    section: Section::CustomerDelivery,
    phase: Phase::Delivery,
    kind: Kind::Manual,
    severity: Severity::Error,
    checklist: "share minimal pull credentials if private pull is required",
    summary: "Credentials shared with customers for private pulls are minimal (read-only, per customer, expiring).",
    why: "Shared credentials outlive the delivery and travel further than intended.",
    fix: "Issue a per-customer read:packages token with an expiry; attest with `--attest manual-minimal-pull-credentials`.",
};

/// The ids that take an attestation.
pub fn manual_ids() -> Vec<CheckId> {
    ALL.iter()
        .copied()
        .filter(|c| c.meta().kind == Kind::Manual)
        .collect()
}

fn known() -> String {
    manual_ids()
        .iter()
        .map(|c| c.id())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_id(id: &str, origin: &str) -> anyhow::Result<CheckId> {
    match CheckId::from_id(id) {
        Some(c) if c.meta().kind == Kind::Manual => Ok(c),
        _ => Err(usage(format!(
            "{origin}: `{id}` is not a manual check id; known ids: {}",
            known()
        ))),
    }
}

impl Attestations {
    /// Loads `--attest` ids and an optional `--attestations` file.
    pub fn load(attest: &[String], file: Option<&Path>) -> anyhow::Result<Attestations> {
        let mut out = Attestations::default();
        let who = std::env::var("USER")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "the operator".to_string());
        for id in attest {
            let id = parse_id(id, "--attest")?;
            out.add(Attestation {
                id,
                by: who.clone(),
                note: None,
                source: "--attest".into(),
            });
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                usage(format!(
                    "reading --attestations {}: {e}; pass an existing TOML file",
                    path.display()
                ))
            })?;
            out.entries
                .extend(Attestations::parse(&text, path)?.entries);
        }
        Ok(out)
    }

    /// Parses an attestations file; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Attestations> {
        let f: File = toml::from_str(text).map_err(|e| {
            usage(format!(
                "{}: {}\nfix: write entries as [[attestation]] id = \"manual-...\", by = \"name\", note = \"...\"",
                path.display(),
                e.to_string().trim_end()
            ))
        })?;
        let mut out = Attestations::default();
        for e in f.attestation {
            let id = parse_id(&e.id, &path.display().to_string())?;
            if e.by.trim().is_empty() {
                return Err(usage(format!(
                    "{}: attestation `{}` has an empty `by`; name who checked it",
                    path.display(),
                    e.id
                )));
            }
            out.add(Attestation {
                id,
                by: e.by,
                note: e.note,
                source: path.display().to_string(),
            });
        }
        Ok(out)
    }

    fn add(&mut self, a: Attestation) {
        self.entries.push(a);
    }

    pub fn get(&self, id: CheckId) -> Option<&Attestation> {
        self.entries.iter().find(|a| a.id == id)
    }
}

/// One outcome per selected manual check: pass when attested, manual otherwise.
pub fn run(ctx: &Ctx, attestations: &Attestations) -> Vec<Outcome> {
    manual_ids()
        .into_iter()
        .filter(|id| ctx.wants(*id))
        .map(|id| match attestations.get(id) {
            Some(a) => {
                let mut ev = vec![Evidence::note(format!("attested by {} via {}", a.by, a.source))];
                if let Some(n) = &a.note {
                    ev.push(Evidence::note(n.clone()));
                }
                Outcome::pass(id, format!("attested by {}", a.by), ev)
            }
            None => Outcome::manual(
                id,
                format!("awaiting attestation: {}", id.meta().summary),
                vec![Evidence::note(format!(
                    "check it by hand, then run `cargo xtask preflight --attest {}` (or list it in an --attestations file)",
                    id.id()
                ))],
            ),
        })
        .collect()
}

/// Who runs this release, for the notes (`$USER`, as attestations record it).
pub fn operator() -> String {
    std::env::var("USER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "the operator".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_entries_are_validated() {
        let ok = "[[attestation]]\nid = \"manual-package-inheritance\"\nby = \"alice\"\nnote = \"checked 3 packages\"\n";
        let a = Attestations::parse(ok, Path::new("a.toml")).unwrap();
        assert_eq!(
            a.get(CheckId::ManualPackageInheritance).unwrap().by,
            "alice"
        );
        let bad = "[[attestation]]\nid = \"manual-nope\"\nby = \"alice\"\n";
        let err = Attestations::parse(bad, Path::new("a.toml")).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), 2);
        assert!(format!("{err}").contains("manual-package-inheritance"));
        let unknown_key = "[[attestation]]\nid = \"manual-package-inheritance\"\nwho = \"x\"\n";
        assert!(Attestations::parse(unknown_key, Path::new("a.toml")).is_err());
    }
}
