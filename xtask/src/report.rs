//! Rendering a check `Report` (human, JSON, SARIF 2.1.0) and turning it into an exit code.
//!
//! Checks only collect outcomes; this module decides what gates. The rule, documented in
//! docs/checks.md and docs/report-schema.md, is:
//! - a `fail` of an error-severity check gates (exit 1);
//! - a `warn`, or a `fail` of a warning-severity check, gates only with `--deny-warnings`;
//! - a `manual` (unattested) check gates only when the caller demands attestations (the
//!   release gate, for error-severity manual checks) or with `--deny-warnings`;
//! - a `not-run` (a check that should have run but could not: no permission, a rejected token,
//!   offline) gates the release gate (`require_complete`); elsewhere it never passes for a
//!   pass: preflight's verdict is then "not ready" (exit 4), or "offline" under `--offline`;
//! - `skip` (deliberate or not applicable) and `pass` never gate, and note-severity checks
//!   never gate.
//!
//! Verdicts: `ready` (preflight: every gating check ran and passed, every attestation is
//! recorded; exit 0), `not ready: N checks could not run, M attestations missing` (exit 4),
//! `offline: N checks not run` (preflight `--offline`: the operator said so; exit 0 unless a
//! check failed), `FAILED` (exit 1), and `ok` for reports that are not a readiness verdict
//! (`verify`, or preflight `--only`, whose selection is not the whole gate).

pub(crate) mod ghactions;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::checks::{ALL, Evidence, Kind, Outcome, Report, Section, Severity, Status};
use crate::exit;
use crate::flags::Format;

/// The version of the JSON report schema (docs/report-schema.md). Bump it on any breaking
/// change to field names or meanings; additions keep the version.
pub const SCHEMA_VERSION: u32 = 1;

/// What makes a report fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gate {
    /// Warnings (and unattested manual checks) fail too.
    pub deny_warnings: bool,
    /// Unattested error-severity manual checks fail (the release gate).
    pub require_attestations: bool,
    /// A check that could not run fails (the release gate): a skip is not a pass.
    pub require_complete: bool,
    /// What the verdict claims (preflight's readiness, or a plain report).
    pub readiness: Readiness,
}

/// What a passing report may call itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// A plain report (verify): `ok` or `FAILED`.
    #[default]
    Plain,
    /// Preflight over every check: `ready`, or `not ready` (exit 4) when a check could not
    /// run or an attestation is missing.
    Full,
    /// Preflight with `--only`: like `Full`, but a pass says `ok (selected checks)`, since
    /// the selection is not the whole gate.
    Selected,
    /// Preflight with `--offline`: never `ok`; `offline: N checks not run` (exit 0 unless a
    /// check failed: the operator declared the run partial).
    Offline,
}

/// The overall verdict of a report under a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Something gates (exit 1).
    Fail,
    /// Every check that gates ran and passed, every attestation is recorded (exit 0).
    Ready,
    /// Nothing failed, but checks could not run or attestations are missing (exit 4).
    NotReady { not_run: usize, missing: usize },
    /// `--offline`: nothing that ran failed; `not_run` checks were not run (exit 0).
    Offline { not_run: usize, missing: usize },
    /// A plain report, or a selection, with nothing gating (exit 0).
    Ok,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Fail => exit::POLICY,
            Verdict::NotReady { .. } => exit::INCOMPLETE,
            Verdict::Ready | Verdict::Offline { .. } | Verdict::Ok => exit::OK,
        }
    }

    /// The word for `summary.verdict` in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fail => "fail",
            Verdict::NotReady { .. } => "incomplete",
            Verdict::Offline { .. } => "offline",
            Verdict::Ready | Verdict::Ok => "pass",
        }
    }

    /// The summary line's lead, for people.
    pub(crate) fn headline(self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match self {
            Verdict::Fail => "FAILED".into(),
            Verdict::Ready => "ready".into(),
            Verdict::Ok => "ok".into(),
            Verdict::NotReady { not_run, missing } => format!(
                "not ready: {} could not run, {} missing",
                plural(not_run, "check", "checks"),
                plural(missing, "attestation", "attestations")
            ),
            Verdict::Offline { not_run, missing } => format!(
                "offline: {} not run, {} missing",
                plural(not_run, "check", "checks"),
                plural(missing, "attestation", "attestations")
            ),
        }
    }
}

