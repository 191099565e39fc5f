//! GitHub Actions output for check reports: `--format github` (workflow commands that become
//! annotations on the run and on the files they name) and the job's step summary.
//!
//! Workflow commands are `::error file=F,line=L,title=T::message`, one per line on stdout
//! (docs.github.com "Workflow commands for GitHub Actions"). Values are escaped as the
//! actions toolkit does (packages/core/src/command.ts): in the message `%`, CR and LF become
//! `%25`, `%0D`, `%0A`; in property values `:` and `,` also become `%3A` and `%2C`. So a
//! message can neither end the command early nor start a second one on a new line.

use std::fmt::Write as _;
use std::path::Path;

use crate::checks::{Evidence, Outcome, Report, Status};
use crate::report::{self, Gate, Level};

/// `escapeData` of the actions toolkit.
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `escapeProperty` of the actions toolkit.
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The file and line an outcome points at: its first file evidence, relative to the
/// workspace (annotations name files relative to the repository root).
fn location(o: &Outcome) -> Option<(String, Option<u32>)> {
    o.evidence.iter().find_map(|e| match e {
        Evidence::File { path, line, .. } => {
            let workspace = std::env::var_os("GITHUB_WORKSPACE");
            let rel = workspace
                .as_deref()
                .and_then(|w| path.strip_prefix(Path::new(w)).ok())
                .unwrap_or(path);
            Some((rel.display().to_string(), *line))
        }
        _ => None,
    })
}

/// One workflow command for `o`, or `None` when it weighs nothing (a pass or a skip).
pub fn command(o: &Outcome, gate: Gate) -> Option<String> {
    let kind = match report::level(o, gate) {
        Level::None => return None,
        Level::Error => "error",
        // What gates the run is an error on the run, whatever the check's own severity.
        Level::Warning if report::gates(o, gate) => "error",
        Level::Warning => "warning",
        Level::Note => "notice",
    };
    let mut props = Vec::new();
    if let Some((file, line)) = location(o) {
        props.push(format!("file={}", escape_property(&file)));
        if let Some(l) = line {
            props.push(format!("line={l}"));
        }
    }
    props.push(format!(
        "title={}",
        escape_property(&format!("{} ({})", o.id.id(), report::status_str(o.status)))
    ));
    let mut message = o.message.clone();
    for e in &o.evidence {
        let _ = write!(message, "\n{}", report::evidence_line(e));
    }
    let _ = write!(
        message,
        "\nfix: {}\nsee docs/checks.md#{}",
        o.id.meta().fix,
        o.id.id()
    );
    Some(format!(
        "::{kind} {}::{}",
        props.join(","),
        escape_data(&crate::secrets::redact_all(&message))
    ))
}

/// The whole report as workflow commands, then one plain summary line.
pub fn render(report: &Report, gate: Gate, command_name: &str) -> String {
    let mut out = String::new();
    for o in &report.outcomes {
        if let Some(c) = command(o, gate) {
            out.push_str(&c);
            out.push('\n');
        }
    }
    out.push_str(&crate::secrets::redact_all(&format!(
        "{command_name}: {}; exit {}\n",
        counts_line(report),
        report::exit_code(report, gate)
    )));
    out
}

/// The statuses in reading order.
const STATUSES: [&str; 5] = ["pass", "fail", "warn", "skip", "manual"];

