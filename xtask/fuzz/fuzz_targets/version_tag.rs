//! Fuzzes the version parser and the tag policy: no input may panic, and every accepted tag
//! must round-trip through `git_tag`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let rules = xtask::config::TagRules::checklist();
    let _ = xtask::policy::parse_version(s);
    if let Ok((kind, v)) = xtask::policy::parse_git_tag(&rules, s) {
        let tag = xtask::policy::git_tag(&rules, &v, kind);
        assert_eq!(xtask::policy::parse_git_tag(&rules, &tag).unwrap(), (kind, v));
    }
    let sha = "0123456789abcdef0123456789abcdef01234567";
    for event in [xtask::policy::Event::Push, xtask::policy::Event::WorkflowDispatch] {
        if let Ok(plan) = xtask::policy::plan_tags(&rules, event, s, sha, Some("true")) {
            for t in &plan.tags {
                assert!(xtask::config::is_oci_tag(t), "policy produced an invalid OCI tag {t:?}");
            }
        }
    }
});
