//! Fuzzes the small parsers of text the tool reads from files and git: release-notes markers
//! (verify), the `components:` line of a tag message (publish), attestation files (preflight)
//! and docker `config.json` (registry credentials). No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in ["latest-before", "latest-after"] {
        for (pkg, digest) in xtask::verify::notes_markers(text, kind) {
            assert!(!pkg.is_empty());
            if let Some(d) = digest {
                assert!(d.starts_with("sha256:"), "{d:?}");
            }
        }
    }
    for c in xtask::publish::components_from_tag_message(text) {
        assert!(!c.is_empty() && c == c.trim());
    }
    let _ = xtask::checks::manual::Attestations::parse(text, std::path::Path::new("att.toml"));
    // A credential helper would be spawned; never from fuzz input.
    if !text.contains("cred") {
        let _ = xtask::effects::registry::docker_config_credentials(text, "ghcr.io", "config.json");
    }
});
