//! Secrets: a wrapper that never prints its value, and a last-line redactor for output.
//!
//! Tokens live only in `Secret`, whose `Debug` and `Display` print `***`. Every secret that is
//! created is also registered, so `redact_all` can scrub it from any text that leaves the
//! process (error chains, reports, child-process output we echo). The redactor is the safety
//! net, not the mechanism: code should never format a secret in the first place.

use std::fmt;
use std::sync::{Mutex, OnceLock};

fn registry() -> &'static Mutex<Vec<String>> {
    static REGISTRY: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

/// A secret value (a token or password).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps and registers a secret. Very short values are not registered for redaction,
    /// because scrubbing them would mangle ordinary text; they are still never printed.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        if value.len() >= 6 {
            let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
            if !reg.contains(&value) {
                reg.push(value.clone());
            }
        }
        Secret(value)
    }

    /// The value, for the one place that must send it (an Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn redact_all(text: &str) -> String {
    let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in reg.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// Installs a panic hook that redacts secrets from panic messages.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "panic".to_string()
        };
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // Never `eprintln!` here: with stderr closed (`2>&1 | head`) it panics again inside
        // the hook, which aborts the process.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "internal error (a bug in xtask){loc}: {}",
            redact_all(&msg)
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("ghp_supersecretvalue123");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(redact_all("token=ghp_supersecretvalue123!"), "token=***!");
        assert_eq!(s.expose(), "ghp_supersecretvalue123");
    }
}
