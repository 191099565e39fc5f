//! `.dockerignore` parsing and matching with the docker CLI's own semantics, byte for byte.
//!
//! The reference is what the docker CLI on this machine runs for `docker build DIR` with the
//! legacy builder (docker/cli v28.2.2 vendoring moby/patternmatcher v0.6.0 and
//! moby/go-archive v0.1.0; the Debian 20.10 CLI has the same code under other import paths):
//! - `ignorefile.ReadAll`: lines split like Go's `bufio.Scanner` (a trailing `\r` dropped, a
//!   line of 64 KiB or more is an error), a UTF-8 BOM stripped from the first line, lines that
//!   *start* with `#` skipped, then `strings.TrimSpace`, a `!` prefix, `filepath.Clean`, and a
//!   leading `/` dropped. The file is bytes: a `.dockerignore` that is not UTF-8 is read as
//!   Docker reads it, never refused for that.
//! - `patternmatcher.New`: trim, clean, `!` alone is an error, and every pattern must pass
//!   Go's `filepath.Match(pattern, ".")` syntax check (ported below: `[]a]`, `[-]`, `[x-]`,
//!   `[-x]`, a trailing `\`, `[a-b-c]`, `[` are refused; `]` alone and `[z-a]` are not).
//! - `Pattern.compile`: the pattern becomes a Go regular expression (`*` is `[^/]*`, `?` is
//!   `[^/]`, `**/` is `(.*/)?`, only `.+()|{}$` escaped, so `^`, bracket contents, `\d`,
//!   `[[:alpha:]]`, `\x41`, `\Q..\E` keep their Go regexp meaning), except the literal,
//!   `prefix/**` and `**/suffix` shapes that are compared as bytes. Go's `regexp.Compile`
//!   then judges the expression (`goregexp`); where it fails (`[z-a]`, `\q`, `[[:foo:]]`) the
//!   CLI stops with "syntax error in pattern".
//!
//! The CLI only compiles a pattern when a path first reaches it and then stops with the error;
//! we compile every pattern up front and refuse the file with its name and line, which is
//! never less strict. How the CLI combines the patterns while it walks the context
//! (`MatchesUsingParentResults`) is `Matcher::matches_using_parent_results`; the walk itself is
//! in `context`.

use std::path::Path;

use super::goregexp::Regexp;

/// One parsed pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The cleaned pattern, without the `!` (lossy UTF-8, for messages).
    pub text: String,
    /// The cleaned pattern's bytes, as the CLI compares them.
    pub bytes: Vec<u8>,
    /// `!pattern`: re-includes what earlier patterns excluded.
    pub exclusion: bool,
    /// The line of the `.dockerignore` it came from, when it came from one.
    pub line: Option<usize>,
    kind: MatchKind,
}

#[derive(Debug, Clone)]
enum MatchKind {
    Exact,
    /// A trailing `**` after a literal prefix: `prefix/**` matches anything starting with prefix.
    Prefix,
    /// A leading `**` followed by a literal: `**/name` matches anything ending with `/name`.
    Suffix,
    Regexp(Regexp),
}

/// The patterns of one `.dockerignore`, in order.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub patterns: Vec<Pattern>,
}

/// A pattern the docker CLI refuses (or would refuse), with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based line in the `.dockerignore`, when known.
    pub line: Option<usize>,
    /// The pattern as written (lossy UTF-8).
    pub pattern: String,
    /// Why, worded like the CLI where the CLI has words.
    pub reason: String,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?
        }
        write!(f, "pattern `{}`: {}", self.pattern, self.reason)
    }
}

/// Go's `bufio.MaxScanTokenSize`: `bufio.Scanner` refuses a line this long or longer.
const MAX_LINE: usize = 64 * 1024;

