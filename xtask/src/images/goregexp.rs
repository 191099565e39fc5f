//! The part of Go's `regexp` that moby's `.dockerignore` matcher reaches, read exactly as Go
//! reads it.
//!
//! moby's `patternmatcher` turns a pattern into a Go regular expression and lets Go's
//! `regexp.Compile` judge it (see `dockerignore`). Only `.+()|{}$` are escaped on the way, so a
//! pattern can carry Go regexp syntax into the engine's decision: `^` anchors, `[[:alpha:]]`
//! is a POSIX class, `\d` is a digit, `\x41` is `A`, `\b` is a word boundary, `\Q...\E` quotes,
//! and `[z-a]` or `\q` are syntax errors. This module parses that syntax with Go's Perl flags
//! (`regexp/syntax.Perl`: `ClassNL | OneLine | PerlX | UnicodeGroups`), following
//! `regexp/syntax/parse.go` rule by rule, and answers "does the text match" with a Pike VM
//! (linear in the text, no backtracking blow-up). Text is decoded as Go does: a byte that is
//! not valid UTF-8 is U+FFFD of width one.
//!
//! Not modelled: Unicode classes (`\pL`, `\p{Greek}`) are refused as unsupported rather than
//! guessed, and flag groups `(?i)` cannot be reached (moby escapes `(`).

use std::fmt;

/// A syntax error, worded like Go's `regexp/syntax` errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const MAX_RUNE: u32 = 0x10FFFF;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Empty,
    /// A set of code points, as sorted, merged, inclusive ranges.
    Class(Vec<(u32, u32)>),
    /// `.`: any character but `\n`.
    AnyNotNL,
    BeginText,
    EndText,
    WordBoundary,
    NoWordBoundary,
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Star(Box<Node>),
    Plus(Box<Node>),
    Quest(Box<Node>),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) struct Regexp {
    prog: Vec<Inst>,
}

#[derive(Debug, Clone)]
enum Inst {
    Class(Vec<(u32, u32)>),
    AnyNotNL,
    Assert(Look),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    BeginText,
    EndText,
    WordBoundary,
    NoWordBoundary,
}

fn err(msg: &str, expr: &str) -> Error {
    Error(format!("error parsing regexp: {msg}: `{expr}`"))
}

impl Regexp {
    /// `regexp.Compile(expr)` with Go's default (Perl) flags.
    pub(crate) fn compile(expr: &str) -> Result<Regexp, Error> {
        let node = Parser { src: expr }.parse()?;
        let mut prog = Vec::new();
        emit(&node, &mut prog);
        prog.push(Inst::Match);
        Ok(Regexp { prog })
    }

    /// `MatchString`: whether the expression matches anywhere in `text`.
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        let chars = decode(text);
        let n = self.prog.len();
        let mut clist: Vec<usize> = Vec::new();
        let mut nlist: Vec<usize> = Vec::new();
        let mut seen = vec![usize::MAX; n];
        let mut generation = 0usize;
        for pos in 0..=chars.len() {
            // Unanchored search: a thread starts at every position.
            let prev = if pos == 0 { None } else { Some(chars[pos - 1]) };
            let next = chars.get(pos).copied();
            generation += 1;
            let mut stack = Vec::new();
            let mut list = std::mem::take(&mut clist);
            list.push(0);
            let mut ready: Vec<usize> = Vec::new();
            for start in list {
                stack.push(start);
                while let Some(pc) = stack.pop() {
                    if seen[pc] == generation {
                        continue;
                    }
                    seen[pc] = generation;
                    match &self.prog[pc] {
                        Inst::Jmp(t) => stack.push(*t),
                        Inst::Split(a, b) => {
                            stack.push(*b);
                            stack.push(*a);
                        }
                        Inst::Assert(look) => {
                            if assert_holds(*look, prev, next) {
                                stack.push(pc + 1);
                            }
                        }
                        Inst::Match => return true,
                        _ => ready.push(pc),
                    }
                }
            }
            let Some(c) = next else { break };
            nlist.clear();
            for pc in ready {
                let ok = match &self.prog[pc] {
                    Inst::Class(ranges) => in_ranges(ranges, c),
                    Inst::AnyNotNL => c != '\n' as u32,
                    _ => false,
                };
                if ok {
                    nlist.push(pc + 1);
                }
            }
            std::mem::swap(&mut clist, &mut nlist);
        }
        false
    }
}

