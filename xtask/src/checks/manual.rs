//! Manual attestations: checklist lines no API can show, confirmed by the operator.
//!
//! An operator attests with `--attest ID` (recorded as by `$USER`) or `--attestations FILE`, a
//! TOML file of `[[attestation]] id = "...", by = "...", note = "..."`. Unknown ids and unknown
//! keys are usage errors (exit 2) that list the known ids. The release command loads the same
//! attestations with [`Attestations::load`] and writes [`Attestations::markdown`] into the notes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ALL, CheckId, Ctx, Evidence, Kind, Outcome};
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

    /// A Markdown section for the release notes: every manual check and who attested it.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "## Manual attestations\n\n| Check | Checklist line | Attested by | Note |\n|---|---|---|---|\n",
        );
        for id in manual_ids() {
            let m = id.meta();
            let (by, note) = match self.get(id) {
                Some(a) => (a.by.as_str(), a.note.as_deref().unwrap_or("")),
                None => ("**not attested**", ""),
            };
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                m.id,
                m.checklist,
                by,
                note.replace('|', "\\|")
            ));
        }
        s
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
        assert!(a.markdown().contains("| `manual-package-inheritance` |"));
        let bad = "[[attestation]]\nid = \"manual-nope\"\nby = \"alice\"\n";
        let err = Attestations::parse(bad, Path::new("a.toml")).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), 2);
        assert!(format!("{err}").contains("manual-package-inheritance"));
        let unknown_key = "[[attestation]]\nid = \"manual-package-inheritance\"\nwho = \"x\"\n";
        assert!(Attestations::parse(unknown_key, Path::new("a.toml")).is_err());
    }
}
