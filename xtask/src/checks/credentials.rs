//! Where credentials go in a workflow: every route by which a secret or a literal credential
//! can reach a registry login, a step that pushes, or an action's inputs (issue #15 §4), and
//! which steps push to a registry or move `latest` (issue #16 §4).
//!
//! GitHub Actions expressions are case-insensitive (`secrets.github_token` is the same secret
//! as `secrets.GITHUB_TOKEN`), and a secret can be named by property (`secrets.X`), by index
//! (`secrets['X']`, `secrets[format(...)]`) or handed over whole (`toJSON(secrets)`,
//! `secrets: inherit`). Only `secrets.GITHUB_TOKEN` and `github.token` are the workflow's own
//! short-lived token; everything else that can carry a credential is a finding.
//!
//! Shell scripts are read the way a shell splits them, well enough to find the credential of
//! a `docker login` (and podman, buildah, skopeo, nerdctl, crane, oras, helm, regctl, cosign):
//! `-p`/`--password` values, and for `--password-stdin` the producer of the pipe (`echo`,
//! `printf`), a here-string or a here-document. A variable is followed through the script's
//! own assignments and the step, job and workflow `env:` (and `${{ env.X }}`). A login whose
//! credential cannot be traced to GITHUB_TOKEN fails: the stricter reading.

use std::collections::{BTreeMap, BTreeSet};

use super::workflow::{Node, expressions};

/// Where a credential value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cred {
    /// `secrets.GITHUB_TOKEN` or `github.token` (or a called workflow's secret the caller set
    /// to one of them).
    GithubToken,
    /// A named secret other than GITHUB_TOKEN.
    Secret(String),
    /// A secret chosen at run time (`secrets[format(...)]`) or every secret (`toJSON(secrets)`).
    AnySecret(String),
    /// Text written into the workflow.
    Literal,
    /// Something else (an input, a step output, a file): not provably GITHUB_TOKEN.
    Unknown(String),
}

impl Cred {
    pub(crate) fn is_token(&self) -> bool {
        *self == Cred::GithubToken
    }
    pub fn describe(&self) -> String {
        match self {
            Cred::GithubToken => "GITHUB_TOKEN".into(),
            Cred::Secret(n) => format!("`secrets.{n}`"),
            Cred::AnySecret(e) => format!("`{e}`"),
            Cred::Literal => "a hard-coded value".into(),
            Cred::Unknown(e) => format!("`{e}`"),
        }
    }
}

/// One reference to the `secrets` context inside an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretRef {
    Named(String),
    /// `secrets[...]` with a computed index.
    Dynamic(String),
    /// The whole context (`toJSON(secrets)`, `secrets` alone).
    Whole(String),
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Every use of the `secrets` context in one expression (the text inside `${{ }}`).
pub(crate) fn secret_refs(expr: &str) -> Vec<SecretRef> {
    let lower = expr.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'\'' || b == b'"' {
            quote = Some(b);
            i += 1;
            continue;
        }
        let boundary = i == 0 || {
            let p = bytes[i - 1] as char;
            !is_ident(p) && p != '.'
        };
        if boundary && lower[i..].starts_with("secrets") {
            let after = i + "secrets".len();
            if lower[after..].chars().next().is_some_and(is_ident) {
                i = after;
                continue;
            }
            let rest = expr[after..].trim_start();
            if let Some(r) = rest.strip_prefix('.') {
                let name: String = r.chars().take_while(|c| is_ident(*c)).collect();
                out.push(SecretRef::Named(name.clone()));
                i = after + 1 + name.len();
                continue;
            }
            if let Some(r) = rest.strip_prefix('[') {
                let inner = r.split(']').next().unwrap_or_default().trim();
                let lit = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match lit {
                    Some(n) if n.chars().all(is_ident) && !n.is_empty() => {
                        out.push(SecretRef::Named(n.to_string()))
                    }
                    _ => out.push(SecretRef::Dynamic(format!("secrets[{inner}]"))),
                }
                i = after + 1;
                continue;
            }
            out.push(SecretRef::Whole(expr.trim().to_string()));
            i = after;
            continue;
        }
        i += 1;
    }
    out
}

/// Whether an expression is exactly the workflow's own token (any letter case, property or
/// index form).
pub(crate) fn is_token_expr(expr: &str) -> bool {
    let e: String = expr
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
        .replace('"', "'");
    matches!(
        e.as_str(),
        "secrets.github_token" | "github.token" | "secrets['github_token']" | "github['token']"
    )
}

