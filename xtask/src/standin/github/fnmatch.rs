//! The stand-in's own pattern matchers, written independently of the product's
//! (`checks/refpattern.rs`) so that a test of one against the other can fail.
//!
//! * `ruleset_matches`: ruleset `ref_name` patterns, Ruby `File.fnmatch` with
//!   `File::FNM_PATHNAME` (GitHub docs, "Using fnmatch syntax"). The pattern is compiled to
//!   tokens and run as an NFA over the string (a set of live positions), where the product
//!   backtracks. Unlike the product, this models Ruby exactly, including `[!..]`/`[^..]`
//!   complements and backslash escapes, because the real service runs Ruby's matcher.
//! * `actions_filter_matches`: `on.push.tags` filter patterns of a workflow (GitHub docs,
//!   "Workflow syntax › Filter pattern cheat sheet"): `*` does not cross `/`, `**` does,
//!   `?` and `+` repeat the previous character, `[..]` sets.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    /// `?`
    One,
    /// `*` (one or more stars not forming `**/`): any run within a segment.
    Star,
    /// A character set: ranges, complemented or not.
    Set(Vec<(u8, u8)>, bool),
    /// A set that never closes: matches nothing.
    Never,
    /// `/`
    Sep,
    /// `**/` at a segment start: zero or more whole segments (none hidden).
    Dirs,
}

fn compile(p: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut seg_start = true;
    while i < p.len() {
        if seg_start && p[i..].starts_with(b"**/") {
            if out.last() != Some(&Tok::Dirs) {
                out.push(Tok::Dirs);
            }
            i += 3;
            continue;
        }
        seg_start = false;
        match p[i] {
            b'/' => {
                out.push(Tok::Sep);
                seg_start = true;
                i += 1;
            }
            b'*' => {
                while i < p.len() && p[i] == b'*' {
                    i += 1;
                }
                out.push(Tok::Star);
            }
            b'?' => {
                out.push(Tok::One);
                i += 1;
            }
            b'\\' if i + 1 < p.len() => {
                out.push(Tok::Lit(p[i + 1]));
                i += 2;
            }
            b'[' => match parse_set(p, i + 1) {
                Some((tok, next)) => {
                    out.push(tok);
                    i = next;
                }
                None => {
                    out.push(Tok::Never);
                    i = p.len();
                }
            },
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    out
}

/// Parses a set body starting after `[`; returns the token and the index after `]`.
fn parse_set(p: &[u8], mut i: usize) -> Option<(Tok, usize)> {
    let mut neg = false;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        neg = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let mut a = *p.get(i)?;
        if a == b']' {
            return Some((Tok::Set(ranges, neg), i + 1));
        }
        if a == b'\\' {
            i += 1;
            a = *p.get(i)?;
        }
        i += 1;
        if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|c| *c != b']') {
            i += 1;
            let mut b = p[i];
            if b == b'\\' {
                i += 1;
                b = *p.get(i)?;
            }
            i += 1;
            ranges.push((a.min(b), a.max(b)));
        } else {
            ranges.push((a, a));
        }
        if i >= p.len() {
            return None;
        }
    }
}

/// Live NFA states: token index, and for `Dirs` whether we are inside a swallowed segment.
type State = (usize, bool);

fn closure(toks: &[Tok], states: &mut BTreeSet<State>, through_star: bool) {
    let mut stack: Vec<State> = states.iter().copied().collect();
    while let Some((k, inside)) = stack.pop() {
        if inside || k >= toks.len() {
            continue;
        }
        let skip = match toks[k] {
            Tok::Dirs => true,
            Tok::Star => through_star,
            _ => false,
        };
        if skip && states.insert((k + 1, false)) {
            stack.push((k + 1, false));
        }
    }
}

/// Ruby `File.fnmatch(pattern, s, File::FNM_PATHNAME)`.
pub(crate) fn fnmatch_pathname(pattern: &str, s: &str) -> bool {
    let toks = compile(pattern.as_bytes());
    let s = s.as_bytes();
    let mut states: BTreeSet<State> = BTreeSet::new();
    states.insert((0, false));
    for (i, &c) in s.iter().enumerate() {
        let at_start = i == 0 || s[i - 1] == b'/';
        let hidden = at_start && c == b'.';
        // A hidden segment is entered only by a literal period first in its pattern segment,
        // so `*`'s empty match cannot be used to reach one.
        closure(&toks, &mut states, !hidden);
        let mut next = BTreeSet::new();
        for &(k, inside) in &states {
            if inside {
                // Swallowing a segment for `Dirs` at token k.
                next.insert((k, c != b'/'));
                continue;
            }
            let Some(t) = toks.get(k) else { continue };
            match t {
                Tok::Lit(x) if *x == c => {
                    next.insert((k + 1, false));
                }
                Tok::One if c != b'/' && !hidden => {
                    next.insert((k + 1, false));
                }
                Tok::Set(ranges, neg) if c != b'/' && !hidden => {
                    let member = ranges.iter().any(|(a, b)| *a <= c && c <= *b);
                    if member != *neg {
                        next.insert((k + 1, false));
                    }
                }
                Tok::Star if c != b'/' && !hidden => {
                    next.insert((k, false));
                }
                Tok::Sep if c == b'/' => {
                    next.insert((k + 1, false));
                }
                Tok::Dirs if c == b'/' => {
                    next.insert((k, false));
                }
                Tok::Dirs if !hidden => {
                    next.insert((k, true));
                }
                _ => {}
            }
        }
        states = next;
        if states.is_empty() {
            return false;
        }
    }
    closure(&toks, &mut states, true);
    states.contains(&(toks.len(), false))
}

/// A ruleset `ref_name` pattern (`~ALL`, `~DEFAULT_BRANCH`, or fnmatch) against a full ref.
pub fn ruleset_matches(pattern: &str, full_ref: &str, default_branch: &str) -> bool {
    match pattern {
        "~ALL" => true,
        "~DEFAULT_BRANCH" => full_ref.strip_prefix("refs/heads/") == Some(default_branch),
        p => fnmatch_pathname(p, full_ref),
    }
}

/// A workflow filter pattern (`on.push.tags`) against a tag name.
pub(crate) fn actions_filter_matches(pattern: &str, name: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        let Some(&c) = p.first() else {
            return s.is_empty();
        };
        match c {
            b'*' if p.get(1) == Some(&b'*') => (0..=s.len()).any(|i| m(&p[2..], &s[i..])),
            b'*' => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| m(&p[1..], &s[i..])),
            b'[' => match parse_set(p, 1) {
                Some((Tok::Set(r, neg), next)) => {
                    !s.is_empty()
                        && r.iter().any(|(a, b)| *a <= s[0] && s[0] <= *b) != neg
                        && m(&p[next..], &s[1..])
                }
                _ => false,
            },
            ch => {
                let (lit_ok, rest) = (s.first() == Some(&ch), &p[1..]);
                match rest.first() {
                    // `x?`: zero or one x.
                    Some(b'?') => m(&rest[1..], s) || (lit_ok && m(&rest[1..], &s[1..])),
                    // `x+`: one or more x.
                    Some(b'+') => {
                        lit_ok && {
                            let n = s.iter().take_while(|b| **b == ch).count();
                            (1..=n).any(|k| m(&rest[1..], &s[k..]))
                        }
                    }
                    _ => lit_ok && m(rest, &s[1..]),
                }
            }
        }
    }
    match pattern.strip_prefix('!') {
        Some(p) => !m(p.as_bytes(), name.as_bytes()),
        None => m(pattern.as_bytes(), name.as_bytes()),
    }
}
