//! Fuzzes the GitHub `Link` header parser (pagination): no header may panic it, and the
//! `next` URL it returns is always text between `<` and `>` of the header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = std::str::from_utf8(data) else { return };
    if let Some(next) = xtask::effects::github::link_next(h) {
        assert!(h.contains(&format!("<{next}>")), "{next:?} from {h:?}");
    }
    let _ = xtask::time::parse_rfc3339(h);
});
