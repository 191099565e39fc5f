//! The build context against the real docker CLI on this machine.
//!
//! Generated `.dockerignore` files and trees (seeded, bounded, shrunk on a difference) go
//! through `docker build DIR` (the CLI's own walk: here docker/cli 28.2.2 without buildx, so the
//! legacy builder, which is what the CLI does for a Dockerfile build on this machine) and
//! through our tar (`context::collect` + `context::stream` to the engine API); the files in the
//! two resulting images must be the same. A CLI of the older, per-path generation (Debian 12's
//! docker.io 20.10, what a fresh machine gets) re-includes files that the current walk leaves
//! out; against it we must never send a file it does not (see `Generation`). A pattern the CLI refuses must be refused by us too,
//! with exit 2 naming the line. `cargo test` runs a fixed handful of seeds; the long run is
//!
//! ```text
//! AISOPSFLOW_CONTEXT_DIFF_CASES=400 AISOPSFLOW_CONTEXT_DIFF_SEED=1 \
//!   cargo test -p xtask --test it context::long_differential_run -- --ignored --nocapture
//! ```
//!
//! and its figures are in docs/reliability.md. Images are tagged `h15ctx-diff-<pid>-<n>` and
//! removed after each case (the engine is shared).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use xtask::effects::docker::{BuildRequest, Docker};
use xtask::images::context;

/// A small, seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated case: files (relative paths; their directories are implied), empty
/// directories, and the `.dockerignore` lines (bytes: they need not be UTF-8).
#[derive(Debug, Clone)]
struct Case {
    files: Vec<String>,
    empty_dirs: Vec<String>,
    ignore: Vec<Vec<u8>>,
}

const NAMES: &[&str] = &[
    "a",
    "b",
    "c.key",
    "d.txt",
    "keep.tmp",
    ".env",
    "dir",
    "sub",
    "x y",
    "[x]",
    "é",
    "^n",
    "a*b",
    "#h",
    "!b",
    "q?",
    "A1",
    "dist",
    "node_modules",
    "b\\c",
];

fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let mut files: Vec<String> = Vec::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for _ in 0..1 + rng.below(12) {
        let depth = 1 + rng.below(3);
        let parts: Vec<&str> = (0..depth).map(|_| *rng.pick(NAMES)).collect();
        let path = parts.join("/");
        // A path cannot be both a file and a directory.
        let prefixes: Vec<String> = (1..parts.len()).map(|i| parts[..i].join("/")).collect();
        if prefixes.iter().any(|p| files.contains(p))
            || dirs.contains(&path)
            || files.contains(&path)
            || path == "Dockerfile"
            || path == ".dockerignore"
        {
            continue;
        }
        dirs.extend(prefixes);
        files.push(path);
    }
    let mut empty_dirs = Vec::new();
    if rng.chance(30) {
        let d = format!("{}/empty", rng.pick(NAMES));
        if !files
            .iter()
            .any(|f| f == d.split('/').next().unwrap_or_default())
        {
            empty_dirs.push(d);
        }
    }
    let all: Vec<String> = files.iter().chain(dirs.iter()).cloned().collect();
    let mut ignore = Vec::new();
    for _ in 0..1 + rng.below(6) {
        ignore.push(pattern(&mut rng, &all));
    }
    Case {
        files,
        empty_dirs,
        ignore,
    }
}

