//! Offline package checks: the package set from release.toml and the package READMEs.
//!
//! Loading release.toml already rejects most bad package configurations; these checks report
//! what was validated, with evidence pointing at release.toml lines, and read the package
//! READMEs (`customer.package_readmes`) that become the packages' public descriptions.

use std::collections::BTreeSet;

use super::{CheckId, Ctx, Evidence, Outcome};
use super::{Kind, Meta, Phase, Section, Severity};
use crate::config::{CHECKLIST_ALLOWLIST, FILE, Visibility};

pub(crate) const PACKAGES_README_PIN_DIGEST: Meta = Meta {
    id: "packages-readme-pin-digest",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "package README should state that customer and user environments should pin by digest",
    summary: "Each package README tells users to pin by digest.",
    why: "Tags move; only a digest guarantees customers run the image that was verified.",
    fix: "Add a 'Pin by digest' section with an `image@sha256:...` example to docs/packages/<package>.md.",
};

pub(crate) const PACKAGES_PUBLIC_METADATA_CLEAN: Meta = Meta {
    id: "packages-public-metadata-clean",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose commercial-only defaults in public package metadata",
    summary: "Public package READMEs mention no commercial-only default and no enterprise repository.",
    why: "Public metadata is world-readable; commercial defaults and the enterprise repository are not.",
    fix: "Remove the named string from the public package README.",
};

pub const IDS: &[CheckId] = &[
    CheckId::PackagesAllowlist,
    CheckId::PackagesNamesDisjoint,
    CheckId::PackagesReadmePinDigest,
    CheckId::PackagesPublicMetadataClean,
];

/// The first line (1-based) of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
}

/// What the configuration checks read: release.toml's text (for evidence lines) and the
/// images it produces.
struct Facts<'a> {
    cfg: &'a crate::config::Config,
    toml: String,
    images: Vec<crate::config::ImageSpec>,
}

/// The checks judged on release.toml alone, in report order; `--only` picks entries.
type Judge = fn(&Facts) -> Outcome;
const CONFIG_CHECKS: [(CheckId, Judge); 2] = [
    (CheckId::PackagesAllowlist, allowlist),
    (CheckId::PackagesNamesDisjoint, names_disjoint),
];

pub(crate) const PACKAGES_ALLOWLIST: Meta = Meta {
    id: "packages-allowlist",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Create and retain only these packages",
    summary: "release.toml produces exactly the six allowed packages.",
    why: "Every package is a publication surface; strays leak builds nobody reviews.",
    fix: "Fix [editions.*].package or [packages].allowed in release.toml; an extra package needs a [[packages.exceptions]] reason.",
};

/// `packages-allowlist`: the packages release.toml produces are the checklist's six (an
/// exception with a reason is a warning).
fn allowlist(f: &Facts) -> Outcome {
    let produced: BTreeSet<&str> = f.images.iter().map(|i| i.package.as_str()).collect();
    let allowed: BTreeSet<&str> = CHECKLIST_ALLOWLIST.into_iter().collect();
    let ev = vec![
        Evidence::file_excerpt(FILE, line_of(&f.toml, "allowed"), "[packages].allowed"),
        Evidence::note(format!(
            "produced: {}",
            produced.iter().copied().collect::<Vec<_>>().join(", ")
        )),
    ];
    let extra: Vec<&str> = produced.difference(&allowed).copied().collect();
    let missing: Vec<&str> = allowed.difference(&produced).copied().collect();
    if extra.is_empty() && missing.is_empty() {
        Outcome::pass(
            CheckId::PackagesAllowlist,
            "release.toml produces exactly the six allowed packages",
            ev,
        )
    } else {
        let mut msg = Vec::new();
        if !extra.is_empty() {
            msg.push(format!("outside the checklist's six: {}", extra.join(", ")));
        }
        if !missing.is_empty() {
            msg.push(format!("never produced: {}", missing.join(", ")));
        }
        // Exceptions are allowed by release.toml with a reason: say so, but they still
        // differ from the checklist, so report a warning rather than a pass.
        let all_excepted = missing.is_empty()
            && extra
                .iter()
                .all(|e| f.cfg.raw.packages.exceptions.iter().any(|x| x.name == *e));
        if all_excepted {
            Outcome::warn(
                CheckId::PackagesAllowlist,
                format!("{} (allowed by [[packages.exceptions]])", msg.join("; ")),
                ev,
            )
        } else {
            Outcome::fail(CheckId::PackagesAllowlist, msg.join("; "), ev)
        }
    }
}

pub(crate) const PACKAGES_NAMES_DISJOINT: Meta = Meta {
    id: "packages-names-disjoint",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "public package names and commercial package names must stay separate",
    summary: "Public and commercial package names never collide.",
    why: "A shared name would publish commercial bits under a public package, or the reverse.",
    fix: "Keep the commercial pattern distinct, e.g. \"aisopsflow-{component}-commercial\".",
};

/// `packages-names-disjoint`: no package name is both public and commercial.
fn names_disjoint(f: &Facts) -> Outcome {
    let public: BTreeSet<&str> = f
        .images
        .iter()
        .filter(|i| i.visibility == Visibility::Public)
        .map(|i| i.package.as_str())
        .collect();
    let private: BTreeSet<&str> = f
        .images
        .iter()
        .filter(|i| i.visibility == Visibility::Private)
        .map(|i| i.package.as_str())
        .collect();
    let ev: Vec<Evidence> = f
        .cfg
        .raw
        .editions
        .iter()
        .map(|(name, e)| {
            Evidence::file_excerpt(
                FILE,
                line_of(&f.toml, &format!("[editions.{name}]")),
                format!("{name}: {}", e.package),
            )
        })
        .collect();
    let both: Vec<&str> = public.intersection(&private).copied().collect();
    if both.is_empty() {
        Outcome::pass(
            CheckId::PackagesNamesDisjoint,
            format!(
                "{} public and {} commercial package names, none shared",
                public.len(),
                private.len()
            ),
            ev,
        )
    } else {
        Outcome::fail(
            CheckId::PackagesNamesDisjoint,
            format!("shared by both editions: {}", both.join(", ")),
            ev,
        )
    }
}

