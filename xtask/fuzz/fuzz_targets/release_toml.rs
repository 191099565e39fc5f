//! Fuzzes `release.toml` loading: any text is either refused with an error or yields a
//! configuration whose derived views (scope, images, repository names, tag plans) never panic.
//! Validation promises those views (`expect("validated")` in config and policy); this target
//! checks the promise.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let root = std::path::Path::new("/nonexistent");
    let Ok(cfg) = xtask::config::Config::parse(text, &root.join("release.toml"), root) else {
        return;
    };
    let _ = cfg.repo_owner_name();
    let _ = cfg.workflow_file_name();
    let _ = cfg.github_api();
    let names: Vec<String> = cfg.raw.components.keys().cloned().collect();
    let scope = cfg.scope(&names).expect("every declared component is in scope");
    for img in cfg.images_for(&scope) {
        let _ = cfg.image_repository(&img.package);
        let _ = cfg.package_readme(&img.package);
    }
    let rules = &cfg.raw.tags;
    let v = semver::Version::parse("1.2.3-rc.1").unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    for kind in [xtask::tags::TagKind::Release, xtask::tags::TagKind::ReleaseLatest] {
        let tag = xtask::tags::git_tag(rules, &v, kind);
        if let Ok((k, parsed)) = xtask::tags::parse_git_tag(rules, &tag) {
            // Ambiguous patterns may read a tag as the other kind, never as another version.
            assert_eq!(parsed, v, "{tag} from {kind:?} parsed as {k:?} {parsed}");
        }
        for event in [xtask::tags::Event::Push, xtask::tags::Event::WorkflowDispatch] {
            if let Ok(plan) = xtask::tags::plan_tags(rules, event, &format!("refs/tags/{tag}"), sha, Some("true")) {
                for t in &plan.tags {
                    assert!(xtask::config::is_oci_tag(t), "invalid OCI tag {t:?}");
                }
            }
        }
    }
});
