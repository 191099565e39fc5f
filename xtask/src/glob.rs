//! GitHub's filter patterns, the one glob dialect of this tool.
//!
//! Used for the `on.push.tags` filters of the publish workflow (where GitHub's own semantics
//! decide whether a tag push starts a run) and for the customer-document globs in release.toml
//! (`customer.docs`, `customer.manifests`), so an operator learns one syntax. The syntax is
//! GitHub's filter-pattern cheat sheet
//! (<https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions#filter-pattern-cheat-sheet>):
//!
//! - `*` matches zero or more characters, but not `/`;
//! - `**` matches zero or more of any character; `**/` matches zero or more whole directories;
//! - `?` matches zero or one of the preceding character, `+` one or more of it (after a
//!   wildcard, `?` changes nothing and `+` is an error: there is nothing to repeat);
//! - `[...]` matches one character listed or in a range; ranges only within `a-z`, `A-Z`,
//!   `0-9`; `[]` is an error;
//! - `\` makes the next character literal;
//! - a leading `!` negates the pattern (in a list, the last matching pattern decides).
//!
//! The translation follows nektos/act's `workflowpattern` package, the reference
//! implementation that runs workflows locally; its test cases are in this module's tests.
//! A pattern that GitHub would not accept is an error here, never a pattern that matches
//! nothing.

use std::fmt;

/// One compiled filter pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    negative: bool,
    atoms: Vec<Atom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Lit(char),
    /// Inclusive ranges; a single character is a range of one.
    Class(Ranges),
    /// `*`: any run without `/`.
    Star,
    /// `**`: any run.
    AnyRun,
    /// `**/`: nothing, or any run that ends in `/`.
    Dirs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rep {
    One,
    /// `?`
    ZeroOrOne,
    /// `+`
    OneOrMore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Atom {
    kind: Kind,
    rep: Rep,
}

/// Why a pattern is not one GitHub accepts; names the position and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub pattern: String,
    pub position: usize,
    pub problem: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid filter pattern `{}` at position {}: {} (GitHub's filter-pattern syntax: \
             `*`, `**`, `?`, `+`, `[a-z0-9]`, `\\` to escape, a leading `!` to negate)",
            self.pattern, self.position, self.problem
        )
    }
}

impl std::error::Error for PatternError {}

/// act accepts `0`-`9` and everything from `A` to `z` (so `_` too) inside brackets.
fn is_class_char(c: char) -> bool {
    c.is_ascii_digit() || ('A'..='z').contains(&c)
}

impl Pattern {
    /// Compiles `raw`; a leading `!` makes it a negative pattern.
    pub fn new(raw: &str) -> Result<Pattern, PatternError> {
        let (negative, body) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let err = |position: usize, problem| PatternError {
            pattern: raw.to_string(),
            position: position + usize::from(negative),
            problem,
        };
        let chars: Vec<char> = body.chars().collect();
        let mut atoms: Vec<Atom> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let kind = match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    if chars.get(i + 2) == Some(&'/') {
                        i += 3;
                        Kind::Dirs
                    } else {
                        i += 2;
                        Kind::AnyRun
                    }
                }
                '*' => {
                    i += 1;
                    Kind::Star
                }
                '?' | '+' if i > 0 => {
                    let Some(last) = atoms.last_mut() else {
                        return Err(err(i, "nothing to repeat"));
                    };
                    // As in act, whose patterns become Go regular expressions: a `?` after a
                    // wildcard or a repeat makes it lazy (the same matches), a `+` there is
                    // Go's "invalid nested repetition".
                    let repeated = matches!(last.kind, Kind::Star | Kind::AnyRun | Kind::Dirs)
                        || last.rep != Rep::One;
                    if repeated && c == '+' {
                        return Err(err(i, "nothing to repeat; escape it as `\\+`"));
                    }
                    if !repeated {
                        last.rep = if c == '?' {
                            Rep::ZeroOrOne
                        } else {
                            Rep::OneOrMore
                        };
                    }
                    i += 1;
                    continue;
                }
                '[' => {
                    let (class, next) = parse_class(&chars, i).map_err(|(p, m)| err(p, m))?;
                    i = next;
                    Kind::Class(class)
                }
                '\\' => {
                    let Some(&n) = chars.get(i + 1) else {
                        return Err(err(
                            i,
                            "a `\\` with nothing after it; use `\\\\` for a backslash",
                        ));
                    };
                    i += 2;
                    Kind::Lit(n)
                }
                // A `?` or `+` first in the pattern is literal, as in act.
                other => {
                    i += 1;
                    Kind::Lit(other)
                }
            };
            atoms.push(Atom {
                kind,
                rep: Rep::One,
            });
        }
        Ok(Pattern { negative, atoms })
    }

    pub(crate) fn is_negative(&self) -> bool {
        self.negative
    }

    /// Whether the pattern body matches all of `text` (the `!` is not applied here).
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let mut failed = std::collections::HashSet::new();
        match_at(&self.atoms, 0, &text, 0, &mut failed)
    }
}