/// Distinct checks that could not run (gating severity: error).
pub fn not_run(report: &Report) -> usize {
    let ids: std::collections::BTreeSet<_> = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::NotRun && o.id.meta().severity == Severity::Error)
        .map(|o| o.id)
        .collect();
    ids.len()
}

/// Distinct error-severity manual checks without an attestation.
pub fn attestations_missing(report: &Report) -> usize {
    let ids: std::collections::BTreeSet<_> = report
        .outcomes
        .iter()
        .filter(|o| {
            let m = o.id.meta();
            o.status == Status::Manual && m.kind == Kind::Manual && m.severity == Severity::Error
        })
        .map(|o| o.id)
        .collect();
    ids.len()
}

/// The verdict of `report` under `gate`.
pub fn verdict(report: &Report, gate: Gate) -> Verdict {
    if report.outcomes.iter().any(|o| gates(o, gate)) {
        return Verdict::Fail;
    }
    let (not_run, missing) = (not_run(report), attestations_missing(report));
    match gate.readiness {
        Readiness::Plain => Verdict::Ok,
        Readiness::Offline => Verdict::Offline { not_run, missing },
        Readiness::Full | Readiness::Selected if not_run + missing > 0 => {
            Verdict::NotReady { not_run, missing }
        }
        Readiness::Full => Verdict::Ready,
        Readiness::Selected => Verdict::Ok,
    }
}

/// How much one outcome weighs against the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// The level of one outcome under `gate`.
pub fn level(o: &Outcome, gate: Gate) -> Level {
    let meta = o.id.meta();
    let sev = match meta.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Note => Level::Note,
    };
    match o.status {
        Status::Pass | Status::Skip => Level::None,
        Status::NotRun if gate.require_complete => sev,
        Status::NotRun => Level::None,
        Status::Fail => sev,
        Status::Warn => sev.min(Level::Warning),
        Status::Manual => {
            if gate.require_attestations && meta.kind == Kind::Manual && sev == Level::Error {
                Level::Error
            } else {
                sev.min(Level::Warning)
            }
        }
    }
}

/// Whether `o` makes the run fail under `gate`.
pub fn gates(o: &Outcome, gate: Gate) -> bool {
    match level(o, gate) {
        Level::Error => true,
        Level::Warning => gate.deny_warnings,
        Level::Note | Level::None => false,
    }
}

/// 0 when nothing gates, 1 when something does, 4 when preflight is not ready.
pub fn exit_code(report: &Report, gate: Gate) -> u8 {
    verdict(report, gate).exit_code()
}

/// Counts per status, in a fixed order.
pub fn counts(report: &Report) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> =
        ["pass", "fail", "warn", "skip", "not-run", "manual"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
    for o in &report.outcomes {
        *m.entry(status_str(o.status)).or_default() += 1;
    }
    m
}

pub(crate) fn status_str(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
        Status::Skip => "skip",
        Status::NotRun => "not-run",
        Status::Manual => "manual",
    }
}

/// Evidence in one line, for people.
pub(crate) fn evidence_line(e: &Evidence) -> String {
    match e {
        Evidence::File {
            path,
            line,
            excerpt,
        } => {
            let mut s = path.display().to_string();
            if let Some(l) = line {
                let _ = write!(s, ":{l}");
            }
            if let Some(x) = excerpt {
                let _ = write!(s, ": {}", x.trim());
            }
            s
        }
        Evidence::Api {
            endpoint,
            field,
            value,
        } => format!("{endpoint} {field} = {value}"),
        Evidence::Digest { reference, digest } => format!("{reference} = {digest}"),
        Evidence::Note { text } => text.clone(),
    }
}

/// Whether to colour human output on stdout: `--color`, NO_COLOR, CLICOLOR, CLICOLOR_FORCE
/// and the terminal (`crate::output`).
pub(crate) fn use_color() -> bool {
    crate::output::color_stdout()
}