/// `ignorefile.ReadAll`: the patterns of a `.dockerignore`, each with its 1-based line.
pub(crate) fn read_lines(data: &[u8]) -> Result<Vec<(Vec<u8>, usize)>, PatternError> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut number = 0;
    while !rest.is_empty() {
        let (mut line, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if line.len() >= MAX_LINE {
            return Err(PatternError {
                line: Some(number + 1),
                pattern: String::from_utf8_lossy(&line[..40]).into_owned() + "...",
                reason: "error reading .dockerignore: bufio.Scanner: token too long (the docker CLI refuses a line of 64 KiB or more)".into(),
            });
        }
        rest = next;
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if number == 0 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        number += 1;
        if line.starts_with(b"#") {
            continue;
        }
        let mut pattern = trim_space(line);
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern[0] == b'!';
        if invert {
            pattern = trim_space(&pattern[1..]);
        }
        let mut cleaned = if pattern.is_empty() {
            Vec::new()
        } else {
            let mut c = clean_bytes(pattern);
            if c.len() > 1 && c[0] == b'/' {
                c.remove(0);
            }
            c
        };
        if invert {
            cleaned.insert(0, b'!');
        }
        out.push((cleaned, number));
    }
    Ok(out)
}

/// `ignorefile.ReadAll` on text, without line numbers (for tests).
#[cfg(test)]
pub(crate) fn read_patterns(text: &str) -> Vec<String> {
    read_lines(text.as_bytes())
        .unwrap_or_default()
        .into_iter()
        .map(|(p, _)| String::from_utf8_lossy(&p).into_owned())
        .collect()
}

/// Go's `strings.TrimSpace` on bytes: Unicode white space at both ends, where an invalid
/// UTF-8 byte is never space.
pub fn trim_space(s: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < s.len() {
        match leading_char(&s[start..]) {
            Some((c, n)) if c.is_whitespace() => start += n,
            _ => break,
        }
    }
    let mut end = s.len();
    while end > start {
        match trailing_char(&s[start..end]) {
            Some((c, n)) if c.is_whitespace() => end -= n,
            _ => break,
        }
    }
    &s[start..end]
}