fn assert_holds(look: Look, prev: Option<u32>, next: Option<u32>) -> bool {
    let word = |c: Option<u32>| {
        c.is_some_and(|c| {
            c < 128 && {
                let b = c as u8;
                b.is_ascii_alphanumeric() || b == b'_'
            }
        })
    };
    match look {
        Look::BeginText => prev.is_none(),
        Look::EndText => next.is_none(),
        Look::WordBoundary => word(prev) != word(next),
        Look::NoWordBoundary => word(prev) == word(next),
    }
}

fn in_ranges(ranges: &[(u32, u32)], c: u32) -> bool {
    ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi)
}

/// Decodes like Go's `utf8.DecodeRune`: an invalid byte is U+FFFD of width one.
pub fn decode(text: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.extend(s.chars().map(|c| c as u32));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.extend(
                    std::str::from_utf8(good)
                        .unwrap_or_default()
                        .chars()
                        .map(|c| c as u32),
                );
                out.push(0xFFFD);
                // Go's DecodeRune consumes one byte of an invalid sequence.
                rest = &bad[1..];
            }
        }
    }
    out
}

fn emit(node: &Node, prog: &mut Vec<Inst>) {
    match node {
        Node::Empty => {}
        Node::Class(r) => prog.push(Inst::Class(r.clone())),
        Node::AnyNotNL => prog.push(Inst::AnyNotNL),
        Node::BeginText => prog.push(Inst::Assert(Look::BeginText)),
        Node::EndText => prog.push(Inst::Assert(Look::EndText)),
        Node::WordBoundary => prog.push(Inst::Assert(Look::WordBoundary)),
        Node::NoWordBoundary => prog.push(Inst::Assert(Look::NoWordBoundary)),
        Node::Concat(items) => items.iter().for_each(|n| emit(n, prog)),
        Node::Alternate(items) => {
            // split L1, next; L1: a; jmp end; next: split L2, ...
            let mut jumps = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i + 1 < items.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(item, prog);
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let here = prog.len();
                    prog[split] = Inst::Split(split + 1, here);
                } else {
                    emit(item, prog);
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Star(sub) => {
            let split = prog.len();
            prog.push(Inst::Split(0, 0));
            emit(sub, prog);
            prog.push(Inst::Jmp(split));
            let end = prog.len();
            prog[split] = Inst::Split(split + 1, end);
        }
        Node::Plus(sub) => {
            let start = prog.len();
            emit(sub, prog);
            let end = prog.len() + 1;
            prog.push(Inst::Split(start, end));
        }
        Node::Quest(sub) => {
            let split = prog.len();
            prog.push(Inst::Split(0, 0));
            emit(sub, prog);
            let end = prog.len();
            prog[split] = Inst::Split(split + 1, end);
        }
    }
}

struct Parser<'a> {
    src: &'a str,
}

/// One item on the parse stack: a finished node, a `(` marker, or a `|` marker.
enum Item {
    Node(Node),
    LeftParen,
    Bar,
}