/// Inclusive character ranges of one `[...]`.
type Ranges = Vec<(char, char)>;

/// `[...]` starting at `chars[open]`; returns the class and the index after `]`.
fn parse_class(chars: &[char], open: usize) -> Result<(Ranges, usize), (usize, &'static str)> {
    let mut i = open + 1;
    if chars.get(i) == Some(&']') {
        return Err((i, "empty brackets `[]`"));
    }
    let mut class = Vec::new();
    while i < chars.len() && chars[i] != ']' {
        let c = chars[i];
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            let end = chars[i + 2];
            let same_kind = (c.is_ascii_digit() && end.is_ascii_digit())
                || (('A'..='z').contains(&c) && ('A'..='z').contains(&end));
            if !same_kind || c > end {
                return Err((
                    i + 1,
                    "ranges can only be within a-z, A-Z or 0-9, low to high",
                ));
            }
            class.push((c, end));
            i += 3;
        } else if is_class_char(c) {
            class.push((c, c));
            i += 1;
        } else {
            return Err((i, "brackets can only list letters and digits"));
        }
    }
    if i >= chars.len() {
        return Err((open, "missing closing bracket `]` after `[`"));
    }
    Ok((class, i + 1))
}

fn one(kind: &Kind, c: char) -> bool {
    match kind {
        Kind::Lit(l) => *l == c,
        Kind::Class(ranges) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi),
        Kind::Star | Kind::AnyRun | Kind::Dirs => unreachable!("wildcards are matched as runs"),
    }
}

/// Backtracking matcher with a memo of failed (atom, position) pairs, so it is polynomial.
fn match_at(
    atoms: &[Atom],
    a: usize,
    text: &[char],
    t: usize,
    failed: &mut std::collections::HashSet<(usize, usize)>,
) -> bool {
    if a == atoms.len() {
        return t == text.len();
    }
    if failed.contains(&(a, t)) {
        return false;
    }
    let atom = &atoms[a];
    let ok = match &atom.kind {
        Kind::Star => (t..=text.len())
            .take_while(|&end| end == t || text[end - 1] != '/')
            .any(|end| match_at(atoms, a + 1, text, end, failed)),
        Kind::AnyRun => (t..=text.len()).any(|end| match_at(atoms, a + 1, text, end, failed)),
        Kind::Dirs => {
            match_at(atoms, a + 1, text, t, failed)
                || (t + 2..=text.len())
                    .filter(|&end| text[end - 1] == '/')
                    .any(|end| match_at(atoms, a + 1, text, end, failed))
        }
        kind => {
            let (min, max) = match atom.rep {
                Rep::One => (1, 1),
                Rep::ZeroOrOne => (0, 1),
                Rep::OneOrMore => (1, usize::MAX),
            };
            let mut n = 0;
            let mut ends = vec![];
            if min == 0 {
                ends.push(t);
            }
            while n < max && t + n < text.len() && one(kind, text[t + n]) {
                n += 1;
                if n >= min {
                    ends.push(t + n);
                }
            }
            ends.into_iter()
                .rev()
                .any(|end| match_at(atoms, a + 1, text, end, failed))
        }
    };
    if !ok {
        failed.insert((a, t));
    }
    ok
}

/// A list of patterns read as GitHub reads `branches:`, `tags:` or `paths:`: `text` is
/// included when the last pattern that matches it is positive.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    patterns: Vec<Pattern>,
}

