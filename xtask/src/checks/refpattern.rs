//! Ruleset `ref_name` patterns as GitHub evaluates them.
//!
//! GitHub's docs ("Creating rulesets for a repository › Using fnmatch syntax", and the
//! reusable `about-fnmatch.md` of `github/docs`): patterns use Ruby's `File.fnmatch` with
//! `File::FNM_PATHNAME`, so `*` does not match `/`; `qa/**/*` matches any number of
//! directories after `qa/` (including none); character sets in square brackets are
//! supported; a set cannot be complemented with `^`; a backslash cannot be used as a quoting
//! character; `File::FNM_EXTGLOB` (braces) is not supported. `~ALL` and `~DEFAULT_BRANCH` are
//! the API's own names (`repository-ruleset-conditions`).
//!
//! This is a port of the semantics of Ruby's `fnmatch` (MRI `dir.c`: the segment loop with
//! `**/` recursion, and the per-segment helper with `*` backtracking), restricted to what
//! GitHub documents. Where GitHub says a construct is unsupported, the answer is
//! `Unsupported` rather than a guess, so the check can take the conservative reading. The
//! stand-in has its own, independent matcher (`standin/github/fnmatch.rs`), and both are
//! tested against the same table of documented examples.

/// The answer for one pattern and one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefMatch {
    Yes,
    No,
    /// GitHub documents the construct as unsupported; how it behaves is unknown.
    Unsupported(String),
}

#[cfg(test)]
impl RefMatch {
    pub(crate) fn is_yes(&self) -> bool {
        matches!(self, RefMatch::Yes)
    }
}

/// Whether a ruleset `ref_name` pattern matches `full_ref` (`refs/tags/v1.2.3`).
pub fn ruleset_ref_matches(pattern: &str, full_ref: &str, default_branch: &str) -> RefMatch {
    match pattern {
        "~ALL" => return RefMatch::Yes,
        "~DEFAULT_BRANCH" => {
            return if full_ref == format!("refs/heads/{default_branch}") {
                RefMatch::Yes
            } else {
                RefMatch::No
            };
        }
        _ => {}
    }
    if pattern.contains('\\') {
        return RefMatch::Unsupported(format!(
            "`{pattern}` uses a backslash, which GitHub does not support as a quoting character in ruleset patterns"
        ));
    }
    if pattern.contains("[^") || pattern.contains("[!") {
        return RefMatch::Unsupported(format!(
            "`{pattern}` complements a character set, which GitHub documents as unsupported in ruleset patterns"
        ));
    }
    if fnmatch_pathname(pattern.as_bytes(), full_ref.as_bytes()) {
        RefMatch::Yes
    } else {
        RefMatch::No
    }
}

/// `File.fnmatch(pattern, string, File::FNM_PATHNAME)` without escapes or complemented sets.
pub(crate) fn fnmatch_pathname(pattern: &[u8], string: &[u8]) -> bool {
    let mut p = 0usize;
    let mut s = 0usize;
    // Where the last `**/` left the pattern, and the string position it is retried from.
    let mut recursion: Option<(usize, usize)> = None;
    loop {
        if pattern[p..].starts_with(b"**/") {
            while pattern[p..].starts_with(b"**/") {
                p += 3;
            }
            recursion = Some((p, s));
        }
        if let Some((np, ns)) = segment(pattern, p, string, s) {
            // The segment matched; the string may still have characters a trailing `*`
            // swallowed, up to its separator.
            let mut ns = ns;
            while ns < string.len() && string[ns] != b'/' {
                ns += 1;
            }
            if np < pattern.len() && ns < string.len() {
                p = np + 1;
                s = ns + 1;
                continue;
            }
            if np >= pattern.len() && ns >= string.len() {
                return true;
            }
        }
        // Failed here: let the last `**/` swallow one more directory (never a hidden one).
        match recursion {
            Some((rp, rs)) if string.get(rs) != Some(&b'.') => {
                let mut t = rs;
                while t < string.len() && string[t] != b'/' {
                    t += 1;
                }
                if t < string.len() {
                    p = rp;
                    s = t + 1;
                    recursion = Some((rp, s));
                    continue;
                }
                return false;
            }
            _ => return false,
        }
    }
}

fn seg_end(b: &[u8], i: usize) -> bool {
    i >= b.len() || b[i] == b'/'
}

/// Matches one path segment of the pattern from `p` against the string from `s`. On success
/// returns where each stopped (the pattern at its separator or end).
fn segment(pat: &[u8], mut p: usize, s_all: &[u8], mut s: usize) -> Option<(usize, usize)> {
    // A leading period must be matched by a literal period.
    if s < s_all.len() && s_all[s] == b'.' && pat.get(p) != Some(&b'.') {
        return None;
    }
    let mut star: Option<(usize, usize)> = None;
    loop {
        match pat.get(p) {
            Some(b'*') => {
                while pat.get(p) == Some(&b'*') {
                    p += 1;
                }
                if seg_end(pat, p) {
                    return Some((p, s));
                }
                if seg_end(s_all, s) {
                    return None;
                }
                star = Some((p, s));
                continue;
            }
            Some(b'?') => {
                if seg_end(s_all, s) {
                    return None;
                }
                p += 1;
                s += 1;
                continue;
            }
            Some(b'[') => {
                if seg_end(s_all, s) {
                    return None;
                }
                if let Some(after) = bracket(pat, p + 1, s_all[s]) {
                    p = after;
                    s += 1;
                    continue;
                }
            }
            _ => {
                if seg_end(s_all, s) {
                    return if seg_end(pat, p) { Some((p, s)) } else { None };
                }
                if !seg_end(pat, p) && pat[p] == s_all[s] {
                    p += 1;
                    s += 1;
                    continue;
                }
            }
        }
        // Try the next position for the last `*`.
        match star {
            Some((sp, ss)) => {
                let ns = ss + 1;
                star = Some((sp, ns));
                p = sp;
                s = ns;
            }
            None => return None,
        }
    }
}

/// A character set starting after `[`: the index after its `]` when `c` is in it; `None`
/// when it is not, or the set never closes (Ruby then matches nothing).
fn bracket(pat: &[u8], mut p: usize, c: u8) -> Option<usize> {
    let mut ok = false;
    loop {
        let t1 = *pat.get(p)?;
        if t1 == b']' {
            return ok.then_some(p + 1);
        }
        p += 1;
        if pat.get(p) == Some(&b'-') && pat.get(p + 1).is_some_and(|x| *x != b']') {
            let t2 = pat[p + 1];
            p += 2;
            if c == t1 || c == t2 || (t1 <= c && c <= t2) {
                ok = true;
            }
        } else if t1 == c {
            ok = true;
        }
        if p >= pat.len() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_constructs_are_named_not_guessed() {
        assert!(matches!(
            ruleset_ref_matches("refs/tags/v[^0-9]*", "refs/tags/vx", "main"),
            RefMatch::Unsupported(_)
        ));
        assert!(matches!(
            ruleset_ref_matches("refs/tags/v\\*", "refs/tags/v*", "main"),
            RefMatch::Unsupported(_)
        ));
        // Braces are literal (no FNM_EXTGLOB).
        assert_eq!(
            ruleset_ref_matches("refs/tags/{v,r}*", "refs/tags/v1", "main"),
            RefMatch::No
        );
        // An unterminated set matches nothing.
        assert_eq!(
            ruleset_ref_matches("refs/tags/v[0-9", "refs/tags/v1", "main"),
            RefMatch::No
        );
    }
}
