//! `verify VERSION --delivery`: the customer-ready references (`host/org/package:version@sha256:…`)
//! and the public SDK and catalog links, plus the `delivery-*` checks on exactly that text.
//!
//! The host is the configured registry (`AISOPSFLOW_REGISTRY` when set). Nothing here names
//! the enterprise repository; `delivery-no-enterprise-repo` proves it on the produced text.

use serde::Serialize;

use crate::checks::{CheckId, Evidence, Outcome};
use crate::config::Visibility;
use crate::workspace::Workspace;

use super::PackageState;

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

pub fn build(ws: &Workspace, version: &str, packages: &[PackageState]) -> Delivery {
    let c = &ws.config.raw.customer;
    let mut references = Vec::new();
    let mut missing = Vec::new();
    for p in packages {
        match &p.semver {
            Some(r) => references.push(DeliveryRef {
                package: p.image.package.clone(),
                component: p.image.component.clone(),
                edition: p.image.edition.clone(),
                visibility: p.image.visibility,
                reference: format!("{}:{version}@{}", p.repository, r.digest),
                digest: r.digest.clone(),
                needs_credentials: p.image.visibility == Visibility::Private,
            }),
            None => missing.push(p.image.package.clone()),
        }
    }
    let mut text =
        format!("Customer delivery: aisopsflow {version}\n\nPublic images (anonymous pull):\n");
    for r in references.iter().filter(|r| !r.needs_credentials) {
        text.push_str(&format!("  {}\n", r.reference));
    }
    text.push_str("\nCommercial images (pull credentials required: a read:packages token issued to the customer):\n");
    for r in references.iter().filter(|r| r.needs_credentials) {
        text.push_str(&format!("  {}\n", r.reference));
    }
    text.push_str(&format!(
        "\nPin these references by digest in deployments.\n\nPlugin developers:\n  SDK:     {}\n  Catalog: {}\n",
        c.sdk_repository, c.catalog_repository
    ));
    Delivery {
        version: version.to_string(),
        references,
        missing,
        sdk_repository: c.sdk_repository.clone(),
        catalog_repository: c.catalog_repository.clone(),
        text,
    }
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

pub fn outcomes(ws: &Workspace, d: &Delivery, packages: &[PackageState]) -> Vec<Outcome> {
    let mut out = Vec::new();
    // Image references start with `host/org/`; the SDK and catalog links are not images.
    let image_prefixes = [
        format!("{}/{}/", ws.config.registry_host(), ws.config.org()),
        format!("{}/{}/", ws.config.raw.registry.host, ws.config.org()),
    ];
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
    out.push(if bad.is_empty() {
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
    });
    let lower = d.text.to_lowercase();
    let leaks: Vec<Evidence> = ws
        .config
        .enterprise_markers()
        .into_iter()
        .filter(|m| lower.contains(&m.to_lowercase()))
        .map(|m| Evidence::note(format!("the delivery text contains `{m}`")))
        .collect();
    out.push(if leaks.is_empty() {
        Outcome::pass(
            CheckId::DeliveryNoEnterpriseRepo,
            format!(
                "the delivery text names no enterprise repository; it points to {} and {}",
                d.sdk_repository, d.catalog_repository
            ),
            vec![Evidence::note(format!(
                "checked for: {}",
                ws.config.enterprise_markers().join(", ")
            ))],
        )
    } else {
        Outcome::fail(
            CheckId::DeliveryNoEnterpriseRepo,
            "the delivery text names the enterprise repository",
            leaks,
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