impl Parser<'_> {
    fn parse(&self) -> Result<Node, Error> {
        let whole = self.src;
        let mut t = whole;
        let mut stack: Vec<Item> = Vec::new();
        // `lastRepeat` in Go: the text of the repetition operator just parsed, if any.
        let mut last_repeat: Option<&str> = None;
        while !t.is_empty() {
            let mut repeat: Option<&str> = None;
            let c = t.chars().next().unwrap_or_default();
            match c {
                '(' => {
                    if t.starts_with("(?") {
                        return Err(err(
                            "flag groups are not supported here",
                            &t[..2.min(t.len())],
                        ));
                    }
                    stack.push(Item::LeftParen);
                    t = &t[1..];
                }
                '|' => {
                    stack.push(Item::Bar);
                    t = &t[1..];
                }
                ')' => {
                    collapse_group(&mut stack, whole)?;
                    t = &t[1..];
                }
                '^' => {
                    stack.push(Item::Node(Node::BeginText));
                    t = &t[1..];
                }
                '$' => {
                    stack.push(Item::Node(Node::EndText));
                    t = &t[1..];
                }
                '.' => {
                    stack.push(Item::Node(Node::AnyNotNL));
                    t = &t[1..];
                }
                '[' => {
                    let (class, rest) = parse_class(t)?;
                    stack.push(Item::Node(Node::Class(class)));
                    t = rest;
                }
                '*' | '+' | '?' => {
                    let before = t;
                    let mut after = &t[1..];
                    if after.starts_with('?') {
                        after = &after[1..];
                    }
                    if let Some(last) = last_repeat {
                        let op = &last[..last.len() - after.len()];
                        return Err(err("invalid nested repetition operator", op));
                    }
                    let op = &before[..before.len() - after.len()];
                    let Some(Item::Node(sub)) = stack.pop() else {
                        return Err(err("missing argument to repetition operator", op));
                    };
                    let node = match c {
                        '*' => Node::Star(Box::new(sub)),
                        '+' => Node::Plus(Box::new(sub)),
                        _ => Node::Quest(Box::new(sub)),
                    };
                    stack.push(Item::Node(node));
                    repeat = Some(before);
                    t = after;
                }
                '{' => {
                    if is_repeat_spec(t) {
                        return Err(err("counted repetition is not supported here", t));
                    }
                    stack.push(Item::Node(Node::Class(vec![('{' as u32, '{' as u32)])));
                    t = &t[1..];
                }
                '\\' => {
                    let (node, rest) = parse_backslash(t)?;
                    if let Some(n) = node {
                        stack.push(Item::Node(n))
                    }
                    t = rest;
                }
                _ => {
                    let len = c.len_utf8();
                    stack.push(Item::Node(Node::Class(vec![(c as u32, c as u32)])));
                    t = &t[len..];
                }
            }
            last_repeat = repeat;
        }
        let node = collapse_alternation(&mut stack);
        if stack.iter().any(|i| matches!(i, Item::LeftParen)) {
            return Err(err("missing closing )", whole));
        }
        Ok(node)
    }
}

fn is_repeat_spec(t: &str) -> bool {
    // `{n}`, `{n,}` or `{n,m}`.
    let Some(body) = t[1..].split_once('}').map(|(b, _)| b) else {
        return false;
    };
    let (a, b) = match body.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    !a.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.is_none_or(|b| b.bytes().all(|c| c.is_ascii_digit()))
}

/// Pops the items after the last `(` (or all) and returns them as one node.
fn collapse_alternation(stack: &mut Vec<Item>) -> Node {
    let mut alternatives: Vec<Node> = Vec::new();
    let mut current: Vec<Node> = Vec::new();
    while let Some(item) = stack.pop() {
        match item {
            Item::Node(n) => current.push(n),
            Item::Bar => {
                current.reverse();
                alternatives.push(concat(std::mem::take(&mut current)));
            }
            Item::LeftParen => {
                stack.push(Item::LeftParen);
                break;
            }
        }
    }
    current.reverse();
    alternatives.push(concat(current));
    alternatives.reverse();
    if alternatives.len() == 1 {
        alternatives.pop().unwrap_or(Node::Empty)
    } else {
        Node::Alternate(alternatives)
    }
}

fn concat(mut items: Vec<Node>) -> Node {
    match items.len() {
        0 => Node::Empty,
        1 => items.pop().unwrap_or(Node::Empty),
        _ => Node::Concat(items),
    }
}