fn counts_line(report: &Report) -> String {
    let counts = report::counts(report);
    STATUSES
        .iter()
        .map(|k| format!("{} {k}", counts.get(k).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Markdown for the step summary: the verdict, the counts, and every outcome that is not a
/// pass or a skip.
pub(crate) fn summary_markdown(report: &Report, gate: Gate, command_name: &str) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace(['\r', '\n'], " ");
    let code = report::exit_code(report, gate);
    let mut md = format!(
        "### `cargo xtask {command_name}`: {}\n\n",
        if code == crate::exit::OK {
            "passed"
        } else {
            "failed"
        }
    );
    let counts = report::counts(report);
    md.push_str(&format!(
        "| {} |\n|{}\n| {} |\n\n",
        STATUSES.join(" | "),
        "---|".repeat(STATUSES.len()),
        STATUSES
            .iter()
            .map(|k| counts.get(k).copied().unwrap_or(0).to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    let notable: Vec<&Outcome> = report
        .outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Pass | Status::Skip))
        .collect();
    if !notable.is_empty() {
        md.push_str("| check | status | what | fix |\n|---|---|---|---|\n");
        for o in notable {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                o.id.id(),
                report::status_str(o.status),
                cell(&o.message),
                cell(o.id.meta().fix)
            );
        }
        md.push('\n');
    }
    crate::secrets::redact_all(&md)
}

/// Appends the summary to `$GITHUB_STEP_SUMMARY` when the variable names a file (inside a
/// GitHub Actions job). A summary that cannot be written is a warning, never a failure.
pub(crate) fn write_step_summary(report: &Report, gate: Gate, command_name: &str) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    use std::io::Write;
    let text = summary_markdown(report, gate, command_name);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        crate::note!(
            "warning: cannot append the step summary to {}: {e}",
            Path::new(&path).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckId;

    #[test]
    fn escaping_follows_the_actions_toolkit() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_data("a::b,c"), "a::b,c");
        assert_eq!(
            escape_property("dir,x/a:b.yml%\n"),
            "dir%2Cx/a%3Ab.yml%25%0A"
        );
    }

    fn sample() -> Report {
        let mut r = Report::default();
        r.push(Outcome::pass(
            CheckId::WorkflowPresent,
            "ok",
            vec![Evidence::file(".github/workflows/x.yml", Some(1))],
        ));
        r.push(Outcome::fail(
            CheckId::WorkflowTopLevelPermissions,
            "grants packages: write\n::error::injected",
            vec![Evidence::file(".github/workflows/a,b.yml", Some(3))],
        ));
        r.push(Outcome::manual(
            CheckId::ManualPackageInheritance,
            "awaiting attestation",
            vec![Evidence::note("run --attest manual-package-inheritance")],
        ));
        r
    }

    #[test]
    fn one_command_per_weighing_outcome_with_file_and_line() {
        let out = render(&sample(), Gate::default(), "preflight");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        let level = crate::report::level(&sample().outcomes[1], Gate::default());
        let kind = if level == Level::Error {
            "error"
        } else {
            "warning"
        };
        assert!(
            lines[0].starts_with(&format!(
                "::{kind} file=.github/workflows/a%2Cb.yml,line=3,title=workflow-top-level-permissions (fail)::grants packages: write%0A::error::injected%0A"
            )),
            "{}",
            lines[0]
        );
        // The injected command stays inside the message: no line of output starts with it.
        assert!(!out.lines().any(|l| l.starts_with("::error::")), "{out}");
        assert!(
            lines[1].starts_with(
                "::warning title=manual-package-inheritance (manual)::awaiting attestation%0A"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("preflight: 1 pass, "), "{}", lines[2]);
        // --deny-warnings makes what gates an error.
        let strict = render(
            &sample(),
            Gate {
                deny_warnings: true,
                ..Gate::default()
            },
            "preflight",
        );
        assert!(
            strict
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("::error title=manual-package-inheritance"),
            "{strict}"
        );
    }

    #[test]
    fn the_summary_lists_what_needs_attention() {
        let md = summary_markdown(&sample(), Gate::default(), "preflight");
        assert!(md.starts_with("### `cargo xtask preflight`: "), "{md}");
        assert!(md.contains("| `workflow-top-level-permissions` | fail | grants packages: write ::error::injected |"), "{md}");
        assert!(
            md.contains("| `manual-package-inheritance` | manual |"),
            "{md}"
        );
        assert!(!md.contains("`workflow-present`"), "{md}");
    }
}