/// A pattern built from a path in the tree, with wildcards, classes, escapes and the CLI's
/// syntax around it; sometimes one the CLI refuses.
fn pattern(rng: &mut Rng, paths: &[String]) -> Vec<u8> {
    const FIXED: &[&str] = &[
        "**",
        "*",
        "**/*.key",
        "!**/keep.tmp",
        "**/dir",
        "dir/**",
        "*/*.tmp",
        ".*",
        "# comment",
        "",
        "^*",
        "\\d*",
        "[[:alpha:]]*",
        "**/[^a]*",
        "a\\*b",
        "[a*]",
        "x^*",
    ];
    // Patterns the CLI refuses: filepath.Match's syntax errors, then Go regexp's.
    const BAD: &[&str] = &[
        "[x-]",
        "[-x]",
        "[]a]",
        "[a-b-c]",
        "[",
        "a\\",
        "!",
        "[z-a]*",
        "\\q*",
        "[[:foo:]]",
    ];
    if rng.chance(3) {
        return rng.pick(BAD).as_bytes().to_vec();
    }
    if paths.is_empty() || rng.chance(18) {
        let mut p = rng.pick(FIXED).as_bytes().to_vec();
        if rng.chance(5) {
            p.extend_from_slice(b"\xe9");
        }
        return p;
    }
    let path = rng.pick(paths);
    let parts: Vec<&str> = path.split('/').collect();
    let keep = 1 + rng.below(parts.len());
    let mut out: Vec<String> = Vec::new();
    for part in &parts[..keep] {
        let p = match rng.below(12) {
            0 => "*".to_string(),
            1 => "**".to_string(),
            2 if !part.is_empty() => {
                let mut c: Vec<char> = part.chars().collect();
                let i = rng.below(c.len());
                c[i] = '?';
                c.into_iter().collect()
            }
            3 if !part.is_empty() => {
                let c: Vec<char> = part.chars().collect();
                let i = rng.below(c.len());
                let class = match rng.below(4) {
                    0 => format!("[{}]", c[i]),
                    1 => "[^z]".to_string(),
                    2 => format!("[{}-z]", c[i]),
                    _ => "[[:alnum:]]".to_string(),
                };
                c[..i].iter().collect::<String>() + &class + &c[i + 1..].iter().collect::<String>()
            }
            4 => format!("{part}*"),
            5 => format!("*{part}"),
            6 if !part.is_empty() => format!("\\{part}"),
            _ => part.to_string(),
        };
        out.push(p);
    }
    let mut p = out.join("/");
    if rng.chance(10) {
        p = format!("/{p}");
    }
    if rng.chance(10) {
        p = format!("./{p}");
    }
    if rng.chance(10) {
        p.push('/');
    }
    if rng.chance(35) {
        p = format!("!{p}");
    }
    if rng.chance(10) {
        p = format!("  {p} ");
    }
    p.into_bytes()
}

fn write_case(dir: &Path, case: &Case) {
    // The label makes every case's build its own: without it, two cases (or two processes
    // on the shared engine) that send the same files share the legacy builder's cached COPY
    // layer, and one removing its image can pull that layer from under the other's build.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nLABEL h15ctx.case={}-{nanos}\nCOPY . /ctx/\n",
            std::process::id()
        ),
    )
    .unwrap();
    for f in &case.files {
        let p = dir.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, f).unwrap();
    }
    for d in &case.empty_dirs {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let mut text = Vec::new();
    for l in &case.ignore {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    fs::write(dir.join(".dockerignore"), text).unwrap();
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Both built, with the same files.
    Same(usize),
    /// Both refused the `.dockerignore`.
    BothRefused,
    /// We refused a pattern Go's regexp refuses, where the CLI never compiled it (it
    /// compiles a pattern only when a path reaches it); a probe confirmed the CLI refuses it
    /// once a path does.
    Stricter,
    /// Both built, and the CLI sent every file we sent and these besides. A difference for a
    /// CLI of our generation; for a per-path CLI (before the walk used the parent's results)
    /// it is that CLI's known leak, and we are the stricter side.
    CliSentMore(BTreeSet<String>),
    Differs(String),
}

/// Which of the docker CLI's two context walks the CLI on this machine has, found by what it
/// does with the leak case (`**/*.key`, `!config`, ...), not by its version string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    /// `MatchesUsingParentResults` (docker/cli 28.2.2 here): what `images::context` does, so
    /// the two must send exactly the same files.
    ParentResults,
    /// The per-path rule (Debian bookworm's docker.io 20.10.24, what a fresh Debian 12 machine
    /// installs): it re-includes `config/tls.key` through `!config`. Against it we must never
    /// send a file it does not send (never less strict); it may send more.
    PerPath,
}