fn collapse_group(stack: &mut Vec<Item>, whole: &str) -> Result<(), Error> {
    let node = collapse_alternation(stack);
    match stack.pop() {
        Some(Item::LeftParen) => {
            stack.push(Item::Node(node));
            Ok(())
        }
        _ => Err(err("unexpected )", whole)),
    }
}

/// `\` outside a class: assertions, `\Q...\E`, Perl classes, or a single-character escape.
/// Returns `None` for `\Q...\E` contents pushed as literals (folded into a concat node).
fn parse_backslash(t: &str) -> Result<(Option<Node>, &str), Error> {
    let mut chars = t[1..].chars();
    match chars.next() {
        Some('A') => return Ok((Some(Node::BeginText), &t[2..])),
        Some('z') => return Ok((Some(Node::EndText), &t[2..])),
        Some('b') => return Ok((Some(Node::WordBoundary), &t[2..])),
        Some('B') => return Ok((Some(Node::NoWordBoundary), &t[2..])),
        Some('C') => return Err(err("invalid escape sequence", &t[..2])),
        Some('Q') => {
            let body = &t[2..];
            let (lit, rest) = match body.find("\\E") {
                Some(i) => (&body[..i], &body[i + 2..]),
                None => (body, ""),
            };
            let nodes: Vec<Node> = lit
                .chars()
                .map(|c| Node::Class(vec![(c as u32, c as u32)]))
                .collect();
            return Ok((Some(concat(nodes)), rest));
        }
        Some('p') | Some('P') => {
            return Err(Error(format!(
                "Unicode class `{}` is not modelled by this tool (Go would read it as a Unicode character class); write the characters out instead",
                &t[..2]
            )));
        }
        _ => {}
    }
    if let Some((class, rest)) = perl_class(t) {
        return Ok((Some(Node::Class(class)), rest));
    }
    let (c, rest) = parse_escape(t)?;
    Ok((Some(Node::Class(vec![(c, c)])), rest))
}

