//! Fuzzes the workflow parser and permission extractor: any text yields outcomes, never a
//! panic, and an unparseable workflow is always reported by `workflow-present`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xtask::checks::{CheckId, Status};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let rules = xtask::config::TagRules::checklist();
    let out = xtask::checks::workflow::check_text(text, std::path::Path::new("wf.yml"), &rules);
    let present = out.iter().find(|o| o.id == CheckId::WorkflowPresent).expect("workflow-present always reports");
    if present.status == Status::Fail {
        assert!(out.iter().filter(|o| o.id != CheckId::WorkflowPresent).all(|o| o.status == Status::Skip));
    }
});
