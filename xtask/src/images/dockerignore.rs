//! `.dockerignore` parsing and matching with Docker's own semantics.
//!
//! The reference is moby's `patternmatcher` (and its `ignorefile.ReadAll`): comments are lines
//! that start with `#`, patterns are trimmed and cleaned like Go's `filepath.Clean`, a leading
//! `/` is dropped, `!` re-includes, later patterns win, `**` spans directories, and a pattern
//! that matches a directory matches everything below it. The compilation into exact, prefix,
//! suffix and wildcard matches mirrors `Pattern.compile` so corner cases such as `**/x` or a
//! trailing `**` behave exactly as the engine's CLI does. Go's regular expressions are not
//! needed: the only constructs the compiler emits are literals, `[^/]*`, `[^/]`, `(.*/)?`, `.*`
//! and bracket classes, which a small backtracking matcher handles.

use anyhow::{Context, bail};

/// One parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The cleaned pattern, without the `!`.
    pub text: String,
    /// `!pattern`: re-includes what earlier patterns excluded.
    pub exclusion: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MatchKind {
    Exact,
    /// A trailing `**` after a literal prefix: `prefix/**` matches anything starting with prefix.
    Prefix,
    /// A leading `**` followed by a literal: `**/name` matches anything ending with `/name`.
    Suffix,
    Tokens(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `?`: one character other than `/`.
    Quest,
    /// `**/` in the middle: `(.*/)?`.
    AnyDirs,
    /// `**` at the end after a wildcard: `.*`.
    AnyAll,
    /// `[...]`: a character class with Go regexp semantics.
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// The patterns of one `.dockerignore`, in order.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub patterns: Vec<Pattern>,
}

/// Reads a `.dockerignore` like `ignorefile.ReadAll`: strips a UTF-8 BOM, skips `#` comments
/// (only when `#` is the first character) and blank lines, trims, cleans, drops a leading `/`.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = if pattern.is_empty() {
            String::new()
        } else {
            clean(pattern)
        };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Go's `path.Clean`: removes `.` and empty elements, resolves `..` lexically, keeps a leading
/// `/`, and returns `.` for an empty result.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

impl Matcher {
    /// Builds a matcher from patterns as `read_patterns` returns them (`patternmatcher.New`).
    pub fn new(patterns: &[String]) -> anyhow::Result<Matcher> {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let p = clean(p);
            let (exclusion, text) = match p.strip_prefix('!') {
                Some("") => bail!(
                    "illegal exclusion pattern \"!\" in .dockerignore; remove the line or name what to re-include"
                ),
                Some(rest) => (true, rest.to_string()),
                None => (false, p),
            };
            let kind = compile(&text).with_context(|| {
                format!("bad .dockerignore pattern `{text}`; fix the bracket expression or escape it with \\")
            })?;
            out.push(Pattern {
                text,
                exclusion,
                kind,
            });
        }
        Ok(Matcher { patterns: out })
    }

    /// Parses a `.dockerignore` file's text.
    pub fn parse(text: &str) -> anyhow::Result<Matcher> {
        Matcher::new(&read_patterns(text))
    }

    /// Whether any pattern is an exception (`!...`).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (relative, `/`-separated, cleaned) is excluded from the context: the last
    /// pattern that matches the path or one of its parent directories decides
    /// (`MatchesOrParentMatches`).
    pub fn matches(&self, path: &str) -> bool {
        let parents: Vec<&str> = {
            let mut v = Vec::new();
            let mut idx = 0;
            while let Some(pos) = path[idx..].find('/') {
                v.push(&path[..idx + pos]);
                idx += pos + 1;
            }
            v
        };
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
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.text,
            MatchKind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            MatchKind::Tokens(tokens) => {
                let chars: Vec<char> = path.chars().collect();
                match_tokens(tokens, &chars)
            }
        }
    }
}

/// Mirrors `Pattern.compile`, producing tokens instead of a regular expression.
fn compile(pattern: &str) -> anyhow::Result<MatchKind> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut detected = Detected::Exact;
    let mut i = 0;
    let mut index = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        tokens.push(Token::AnyAll);
                        detected = Detected::Regexp;
                    }
                } else {
                    tokens.push(Token::AnyDirs);
                    detected = Detected::Regexp;
                }
                if index == 0 {
                    detected = Detected::Suffix;
                }
            } else {
                tokens.push(Token::Star);
                detected = Detected::Regexp;
            }
        } else if ch == '?' {
            tokens.push(Token::Quest);
            detected = Detected::Regexp;
        } else if ch == '\\' {
            if let Some(&next) = chars.get(i) {
                i += 1;
                tokens.push(Token::Lit(next));
                detected = Detected::Regexp;
            } else {
                tokens.push(Token::Lit('\\'));
            }
        } else if ch == '[' {
            let (class, used) = parse_class(&chars[i..])
                .with_context(|| format!("unterminated `[` in `{pattern}`"))?;
            i += used;
            tokens.push(class);
            detected = Detected::Regexp;
        } else if ch == ']' {
            // Outside a class Go's regexp treats `]` as a literal.
            tokens.push(Token::Lit(']'));
            detected = Detected::Regexp;
        } else {
            tokens.push(Token::Lit(ch));
        }
        index += 1;
    }
    Ok(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix,
        Detected::Suffix => MatchKind::Suffix,
        Detected::Regexp => MatchKind::Tokens(tokens),
    })
}