fn leading_char(s: &[u8]) -> Option<(char, usize)> {
    let n = match s.first()? {
        b if *b < 0x80 => 1,
        b if *b >> 5 == 0b110 => 2,
        b if *b >> 4 == 0b1110 => 3,
        b if *b >> 3 == 0b11110 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(s.get(..n)?).ok()?.chars().next()?;
    Some((c, n))
}

fn trailing_char(s: &[u8]) -> Option<(char, usize)> {
    for n in 1..=4.min(s.len()) {
        if let Ok(t) = std::str::from_utf8(&s[s.len() - n..]) {
            let c = t.chars().next()?;
            return (c.len_utf8() == n).then_some((c, n));
        }
    }
    None
}

/// Go's `path.Clean` on bytes: removes `.` and empty elements, resolves `..` lexically, keeps
/// a leading `/`, and returns `.` for an empty result.
pub(crate) fn clean_bytes(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(b"..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join(&b'/');
    match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

/// `clean_bytes` for text.
pub fn clean(path: &str) -> String {
    String::from_utf8_lossy(&clean_bytes(path.as_bytes())).into_owned()
}

impl Matcher {
    /// Builds a matcher from patterns as `read_patterns` returns them (`patternmatcher.New`).
    pub fn new(patterns: &[String]) -> anyhow::Result<Matcher> {
        let lines: Vec<(Vec<u8>, Option<usize>)> = patterns
            .iter()
            .map(|p| (p.as_bytes().to_vec(), None))
            .collect();
        Matcher::from_lines(&lines).map_err(|e| {
            anyhow::anyhow!("{e}; fix or remove the pattern (see docs/reliability.md, `.dockerignore` semantics)")
        })
    }

    /// `patternmatcher.New` plus an eager compile of every pattern.
    pub(crate) fn from_lines(
        patterns: &[(Vec<u8>, Option<usize>)],
    ) -> Result<Matcher, PatternError> {
        let mut out = Vec::new();
        for (raw, line) in patterns {
            let p = trim_space(raw);
            if p.is_empty() {
                continue;
            }
            let p = clean_bytes(p);
            let refuse = |reason: String| PatternError {
                line: *line,
                pattern: String::from_utf8_lossy(raw).into_owned(),
                reason,
            };
            let (exclusion, bytes) = if p[0] == b'!' {
                if p.len() == 1 {
                    return Err(refuse(
                        "illegal exclusion pattern: \"!\" (the docker CLI refuses it); name what to re-include after the `!`, or remove the line".into(),
                    ));
                }
                (true, p[1..].to_vec())
            } else {
                (false, p)
            };
            if go_filepath_match(&bytes, b".").is_err() {
                return Err(refuse(format!(
                    "syntax error in pattern (Go's filepath.Match refuses it, so the docker CLI stops with \"error checking context: syntax error in pattern\"); {}",
                    BRACKET_FIX
                )));
            }
            let kind = compile(&bytes).map_err(|e| {
                refuse(format!(
                    "syntax error in pattern (the docker CLI reads it as the Go regular expression the pattern becomes, and Go refuses it: {e}); {BRACKET_FIX}"
                ))
            })?;
            out.push(Pattern {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                bytes,
                exclusion,
                line: *line,
                kind,
            });
        }
        Ok(Matcher { patterns: out })
    }

    /// Parses a `.dockerignore` file's text.
    pub fn parse(text: &str) -> anyhow::Result<Matcher> {
        Matcher::parse_bytes(text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Parses a `.dockerignore` file's bytes.
    pub fn parse_bytes(data: &[u8]) -> Result<Matcher, PatternError> {
        let lines: Vec<(Vec<u8>, Option<usize>)> = read_lines(data)?
            .into_iter()
            .map(|(p, l)| (p, Some(l)))
            .collect();
        Matcher::from_lines(&lines)
    }

    /// Reads and parses `path`; `Ok(None)` when it does not exist. A refused pattern is a
    /// configuration error (exit 2) naming the file and line.
    pub(crate) fn read_file(path: &Path) -> anyhow::Result<Option<Matcher>> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("reading {}", path.display())));
            }
        };
        Matcher::parse_bytes(&data).map(Some).map_err(|e| {
            let at = match e.line {
                Some(l) => format!("{}:{l}", path.display()),
                None => path.display().to_string(),
            };
            crate::exit::usage(format!(
                "{at}: the .dockerignore pattern `{}` is refused: {}",
                e.pattern, e.reason
            ))
        })
    }

    /// Whether any pattern is an exception (`!...`).
    pub(crate) fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// `MatchesOrParentMatches` for text paths.
    pub fn matches(&self, path: &str) -> bool {
        self.matches_or_parent_matches(path.as_bytes())
    }

    /// `MatchesOrParentMatches`: whether `path` (relative, `/`-separated, cleaned) is excluded,
    /// judging each pattern on the path and, failing that, on each of its parent directories.
    /// This is the per-path rule; the CLI's walk uses `matches_using_parent_results`, which
    /// differs (see there).
    pub fn matches_or_parent_matches(&self, path: &[u8]) -> bool {
        let parents = parents(path);
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let hit = p.matches(path) || parents.iter().any(|parent| p.matches(parent));
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`, as the CLI's context walk calls it: `parent` is what this
    /// returned for the parent directory (`None` for a top-level path, which then also checks
    /// its parents like `matches_or_parent_matches`). A pattern that matched the parent counts
    /// as matched; any other is tried on this path alone, and only when it could change the
    /// answer so far. So a pattern skipped at a directory (say `!dir`, while nothing had
    /// excluded `dir` yet) is not remembered as matching it, and does not re-include
    /// `dir/x.key` that a `**/*.key` before it excludes: the CLI leaves that file out, where
    /// the per-path rule would send it.
    pub fn matches_using_parent_results(
        &self,
        path: &[u8],
        parent: Option<&[bool]>,
    ) -> (bool, Vec<bool>) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        let parents = if parent.is_none() {
            parents(path)
        } else {
            Vec::new()
        };
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|pm| pm[i]);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path);
                if !hit && parent.is_none() {
                    hit = parents.iter().any(|d| p.matches(d));
                }
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, info)
    }
}

/// The parent directories of a cleaned relative path, shortest first (`a`, `a/b` for `a/b/c`).
fn parents(path: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    for (i, b) in path.iter().enumerate() {
        if *b == b'/' && i > 0 {
            v.push(&path[..i]);
        }
    }
    v
}

const BRACKET_FIX: &str = "write a literal `[`, `]`, `\\`, `*` or `?` as `\\[`, `\\]`, `\\\\`, `\\*`, `\\?`, keep a `-` out of the first and last place of a `[...]` class (or escape it), and give a range its lower end first";

impl Pattern {
    fn matches(&self, path: &[u8]) -> bool {
        let text = &self.bytes;
        match &self.kind {
            MatchKind::Exact => path == text.as_slice(),
            MatchKind::Prefix => path.starts_with(&text[..text.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &text[2..];
                path.ends_with(suffix) || (suffix.first() == Some(&b'/') && path == &suffix[1..])
            }
            MatchKind::Regexp(re) => re.is_match(path),
        }
    }
}

/// The Go regular expression moby's `Pattern.compile` builds, and the match type it picks.
/// Characters are read like Go's `text/scanner`: an invalid UTF-8 byte is U+FFFD and a BOM at
/// the very start is skipped.
pub(crate) fn go_regexp_source(pattern: &[u8]) -> (String, &'static str) {
    let chars = super::goregexp::decode(pattern);
    let mut chars: &[u32] = &chars;
    if chars.first() == Some(&0xFEFF) {
        chars = &chars[1..];
    }
    let ch = |c: u32| char::from_u32(c).unwrap_or('\u{fffd}');
    let mut re = String::from("^");
    let mut detected = "exact";
    let mut i = 0;
    let mut index = 0;
    while i < chars.len() {
        let c = ch(chars[i]);
        i += 1;
        if c == '*' {
            if chars.get(i) == Some(&('*' as u32)) {
                i += 1;
                if chars.get(i) == Some(&('/' as u32)) {
                    i += 1;
                }
                if i >= chars.len() {
                    if detected == "exact" {
                        detected = "prefix";
                    } else {
                        re.push_str(".*");
                        detected = "regexp";
                    }
                } else {
                    re.push_str("(.*/)?");
                    detected = "regexp";
                }
                if index == 0 {
                    detected = "suffix";
                }
            } else {
                re.push_str("[^/]*");
                detected = "regexp";
            }
        } else if c == '?' {
            re.push_str("[^/]");
            detected = "regexp";
        } else if ".+()|{}$".contains(c) {
            re.push('\\');
            re.push(c);
        } else if c == '\\' {
            if i < chars.len() {
                re.push('\\');
                re.push(ch(chars[i]));
                i += 1;
                detected = "regexp";
            } else {
                re.push('\\');
            }
        } else if c == '[' || c == ']' {
            re.push(c);
            detected = "regexp";
        } else {
            re.push(c);
        }
        index += 1;
    }
    if detected == "regexp" {
        re.push('$');
    }
    (re, detected)
}

