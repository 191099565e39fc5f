//! Fuzzes image-reference parsing: the customer-doc scanner (`checks::docs`), the manifest
//! scanner verify uses (`verify::manifests::find_refs`) and oci-client's `Reference`, which
//! the registry adapter builds. No input may panic; every reference found must be a
//! substring of its line, and `pinned` must agree with `has_digest`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let packages: Vec<String> = [
        "aisopsflow-core",
        "aisopsflow-core-commercial",
        "aisopsflow-runner",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for (i, line) in s.lines().enumerate() {
        for r in xtask::checks::docs::references_in_line(line, i as u32 + 1, &packages) {
            assert!(line.contains(&r.text), "{r:?} is not in {line:?}");
            assert_eq!(r.pinned, xtask::checks::docs::has_digest(&r.text), "{r:?}");
            assert!(packages.contains(&r.package));
        }
    }
    for r in xtask::verify::manifests::find_refs(std::path::Path::new("f.yaml"), s, "aisopsflow", &packages) {
        if let Some(d) = &r.digest {
            assert!(d.starts_with("sha256:") && d[7..].chars().all(|c| c.is_ascii_hexdigit()), "{r:?}");
        }
        if let Some(t) = &r.tag {
            assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')), "{r:?}");
        }
    }
    if let Ok(r) = oci_client::Reference::try_from(s) {
        // What oci-client prints for a reference must parse again.
        let _ = oci_client::Reference::try_from(r.whole().as_str());
    }
});
