//! `notes-draft-complete`: the release-notes draft names HEAD's commit and every expected tag.
//!
//! The draft is `<notes dir>/<version>.draft.md` (or the final `<version>.md`). The expected
//! tags come from the tag policy for a push of `v<version>` at HEAD, for every package of the
//! components in scope, so the notes and the publish run cannot disagree.

use super::{CheckId, Ctx, Evidence, Outcome};
use super::{Kind, Meta, Phase, Section, Severity};
use crate::effects::git;
use crate::tags::{self, Event, TagKind};

pub(crate) const NOTES_DRAFT_COMPLETE: Meta = Meta {
    id: "notes-draft-complete",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "release notes include the exact git commit and expected image tags",
    summary: "The release-notes draft names HEAD's full commit and every expected image tag.",
    why: "Auditors and customers trace an image back to its source through the notes.",
    fix: "Write `<notes dir>/VERSION.draft.md` naming HEAD's commit and every expected tag (`cargo xtask release VERSION --dry-run` prints them), then rerun `cargo xtask preflight --release VERSION --only notes`.",
};

pub fn run(ctx: &Ctx) -> Vec<Outcome> {
    let id = CheckId::NotesDraftComplete;
    if !ctx.wants(id) {
        return Vec::new();
    }
    let Some(version) = &ctx.release else {
        return vec![Outcome::skip(
            id,
            "no --release VERSION given",
            "pass `--release VERSION` to check that version's notes draft",
        )];
    };
    let cfg = &ctx.ws.config;
    let dir = cfg.notes_dir();
    let candidates = [
        dir.join(format!("{version}.draft.md")),
        dir.join(format!("{version}.md")),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return vec![Outcome::skip(
            id,
            format!(
                "no notes draft at {}",
                candidates[0]
                    .strip_prefix(&ctx.ws.root)
                    .unwrap_or(&candidates[0])
                    .display()
            ),
            format!(
                "write {version}.draft.md in {} naming HEAD's commit and every expected tag (`cargo xtask release {version} --dry-run` prints them)",
                cfg.raw.notes.dir
            ),
        )];
    };
    let rel = path
        .strip_prefix(&ctx.ws.root)
        .unwrap_or(path)
        .to_path_buf();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let head = match git::head(&ctx.ws.root) {
        Ok(h) => h,
        Err(e) => {
            return vec![Outcome::not_run(
                id,
                format!("{e:#}"),
                "run in a git checkout",
            )];
        }
    };
    let git_ref = format!(
        "refs/tags/{}",
        tags::git_tag(&cfg.raw.tags, version, TagKind::Release)
    );
    let plan = match tags::plan_tags(&cfg.raw.tags, Event::Push, &git_ref, &head, None) {
        Ok(p) => p,
        Err(e) => {
            return vec![Outcome::fail(
                id,
                format!("cannot plan tags for {version}: {e:#}"),
                vec![Evidence::file(&rel, None)],
            )];
        }
    };
    let mut missing = Vec::new();
    let mut ev = Vec::new();
    match super::packages::line_of(&text, &head) {
        Some(l) => ev.push(Evidence::file_excerpt(&rel, Some(l), head.clone())),
        None => missing.push(format!("commit {head}")),
    }
    for img in cfg.images_for(&ctx.components) {
        for tag in &plan.version_tags {
            let want = format!("{}:{tag}", img.package);
            match super::packages::line_of(&text, &want) {
                Some(l) => ev.push(Evidence::file_excerpt(&rel, Some(l), want)),
                None => missing.push(want),
            }
        }
    }
    if missing.is_empty() {
        vec![Outcome::pass(
            id,
            format!(
                "{} names HEAD's commit and all {} expected image tags",
                rel.display(),
                ev.len() - 1
            ),
            ev,
        )]
    } else {
        vec![Outcome::fail(
            id,
            format!("{} lacks: {}", rel.display(), missing.join(", ")),
            vec![
                Evidence::file(&rel, None),
                Evidence::note(format!(
                    "expected tags from the tag policy for {git_ref} at {head}"
                )),
            ],
        )]
    }
}
