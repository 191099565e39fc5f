//! `verify VERSION --delivery`: the customer-ready references (`host/org/package:version@sha256:…`)
//! and the public SDK and catalog links, plus the `delivery-*` checks on exactly that text.
//!
//! The host is the configured registry (`AISOPSFLOW_REGISTRY` when set). Nothing here names
//! the enterprise repository; `delivery-no-enterprise-repo` proves it on the produced text.

use crate::checks::Outcome;
use crate::checks::delivery::{digest_references, no_enterprise_repo};
use crate::config::Visibility;
use crate::workspace::Workspace;

pub use crate::checks::delivery::{Delivery, DeliveryRef, is_digest_reference};
use crate::checks::verify::PackageState;

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

/// The `delivery-*` outcomes on `d`: the image prefixes and markers come from release.toml.
pub fn outcomes(ws: &Workspace, d: &Delivery, packages: &[PackageState]) -> Vec<Outcome> {
    // Image references start with `host/org/`; the SDK and catalog links are not images.
    let image_prefixes = [
        format!("{}/{}/", ws.config.registry_host(), ws.config.org()),
        format!("{}/{}/", ws.config.raw.registry.host, ws.config.org()),
    ];
    vec![
        digest_references(d, packages, &image_prefixes),
        no_enterprise_repo(d, &ws.config.enterprise_markers()),
    ]
}
