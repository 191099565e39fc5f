//! Fuzzes the `WWW-Authenticate` challenge parser of the registry adapter: no header may
//! panic it, keys come back lower-case and trimmed, and a well-formed challenge built from
//! the parsed realm and service parses back to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xtask::effects::registry::parse_challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = std::str::from_utf8(data) else { return };
    let params = parse_challenge(h);
    for k in params.keys() {
        assert_eq!(k, &k.trim().to_lowercase(), "key {k:?} from {h:?}");
    }
    if let (Some(realm), Some(service)) = (params.get("realm"), params.get("service")) {
        if !realm.contains('"') && !service.contains('"') {
            let again = parse_challenge(&format!("Bearer realm=\"{realm}\",service=\"{service}\""));
            assert_eq!(again.get("realm"), Some(realm), "{h:?}");
            assert_eq!(again.get("service"), Some(service), "{h:?}");
        }
    }
});
