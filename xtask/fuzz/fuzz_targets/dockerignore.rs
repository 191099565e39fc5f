//! Fuzzes the `.dockerignore` matcher (`images::dockerignore`): the input is a `.dockerignore`
//! text, a NUL, and paths one per line. No input may panic; `clean` is idempotent; a matcher
//! without patterns matches nothing; a literal pattern (no glob character) matches its own
//! cleaned path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xtask::images::dockerignore::{Matcher, clean};

fuzz_target!(|data: &[u8]| {
    // Any bytes: read as the docker CLI reads a `.dockerignore`, never a panic.
    if let Ok(m) = Matcher::parse_bytes(data) {
        let _ = m.matches_or_parent_matches(data);
        let _ = m.matches_using_parent_results(data, None);
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (ignore, paths) = s.split_once('\0').unwrap_or((s, ""));
    let empty = Matcher::default();
    for p in paths.lines() {
        let c = clean(p);
        assert_eq!(clean(&c), c, "clean is not idempotent for {p:?}");
        assert!(!empty.matches(p));
        let literal = !c.is_empty()
            && c != "."
            && !c.starts_with('/')
            && !c.starts_with('!')
            && !c.starts_with("..")
            // `]` makes the pattern a Go regexp, where `^` is an anchor: `a^]` matches nothing
            // in Docker either.
            && !c.contains(['*', '?', '[', '\\', ']', '^'])
            && c.trim() == c;
        if literal {
            let m = Matcher::new(&[c.clone()]).expect("a literal pattern compiles");
            assert!(m.matches(&c), "literal pattern {c:?} does not match itself");
        }
    }
    if let Ok(m) = Matcher::parse(ignore) {
        for p in paths.lines() {
            let _ = m.matches(p);
            let _ = m.matches(&clean(p));
        }
    }
});
