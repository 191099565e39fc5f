//! The `verify-*` checks: what the registry holds after a release (packages, tags, `latest`,
//! visibility, public metadata, recorded manifest digests) and, with `--deep`, what the images
//! run and contain.
//!
//! The metadata of each id is here; `crate::verify` gathers the registry's answers and
//! judges them (moving those judgements here is issue #18's next step).

use super::{Kind, Meta, Phase, Section, Severity};

pub(crate) const VERIFY_PACKAGES_EXIST: Meta = Meta {
    id: "verify-packages-exist",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "both expected GHCR packages exist",
    summary: "Both editions of every component in scope exist in the registry.",
    why: "A half-published release gives customers one edition and not the other.",
    fix: "Open the publish workflow run named in the notes; rerun it for the tag (`cargo xtask release VERSION` resumes).",
};

pub(crate) const VERIFY_SEMVER_TAG: Meta = Meta {
    id: "verify-semver-tag",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "expected semver tag is present",
    summary: "Each package has the release's semver tag.",
    why: "Customers and the notes refer to the semver tag.",
    fix: "Rerun the publish workflow for the tag; check its logs for a failed push.",
};

pub(crate) const VERIFY_SHA_TAG: Meta = Meta {
    id: "verify-sha-tag",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "expected git sha tag is present",
    summary: "Each package has the sha-<7 hex> tag, with the same digest as the semver tag.",
    why: "The sha tag ties an image to its commit; differing digests mean two different builds were published.",
    fix: "Rerun the publish workflow for the tag; if digests differ, find which run pushed which tag.",
};

pub(crate) const VERIFY_LATEST_POLICY: Meta = Meta {
    id: "verify-latest-policy",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "`latest` moved only for `release-v*` or an explicit manual dispatch with `publish_latest=true`",
    summary: "`latest` equals this release's digest exactly when the policy says it moves, and is unchanged otherwise.",
    why: "Customers who follow `latest` must only get releases that were meant for them.",
    fix: "Move `latest` back to the digest recorded as 'before' in the notes (`cargo xtask promote PREVIOUS`), then find what moved it.",
};

pub(crate) const VERIFY_VISIBILITY: Meta = Meta {
    id: "verify-visibility",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "package visibility is still private",
    summary: "Commercial packages are private and public ones public, per the Packages API and an anonymous pull attempt.",
    why: "A publish can create a package with the wrong visibility; an anonymous pull is the proof.",
    fix: "A public edition the first release created is private (a package a workflow creates inherits the private repository's visibility): an org admin makes it public once, Package settings > Danger Zone > Change visibility > Public (docs/runbook.md, First release). A commercial package that became public cannot be made private again: rotate it.",
};

pub(crate) const VERIFY_PUBLIC_METADATA_CLEAN: Meta = Meta {
    id: "verify-public-metadata-clean",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose commercial-only defaults in public package metadata",
    summary: "Published public images' config, labels, annotations and attestations carry no enterprise URL or commercial default.",
    why: "What is in the registry is what customers see, whatever the build said.",
    fix: "Rebuild without the named label or env and publish a new patch release.",
};

pub(crate) const VERIFY_MANIFEST_DIGESTS_RECORDED: Meta = Meta {
    id: "verify-manifest-digests-recorded",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "package digest used by deployment manifests is recorded in the release notes",
    summary: "Digests in deployment manifests equal the released digests and appear in the release notes.",
    why: "The notes are the audit trail from a running deployment back to a release.",
    fix: "Update the manifests with the digests from `cargo xtask verify VERSION --delivery` and rerun `cargo xtask release VERSION` to rewrite the notes.",
};

pub(crate) const VERIFY_RUNS: Meta = Meta {
    id: "verify-runs",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "image changes match the intended component release",
    summary: "Each released image, pulled by digest from the registry through the Docker engine, runs and reports this release's version, the tag's commit and its edition; core answers its health probe.",
    why: "Tags and digests prove where an image is, not what it is: an image built from another commit under this release's tags would pass every other check.",
    fix: "Read what the image printed in the evidence; if it names another version or commit, find which run pushed that digest under this release's tags, then republish the tag (`cargo xtask release VERSION` resumes) or cut a patch release.",
};

pub(crate) const VERIFY_CONTENTS: Meta = Meta {
    id: "verify-contents",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose commercial-only defaults in public package metadata",
    summary: "Each released image's layers, read from the registry, hold exactly the binary, the CA bundle and the user database with owner 0:0 and the expected modes, the binary carrying the tag's commit; nothing in a public image names the enterprise repository or a commercial-only default.",
    why: "A stray file or a string in the binary ships to every customer who pulls; public images are world-readable.",
    fix: "Remove the stray file or string named in the evidence from the build (Dockerfile, staged context, binary), and publish a new patch release; a leaked commercial default must also be rotated.",
};
