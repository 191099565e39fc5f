//! The `delivery-*` checks that judge what is handed to customers: image references by
//! digest, and no mention of the enterprise repository (`delivery-plugin-links` judges the
//! customer docs, in `docs`).
//!
//! The metadata of each id is here; `crate::verify::delivery` builds the delivery output and
//! judges it.

use super::{Kind, Meta, Phase, Section, Severity};

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