/// The human report: grouped by checklist section, one line per outcome plus its evidence.
pub fn human(report: &Report, gate: Gate, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut by_section: BTreeMap<Section, Vec<&Outcome>> = BTreeMap::new();
    for o in &report.outcomes {
        by_section.entry(o.id.meta().section).or_default().push(o);
    }
    let mut out = String::new();
    for (section, outcomes) in by_section {
        let _ = writeln!(out, "{}", paint("1", section.title()));
        for o in outcomes {
            let (label, code) = match (o.status, level(o, gate)) {
                (Status::Pass, _) => ("pass", "32"),
                (Status::Fail, Level::Error) => ("FAIL", "31;1"),
                (Status::Fail, _) => ("fail", "33"),
                (Status::Warn, _) => ("warn", "33"),
                (Status::Skip, _) => ("skip", "2"),
                (Status::NotRun, Level::Error) => ("NOTRUN", "31;1"),
                (Status::NotRun, _) => ("NOTRUN", "33;1"),
                (Status::Manual, Level::Error) => ("MANUAL", "31;1"),
                (Status::Manual, _) => ("manual", "36"),
            };
            let _ = writeln!(
                out,
                "  {} {}: {}",
                paint(code, &format!("{label:<6}")),
                o.id.id(),
                o.message
            );
            if matches!(o.status, Status::Skip | Status::NotRun) {
                // A skip's message already says why and how to enable it.
            } else if o.status != Status::Pass || o.evidence.len() <= 3 {
                for e in &o.evidence {
                    let _ = writeln!(out, "           {}", evidence_line(e));
                }
            } else {
                let _ = writeln!(
                    out,
                    "           {} (and {} more)",
                    evidence_line(&o.evidence[0]),
                    o.evidence.len() - 1
                );
            }
            if gates(o, gate) {
                let _ = writeln!(out, "           fix: {}", o.id.meta().fix);
            }
        }
    }
    let c = counts(report);
    let v = verdict(report, gate);
    let code = match v {
        Verdict::Ready | Verdict::Ok => "32;1",
        Verdict::Fail => "31;1",
        Verdict::NotReady { .. } | Verdict::Offline { .. } => "33;1",
    };
    let _ = writeln!(
        out,
        "\n{}: {} pass, {} fail, {} warn, {} skip, {} not run, {} manual",
        paint(code, &v.headline()),
        c["pass"],
        c["fail"],
        c["warn"],
        c["skip"],
        c["not-run"],
        c["manual"]
    );
    out
}

/// The JSON report (schema in docs/report-schema.md).
pub fn json(report: &Report, gate: Gate, command: &str) -> Value {
    let checks: Vec<Value> = report
        .outcomes
        .iter()
        .map(|o| {
            let m = o.id.meta();
            json!({
                "id": m.id,
                "status": status_str(o.status),
                "level": level(o, gate).as_str(),
                "gates": gates(o, gate),
                "section": m.section,
                "severity": m.severity,
                "kind": m.kind,
                "message": o.message,
                "evidence": o.evidence,
            })
        })
        .collect();
    let v = verdict(report, gate);
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": "cargo xtask",
        "command": command,
        "summary": {
            "counts": counts(report),
            "verdict": v.as_str(),
            "headline": v.headline(),
            "exit_code": v.exit_code(),
            "not_run": not_run(report),
            "attestations_missing": attestations_missing(report),
            "deny_warnings": gate.deny_warnings,
            "require_attestations": gate.require_attestations,
            "require_complete": gate.require_complete,
        },
        "checks": checks,
    })
}

