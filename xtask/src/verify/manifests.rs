//! `verify-manifest-digests-recorded`: the digests that deployment manifests
//! (`customer.manifests` globs) pin for this version equal the released digests, and appear in
//! this version's release notes.
//!
//! A reference to another version is ignored with a note; when no manifest references this
//! version yet, the check warns and lists the digests to use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checks::{CheckId, Evidence, Outcome};
use crate::workspace::Workspace;

use super::PackageState;

/// One image reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRef {
    pub path: PathBuf,
    pub line: u32,
    pub package: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub text: String,
}

/// References to `org/<package>` (any host) in `text`, with their tag and digest.
pub fn find_refs(path: &Path, text: &str, org: &str, packages: &[String]) -> Vec<FoundRef> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for pkg in packages {
            let needle = format!("/{org}/{pkg}");
            let mut from = 0;
            while let Some(at) = line[from..].find(&needle) {
                let start = from + at;
                let mut rest = &line[start + needle.len()..];
                from = start + needle.len();
                // `aisopsflow-core` must not match inside `aisopsflow-core-commercial`.
                if !(rest.is_empty()
                    || rest.starts_with(':')
                    || rest.starts_with('@')
                    || rest.starts_with(|c: char| c.is_whitespace() || c == '"' || c == '\''))
                {
                    continue;
                }
                let mut tag = None;
                if let Some(r) = rest.strip_prefix(':') {
                    let t: String = r
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                        .collect();
                    rest = &r[t.len()..];
                    tag = Some(t);
                }
                let mut digest = None;
                if let Some(r) = rest.strip_prefix("@sha256:") {
                    let hex: String = r.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                    digest = Some(format!("sha256:{hex}"));
                }
                let token_start = line[..start]
                    .rfind(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=')
                    .map(|i| i + 1)
                    .unwrap_or(0);
                out.push(FoundRef {
                    path: path.to_path_buf(),
                    line: i as u32 + 1,
                    package: pkg.clone(),
                    tag,
                    digest,
                    text: line[token_start..].trim().to_string(),
                });
            }
        }
    }
    out
}

pub fn outcomes(
    ws: &Workspace,
    version: &str,
    packages: &[PackageState],
) -> anyhow::Result<Vec<Outcome>> {
    let id = CheckId::VerifyManifestDigestsRecorded;
    let config = &ws.config;
    let released: BTreeMap<String, String> = packages
        .iter()
        .filter_map(|p| {
            p.semver
                .as_ref()
                .map(|r| (p.image.package.clone(), r.digest.clone()))
        })
        .collect();
    let names: Vec<String> = config.all_images().into_iter().map(|i| i.package).collect();
    let files: Vec<PathBuf> =
        crate::glob::workspace_files(&ws.root, &config.raw.customer.manifests)?
            .into_iter()
            .map(|rel| ws.root.join(rel))
            .collect();
    let notes_path = config.notes_dir().join(format!("{version}.md"));
    let notes = std::fs::read_to_string(&notes_path).ok();
    let rel = |p: &Path| p.strip_prefix(&ws.root).unwrap_or(p).to_path_buf();

    let mut ours = Vec::new();
    let mut ignored = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for r in find_refs(f, &text, config.org(), &names) {
            let this_version = r.tag.as_deref() == Some(version)
                || (r.tag.is_none()
                    && r.digest.is_some()
                    && r.digest.as_ref() == released.get(&r.package));
            if this_version {
                ours.push(r);
            } else {
                ignored.push(Evidence::file_excerpt(
                    rel(&r.path),
                    Some(r.line),
                    format!("ignored, not {version}: {}", r.text),
                ));
            }
        }
    }

    let mut out = Vec::new();
    if ours.is_empty() {
        let mut ev: Vec<Evidence> = released
            .iter()
            .map(|(p, d)| {
                Evidence::digest(
                    format!("{}:{version}", config.image_repository(p)),
                    d.clone(),
                )
            })
            .collect();
        ev.push(Evidence::note(format!(
            "{} manifest file(s) matched {}",
            files.len(),
            config.raw.customer.manifests.join(", ")
        )));
        ev.extend(ignored);
        out.push(Outcome::warn(
            id,
            format!("manifests not yet updated to {version}; use the digests below"),
            ev,
        ));
        return Ok(out);
    }
    for r in &ours {
        let mut ev = vec![Evidence::file_excerpt(
            rel(&r.path),
            Some(r.line),
            r.text.clone(),
        )];
        let Some(expected) = released.get(&r.package) else {
            out.push(Outcome::fail(
                id,
                format!("{} is referenced for {version}, but its {version} tag is missing from the registry", r.package),
                ev,
            ));
            continue;
        };
        ev.push(Evidence::digest(
            format!("{}:{version}", config.image_repository(&r.package)),
            expected.clone(),
        ));
        match &r.digest {
            None => out.push(Outcome::fail(
                id,
                format!("{} references {}:{version} by tag only; pin it by digest", rel(&r.path).display(), r.package),
                ev,
            )),
            Some(d) if d != expected => out.push(Outcome::fail(
                id,
                format!(
                    "{} pins {} to {d}, but {version} was released as {expected}",
                    rel(&r.path).display(),
                    r.package
                ),
                ev,
            )),
            Some(d) => match &notes {
                Some(text) if text.contains(d.as_str()) => out.push(Outcome::pass(
                    id,
                    format!("{} pins {} to the released digest, recorded in {}", rel(&r.path).display(), r.package, rel(&notes_path).display()),
                    {
                        ev.push(Evidence::file(rel(&notes_path), None));
                        ev
                    },
                )),
                Some(_) => out.push(Outcome::fail(
                    id,
                    format!(
                        "{} pins {} to {d}, which the release notes {} do not record",
                        rel(&r.path).display(),
                        r.package,
                        rel(&notes_path).display()
                    ),
                    ev,
                )),
                None => out.push(Outcome::pass(
                    id,
                    format!(
                        "{} pins {} to the released digest (no release notes at {} yet to record it)",
                        rel(&r.path).display(),
                        r.package,
                        rel(&notes_path).display()
                    ),
                    ev,
                )),
            },
        }
    }
    if let Some(first) = out.first_mut() {
        first.evidence.extend(ignored);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_refs_without_prefix_confusion() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!(
            "image: ghcr.io/aisopsflow/aisopsflow-core-commercial:1.4.0@{d}\n  image: \"ghcr.io/aisopsflow/aisopsflow-core:1.3.0\"\n"
        );
        let pkgs = vec![
            "aisopsflow-core".to_string(),
            "aisopsflow-core-commercial".to_string(),
        ];
        let refs = find_refs(Path::new("x.yaml"), &text, "aisopsflow", &pkgs);
        assert_eq!(refs.len(), 2, "{refs:?}");
        let c = refs
            .iter()
            .find(|r| r.package == "aisopsflow-core-commercial")
            .unwrap();
        assert_eq!(c.tag.as_deref(), Some("1.4.0"));
        assert_eq!(c.digest.as_deref(), Some(d.as_str()));
        let p = refs
            .iter()
            .find(|r| r.package == "aisopsflow-core")
            .unwrap();
        assert_eq!(
            (p.tag.as_deref(), p.digest.as_deref(), p.line),
            (Some("1.3.0"), None, 2)
        );
    }
}