/// A literal that has the shape of a well-known long-lived credential (GitHub classic and
/// fine-grained PATs, OAuth/app/refresh tokens; Docker Hub and GitLab PATs).
pub(crate) fn looks_like_token(s: &str) -> bool {
    const PREFIXES: &[(&str, usize)] = &[
        ("ghp_", 30),
        ("gho_", 30),
        ("ghu_", 30),
        ("ghs_", 30),
        ("ghr_", 30),
        ("github_pat_", 30),
        ("dckr_pat_", 20),
        ("glpat-", 20),
    ];
    PREFIXES.iter().any(|(p, min)| {
        s.match_indices(p).any(|(i, _)| {
            let before = s[..i].chars().next_back();
            let tail = s[i + p.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .count();
            !before.is_some_and(|c| c.is_ascii_alphanumeric()) && tail >= *min
        })
    })
}

/// Whether an env or input name says it holds a credential.
pub(crate) fn credential_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "pat",
        "credential",
        "auth",
    ]
    .iter()
    .any(|w| {
        k.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|part| part == *w || (w.len() > 3 && part.contains(w)))
    })
}

/// The `env:` scopes of a step, innermost first, and the called workflow's secret names that
/// the caller set to GITHUB_TOKEN.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub envs: [Option<&'a Node>; 3],
    pub token_aliases: &'a BTreeSet<String>,
}

impl<'a> Scope<'a> {
    /// The innermost `env:` entry named `name` (env names are case-sensitive on Linux
    /// runners, but `${{ env.X }}` is a context lookup, which is not; both find it here).
    pub fn env(&self, name: &str, ci: bool) -> Option<(u32, &'a Node)> {
        for env in self.envs.iter().flatten() {
            for (k, l, v) in env.entries() {
                if k == name || (ci && k.eq_ignore_ascii_case(name)) {
                    return Some((*l, v));
                }
            }
        }
        None
    }
}

/// The source of one expression.
pub(crate) fn classify_expr(expr: &str, scope: &Scope, depth: u8) -> Cred {
    if is_token_expr(expr) {
        return Cred::GithubToken;
    }
    for r in secret_refs(expr) {
        match r {
            SecretRef::Named(n) => {
                if n.eq_ignore_ascii_case("GITHUB_TOKEN")
                    || scope
                        .token_aliases
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(&n))
                {
                    continue;
                }
                return Cred::Secret(n);
            }
            SecretRef::Dynamic(e) | SecretRef::Whole(e) => return Cred::AnySecret(e),
        }
    }
    let e = expr.trim();
    let env_name = e
        .strip_prefix("env.")
        .or_else(|| {
            e.strip_prefix("env[")
                .and_then(|s| s.strip_suffix(']'))
                .map(|s| s.trim_matches(['\'', '"']))
        })
        .filter(|n| n.chars().all(is_ident));
    if let Some(name) = env_name
        && depth < 8
        && let Some((_, v)) = scope.env(name, true)
    {
        return classify_value(v.as_str().unwrap_or_default(), scope, depth + 1);
    }
    if !secret_refs(expr).is_empty() {
        // Only GITHUB_TOKEN references, inside a larger expression.
        return Cred::GithubToken;
    }
    Cred::Unknown(format!("${{{{ {e} }}}}"))
}

/// The source of a whole value: GITHUB_TOKEN only when every expression in it is the token and
/// nothing else is written around it.
pub(crate) fn classify_value(value: &str, scope: &Scope, depth: u8) -> Cred {
    let exprs = expressions(value);
    if exprs.is_empty() {
        return if value.trim().is_empty() {
            Cred::Unknown("an empty value".into())
        } else {
            Cred::Literal
        };
    }
    let mut worst = Cred::GithubToken;
    for (_, e) in &exprs {
        let c = classify_expr(e, scope, depth);
        if rank(&c) > rank(&worst) {
            worst = c;
        }
    }
    worst
}

fn rank(c: &Cred) -> u8 {
    match c {
        Cred::GithubToken => 0,
        Cred::Unknown(_) => 1,
        Cred::Literal => 2,
        Cred::AnySecret(_) => 3,
        Cred::Secret(_) => 4,
    }
}

