//! Fuzzes the version parser and the tag policy: no input may panic, and every accepted tag
//! must round-trip through `git_tag`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let rules = xtask::config::TagRules::checklist();
    let _ = xtask::tags::parse_version(s);
    if let Ok((kind, v)) = xtask::tags::parse_git_tag(&rules, s) {
        let tag = xtask::tags::git_tag(&rules, &v, kind);
        assert_eq!(xtask::tags::parse_git_tag(&rules, &tag).unwrap(), (kind, v));
    }
    let sha = "0123456789abcdef0123456789abcdef01234567";
    for event in [xtask::tags::Event::Push, xtask::tags::Event::WorkflowDispatch] {
        if let Ok(plan) = xtask::tags::plan_tags(&rules, event, s, sha, Some("true")) {
            for t in &plan.tags {
                assert!(xtask::config::is_oci_tag(t), "policy produced an invalid OCI tag {t:?}");
            }
        }
    }
});
