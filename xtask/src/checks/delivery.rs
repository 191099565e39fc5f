//! The `delivery-*` judgements on what `verify VERSION --delivery` hands to customers:
//! image references by digest, and no mention of the enterprise repository, each a pure
//! function over the produced delivery (`delivery-plugin-links` judges the customer docs, in
//! `docs`; `delivery-no-enterprise-repo` is judged there on the docs too).
//!
//! `crate::verify::delivery` builds the delivery text from the resolved tags and calls these.

use serde::Serialize;

use super::verify::PackageState;
use super::{CheckId, Evidence, Kind, Meta, Outcome, Phase, Section, Severity};
use crate::config::Visibility;

/// One reference handed to customers.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRef {
    pub package: String,
    pub component: String,
    pub edition: String,
    pub visibility: Visibility,
    /// `host/org/package:version@sha256:…`.
    pub reference: String,
    pub digest: String,
    /// Commercial packages need pull credentials (a read:packages token per customer).
    pub needs_credentials: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub version: String,
    pub references: Vec<DeliveryRef>,
    /// Packages whose release tag is missing, so no reference could be made.
    pub missing: Vec<String>,
    pub sdk_repository: String,
    pub catalog_repository: String,
    /// The text printed for customers.
    pub text: String,
}

/// Whether `s` is `host/org/package:version@sha256:<64 hex>` for this package and version.
pub fn is_digest_reference(s: &str, repository: &str, version: &str) -> bool {
    let Some(rest) = s.strip_prefix(&format!("{repository}:{version}@sha256:")) else {
        return false;
    };
    rest.len() == 64
        && rest
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

pub(crate) const DELIVERY_DIGEST_REFERENCES: Meta = Meta {
    id: "delivery-digest-references",
    section: Section::CustomerDelivery,
    phase: Phase::Delivery,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "share image references by digest, not just by tag",
    summary: "Every image reference handed to customers is `host/org/package:version@sha256:...`.",
    why: "A tag alone can be moved after the customer verified it.",
    fix: "Use the references printed by `cargo xtask verify VERSION --delivery`.",
};

/// `delivery-digest-references`: every package has a reference, each is
/// `host/org/package:version@sha256:<64 hex>` and is printed, and every line naming one of our
/// images (`image_prefixes`: `host/org/` for the registry in use and the configured one)
/// carries its digest.
pub(crate) fn digest_references(
    d: &Delivery,
    packages: &[PackageState],
    image_prefixes: &[String],
) -> Outcome {
    let mut bad = Vec::new();
    for p in packages {
        match d.references.iter().find(|r| r.package == p.image.package) {
            Some(r)
                if is_digest_reference(&r.reference, &p.repository, &d.version)
                    && d.text.contains(&r.reference) => {}
            Some(r) => bad.push(format!(
                "{}: `{}` is not a digest reference",
                p.image.package, r.reference
            )),
            None => bad.push(format!(
                "{}: no reference ({}:{} is missing)",
                p.image.package, p.repository, d.version
            )),
        }
    }
    // Every line that names one of our images must carry the digest.
    for line in d.text.lines().map(str::trim) {
        if image_prefixes.iter().any(|p| line.contains(p.as_str())) && !line.contains("@sha256:") {
            bad.push(format!("`{line}` names an image without its digest"));
        }
    }
    if bad.is_empty() {
        Outcome::pass(
            CheckId::DeliveryDigestReferences,
            format!(
                "{} references, every one pinned by digest",
                d.references.len()
            ),
            d.references
                .iter()
                .map(|r| Evidence::digest(r.reference.clone(), r.digest.clone()))
                .collect(),
        )
    } else {
        Outcome::fail(
            CheckId::DeliveryDigestReferences,
            "the delivery output has references that are not pinned by digest",
            bad.into_iter().map(Evidence::note).collect(),
        )
    }
}

pub(crate) const DELIVERY_NO_ENTERPRISE_REPO: Meta = Meta {
    id: "delivery-no-enterprise-repo",
    section: Section::CustomerDelivery,
    phase: Phase::Delivery,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose the enterprise source repository",
    summary: "Customer-facing docs and delivery output never name or link the enterprise repository.",
    why: "The enterprise repository is private; links leak its existence and structure.",
    fix: "Remove the link named in the evidence; point to the public SDK or catalog instead.",
};

/// `delivery-no-enterprise-repo` on the delivery text: no enterprise marker (`markers`,
/// compared without case) appears in it.
pub(crate) fn no_enterprise_repo(d: &Delivery, markers: &[String]) -> Outcome {
    let lower = d.text.to_lowercase();
    let leaks: Vec<Evidence> = markers
        .iter()
        .filter(|m| lower.contains(&m.to_lowercase()))
        .map(|m| Evidence::note(format!("the delivery text contains `{m}`")))
        .collect();
    if leaks.is_empty() {
        Outcome::pass(
            CheckId::DeliveryNoEnterpriseRepo,
            format!(
                "the delivery text names no enterprise repository; it points to {} and {}",
                d.sdk_repository, d.catalog_repository
            ),
            vec![Evidence::note(format!(
                "checked for: {}",
                markers.join(", ")
            ))],
        )
    } else {
        Outcome::fail(
            CheckId::DeliveryNoEnterpriseRepo,
            "the delivery text names the enterprise repository",
            leaks,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    #[test]
    fn digest_reference_shape() {
        let d = "a".repeat(64);
        assert!(is_digest_reference(
            &format!("ghcr.io/o/p:1.0.0@sha256:{d}"),
            "ghcr.io/o/p",
            "1.0.0"
        ));
        assert!(!is_digest_reference(
            "ghcr.io/o/p:1.0.0",
            "ghcr.io/o/p",
            "1.0.0"
        ));
        assert!(!is_digest_reference(
            &format!("ghcr.io/o/p:1.0.1@sha256:{d}"),
            "ghcr.io/o/p",
            "1.0.0"
        ));
        assert!(!is_digest_reference(
            &format!("ghcr.io/o/p:1.0.0@sha256:{}", "A".repeat(64)),
            "ghcr.io/o/p",
            "1.0.0"
        ));
    }

    /// A two-package delivery as `verify --delivery` prints it (packages built by hand: the
    /// judgement reads only the references and the text).
    fn delivery(core_ref: &str) -> (Delivery, Vec<PackageState>) {
        let d = format!("sha256:{}", "a".repeat(64));
        let image = |package: &str, visibility| crate::config::ImageSpec {
            component: "core".into(),
            edition: if visibility == Visibility::Public {
                "public"
            } else {
                "commercial"
            }
            .into(),
            package: package.into(),
            krate: "aisopsflow-core".into(),
            dir: "core".into(),
            visibility,
            features: Vec::new(),
        };
        let state = |package: &str, visibility| PackageState {
            image: image(package, visibility),
            repository: format!("ghcr.io/aisopsflow/{package}"),
            semver: None,
            sha: None,
            latest: None,
        };
        let packages = vec![
            state("aisopsflow-core", Visibility::Public),
            state("aisopsflow-core-commercial", Visibility::Private),
        ];
        let reference = |p: &PackageState, r: &str| DeliveryRef {
            package: p.image.package.clone(),
            component: "core".into(),
            edition: p.image.edition.clone(),
            visibility: p.image.visibility,
            reference: r.to_string(),
            digest: d.clone(),
            needs_credentials: p.image.visibility == Visibility::Private,
        };
        let commercial = format!("ghcr.io/aisopsflow/aisopsflow-core-commercial:1.2.0@{d}");
        let references = vec![
            reference(&packages[0], core_ref),
            reference(&packages[1], &commercial),
        ];
        let text = format!(
            "Customer delivery: aisopsflow 1.2.0\n\nPublic images (anonymous pull):\n  {core_ref}\n\nCommercial images:\n  {commercial}\n\nPlugin developers:\n  SDK:     https://github.com/aisopsflow/aisopsflow-sdk\n"
        );
        let delivery = Delivery {
            version: "1.2.0".into(),
            references,
            missing: Vec::new(),
            sdk_repository: "https://github.com/aisopsflow/aisopsflow-sdk".into(),
            catalog_repository: "https://github.com/aisopsflow/aisopsflow-catalog".into(),
            text,
        };
        (delivery, packages)
    }

    #[test]
    fn delivery_is_judged_on_its_references_and_text() {
        let prefixes = ["ghcr.io/aisopsflow/".to_string()];
        let pinned = format!(
            "ghcr.io/aisopsflow/aisopsflow-core:1.2.0@sha256:{}",
            "a".repeat(64)
        );
        let (d, packages) = delivery(&pinned);
        let o = digest_references(&d, &packages, &prefixes);
        assert_eq!(o.status, Status::Pass, "{:?}", o.evidence);
        assert_eq!(o.message, "2 references, every one pinned by digest");
        let (d, packages) = delivery("ghcr.io/aisopsflow/aisopsflow-core:1.2.0");
        let o = digest_references(&d, &packages, &prefixes);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.evidence,
            vec![
                Evidence::note(
                    "aisopsflow-core: `ghcr.io/aisopsflow/aisopsflow-core:1.2.0` is not a digest reference"
                ),
                Evidence::note(
                    "`ghcr.io/aisopsflow/aisopsflow-core:1.2.0` names an image without its digest"
                ),
            ]
        );
        // A package in scope with no reference at all.
        let (mut d, packages) = delivery(&pinned);
        d.references.remove(1);
        let o = digest_references(&d, &packages, &prefixes);
        assert!(
            o.evidence.contains(&Evidence::note("aisopsflow-core-commercial: no reference (ghcr.io/aisopsflow/aisopsflow-core-commercial:1.2.0 is missing)")),
            "{:?}",
            o.evidence
        );

        let markers = [
            "github.com/aisopsflow/aisopsflow-enterprise".to_string(),
            "aisopsflow/aisopsflow-enterprise".to_string(),
        ];
        let (mut d, _) = delivery(&pinned);
        assert_eq!(no_enterprise_repo(&d, &markers).status, Status::Pass);
        d.text
            .push_str("Source: https://GitHub.com/aisopsflow/aisopsflow-enterprise\n");
        let o = no_enterprise_repo(&d, &markers);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.evidence.len(),
            2,
            "both markers match, case aside: {:?}",
            o.evidence
        );
    }
}