pub fn run(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.wants_any(IDS) {
        return Vec::new();
    }
    let cfg = &ctx.ws.config;
    let facts = Facts {
        cfg,
        toml: std::fs::read_to_string(&cfg.path).unwrap_or_default(),
        images: cfg.all_images(),
    };
    let mut out: Vec<Outcome> = CONFIG_CHECKS
        .iter()
        .filter(|(id, _)| ctx.wants(*id))
        .map(|(_, judge)| judge(&facts))
        .collect();
    let images = &facts.images;

    let wants_pin = ctx.wants(CheckId::PackagesReadmePinDigest);
    let wants_clean = ctx.wants(CheckId::PackagesPublicMetadataClean);
    if wants_pin || wants_clean {
        let mut forbidden = cfg.commercial_only_defaults();
        forbidden.extend(cfg.enterprise_markers());
        let mut clean_ev = Vec::new();
        let mut clean_fail = false;
        let mut pin_ev = Vec::new();
        let mut pin_fail = false;
        for img in images {
            let path = cfg.package_readme(&img.package);
            let rel = path
                .strip_prefix(&ctx.ws.root)
                .unwrap_or(&path)
                .to_path_buf();
            let Ok(text) = std::fs::read_to_string(&path) else {
                if wants_pin {
                    pin_fail = true;
                    out.push(Outcome::fail(
                        CheckId::PackagesReadmePinDigest,
                        format!(
                            "{} has no README; create it with a 'Pin by digest' section",
                            img.package
                        ),
                        vec![Evidence::file(&rel, None)],
                    ));
                }
                continue;
            };
            if wants_pin {
                let lower = text.to_ascii_lowercase();
                let says = lower.contains("pin") && lower.contains("digest");
                let example = text
                    .lines()
                    .position(|l| l.contains(&img.package) && super::docs::has_digest(l));
                match (says, example) {
                    (true, Some(i)) => pin_ev.push(Evidence::file(&rel, Some(i as u32 + 1))),
                    _ => {
                        pin_fail = true;
                        out.push(Outcome::fail(
                            CheckId::PackagesReadmePinDigest,
                            format!(
                                "{} README does not tell users to pin by digest with an `{}@sha256:...` example",
                                img.package, img.package
                            ),
                            vec![Evidence::file(&rel, None)],
                        ));
                    }
                }
            }
            if wants_clean && img.visibility == Visibility::Public {
                for (i, line) in text.lines().enumerate() {
                    if let Some(f) = forbidden.iter().find(|f| line.contains(f.as_str())) {
                        clean_fail = true;
                        out.push(Outcome::fail(
                            CheckId::PackagesPublicMetadataClean,
                            format!("public package README of {} mentions `{f}`", img.package),
                            vec![Evidence::file_excerpt(
                                &rel,
                                Some(i as u32 + 1),
                                line.trim(),
                            )],
                        ));
                    }
                }
                clean_ev.push(Evidence::file(&rel, None));
            }
        }
        if wants_pin && !pin_fail {
            out.push(Outcome::pass(
                CheckId::PackagesReadmePinDigest,
                "every package README says to pin by digest, with an example",
                pin_ev,
            ));
        }
        if wants_clean && !clean_fail {
            out.push(Outcome::pass(
                CheckId::PackagesPublicMetadataClean,
                "public package READMEs mention no commercial-only default and no enterprise repository",
                clean_ev,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    fn facts(cfg: &crate::config::Config) -> Facts<'_> {
        Facts {
            cfg,
            toml: std::fs::read_to_string(&cfg.path).unwrap(),
            images: cfg.all_images(),
        }
    }

    #[test]
    fn configuration_checks_are_judged_on_the_images_release_toml_produces() {
        let cfg = crate::config::for_tests();
        let good = facts(&cfg);
        for (id, judge) in CONFIG_CHECKS {
            let o = judge(&good);
            assert_eq!((o.id, o.status), (id, Status::Pass), "{}", o.message);
        }
        assert!(
            matches!(
                &allowlist(&good).evidence[0],
                Evidence::File { line: Some(_), .. }
            ),
            "points at [packages].allowed"
        );
        // A seventh package, not excepted: a failure naming it.
        let mut extra = facts(&cfg);
        let mut stray = extra.images[0].clone();
        stray.package = "aisopsflow-debug".into();
        extra.images.push(stray);
        let o = allowlist(&extra);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.message, "outside the checklist's six: aisopsflow-debug");
        // A public image under a commercial package's name.
        let mut shared = facts(&cfg);
        let commercial = shared
            .images
            .iter()
            .find(|i| i.visibility == Visibility::Private)
            .unwrap()
            .package
            .clone();
        let public = shared
            .images
            .iter_mut()
            .find(|i| i.visibility == Visibility::Public)
            .unwrap();
        public.package = commercial.clone();
        let o = names_disjoint(&shared);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.message, format!("shared by both editions: {commercial}"));
    }
}