fn compile(pattern: &[u8]) -> Result<MatchKind, super::goregexp::Error> {
    let (source, detected) = go_regexp_source(pattern);
    Ok(match detected {
        "exact" => MatchKind::Exact,
        "prefix" => MatchKind::Prefix,
        "suffix" => MatchKind::Suffix,
        _ => MatchKind::Regexp(Regexp::compile(&source)?),
    })
}

/// Go's `filepath.ErrBadPattern`: "syntax error in pattern".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ErrBadPattern;

/// Go's `filepath.Match(pattern, name)` on Unix, ported from `path/filepath/match.go`
/// (Go 1.24): `Err(ErrBadPattern)` is Go's `ErrBadPattern`. Since Go 1.16 the whole pattern is
/// checked even when the match fails early.
pub(crate) fn go_filepath_match(pattern: &[u8], name: &[u8]) -> Result<bool, ErrBadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok, err) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if err {
            return Err(ErrBadPattern);
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                if err {
                    return Err(ErrBadPattern);
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if match_chunk(chunk, b"").2 {
                return Err(ErrBadPattern);
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut inrange = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => {
                i += 1;
            }
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Decodes one rune like Go's `utf8.DecodeRune`: `(0xFFFD, 1)` for an invalid byte,
/// `(0xFFFD, 0)` for empty input.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    match leading_char(s) {
        Some((c, n)) => (c as u32, n),
        None if s.is_empty() => (0xFFFD, 0),
        None => (0xFFFD, 1),
    }
}

/// Returns (rest, ok, bad pattern).
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> (&'a [u8], bool, bool) {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = 0u32;
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some((lo, rest)) = get_esc(chunk) else {
                        return (b"", false, true);
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let Some((h, rest)) = get_esc(&chunk[1..]) else {
                            return (b"", false, true);
                        };
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let mut c = c;
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return (b"", false, true);
                    }
                    c = chunk[0];
                }
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        return (b"", false, false);
    }
    (s, true, false)
}