fn perl_class(t: &str) -> Option<(Vec<(u32, u32)>, &str)> {
    let b = t.as_bytes();
    if b.len() < 2 || b[0] != b'\\' {
        return None;
    }
    let (ranges, negate): (Vec<(u32, u32)>, bool) = match b[1] {
        b'd' => (ascii(&[(b'0', b'9')]), false),
        b'D' => (ascii(&[(b'0', b'9')]), true),
        b's' => (ascii(&[(b'\t', b'\n'), (0x0c, 0x0d), (b' ', b' ')]), false),
        b'S' => (ascii(&[(b'\t', b'\n'), (0x0c, 0x0d), (b' ', b' ')]), true),
        b'w' => (
            ascii(&[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')]),
            false,
        ),
        b'W' => (
            ascii(&[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')]),
            true,
        ),
        _ => return None,
    };
    Some((if negate { complement(&ranges) } else { ranges }, &t[2..]))
}

fn ascii(r: &[(u8, u8)]) -> Vec<(u32, u32)> {
    r.iter().map(|(a, b)| (*a as u32, *b as u32)).collect()
}

fn posix_class(name: &str) -> Option<Vec<(u32, u32)>> {
    let (negate, base) = match name.strip_prefix("[:^") {
        Some(rest) => (true, format!("[:{rest}")),
        None => (false, name.to_string()),
    };
    let r: &[(u8, u8)] = match base.as_str() {
        "[:alnum:]" => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')],
        "[:alpha:]" => &[(b'A', b'Z'), (b'a', b'z')],
        "[:ascii:]" => &[(0, 0x7f)],
        "[:blank:]" => &[(b'\t', b'\t'), (b' ', b' ')],
        "[:cntrl:]" => &[(0, 0x1f), (0x7f, 0x7f)],
        "[:digit:]" => &[(b'0', b'9')],
        "[:graph:]" => &[(b'!', b'~')],
        "[:lower:]" => &[(b'a', b'z')],
        "[:print:]" => &[(b' ', b'~')],
        "[:punct:]" => &[(b'!', b'/'), (b':', b'@'), (b'[', b'`'), (b'{', b'~')],
        "[:space:]" => &[(b'\t', 0x0d), (b' ', b' ')],
        "[:upper:]" => &[(b'A', b'Z')],
        "[:word:]" => &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
        "[:xdigit:]" => &[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')],
        _ => return None,
    };
    let ranges = ascii(r);
    Some(if negate { complement(&ranges) } else { ranges })
}

fn normalize(mut r: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    r.sort();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in r {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn complement(r: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let r = normalize(r.to_vec());
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in r {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= MAX_RUNE {
        out.push((next, MAX_RUNE));
    }
    out
}

/// Go's `parseClass`, with Perl flags (`-` is fine anywhere; ClassNL: `[^a]` matches `\n`).
/// A character class as inclusive code-point ranges.
type Ranges = Vec<(u32, u32)>;

fn parse_class(s: &str) -> Result<(Ranges, &str), Error> {
    let whole = s;
    let mut t = &s[1..];
    let mut negated = false;
    if t.starts_with('^') {
        negated = true;
        t = &t[1..];
    }
    let mut class: Vec<(u32, u32)> = Vec::new();
    let mut first = true;
    while t.is_empty() || !t.starts_with(']') || first {
        first = false;
        if t.is_empty() {
            return Err(err("missing closing ]", whole));
        }
        // POSIX `[:alnum:]`: Go looks for the next `:]` anywhere after `[:`.
        if t.len() > 2
            && t.starts_with("[:")
            && let Some(i) = t[2..].find(":]")
        {
            let name = &t[..i + 4];
            match posix_class(name) {
                Some(r) => {
                    class.extend(r);
                    t = &t[i + 4..];
                    continue;
                }
                None => return Err(err("invalid character class range", name)),
            }
        }
        if t.starts_with("\\p") || t.starts_with("\\P") {
            return Err(Error(format!(
                "Unicode class `{}` is not modelled by this tool (Go would read it as a Unicode character class); write the characters out instead",
                &t[..2]
            )));
        }
        if let Some((r, rest)) = perl_class(t) {
            class.extend(r);
            t = rest;
            continue;
        }
        let rng = t;
        let (lo, rest) = parse_class_char(t, whole)?;
        t = rest;
        let mut hi = lo;
        if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
            let (h, rest) = parse_class_char(&t[1..], whole)?;
            t = rest;
            hi = h;
            if hi < lo {
                let used = &rng[..rng.len() - t.len()];
                return Err(err("invalid character class range", used));
            }
        }
        class.push((lo, hi));
    }
    t = &t[1..];
    let class = normalize(class);
    Ok((if negated { complement(&class) } else { class }, t))
}

fn parse_class_char<'a>(s: &'a str, whole: &str) -> Result<(u32, &'a str), Error> {
    if s.is_empty() {
        return Err(err("missing closing ]", whole));
    }
    if s.starts_with('\\') {
        return parse_escape(s);
    }
    let c = s.chars().next().unwrap_or_default();
    Ok((c as u32, &s[c.len_utf8()..]))
}

/// Go's `parseEscape`: one escaped character.
fn parse_escape(s: &str) -> Result<(u32, &str), Error> {
    let t = &s[1..];
    let Some(c) = t.chars().next() else {
        return Err(Error(
            "error parsing regexp: trailing backslash at end of expression: ``".to_string(),
        ));
    };
    let mut rest = &t[c.len_utf8()..];
    let invalid = |rest: &str| err("invalid escape sequence", &s[..s.len() - rest.len()]);
    match c {
        '1'..='7' if !rest.starts_with(|d: char| ('0'..='7').contains(&d)) => Err(invalid(rest)),
        '0'..='7' => {
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                match rest.chars().next() {
                    Some(d @ '0'..='7') => {
                        r = r * 8 + (d as u32 - '0' as u32);
                        rest = &rest[1..];
                    }
                    _ => break,
                }
            }
            Ok((r, rest))
        }
        'x' => {
            let Some(c1) = rest.chars().next() else {
                return Err(invalid(rest));
            };
            rest = &rest[c1.len_utf8()..];
            if c1 == '{' {
                let mut r: u32 = 0;
                let mut nhex = 0;
                loop {
                    let Some(d) = rest.chars().next() else {
                        return Err(invalid(rest));
                    };
                    rest = &rest[d.len_utf8()..];
                    if d == '}' {
                        break;
                    }
                    let Some(v) = d.to_digit(16) else {
                        return Err(invalid(rest));
                    };
                    r = r * 16 + v;
                    if r > MAX_RUNE {
                        return Err(invalid(rest));
                    }
                    nhex += 1;
                }
                if nhex == 0 {
                    return Err(invalid(rest));
                }
                return Ok((r, rest));
            }
            let x = c1.to_digit(16);
            let c2 = rest.chars().next();
            if let Some(c2) = c2 {
                rest = &rest[c2.len_utf8()..];
            }
            match (x, c2.and_then(|c| c.to_digit(16))) {
                (Some(x), Some(y)) => Ok((x * 16 + y, rest)),
                _ => Err(invalid(rest)),
            }
        }
        'a' => Ok((7, rest)),
        'f' => Ok((0x0c, rest)),
        'n' => Ok(('\n' as u32, rest)),
        'r' => Ok(('\r' as u32, rest)),
        't' => Ok(('\t' as u32, rest)),
        'v' => Ok((0x0b, rest)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, rest)),
        _ => Err(invalid(rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, text: &str) -> bool {
        Regexp::compile(re)
            .unwrap_or_else(|e| panic!("{re}: {e}"))
            .is_match(text.as_bytes())
    }

    #[test]
    fn reads_go_syntax() {
        assert!(m("^a[^/]*$", "abc"));
        assert!(!m("^a[^/]*$", "a/c"));
        assert!(m("^(.*/)?b$", "x/y/b"));
        assert!(m("^(.*/)?b$", "b"));
        assert!(!m("^(.*/)?b$", "x\n/b"), "`.` does not match a newline");
        assert!(
            m("^[^/]$", "\n"),
            "ClassNL: a negated class matches a newline"
        );
        assert!(m("^[[:alpha:]]$", "q"));
        assert!(!m("^[[:alpha:]]$", "1"));
        assert!(m("^[[:^alpha:]]$", "1"));
        assert!(m("^\\d$", "7"));
        assert!(m("^\\x41$", "A"));
        assert!(m("^\\x{263a}$", "☺"));
        assert!(m("^\\101$", "A"));
        assert!(m("^\\Qa.b\\E$", "a.b"));
        assert!(!m("^\\Qa.b\\E$", "axb"));
        assert!(m("^a\\b$", "a"));
        assert!(!m("^a^b$", "a^b"), "a bare ^ is an anchor");
        assert!(m("^^ab$", "ab"));
        assert!(m("^[a[^/]*]$", "a[]"));
        assert!(m("^[a[^/]*]$", "]"));
        assert!(!m("^[a[^/]*]$", "a"));
        assert!(m("^\u{fffd}$", "\u{fffd}"));
        assert!(Regexp::compile("^\u{fffd}$").unwrap().is_match(b"\xff"));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            "[z-a]",
            "[Local-Only]",
            "\\q",
            "\\8",
            "\\1",
            "[[:foo:]]",
            "a**",
            "*",
            "(",
            ")",
            "[a",
            "\\",
            "\\C",
            "\\x",
            "\\xg1",
            "\\x{}",
            "\\é",
            "[a-\\d]",
        ] {
            assert!(Regexp::compile(bad).is_err(), "{bad} must be refused");
        }
        for good in [
            "[a-]", "[-a]", "[]a]", "[^]a]", "a*?", "[[:a]", "\\0", "\\_", "{", "a{",
        ] {
            assert!(Regexp::compile(good).is_ok(), "{good} must compile");
        }
    }
}