// ---------------------------------------------------------------------------------------
// Shell

/// A word of a shell command line, with the (0-based) script line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    line: usize,
    /// An operator (`|`, `;`, `&&`, `||`, `&`, `<<`, `<<<`, `<`) rather than a word.
    op: bool,
}

/// Splits a script into words the way a POSIX shell would for our purposes: quotes group,
/// backslash-newline joins lines, `#` starts a comment, operators are their own words, and a
/// here-document's body becomes one word after its `<<` operator.
fn words(script: &str) -> Vec<Word> {
    let chars: Vec<char> = script.chars().collect();
    let mut out: Vec<Word> = Vec::new();
    let mut cur = String::new();
    let mut cur_line = 0usize;
    let mut in_word = false;
    let mut line = 0usize;
    let mut heredocs: Vec<(String, usize)> = Vec::new(); // (delimiter, index of the body word)
    let mut i = 0;
    let flush = |out: &mut Vec<Word>, cur: &mut String, in_word: &mut bool, at: usize| {
        if *in_word {
            out.push(Word {
                text: std::mem::take(cur),
                line: at,
                op: false,
            });
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                flush(&mut out, &mut cur, &mut in_word, cur_line);
                out.push(Word {
                    text: ";".into(),
                    line,
                    op: true,
                });
                line += 1;
                i += 1;
                // Here-document bodies start on the next line.
                for (delim, idx) in std::mem::take(&mut heredocs) {
                    let mut body = String::new();
                    while i < chars.len() {
                        let end = chars[i..]
                            .iter()
                            .position(|c| *c == '\n')
                            .map_or(chars.len(), |p| i + p);
                        let l: String = chars[i..end].iter().collect();
                        i = (end + 1).min(chars.len());
                        line += 1;
                        if l.trim() == delim {
                            break;
                        }
                        body.push_str(&l);
                        body.push('\n');
                    }
                    if let Some(w) = out.get_mut(idx) {
                        w.text = body;
                    }
                }
                continue;
            }
            ' ' | '\t' | '\r' => {
                flush(&mut out, &mut cur, &mut in_word, cur_line);
                i += 1;
            }
            '$' if chars.get(i + 1) == Some(&'{') && chars.get(i + 2) == Some(&'{') => {
                // An Actions expression is substituted before the shell runs: one word.
                if !in_word {
                    cur_line = line;
                    in_word = true;
                }
                while i < chars.len() {
                    cur.push(chars[i]);
                    if chars[i] == '}' && chars.get(i + 1) == Some(&'}') {
                        cur.push('}');
                        i += 2;
                        break;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                line += 1;
                i += 2;
            }
            '\\' => {
                if !in_word {
                    cur_line = line;
                    in_word = true;
                }
                if let Some(n) = chars.get(i + 1) {
                    cur.push(*n);
                }
                i += 2;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' | '"' => {
                if !in_word {
                    cur_line = line;
                    in_word = true;
                }
                let q = c;
                i += 1;
                while i < chars.len() && chars[i] != q {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    if q == '"' && chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    cur.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '|' | ';' | '&' | '<' | '>' => {
                flush(&mut out, &mut cur, &mut in_word, cur_line);
                let mut op = c.to_string();
                while let Some(n) = chars.get(i + op.chars().count())
                    && (*n == c || (c == '<' && *n == '<') || (c == '>' && *n == '&'))
                    && op.len() < 3
                {
                    op.push(*n);
                }
                i += op.chars().count();
                if op == "<<" || op == "<<-" {
                    // `<<EOF`, `<< 'EOF'`, `<<-EOF`: read the delimiter now, the body later.
                    if chars.get(i) == Some(&'-') {
                        i += 1;
                    }
                    while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
                        i += 1;
                    }
                    let mut delim = String::new();
                    while let Some(c) = chars.get(i)
                        && !c.is_whitespace()
                        && !matches!(c, ';' | '|' | '&')
                    {
                        if !matches!(c, '\'' | '"' | '\\') {
                            delim.push(*c);
                        }
                        i += 1;
                    }
                    out.push(Word {
                        text: "<<".into(),
                        line,
                        op: true,
                    });
                    out.push(Word {
                        text: String::new(),
                        line: line + 1,
                        op: false,
                    });
                    heredocs.push((delim, out.len() - 1));
                } else {
                    out.push(Word {
                        text: op,
                        line,
                        op: true,
                    });
                }
            }
            _ => {
                if !in_word {
                    cur_line = line;
                    in_word = true;
                }
                cur.push(c);
                i += 1;
            }
        }
    }
    flush(&mut out, &mut cur, &mut in_word, cur_line);
    out
}

/// Simple commands of a pipeline: `(words, pipeline index)`; pipelines are split on `;`,
/// `&&`, `||`, `&` and newlines.
fn pipelines(ws: &[Word]) -> Vec<Vec<Vec<Word>>> {
    let mut out = Vec::new();
    let mut pipe: Vec<Vec<Word>> = vec![Vec::new()];
    for w in ws {
        if w.op && matches!(w.text.as_str(), ";" | "&&" | "||" | "&") {
            if pipe.iter().any(|c| !c.is_empty()) {
                out.push(std::mem::replace(&mut pipe, vec![Vec::new()]));
            }
        } else if w.op && w.text == "|" {
            pipe.push(Vec::new());
        } else {
            pipe.last_mut().expect("non-empty").push(w.clone());
        }
    }
    if pipe.iter().any(|c| !c.is_empty()) {
        out.push(pipe);
    }
    out
}

/// The command words after `sudo`, `env`, `VAR=value` prefixes, and the tool's base name.
fn command_of(cmd: &[Word]) -> Option<(String, Vec<&Word>)> {
    let mut rest: Vec<&Word> = cmd.iter().filter(|w| !w.op).collect();
    loop {
        let first = rest.first()?;
        let t = first.text.as_str();
        let wrapper = matches!(t, "sudo" | "env" | "command" | "exec");
        let assignment = t.contains('=') && !t.starts_with('-') && !t.starts_with('$');
        if wrapper || assignment {
            rest.remove(0);
        } else {
            break;
        }
    }
    let tool = rest.first()?.text.rsplit('/').next()?.to_string();
    Some((tool, rest[1..].to_vec()))
}

/// The subcommand words (non-flags) of a command, at most `n`.
fn subcommands<'a>(args: &[&'a Word], n: usize) -> Vec<&'a str> {
    args.iter()
        .map(|w| w.text.as_str())
        .filter(|t| !t.starts_with('-'))
        .take(n)
        .collect()
}

