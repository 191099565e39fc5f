//! `cargo xtask preflight`: runs every check area in order and prints the report.
//!
//! Order: the offline areas (workflow, packages, customer docs, changes, notes-draft), then
//! the GitHub settings checks, then the image builds, then the manual attestations. `--only`
//! prefixes select checks; an area with no selected check does no work at all, so
//! `--only workflow` builds no image and calls no API. The release command calls [`gate`] with
//! its own context and attestations, so preflight and the release gate cannot disagree.
//!
//! Verdicts (`report::Verdict`): `ready` (exit 0) only when every check ran and passed and
//! every attestation is recorded; `not ready: N checks could not run, M attestations missing`
//! (exit 4) when nothing failed but evidence is missing, which is exactly what the release gate
//! refuses; `offline: N checks not run` under `--offline`; `FAILED` (exit 1).

use crate::checks::manual::Attestations;
use crate::checks::{self, ALL, CheckId, Ctx, Phase, Report};
use crate::exit::usage;
use crate::flags;
use crate::report::{self, Gate, Readiness};
use crate::workspace::Global;

/// Whether preflight runs `id`: every preflight-phase check, plus the delivery checks that
/// read the repository's customer documents.
pub fn runs(id: CheckId) -> bool {
    id.meta().phase == Phase::Preflight
        || matches!(
            id,
            CheckId::DeliveryNoEnterpriseRepo | CheckId::DeliveryPluginLinks
        )
}

/// Rejects `--only` prefixes that select no check, listing the ids that exist.
pub fn validate_only(only: &[String]) -> anyhow::Result<()> {
    for p in only {
        if !ALL
            .iter()
            .any(|c| runs(*c) && c.id().starts_with(p.as_str()))
        {
            let ids: Vec<&str> = ALL.iter().filter(|c| runs(**c)).map(|c| c.id()).collect();
            return Err(usage(format!(
                "--only {p} selects no preflight check; check ids are: {}",
                ids.join(", ")
            )));
        }
    }
    Ok(())
}

/// Validates `--skip-checks` values: each is a whole check id, or an area prefix that ends
/// where an id's dash does (`build` skips `build-core`, ...), and selects at least one gate
/// check (or a deep verify check, `verify-runs` and `verify-contents`). An empty value (an unset shell variable) would select every check, so it is refused,
/// as is skipping a manual attestation: those are attested, never skipped.
pub(crate) fn validate_skips(skips: &[String]) -> anyhow::Result<()> {
    // The gate's checks, and the deep verify checks the release's verify may skip.
    let gate_ids: Vec<CheckId> = ALL
        .iter()
        .copied()
        .filter(|c| runs(*c) || crate::checks::DEEP_VERIFY.contains(c))
        .collect();
    let list = || {
        gate_ids
            .iter()
            .filter(|c| c.meta().kind != crate::checks::Kind::Manual)
            .map(|c| c.id())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for s in skips {
        if s.trim().is_empty() {
            return Err(usage(format!(
                "--skip-checks got an empty value (an unset variable?), which would skip the whole gate; name the check ids to skip, e.g. `--skip-checks build`; ids are: {}",
                list()
            )));
        }
        let hits: Vec<CheckId> = gate_ids
            .iter()
            .copied()
            .filter(|c| skip_matches(s, *c))
            .collect();
        if hits.is_empty() {
            return Err(usage(format!(
                "--skip-checks {s} names no gate check (a whole id, or an area such as `build`); ids are: {}",
                list()
            )));
        }
        if let Some(m) = hits
            .iter()
            .find(|c| c.meta().kind == crate::checks::Kind::Manual)
        {
            return Err(usage(format!(
                "--skip-checks {s} would skip the manual attestation {}: attestations are recorded, never skipped; check it by hand and pass `--attest {}`",
                m.id(),
                m.id()
            )));
        }
    }
    Ok(())
}

/// Whether the `--skip-checks` value `s` names `id`: the whole id, or an area prefix ending
/// at one of the id's dashes.
pub(crate) fn skip_matches(s: &str, id: CheckId) -> bool {
    let id = id.id();
    !s.is_empty()
        && (id == s || (id.starts_with(s) && (s.ends_with('-') || id[s.len()..].starts_with('-'))))
}

pub use crate::checks::help_base;

/// Runs every selected preflight check and returns the outcomes. `Err` only when an external
/// system the checks need is unreachable (exit 3).
pub async fn gate(ctx: &Ctx, attestations: &Attestations) -> anyhow::Result<Report> {
    let mut report = Report::default();
    report.extend(checks::workflow::run(ctx));
    report.extend(checks::packages::run(ctx));
    report.extend(checks::docs::run(ctx));
    report.extend(checks::changes::run(ctx));
    report.extend(checks::notes::run(ctx));
    report.extend(checks::settings::run(ctx).await?);
    report.extend(checks::build::run(ctx).await?);
    report.extend(checks::manual::run(ctx, attestations));
    // Outcomes of ids preflight does not own (were an area to report them) are dropped so the
    // report matches `--only` exactly.
    report.outcomes.retain(|o| runs(o.id) && ctx.wants(o.id));
    Ok(report)
}

impl flags::Preflight {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let ws = g.workspace()?;
        validate_only(&self.checks.only)?;
        if let Some(dir) = &self.record_github {
            crate::effects::github::record_all_to(dir)?;
        }
        let components = ws.config.scope(&self.scope.components)?;
        let release = self
            .release
            .as_deref()
            .map(crate::tags::parse_version)
            .transpose()?;
        let attestations =
            Attestations::load(&self.checks.attest, self.checks.attestations.as_deref())?;
        let help = help_base(&ws.config);
        let ctx = Ctx {
            ws,
            components,
            only: self.checks.only.clone(),
            offline: self.checks.offline,
            release,
        };
        let report = gate(&ctx, &attestations).await?;
        // The verdict says what the run proves: `ready` only for the whole gate, run in full;
        // `--offline` is the operator saying the run is partial, and it says so.
        let readiness = if self.checks.offline {
            Readiness::Offline
        } else if self.checks.only.is_empty() {
            Readiness::Full
        } else {
            Readiness::Selected
        };
        let gate = Gate {
            deny_warnings: self.checks.deny_warnings,
            require_attestations: false,
            require_complete: false,
            readiness,
        };
        Ok(report::emit(
            &report,
            self.checks.format,
            gate,
            "preflight",
            &help,
        ))
    }
}