impl Generation {
    fn differs(self, v: &Verdict) -> bool {
        match v {
            Verdict::Differs(_) => true,
            Verdict::CliSentMore(_) => self == Generation::ParentResults,
            _ => false,
        }
    }
}

fn leak_case() -> Case {
    Case {
        files: vec![
            "config/tls.key".into(),
            "config/app.toml".into(),
            "top.key".into(),
            "build/keep.tmp".into(),
        ],
        empty_dirs: vec![],
        ignore: vec![
            b"**/*.key".to_vec(),
            b"!config".to_vec(),
            b"build".to_vec(),
            b"!**/keep.tmp".to_vec(),
        ],
    }
}

/// Runs the leak case and tells the generation from its answer; panics on any other answer.
async fn generation(docker: &Docker) -> Generation {
    match run_case(docker, &leak_case(), 0).await {
        Verdict::Same(2) => Generation::ParentResults,
        Verdict::CliSentMore(extra) if extra.iter().map(String::as_str).eq(["config/tls.key"]) => {
            println!(
                "the docker CLI here walks the context with the per-path rule (before \
                 MatchesUsingParentResults): it sends config/tls.key, which we never send; \
                 differences are held to 'never less strict than it'"
            );
            Generation::PerPath
        }
        other => panic!("the leak case: {other:?}"),
    }
}

fn files_under_ctx(files: Vec<String>) -> BTreeSet<String> {
    files
        .into_iter()
        .filter_map(|f| f.strip_prefix("ctx/").map(str::to_string))
        // The daemon decides about these two on both sides alike.
        .filter(|f| f != "Dockerfile" && f != ".dockerignore")
        .collect()
}

/// `run_once`, again (at most twice more) when the shared engine lost an image in the middle
/// of a build ("unable to find image": another user's prune of dangling images), which says
/// nothing about the context.
async fn run_case(docker: &Docker, case: &Case, n: u64) -> Verdict {
    let mut verdict = run_once(docker, case, n).await;
    for _ in 0..2 {
        match &verdict {
            Verdict::Differs(why) if why.contains("unable to find image") => {
                verdict = run_once(docker, case, n).await;
            }
            _ => break,
        }
    }
    verdict
}

async fn run_once(docker: &Docker, case: &Case, n: u64) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path(), case);
    let base = format!("h15ctx-diff-{}-{n}", std::process::id());
    let cli_tag = format!("{base}:cli");
    let ours_tag = format!("{base}:ours");
    let out = Command::new("docker")
        .args(["build", "-q", "-t", &cli_tag])
        .arg(dir.path())
        .env_remove("DOCKER_BUILDKIT")
        .output()
        .expect("running the docker CLI (apt-get install docker.io)");
    let cli_err = String::from_utf8_lossy(&out.stderr).into_owned();
    let ours = context::collect(dir.path());
    let verdict = match (out.status.success(), ours) {
        (false, Err(e)) => {
            let refused = cli_err.contains("syntax error in pattern")
                || cli_err.contains("illegal exclusion pattern");
            if refused && xtask::exit::code_for(&e) == xtask::exit::USAGE {
                Verdict::BothRefused
            } else {
                Verdict::Differs(format!(
                    "both failed differently: CLI {cli_err:?}, ours {e:#}"
                ))
            }
        }
        (true, Err(e)) => {
            let msg = format!("{e:#}");
            if msg.contains("Go regular expression") {
                confirm_refusal(case, n)
            } else {
                Verdict::Differs(format!("the CLI built, we refused: {msg}"))
            }
        }
        (false, Ok(_)) => Verdict::Differs(format!("the CLI refused, we did not: {cli_err}")),
        (true, Ok(entries)) => {
            let built = docker
                .build(
                    &BuildRequest {
                        tag: ours_tag.clone(),
                        ..Default::default()
                    },
                    || context::stream(entries.clone()),
                    |_| {},
                )
                .await;
            match built {
                Err(e) => Verdict::Differs(format!("our build failed: {e:#}")),
                Ok(_) => {
                    let cli_files = files_under_ctx(docker.list_files(&cli_tag).await.unwrap());
                    let our_files = files_under_ctx(docker.list_files(&ours_tag).await.unwrap());
                    if cli_files == our_files {
                        Verdict::Same(cli_files.len())
                    } else if our_files.is_subset(&cli_files) {
                        Verdict::CliSentMore(cli_files.difference(&our_files).cloned().collect())
                    } else {
                        let only_cli: Vec<_> = cli_files.difference(&our_files).collect();
                        let only_ours: Vec<_> = our_files.difference(&cli_files).collect();
                        Verdict::Differs(format!(
                            "only the CLI sent {only_cli:?}; only we sent {only_ours:?}"
                        ))
                    }
                }
            }
        }
    };
    for t in [&cli_tag, &ours_tag] {
        let _ = docker.remove_image(t).await;
    }
    verdict
}