const LOGIN_TOOLS: &[(&str, &[&str])] = &[
    ("docker", &["login"]),
    ("podman", &["login"]),
    ("buildah", &["login"]),
    ("skopeo", &["login"]),
    ("nerdctl", &["login"]),
    ("oras", &["login"]),
    ("cosign", &["login"]),
    ("helm", &["registry", "login"]),
    ("crane", &["auth", "login"]),
    ("regctl", &["registry", "login"]),
];

/// A registry login found in a script.
#[derive(Debug, Clone)]
pub(crate) struct ShellLogin {
    /// 0-based script line of the login command.
    pub line: usize,
    pub tool: String,
    /// Where its credential comes from: `(script line, source)`; empty when none is visible.
    pub sources: Vec<(usize, Source)>,
}

/// One credential source of a shell login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An expression, text inside `${{ }}`.
    Expr(String),
    /// A shell variable.
    Var(String),
    /// Literal text.
    Literal,
    /// A file or command output.
    Opaque(String),
}

fn is_login(tool: &str, args: &[&Word]) -> bool {
    LOGIN_TOOLS.iter().any(|(t, sub)| {
        *t == tool && {
            let s = subcommands(args, 3);
            s.len() >= sub.len() && s[..sub.len()] == **sub
        }
    })
}