impl Filter {
    pub fn new<S: AsRef<str>>(raw: &[S]) -> Result<Filter, PatternError> {
        let patterns = raw
            .iter()
            .map(|p| Pattern::new(p.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Filter { patterns })
    }

    /// Included: the last matching pattern is positive.
    pub fn includes(&self, text: &str) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|p| p.matches(text))
            .is_some_and(|p| !p.is_negative())
    }
}

/// Files under `root` whose `/`-separated relative path `globs` includes (the filter rule:
/// the last matching pattern decides), sorted; `.git` and `target` are never entered, nor are
/// symbolic links followed. Relative paths are returned.
pub(crate) fn workspace_files<S: AsRef<str>>(
    root: &std::path::Path,
    globs: &[S],
) -> Result<Vec<std::path::PathBuf>, PatternError> {
    let filter = Filter::new(globs)?;
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        // Bounded: a workspace is far shallower than this.
        if depth > 32 {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name == ".git" || name == "target" {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            if ft.is_dir() {
                stack.push((path, depth + 1));
            } else if ft.is_file()
                && let Ok(rel) = path.strip_prefix(root)
            {
                let text = rel.to_string_lossy().replace('\\', "/");
                if filter.includes(&text) {
                    out.push(rel.to_path_buf());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nektos/act's `TestMatchPattern` cases (pkg/workflowpattern/workflow_pattern_test.go),
    /// themselves taken from GitHub's documented examples: (patterns, input, act's `Skip`
    /// result). `Skip` is true when no input is included.
    const ACT_CASES: &[(&[&str], &str, bool)] = &[
        (&["*"], "path/with/slash", true),
        (&["path/a", "path/b", "path/c"], "path/b", false),
        (&["\\!file"], "!file", false),
        (&["escape\\\\backslash"], "escape\\backslash", false),
        (&[".yml"], "fyml", true),
        (&["feature/*"], "feature/my-branch", false),
        (&["feature/*"], "feature/your-branch", false),
        (&["feature/**"], "feature/beta-a/my-branch", false),
        (&["feature/**"], "feature/mona/the/octocat", false),
        (&["main", "releases/mona-the-octocat"], "main", false),
        (
            &["main", "releases/mona-the-octocat"],
            "releases/mona-the-octocat",
            false,
        ),
        (&["*"], "main", false),
        (&["*"], "releases", false),
        (&["**"], "all/the/branches", false),
        (&["**"], "every/tag", false),
        (&["*feature"], "mona-feature", false),
        (&["*feature"], "feature", false),
        (&["*feature"], "ver-10-feature", false),
        (&["v2*"], "v2", false),
        (&["v2*"], "v2.0", false),
        (&["v2*"], "v2.9", false),
        (&["v[12].[0-9]+.[0-9]+"], "v1.10.1", false),
        (&["v[12].[0-9]+.[0-9]+"], "v2.0.0", false),
        (&["*"], "README.md", false),
        (&["*"], "server.rb", false),
        (&["*.jsx?"], "page.js", false),
        (&["*.jsx?"], "page.jsx", false),
        (&["**"], "all/the/files.md", false),
        (&["*.js"], "app.js", false),
        (&["*.js"], "index.js", false),
        (&["**.js"], "index.js", false),
        (&["**.js"], "js/index.js", false),
        (&["**.js"], "src/js/app.js", false),
        (&["docs/*"], "docs/README.md", false),
        (&["docs/*"], "docs/file.txt", false),
        (&["docs/**"], "docs/README.md", false),
        (&["docs/**"], "docs/mona/octocat.txt", false),
        (&["docs/**/*.md"], "docs/README.md", false),
        (&["docs/**/*.md"], "docs/mona/hello-world.md", false),
        (&["docs/**/*.md"], "docs/a/markdown/file.md", false),
        (&["**/docs/**"], "docs/hello.md", false),
        (&["**/docs/**"], "dir/docs/my-file.txt", false),
        (&["**/docs/**"], "space/docs/plan/space.doc", false),
        (&["**/README.md"], "README.md", false),
        (&["**/README.md"], "js/README.md", false),
        (&["**/*src/**"], "a/src/app.js", false),
        (&["**/*src/**"], "my-src/code/js/app.js", false),
        (&["**/*-post.md"], "my-post.md", false),
        (&["**/*-post.md"], "path/their-post.md", false),
        (&["**/migrate-*.sql"], "migrate-10909.sql", false),
        (&["**/migrate-*.sql"], "db/migrate-v1.0.sql", false),
        (&["**/migrate-*.sql"], "db/sept/migrate-v1.sql", false),
        (&["*.md", "!README.md"], "hello.md", false),
        (&["*.md", "!README.md"], "README.md", true),
        (&["*.md", "!README.md"], "docs/hello.md", true),
        (&["*.md", "!README.md", "README*"], "hello.md", false),
        (&["*.md", "!README.md", "README*"], "README.md", false),
        (&["*.md", "!README.md", "README*"], "README.doc", false),
    ];

    #[test]
    fn acts_cases() {
        for (patterns, input, skip) in ACT_CASES {
            let f = Filter::new(patterns).unwrap();
            assert_eq!(!f.includes(input), *skip, "{patterns:?} on {input:?}");
        }
    }

    #[test]
    fn release_tag_filters() {
        let semver = Pattern::new("v[0-9]+.[0-9]+.[0-9]+").unwrap();
        assert!(semver.matches("v1.2.3"));
        assert!(semver.matches("v10.20.30"));
        assert!(!semver.matches("v1.2"));
        assert!(!semver.matches("v1.2.3-rc.1"));
        assert!(!semver.matches("1.2.3"));
        // `.` is literal, unlike a regular expression.
        assert!(!semver.matches("v1x2x3"));
        let star = Pattern::new("v*").unwrap();
        assert!(star.matches("v1.2.3-rc.1"));
        assert!(!star.matches("v1/2"));
        let f = Filter::new(&["v*", "!v*-*"]).unwrap();
        assert!(f.includes("v1.2.3"));
        assert!(!f.includes("v1.2.3-rc.1"));
        // A `?` or `+` first in a pattern is literal.
        assert!(Pattern::new("+x").unwrap().matches("+x"));
        // A `?` after a repeat is lazy in act's Go regex: the same matches.
        assert!(Pattern::new("v[0-9]+?").unwrap().matches("v12"));
        assert!(Pattern::new("[_a-z]+").unwrap().matches("a_b"));
    }

    #[test]
    fn shell_habits_that_github_reads_differently() {
        // `?` is "zero or one of the preceding character", not "any one character".
        let p = Pattern::new("v1.?").unwrap();
        assert!(p.matches("v1"));
        assert!(p.matches("v1."));
        assert!(!p.matches("v1.2"));
        // Braces are literal: there is no alternation.
        assert!(Pattern::new("{a,b}").unwrap().matches("{a,b}"));
        assert!(!Pattern::new("{a,b}").unwrap().matches("a"));
    }

    #[test]
    fn patterns_github_refuses_are_errors() {
        for (bad, position) in [
            ("v[]", 2),
            ("v[0-9", 1),
            ("v[9-0]", 3),
            ("v[a-9]", 3),
            ("v[.]", 2),
            ("x\\", 1),
            ("*+", 1),
            ("a++", 2),
            ("a?+", 2),
            ("!a[", 2),
        ] {
            let e = Pattern::new(bad).unwrap_err();
            assert_eq!(e.position, position, "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn workspace_files_walks_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "docs/customer/a.md",
            "docs/customer/x/b.md",
            "docs/other.md",
            "target/docs/customer/c.md",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let got = workspace_files(dir.path(), &["docs/customer/**/*.md"]).unwrap();
        let want: Vec<std::path::PathBuf> = ["docs/customer/a.md", "docs/customer/x/b.md"]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(got, want);
        let one_level =
            workspace_files(dir.path(), &["docs/*/*.md", "!docs/customer/a.md"]).unwrap();
        assert_eq!(one_level, Vec::<std::path::PathBuf>::new());
        assert!(workspace_files(dir.path(), &["docs/["]).is_err());
    }

    #[test]
    fn no_exponential_backtracking() {
        let p = Pattern::new("**a**a**a**a**a**a**a**a**b").unwrap();
        let text = "a".repeat(200);
        assert!(!p.matches(&text));
    }
}