fn get_esc(chunk: &[u8]) -> Option<(u32, &[u8])> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return None;
    }
    let mut chunk = chunk;
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return None;
        }
    }
    let (r, n) = decode_rune(chunk);
    if r == 0xFFFD && n == 1 {
        return None;
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return None;
    }
    Some((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str]) -> Matcher {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Matcher::new(&p).unwrap_or_else(|e| panic!("{patterns:?}: {e:#}"))
    }

    fn refused(patterns: &[&str]) -> bool {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Matcher::new(&p).is_err()
    }

    /// `check` of moby's "MatchesUsingParentResults" subtest: the parents' results first.
    fn using_parent_results(pm: &Matcher, text: &str) -> bool {
        let parent_path = match text.rfind('/') {
            Some(i) => clean(&text[..i]),
            None => ".".to_string(),
        };
        let mut info: Option<Vec<bool>> = None;
        if parent_path != "." {
            let dirs: Vec<&str> = parent_path.split('/').collect();
            for i in 0..dirs.len() {
                let p = dirs[..=i].join("/");
                info = Some(
                    pm.matches_using_parent_results(p.as_bytes(), info.as_deref())
                        .1,
                );
            }
        }
        pm.matches_using_parent_results(text.as_bytes(), info.as_deref())
            .0
    }

    // Ported from moby/patternmatcher, patternmatcher_test.go (`TestMatches`: `tests` and
    // `multiPatternTests`, with the non-Windows `a\*b` case), at commit
    // 5a6d8429a19bb6948a372ff19e86fe83599a04b7. Every case runs as moby runs it: through
    // MatchesOrParentMatches, MatchesUsingParentResults (parents first) and
    // MatchesUsingParentResults without context.
    const MOBY_MATCHES: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
    ];

    // Same file and commit: `multiPatternTests`.
    const MOBY_MULTI: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (
            &[
                "**",
                "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            ],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
    ];

    #[test]
    fn moby_test_matches_every_variant() {
        for (pattern, text, pass) in MOBY_MATCHES {
            let pm = m(&[pattern]);
            assert_eq!(
                pm.matches_or_parent_matches(text.as_bytes()),
                *pass,
                "MatchesOrParentMatches pattern={pattern:?} text={text:?}"
            );
            assert_eq!(
                using_parent_results(&pm, text),
                *pass,
                "MatchesUsingParentResults pattern={pattern:?} text={text:?}"
            );
            assert_eq!(
                pm.matches_using_parent_results(text.as_bytes(), None).0,
                *pass,
                "MatchesUsingParentResultsNoContext pattern={pattern:?} text={text:?}"
            );
        }
        for (patterns, text, pass) in MOBY_MULTI {
            let pm = m(patterns);
            assert_eq!(pm.matches_or_parent_matches(text.as_bytes()), *pass);
            assert_eq!(using_parent_results(&pm, text), *pass, "{patterns:?}");
            assert_eq!(
                pm.matches_using_parent_results(text.as_bytes(), None).0,
                *pass
            );
        }
    }

    // Ported from moby/patternmatcher, patternmatcher_test.go (`matchTests`, "stolen from go's
    // filepath Match tests", run through the package-level `Matches`), at commit
    // 5a6d8429a19bb6948a372ff19e86fe83599a04b7. `true` in the last column is
    // `filepath.ErrBadPattern`: the pattern is refused.
    const MOBY_MATCH_TESTS: &[(&str, &str, bool, bool)] = &[
        ("abc", "abc", true, false),
        ("*", "abc", true, false),
        ("*c", "abc", true, false),
        ("a*", "a", true, false),
        ("a*", "abc", true, false),
        ("a*", "ab/c", true, false),
        ("a*/b", "abc/b", true, false),
        ("a*/b", "a/c/b", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true, false),
        ("a*b?c*x", "abxbbxdbxebxczzy", false, false),
        ("ab[c]", "abc", true, false),
        ("ab[b-d]", "abc", true, false),
        ("ab[e-g]", "abc", false, false),
        ("ab[^c]", "abc", false, false),
        ("ab[^b-d]", "abc", false, false),
        ("ab[^e-g]", "abc", true, false),
        ("a\\*b", "a*b", true, false),
        ("a\\*b", "ab", false, false),
        ("a?b", "a☺b", true, false),
        ("a[^a]b", "a☺b", true, false),
        ("a???b", "a☺b", false, false),
        ("a[^a][^a][^a]b", "a☺b", false, false),
        ("[a-ζ]*", "α", true, false),
        ("*[a-ζ]", "A", false, false),
        ("a?b", "a/b", false, false),
        ("a*b", "a/b", false, false),
        ("[\\]a]", "]", true, false),
        ("[\\-]", "-", true, false),
        ("[x\\-]", "x", true, false),
        ("[x\\-]", "-", true, false),
        ("[x\\-]", "z", false, false),
        ("[\\-x]", "x", true, false),
        ("[\\-x]", "-", true, false),
        ("[\\-x]", "a", false, false),
        ("[]a]", "]", false, true),
        ("[-]", "-", false, true),
        ("[x-]", "x", false, true),
        ("[x-]", "-", false, true),
        ("[x-]", "z", false, true),
        ("[-x]", "x", false, true),
        ("[-x]", "-", false, true),
        ("[-x]", "a", false, true),
        ("\\", "a", false, true),
        ("[a-b-c]", "a", false, true),
        ("[", "a", false, true),
        ("[^", "a", false, true),
        ("[^bc", "a", false, true),
        ("a[", "a", false, true),
        ("a[", "ab", false, true),
        ("*x", "xxx", true, false),
    ];

    #[test]
    fn moby_match_tests_including_refusals() {
        for (pattern, s, want, bad) in MOBY_MATCH_TESTS {
            if *bad {
                assert!(refused(&[pattern]), "{pattern:?} must be refused");
                continue;
            }
            let pm = m(&[pattern]);
            assert_eq!(
                pm.matches_or_parent_matches(clean(s).as_bytes()),
                *want,
                "Match({pattern:?}, {s:?})"
            );
        }
    }

    // Ported from moby/patternmatcher, patternmatcher_test.go (`compileTests`, the `/`
    // column), at commit 5a6d8429a19bb6948a372ff19e86fe83599a04b7.
    const MOBY_COMPILE: &[(&str, &str, &str)] = &[
        ("*", "regexp", "^[^/]*$"),
        ("file*", "regexp", "^file[^/]*$"),
        ("*file", "regexp", "^[^/]*file$"),
        ("a*/b", "regexp", "^a[^/]*/b$"),
        ("**", "suffix", ""),
        ("**/**", "regexp", "^(.*/)?.*$"),
        ("dir/**", "prefix", ""),
        ("**/dir", "suffix", ""),
        ("**/dir2/*", "regexp", "^(.*/)?dir2/[^/]*$"),
        ("**/dir2/**", "regexp", "^(.*/)?dir2/.*$"),
        ("**file", "suffix", ""),
        ("**/file*txt", "regexp", "^(.*/)?file[^/]*txt$"),
        ("**/**/*.txt", "regexp", "^(.*/)?(.*/)?[^/]*\\.txt$"),
        ("a[b-d]e", "regexp", "^a[b-d]e$"),
        (".*", "regexp", "^\\.[^/]*$"),
        ("abc.def", "exact", ""),
        ("abc?def", "regexp", "^abc[^/]def$"),
        ("**/foo/bar", "suffix", ""),
        ("a(b)c/def", "exact", ""),
        ("a.|)$(}+{bc", "exact", ""),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "exact",
            "",
        ),
    ];

    #[test]
    fn moby_compile_tests() {
        for (pattern, kind, re) in MOBY_COMPILE {
            let (source, detected) = go_regexp_source(clean(pattern).as_bytes());
            assert_eq!(detected, *kind, "{pattern:?}");
            if *kind == "regexp" {
                assert_eq!(source, *re, "{pattern:?}");
            }
        }
    }

    // Ported from moby/patternmatcher, patternmatcher_test.go, the single-case tests
    // (TestWildcardMatches ... TestCleanPatternsErrorSingleException and
    // TestMatchesOrParentMatchesMalformedPatternDoesNotPanicOnRepeatedCall), at commit
    // 5a6d8429a19bb6948a372ff19e86fe83599a04b7; the same cases are in docker/cli
    // cli/command/image/build/context_test.go at v28.2.2 (e6534b4eb700e592f25e7213568a02f3ce37460d).
    #[test]
    fn moby_single_case_tests() {
        assert!(m(&["*"]).matches("fileutils.go"));
        assert!(m(&["*.go"]).matches("fileutils.go"));
        assert!(m(&["!fileutils.go", "*.go"]).matches("fileutils.go"));
        assert!(!m(&["docs", "!docs/README.md"]).matches("docs/README.md"));
        assert!(!m(&["docs/", "!docs/README.md"]).matches("docs/README.md"));
        assert!(!m(&["docs/*", "!docs/README.md"]).matches("docs/README.md"));
        assert!(!m(&["*.go", "!fileutils.go"]).matches("fileutils.go"));
        assert!(refused(&["!"]));
        assert!(!m(&[]).matches("/any/path/there"));
        assert!(refused(&["["]));
        assert_eq!(m(&["docs", "config"]).patterns.len(), 2);
        assert_eq!(m(&["docs", "config", ""]).patterns.len(), 2);
        assert!(m(&["docs", "!docs/README.md"]).has_exclusions());
        assert!(m(&["docs", "  !docs/README.md"]).has_exclusions());
        assert!(m(&["docs", "!docs/README.md  "]).has_exclusions());
        // Passes filepath.Match, fails Go's regexp (`l-O` is a backwards range): refused.
        assert!(go_filepath_match(b"[Local-Only]", b".").is_ok());
        assert!(refused(&["[Local-Only]/"]));
    }

    // Ported from moby/patternmatcher, ignorefile/ignorefile_test.go (`TestReadAll`), at
    // commit 5a6d8429a19bb6948a372ff19e86fe83599a04b7.
    #[test]
    fn moby_ignorefile_read_all() {
        assert!(read_lines(b"").unwrap().is_empty());
        let content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        assert_eq!(
            read_patterns(content),
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!"
            ]
        );
        // And the lines are numbered as in the file.
        let lines: Vec<usize> = read_lines(content.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        assert_eq!(lines, [1, 2, 3, 5, 7, 8, 9]);
        // `!` alone is refused when the matcher is built, naming line 8.
        let err = Matcher::parse_bytes(content.as_bytes()).unwrap_err();
        assert_eq!(err.line, Some(8));
        assert!(err.reason.contains("illegal exclusion pattern"), "{err}");
    }

    #[test]
    fn read_all_details() {
        let text = "\u{feff}# comment\n  \n/abs/path\r\n!  keep.txt\n  # not a comment\na/./b/../c\n\\#hash\n!/rooted\n/\n";
        assert_eq!(
            read_patterns(text),
            [
                "abs/path",
                "!keep.txt",
                "# not a comment",
                "a/c",
                "\\#hash",
                "!rooted",
                "/"
            ]
        );
        // A BOM only counts on the first line; U+00A0 and U+3000 are space to TrimSpace.
        assert_eq!(read_patterns("a\n\u{feff}b\n"), ["a", "\u{feff}b"]);
        assert_eq!(read_patterns("\u{a0}x\u{3000}\n"), ["x"]);
        // Not UTF-8: read as bytes, as Docker does, and matched as bytes.
        let pm = Matcher::parse_bytes(b"caf\xe9\n!keep\xff*\n").unwrap();
        assert!(pm.matches_or_parent_matches(b"caf\xe9"));
        assert!(!pm.matches_or_parent_matches(b"cafe"));
        // In a regexp pattern an invalid byte is U+FFFD, which an invalid byte also reads as.
        let pm = Matcher::parse_bytes(b"\xff*\n").unwrap();
        assert!(pm.matches_or_parent_matches(b"\xfeabc"));
        assert!(pm.matches_or_parent_matches("\u{fffd}x".as_bytes()));
        // A line of 64 KiB is refused like bufio.Scanner refuses it.
        let long = vec![b'a'; 64 * 1024];
        assert!(read_lines(&long).is_err());
        assert!(read_lines(&long[1..]).is_ok());
    }

    #[test]
    fn clean_matches_go_path_clean() {
        for (input, want) in [
            ("a//b", "a/b"),
            ("./a", "a"),
            ("a/..", "."),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("a/b/", "a/b"),
            ("", "."),
            ("/", "/"),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    /// What Go's regexp makes of a pattern, where it differs from filepath.Match's reading.
    #[test]
    fn go_regexp_semantics_of_patterns() {
        let cases: &[(&str, &str, bool)] = &[
            // `^` is not escaped: an anchor, so mid-pattern it never matches...
            ("a^b*", "a^bc", false),
            // ...at the start it is harmless...
            ("^foo*", "foobar", true),
            ("^foo*", "^foobar", false),
            // ...and a pattern without wildcards is compared as bytes.
            ("a^b", "a^b", true),
            // POSIX classes, Perl classes and escapes.
            ("[[:digit:]]*", "7up", true),
            ("[[:digit:]]*", "up", false),
            ("[[:^digit:]]*", "up", true),
            ("\\d*", "1x", true),
            ("\\d*", "dx", false),
            ("\\w\\w", "a_", true),
            ("\\x41*", "Abc", true),
            ("\\101*", "Abc", true),
            ("\\Qa*b\\E", "a[^/]*b", true),
            ("\\Qa*b\\E", "axb", false),
            ("a\\b*", "a", true),
            ("a\\.b", "a.b", true),
            ("a\\.b", "axb", false),
            // `*` and `?` inside a class are rewritten too: `[a*]` is `[a[^/]*]`.
            ("[a*]", "a", false),
            ("[a*]", "]", true),
            ("[a*]", "a[]", true),
            // A negated class matches a newline (ClassNL); `**` does not span one.
            ("a[^b]c", "a\nc", true),
            ("**/x*", "a\nb/xy", false),
            ("x/**/y*", "x/a/yy", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(
                m(&[pattern]).matches_or_parent_matches(path.as_bytes()),
                *want,
                "pattern {pattern:?} on {path:?}"
            );
        }
        // Accepted by filepath.Match, refused by Go's regexp (the CLI: syntax error in pattern).
        for bad in [
            "[z-a]",
            "\\q*",
            "[[:foo:]]",
            "a[b-?]",
            "\\1x",
            "\\pL",
            "\\C",
        ] {
            assert!(go_filepath_match(bad.as_bytes(), b".").is_ok(), "{bad}");
            assert!(refused(&[bad]), "{bad} must be refused");
        }
        // `]` alone is a literal for both.
        assert!(m(&["a]"]).matches("a]"));
        // Invalid UTF-8 inside a class is refused by filepath.Match.
        assert!(Matcher::parse_bytes(b"[\xff]\n").is_err());
    }

    #[test]
    fn refusal_names_the_line() {
        let err = Matcher::parse_bytes(b"# c\nok\n\n[x-]\n").unwrap_err();
        assert_eq!(err.line, Some(4));
        assert_eq!(err.pattern, "[x-]");
        assert!(err.reason.contains("syntax error in pattern"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".dockerignore");
        std::fs::write(&path, "a\n[z-a]\n").unwrap();
        let err = Matcher::read_file(&path).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::USAGE);
        let msg = format!("{err:#}");
        assert!(msg.contains(&format!("{}:2", path.display())), "{msg}");
    }

    /// The CLI's walk rule against the per-path rule: `**/*.key` then `!dir`.
    #[test]
    fn parent_results_do_not_reinclude_what_a_skipped_pattern_matched() {
        let pm = m(&["**/*.key", "!dir"]);
        let (dir_skip, dir_info) = pm.matches_using_parent_results(b"dir", None);
        assert!(!dir_skip);
        let (file_skip, _) = pm.matches_using_parent_results(b"dir/a.key", Some(&dir_info));
        assert!(file_skip, "the CLI leaves dir/a.key out");
        assert!(
            !pm.matches_or_parent_matches(b"dir/a.key"),
            "the per-path rule would send it"
        );
    }
}