/// SARIF 2.1.0: one run, every registry check as a rule, every outcome as a result.
/// `help_base` is the URL of docs/checks.md; rule help links to `{help_base}#{id}`.
pub fn sarif(report: &Report, gate: Gate, help_base: &str) -> Value {
    let rules: Vec<Value> = ALL
        .iter()
        .map(|c| {
            let m = c.meta();
            json!({
                "id": m.id,
                // SARIF wants `name` to be a readable identifier distinct from the opaque
                // `id`: `repo-private` becomes `RepoPrivate`.
                "name": pascal_case(m.id),
                "shortDescription": { "text": m.summary },
                "fullDescription": { "text": format!("{} {}", m.summary, m.why) },
                "help": {
                    "text": format!("Why: {}\nFix: {}\nChecklist: {}", m.why, m.fix, m.checklist),
                    "markdown": format!("**Why:** {}\n\n**Fix:** {}\n\n**Checklist:** {}", m.why, m.fix, m.checklist),
                },
                "helpUri": format!("{help_base}#{}", m.id),
                "defaultConfiguration": { "level": match m.severity {
                    Severity::Error => "error", Severity::Warning => "warning", Severity::Note => "note",
                } },
                "properties": { "section": m.section.title(), "phase": m.phase, "kind": m.kind },
            })
        })
        .collect();
    let index_of = |id: &str| ALL.iter().position(|c| c.id() == id).unwrap_or(0);
    let results: Vec<Value> = report
        .outcomes
        .iter()
        .map(|o| {
            // SARIF allows a level other than "none" only on results of kind "fail", so an
            // unattested manual check is a "review" unless it gates this run.
            let lvl = level(o, gate);
            let (kind, lvl) = match o.status {
                Status::Pass => ("pass", "none"),
                Status::Skip => ("notApplicable", "none"),
                // SARIF's "open": the tool could not determine whether the problem exists.
                Status::NotRun if !gates(o, gate) => ("open", "none"),
                Status::Manual if !gates(o, gate) => ("review", "none"),
                Status::Fail | Status::Warn | Status::Manual | Status::NotRun => (
                    "fail",
                    match lvl {
                        Level::Error => "error",
                        Level::Warning => "warning",
                        Level::Note | Level::None => "note",
                    },
                ),
            };
            let locations: Vec<Value> = o
                .evidence
                .iter()
                .filter_map(|e| match e {
                    Evidence::File { path, line, .. } => {
                        let uri = path.to_string_lossy().replace('\\', "/");
                        let mut phys = json!({ "artifactLocation": { "uri": uri } });
                        if let Some(l) = line {
                            phys["region"] = json!({ "startLine": l });
                        }
                        Some(json!({ "physicalLocation": phys }))
                    }
                    _ => None,
                })
                .collect();
            let mut text = o.message.clone();
            for e in &o.evidence {
                if !matches!(e, Evidence::File { .. }) {
                    let _ = write!(text, "\n{}", evidence_line(e));
                }
            }
            let mut r = json!({
                "ruleId": o.id.id(),
                "ruleIndex": index_of(o.id.id()),
                "kind": kind,
                "level": lvl,
                "message": { "text": text },
            });
            if !locations.is_empty() {
                r["locations"] = Value::Array(locations);
            } else if kind == "fail" {
                // Code-scanning uploads need a location on every failing result; without file
                // evidence the closest artefact is the configuration that scopes the check.
                r["locations"] = json!([{ "physicalLocation": {
                    "artifactLocation": { "uri": crate::config::FILE }
                } }]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "cargo-xtask",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": help_base,
                "rules": rules,
            } },
            "results": results,
        }],
    })
}

/// `repo-private` → `RepoPrivate`.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Renders `report` in `format` for `command`.
pub fn render(
    report: &Report,
    format: Format,
    gate: Gate,
    command: &str,
    help_base: &str,
) -> String {
    match format {
        Format::Human => human(report, gate, use_color()),
        Format::Json => {
            serde_json::to_string_pretty(&json(report, gate, command)).unwrap_or_default() + "\n"
        }
        Format::Sarif => {
            serde_json::to_string_pretty(&sarif(report, gate, help_base)).unwrap_or_default() + "\n"
        }
        Format::Github => crate::report::ghactions::render(report, gate, command),
    }
}