/// Parses a bracket class after its `[`; returns the token and how many characters it used.
fn parse_class(chars: &[char]) -> anyhow::Result<(Token, usize)> {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            bail!("missing `]`");
        };
        i += 1;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = if c == '\\' {
            let Some(&e) = chars.get(i) else {
                bail!("trailing `\\`");
            };
            i += 1;
            e
        } else {
            c
        };
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let mut hi = chars[i + 1];
            i += 2;
            if hi == '\\' {
                let Some(&e) = chars.get(i) else {
                    bail!("trailing `\\`");
                };
                i += 1;
                hi = e;
            }
            if hi < lo {
                bail!("bad range {lo}-{hi}");
            }
            items.push((lo, hi));
        } else {
            items.push((lo, lo));
        }
    }
    Ok((Token::Class { negated, items }, i))
}

fn match_tokens(tokens: &[Token], s: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match first {
        Token::Lit(c) => s.first() == Some(c) && match_tokens(rest, &s[1..]),
        Token::Quest => s.first().is_some_and(|c| *c != '/') && match_tokens(rest, &s[1..]),
        Token::Class { negated, items } => {
            s.first()
                .is_some_and(|c| items.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && match_tokens(rest, &s[1..])
        }
        Token::Star => {
            // Try every run of non-separator characters, shortest first.
            let mut n = 0;
            loop {
                if match_tokens(rest, &s[n..]) {
                    return true;
                }
                if n < s.len() && s[n] != '/' {
                    n += 1;
                } else {
                    return false;
                }
            }
        }
        Token::AnyAll => (0..=s.len()).any(|n| match_tokens(rest, &s[n..])),
        Token::AnyDirs => {
            // `(.*/)?`: nothing, or any prefix that ends with `/`.
            match_tokens(rest, s)
                || (0..s.len()).any(|n| s[n] == '/' && match_tokens(rest, &s[n + 1..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_patterns_follows_ignorefile_read_all() {
        let text = "\u{feff}# comment\n  \n/abs/path\n!  keep.txt\n  # not a comment\na/./b/../c\n\\#hash\n!/rooted\n/\n";
        assert_eq!(
            read_patterns(text),
            vec![
                "abs/path",
                "!keep.txt",
                "# not a comment",
                "a/c",
                "\\#hash",
                "!rooted",
                "/"
            ]
        );
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

    /// Table from moby/patternmatcher's tests (`TestMatches`) plus directory semantics.
    #[test]
    fn matches_follow_moby_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
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
            // Directory semantics: a pattern that matches a parent excludes what is below it.
            ("docs", "docs/a/b.md", true),
            ("do*", "docs/a/b.md", true),
            ("*/a", "docs/a/b.md", true),
            ("b.md", "docs/a/b.md", false),
        ];
        for (pattern, path, want) in cases {
            let m = Matcher::new(&[pattern.to_string()]).unwrap();
            assert_eq!(m.matches(path), *want, "pattern {pattern:?} on {path:?}");
        }
    }

    /// moby's `multiPatternTests`.
    #[test]
    fn multi_pattern_cases_from_moby() {
        let cases: &[(&[&str], &str, bool)] = &[
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
        for (patterns, path, want) in cases {
            let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
            let m = Matcher::new(&patterns).unwrap();
            assert_eq!(m.matches(path), *want, "patterns {patterns:?} on {path:?}");
        }
    }

    #[test]
    fn later_patterns_and_exceptions_win() {
        let m = Matcher::parse("*\n!Dockerfile\n!rootfs\nrootfs/secret\n").unwrap();
        assert!(m.matches("target"));
        assert!(m.matches("src/main.rs"));
        assert!(!m.matches("Dockerfile"));
        assert!(!m.matches("rootfs"));
        assert!(!m.matches("rootfs/etc/passwd"));
        assert!(m.matches("rootfs/secret"));
        assert!(m.matches("rootfs/secret/inner"));
        assert!(m.has_exclusions());

        let m = Matcher::parse("docs\n!docs/keep.md\n").unwrap();
        assert!(m.matches("docs/a.md"));
        assert!(!m.matches("docs/keep.md"));
        let m = Matcher::parse("*.md\n!README*.md\nREADME-secret.md\n").unwrap();
        assert!(m.matches("a.md"));
        assert!(!m.matches("README.md"));
        assert!(m.matches("README-secret.md"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Matcher::parse("!\n").is_err());
        assert!(Matcher::parse("[abc\n").is_err());
        assert!(Matcher::parse("a[z-a]\n").is_err());
    }
}