/// The sources inside one shell word.
fn word_sources(text: &str, line: usize, out: &mut Vec<(usize, Source)>) {
    let exprs = expressions(text);
    let mut rest = text.to_string();
    for (_, e) in exprs.iter().rev() {
        out.push((line, Source::Expr(e.to_string())));
    }
    // Remove the expressions, then look for $VAR / ${VAR}.
    for (_, e) in &exprs {
        if let Some(start) = rest.find("${{") {
            let end = rest[start..]
                .find("}}")
                .map_or(rest.len(), |p| start + p + 2);
            rest.replace_range(start..end, "");
        }
        let _ = e;
    }
    let mut found_var = false;
    let b: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut literal = String::new();
    while i < b.len() {
        if b[i] == '$' {
            let (name, skip) = if b.get(i + 1) == Some(&'{') {
                let n: String = b[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                let close = b[i..].iter().position(|c| *c == '}').unwrap_or(b.len() - i);
                (n, close + 1)
            } else if b.get(i + 1) == Some(&'(') {
                let close = b[i..].iter().position(|c| *c == ')').unwrap_or(b.len() - i);
                out.push((
                    line,
                    Source::Opaque(b[i..i + close + 1].iter().collect::<String>()),
                ));
                found_var = true;
                i += close + 1;
                continue;
            } else {
                let n: String = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                let l = n.chars().count();
                (n, l + 1)
            };
            if !name.is_empty() {
                out.push((line, Source::Var(name)));
                found_var = true;
            }
            i += skip.max(1);
        } else {
            literal.push(b[i]);
            i += 1;
        }
    }
    let lit = literal
        .replace("\\n", "")
        .replace("%s", "")
        .trim()
        .to_string();
    if exprs.is_empty() && !found_var && !lit.is_empty() {
        out.push((line, Source::Literal));
    }
}

/// Registry logins in a script, with the sources of their credentials.
pub(crate) fn shell_logins(script: &str) -> Vec<ShellLogin> {
    let ws = words(script);
    let mut out = Vec::new();
    for pipe in pipelines(&ws) {
        for (ci, cmd) in pipe.iter().enumerate() {
            let Some((tool, args)) = command_of(cmd) else {
                continue;
            };
            if !is_login(&tool, &args) {
                continue;
            }
            let line = cmd.first().map_or(0, |w| w.line);
            let mut sources = Vec::new();
            let mut stdin = false;
            let mut k = 0;
            while k < args.len() {
                let t = args[k].text.as_str();
                let value_flag = matches!(
                    t,
                    "-p" | "--password" | "--identity-token" | "--registry-token" | "--token"
                );
                if value_flag {
                    if let Some(v) = args.get(k + 1) {
                        word_sources(&v.text, v.line, &mut sources);
                    }
                    k += 2;
                    continue;
                }
                if let Some(v) = [
                    "--password=",
                    "--identity-token=",
                    "--registry-token=",
                    "--token=",
                ]
                .iter()
                .find_map(|p| t.strip_prefix(p))
                {
                    word_sources(v, args[k].line, &mut sources);
                } else if let Some(v) = t.strip_prefix("-p").filter(|v| !v.is_empty()) {
                    word_sources(v, args[k].line, &mut sources);
                } else if t.ends_with("-stdin") {
                    stdin = true;
                }
                k += 1;
            }
            // Redirections on the login itself: here-string, here-document, file.
            let all: Vec<&Word> = cmd.iter().collect();
            for (j, w) in all.iter().enumerate() {
                if !w.op {
                    continue;
                }
                let next = all.get(j + 1).filter(|n| !n.op);
                match (w.text.as_str(), next) {
                    ("<<<" | "<<", Some(n)) if stdin => word_sources(&n.text, n.line, &mut sources),
                    ("<", Some(n)) if stdin => {
                        sources.push((n.line, Source::Opaque(format!("the file {}", n.text))))
                    }
                    _ => {}
                }
            }
            // The producer of a pipe into `--password-stdin`.
            if stdin && ci > 0 {
                let prod = &pipe[ci - 1];
                match command_of(prod) {
                    Some((p, pargs)) if p == "echo" || p == "printf" => {
                        for w in pargs {
                            if w.text.starts_with('-') && p == "echo" {
                                continue;
                            }
                            word_sources(&w.text, w.line, &mut sources);
                        }
                    }
                    Some((p, pargs)) => sources.push((
                        prod.first().map_or(line, |w| w.line),
                        Source::Opaque(format!(
                            "the output of `{p}{}`",
                            pargs
                                .first()
                                .map(|w| format!(" {}", w.text))
                                .unwrap_or_default()
                        )),
                    )),
                    None => {}
                }
            }
            out.push(ShellLogin {
                line,
                tool,
                sources,
            });
        }
    }
    out
}

/// Variables the script itself assigns before `line` (`X=...`, `export X=...`).
pub(crate) fn script_assignments(script: &str) -> BTreeMap<String, Vec<(usize, String)>> {
    let mut out: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for pipe in pipelines(&words(script)) {
        for cmd in pipe {
            let ws: Vec<&Word> = cmd.iter().filter(|w| !w.op).collect();
            let mut k = 0;
            if ws
                .first()
                .is_some_and(|w| w.text == "export" || w.text == "declare")
            {
                k = 1;
            }
            for w in &ws[k.min(ws.len())..] {
                match w.text.split_once('=') {
                    Some((n, v))
                        if !n.is_empty()
                            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                    {
                        out.entry(n.to_string())
                            .or_default()
                            .push((w.line, v.to_string()));
                    }
                    _ => break,
                }
            }
        }
    }
    out
}

/// One step of a script that pushes to a registry (or moves a tag such as `latest`).
#[derive(Debug, Clone)]
pub(crate) struct ShellPush {
    pub line: usize,
    pub what: String,
}

/// Registry writes in a script: image pushes, copies and retags, and `cargo xtask publish` /
/// `promote`.
pub(crate) fn shell_pushes(script: &str) -> Vec<ShellPush> {
    let mut out = Vec::new();
    for pipe in pipelines(&words(script)) {
        for cmd in pipe {
            let Some((tool, args)) = command_of(&cmd) else {
                continue;
            };
            let line = cmd.first().map_or(0, |w| w.line);
            let sub = subcommands(&args, 3);
            let has = |f: &str| {
                args.iter()
                    .any(|w| w.text == f || w.text.starts_with(&format!("{f}=")))
            };
            let first = sub.first().copied().unwrap_or_default();
            let pushes = match tool.as_str() {
                "docker" | "podman" | "nerdctl" | "buildah" => {
                    matches!(first, "push")
                        || sub.starts_with(&["image", "push"])
                        || sub.starts_with(&["manifest", "push"])
                        || (sub.starts_with(&["buildx", "imagetools"])
                            && sub.get(2) == Some(&"create"))
                        || (first == "buildx"
                            && (has("--push") || args.iter().any(|w| w.text.contains("push=true"))))
                        || ((first == "build" || first == "bud") && has("--push"))
                        || (first == "compose" && sub.get(1) == Some(&"push"))
                }
                "skopeo" => matches!(first, "copy" | "sync" | "delete"),
                "crane" | "gcrane" => matches!(
                    first,
                    "push" | "copy" | "cp" | "tag" | "append" | "mutate" | "rebase" | "delete"
                ),
                "oras" => matches!(first, "push" | "tag" | "cp" | "copy" | "attach"),
                "helm" => first == "push",
                "regctl" => {
                    sub.starts_with(&["image", "copy"])
                        || sub.starts_with(&["tag"])
                        || sub.starts_with(&["image", "mod"])
                }
                "cosign" => matches!(first, "sign" | "attest" | "copy"),
                "cargo" => {
                    first == "xtask" && matches!(sub.get(1).copied(), Some("publish" | "promote"))
                }
                "xtask" => matches!(first, "publish" | "promote"),
                "curl" | "wget" => {
                    let text: Vec<&str> = args.iter().map(|w| w.text.as_str()).collect();
                    let put = text.windows(2).any(|w| {
                        matches!(w[0], "-X" | "--request")
                            && matches!(w[1], "PUT" | "POST" | "PATCH")
                    }) || text
                        .iter()
                        .any(|t| *t == "-XPUT" || *t == "-T" || t.starts_with("--upload-file"));
                    put && text.iter().any(|t| t.contains("/v2/"))
                }
                _ => false,
            };
            if pushes {
                let what = cmd
                    .iter()
                    .filter(|w| !w.op)
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push(ShellPush { line, what });
            }
        }
    }
    out
}

/// Whether an action step (`uses:` with its `with:`) writes to a registry.
pub(crate) fn action_pushes(uses: &str, with: Option<&Node>) -> bool {
    let name = uses
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let input = |k: &str| {
        with.and_then(|w| w.get(k))
            .and_then(Node::as_str)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if name.ends_with("docker/build-push-action") || name.ends_with("docker/bake-action") {
        // `push` defaults to false; an expression may be true at run time.
        return input("push").is_some_and(|v| v != "false" && !v.is_empty())
            || input("outputs").is_some_and(|v| v.contains("push=true"));
    }
    let base = name.rsplit('/').next().unwrap_or_default();
    base.contains("push") || base.contains("publish") && base.contains("image")
}

/// Whether an action logs in to a registry.
pub(crate) fn action_logs_in(uses: &str) -> bool {
    let name = uses
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let base = name.split('/').nth(1).unwrap_or_default();
    base.contains("login")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_in_every_form() {
        assert_eq!(
            secret_refs("secrets.PAT"),
            vec![SecretRef::Named("PAT".into())]
        );
        assert_eq!(
            secret_refs("secrets['GH_PAT'] || 'x'"),
            vec![SecretRef::Named("GH_PAT".into())]
        );
        assert!(matches!(
            secret_refs("secrets[format('{0}_PAT', 'GH')]")[0],
            SecretRef::Dynamic(_)
        ));
        assert!(matches!(
            secret_refs("toJSON(secrets)")[0],
            SecretRef::Whole(_)
        ));
        assert!(secret_refs("inputs.secrets_file").is_empty());
        assert!(secret_refs("'secrets.X'").is_empty());
        assert!(is_token_expr("secrets.github_token"));
        assert!(is_token_expr(" github.token "));
        assert!(is_token_expr("secrets[\"GITHUB_TOKEN\"]"));
        assert!(!is_token_expr("secrets.GITHUB_TOKEN_PAT"));
    }

    #[test]
    fn literal_token_shapes() {
        assert!(looks_like_token(&format!("ghp_{}", "a".repeat(36))));
        assert!(looks_like_token(&format!(
            "x github_pat_{}",
            "A1_".repeat(20)
        )));
        assert!(!looks_like_token("ghp_short"));
        assert!(!looks_like_token("ghcr.io/aisopsflow/core"));
    }

    fn login(script: &str) -> ShellLogin {
        let l = shell_logins(script);
        assert_eq!(l.len(), 1, "{script}: {l:?}");
        l.into_iter().next().unwrap()
    }

    #[test]
    fn shell_login_credentials() {
        let l = login(
            "echo \"${{ secrets.GITHUB_TOKEN }}\" | docker login ghcr.io -u x --password-stdin",
        );
        assert_eq!(
            l.sources,
            vec![(0, Source::Expr("secrets.GITHUB_TOKEN".into()))]
        );
        let l = login("printf '%s' \"$PAT\" | sudo podman login ghcr.io -u x --password-stdin");
        assert_eq!(l.sources, vec![(0, Source::Var("PAT".into()))]);
        let l = login("set -e\ndocker login ghcr.io \\\n  -u me \\\n  -p ${{ secrets.PAT }}\n");
        assert_eq!(
            (l.line, l.sources.clone()),
            (1, vec![(3, Source::Expr("secrets.PAT".into()))])
        );
        let l = login(
            "docker login ghcr.io -u me --password-stdin <<EOF\n${{ secrets.PAT }}\nEOF\necho done\n",
        );
        assert_eq!(l.sources, vec![(1, Source::Expr("secrets.PAT".into()))]);
        let l = login("skopeo login --username me --password=hunter2 ghcr.io");
        assert_eq!(l.sources, vec![(0, Source::Literal)]);
        let l = login("cat token.txt | helm registry login ghcr.io -u me --password-stdin");
        assert!(matches!(l.sources[0].1, Source::Opaque(_)));
        let l = login("crane auth login ghcr.io -u me -p \"$TOKEN\"");
        assert_eq!(l.sources, vec![(0, Source::Var("TOKEN".into()))]);
        let l = login("oras login ghcr.io -u me --password-stdin <<< \"${REG_PASS}\"");
        assert_eq!(l.sources, vec![(0, Source::Var("REG_PASS".into()))]);
        assert!(shell_logins("echo docker login is documented # docker login x").is_empty());
        assert!(shell_logins("gh auth login --with-token").is_empty());
    }

    #[test]
    fn shell_pushes_found() {
        let p = shell_pushes(
            "docker build -t x .\ndocker push ghcr.io/o/p:latest\ncrane tag ghcr.io/o/p:1 latest\n",
        );
        assert_eq!(p.iter().map(|p| p.line).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(shell_pushes("docker buildx build --push -t x .").len(), 1);
        assert_eq!(shell_pushes("skopeo copy docker://a docker://b").len(), 1);
        assert!(shell_pushes("docker pull x && echo push").is_empty());
        assert_eq!(shell_pushes("cargo xtask publish --dry-run").len(), 1);
    }
}