/// We refused a pattern that the CLI, building this tree, never compiled. Proves the CLI
/// refuses it too once a path reaches it: the first line we refuse, alone (after `*` if it is
/// an exception, so that it is consulted), must stop `docker build` with "syntax error in
/// pattern". Otherwise our regexp reading is wrong, and that is a difference.
fn confirm_refusal(case: &Case, n: u64) -> Verdict {
    use xtask::images::dockerignore::Matcher;
    let Some(line) = case
        .ignore
        .iter()
        .find(|l| Matcher::parse_bytes(&[l.as_slice(), b"\n"].concat()).is_err())
    else {
        return Verdict::Differs("we refused the file but no single line".into());
    };
    let probe = Case {
        files: vec!["probe".into()],
        empty_dirs: vec![],
        ignore: if xtask::images::dockerignore::trim_space(line).starts_with(b"!") {
            vec![b"*".to_vec(), line.clone()]
        } else {
            vec![line.clone()]
        },
    };
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path(), &probe);
    let tag = format!("h15ctx-diff-{}-{n}:probe", std::process::id());
    let out = Command::new("docker")
        .args(["build", "-q", "-t", &tag])
        .arg(dir.path())
        .env_remove("DOCKER_BUILDKIT")
        .output()
        .expect("running the docker CLI");
    if out.status.success() {
        let _ = Command::new("docker").args(["rmi", &tag]).output();
        return Verdict::Differs(format!(
            "we refuse {:?}, which the CLI accepts when a path reaches it",
            String::from_utf8_lossy(line)
        ));
    }
    if String::from_utf8_lossy(&out.stderr).contains("syntax error in pattern") {
        Verdict::Stricter
    } else {
        Verdict::Differs(format!(
            "the probe for {:?} failed otherwise: {}",
            String::from_utf8_lossy(line),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Drops `.dockerignore` lines, then files, while the difference stays.
async fn shrink(docker: &Docker, mut case: Case, n: u64, g: Generation) -> Case {
    let mut i = 0;
    while i < case.ignore.len() {
        let mut smaller = case.clone();
        smaller.ignore.remove(i);
        if g.differs(&run_case(docker, &smaller, n).await) {
            case = smaller;
        } else {
            i += 1;
        }
    }
    let mut i = 0;
    while i < case.files.len() {
        let mut smaller = case.clone();
        smaller.files.remove(i);
        if g.differs(&run_case(docker, &smaller, n).await) {
            case = smaller;
        } else {
            i += 1;
        }
    }
    case
}

fn show(case: &Case) -> String {
    let lines: Vec<String> = case
        .ignore
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    format!(
        ".dockerignore {lines:?}, files {:?}, empty dirs {:?}",
        case.files, case.empty_dirs
    )
}

#[derive(Default, Debug)]
struct Tally {
    same: usize,
    both_refused: usize,
    stricter: usize,
    /// Per-path CLI only: cases where it sent files we leave out (its leak).
    legacy_sent_more: usize,
    files_compared: usize,
    differences: Vec<String>,
}

async fn differential(docker: &Docker, seed: u64, cases: u64, g: Generation) -> Tally {
    let mut t = Tally::default();
    for i in 0..cases {
        let n = seed.wrapping_mul(1_000_003).wrapping_add(i);
        let case = generate(n);
        match run_case(docker, &case, n).await {
            Verdict::Same(files) => {
                t.same += 1;
                t.files_compared += files;
            }
            Verdict::BothRefused => t.both_refused += 1,
            Verdict::Stricter => t.stricter += 1,
            Verdict::CliSentMore(_) if g == Generation::PerPath => t.legacy_sent_more += 1,
            first => {
                let first = format!("{first:?}");
                let small = shrink(docker, case.clone(), n, g).await;
                let again = run_case(docker, &small, n).await;
                let why = if g.differs(&again) {
                    format!("{again:?}")
                } else {
                    format!("{again:?} when run again")
                };
                t.differences.push(format!(
                    "case {n}: {} => {first}; shrunk to {} => {why}",
                    show(&case),
                    show(&small)
                ));
            }
        }
    }
    t
}

fn docker_cli_present() -> bool {
    Command::new("docker")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fixed handful of generated cases, plus the leak the issue reports, in every `cargo test`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_against_the_docker_cli() {
    crate::docker_required!();
    assert!(
        docker_cli_present(),
        "the docker CLI is needed: apt-get install docker.io"
    );
    let docker = Docker::connect().await.unwrap();
    let g = generation(&docker).await;
    let t = differential(&docker, 7, 8, g).await;
    println!("{t:?}");
    assert!(t.differences.is_empty(), "{:#?}", t.differences);
    assert!(t.same > 0, "no case built on both sides: {t:?}");
}

/// The long run (see the module comment for the command); prints its figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: runs hundreds of docker builds; see docs/reliability.md"]
async fn long_differential_run() {
    crate::docker_required!();
    let docker = Docker::connect().await.unwrap();
    let cases: u64 = std::env::var("AISOPSFLOW_CONTEXT_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("AISOPSFLOW_CONTEXT_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let g = generation(&docker).await;
    let started = std::time::Instant::now();
    let t = differential(&docker, seed, cases, g).await;
    println!(
        "differential run: seed {seed}, {cases} cases in {:.0} s: {} same ({} files compared), {} refused by both, {} refused only by us (pattern never compiled by the CLI), {} where a per-path CLI sent more ({g:?}), {} differences",
        started.elapsed().as_secs_f64(),
        t.same,
        t.files_compared,
        t.both_refused,
        t.stricter,
        t.legacy_sent_more,
        t.differences.len()
    );
    for d in &t.differences {
        println!("DIFFERENCE {d}");
    }
    assert!(t.differences.is_empty());
}

/// A refused pattern stops `preflight --only build-core` with exit 2 naming file and line,
/// before anything compiles.
#[test]
fn refused_pattern_is_a_configuration_error_naming_the_line() {
    let dir = crate::support::Layout::new()
        .file("core/.dockerignore", "# ok\n*\n!Dockerfile\n[x-]\n")
        .commit();
    let root = dir.path();
    let out = crate::support::Xtask::new()
        .arg("--repo")
        .arg(root)
        .args(["preflight", "--offline", "--only", "build-core"])
        .envs(std::env::var_os("DOCKER_HOST").map(|v| ("DOCKER_HOST", v)))
        .output();
    let text = crate::support::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("core/.dockerignore:4"), "{text}");
    assert!(text.contains("[x-]"), "{text}");
    assert!(text.contains("syntax error in pattern"), "{text}");
}