/// Prints `report` to stdout (redacted) and returns the exit code.
pub fn emit(report: &Report, format: Format, gate: Gate, command: &str, help_base: &str) -> u8 {
    let text = render(report, format, gate, command, help_base);
    crate::say_part!("{}", crate::secrets::redact_all(&text));
    crate::report::ghactions::write_step_summary(report, gate, command);
    exit_code(report, gate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckId;

    fn sample() -> Report {
        let mut r = Report::default();
        r.push(Outcome::pass(
            CheckId::WorkflowPresent,
            "ok",
            vec![Evidence::file(".github/workflows/x.yml", Some(1))],
        ));
        r.push(Outcome::warn(
            CheckId::WorkflowTopLevelPermissions,
            "top-level permissions grant packages: write",
            vec![Evidence::file(".github/workflows/x.yml", Some(3))],
        ));
        r.push(Outcome::manual(
            CheckId::ManualPackageInheritance,
            "awaiting attestation",
            vec![Evidence::note("run --attest manual-package-inheritance")],
        ));
        r
    }

    #[test]
    fn warnings_and_manual_gate_only_when_asked() {
        let r = sample();
        assert_eq!(exit_code(&r, Gate::default()), 0);
        let deny = Gate {
            deny_warnings: true,
            ..Gate::default()
        };
        assert_eq!(exit_code(&r, deny), 1);
        let strict = Gate {
            require_attestations: true,
            ..Gate::default()
        };
        assert_eq!(exit_code(&r, strict), 1);
        let mut r2 = r.clone();
        r2.push(Outcome::fail(
            CheckId::WorkflowPermissions,
            "write-all",
            vec![],
        ));
        assert_eq!(exit_code(&r2, Gate::default()), 1);
    }

    #[test]
    fn human_groups_by_section_without_color() {
        let text = human(&sample(), Gate::default(), false);
        assert!(!text.contains('\x1b'));
        assert!(text.contains("GitHub Actions permissions\n"));
        assert!(text.contains("GHCR package settings\n"));
        assert!(text.contains(".github/workflows/x.yml:3"));
    }

    /// The human and JSON renderings, whole (`UPDATE_EXPECT=1 cargo test -p xtask --lib
    /// report` rewrites them after an intended wording change).
    #[test]
    fn renderings_match_their_goldens() {
        expect_test::expect![[r#"
            GitHub Actions permissions
              pass   workflow-present: ok
                       .github/workflows/x.yml:1
              warn   workflow-top-level-permissions: top-level permissions grant packages: write
                       .github/workflows/x.yml:3
            GHCR package settings
              manual manual-package-inheritance: awaiting attestation
                       run --attest manual-package-inheritance

            ok: 1 pass, 0 fail, 1 warn, 0 skip, 0 not run, 1 manual
        "#]]
        .assert_eq(&human(&sample(), Gate::default(), false));
        let doc = json(&sample(), Gate::default(), "preflight");
        expect_test::expect![[r#"
            {
              "checks": [
                {
                  "evidence": [
                    {
                      "excerpt": null,
                      "kind": "file",
                      "line": 1,
                      "path": ".github/workflows/x.yml"
                    }
                  ],
                  "gates": false,
                  "id": "workflow-present",
                  "kind": "automated",
                  "level": "none",
                  "message": "ok",
                  "section": "actions-permissions",
                  "severity": "error",
                  "status": "pass"
                },
                {
                  "evidence": [
                    {
                      "excerpt": null,
                      "kind": "file",
                      "line": 3,
                      "path": ".github/workflows/x.yml"
                    }
                  ],
                  "gates": false,
                  "id": "workflow-top-level-permissions",
                  "kind": "automated",
                  "level": "warning",
                  "message": "top-level permissions grant packages: write",
                  "section": "actions-permissions",
                  "severity": "warning",
                  "status": "warn"
                },
                {
                  "evidence": [
                    {
                      "kind": "note",
                      "text": "run --attest manual-package-inheritance"
                    }
                  ],
                  "gates": false,
                  "id": "manual-package-inheritance",
                  "kind": "manual",
                  "level": "warning",
                  "message": "awaiting attestation",
                  "section": "package-settings",
                  "severity": "error",
                  "status": "manual"
                }
              ],
              "command": "preflight",
              "schema_version": 1,
              "summary": {
                "attestations_missing": 1,
                "counts": {
                  "fail": 0,
                  "manual": 1,
                  "not-run": 0,
                  "pass": 1,
                  "skip": 0,
                  "warn": 1
                },
                "deny_warnings": false,
                "exit_code": 0,
                "headline": "ok",
                "not_run": 0,
                "require_attestations": false,
                "require_complete": false,
                "verdict": "pass"
              },
              "tool": "cargo xtask"
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&doc).unwrap());
    }

    #[test]
    fn sarif_has_rules_and_locations() {
        let s = sarif(&sample(), Gate::default(), "https://example.test/checks.md");
        assert_eq!(s["version"], "2.1.0");
        let run = &s["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            ALL.len()
        );
        let res = &run["results"][1];
        assert_eq!(res["ruleId"], "workflow-top-level-permissions");
        assert_eq!(res["level"], "warning");
        assert_eq!(
            res["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
    }
}
