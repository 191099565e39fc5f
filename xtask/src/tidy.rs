//! Project conventions, enforced by `cargo test` (after rust-analyzer's tidy tests).
//!
//! Files are listed with `git ls-files` when the workspace is a git checkout, else by walking
//! the tree. Every failure names `path:line` and the fix.

use std::path::{Path, PathBuf};

use crate::checks::ALL;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// Relative paths of the workspace's files (tracked files in a git checkout).
fn files(root: &Path) -> Vec<String> {
    if let Some(list) = crate::effects::git::ls_files(root) {
        return list;
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name() != "target" && e.file_name() != ".git" {
                    stack.push(p);
                }
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

fn rust_sources(root: &Path) -> Vec<String> {
    const DIRS: [&str; 4] = ["xtask/src/", "core/src/", "runner/src/", "console/src/"];
    files(root)
        .into_iter()
        .filter(|f| f.ends_with(".rs") && DIRS.iter().any(|d| f.starts_with(d)))
        .collect()
}

#[test]
fn every_source_file_has_a_module_doc() {
    let root = root();
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        if !text.trim_start().starts_with("//!") {
            bad.push(format!(
                "{f}:1: add a `//!` comment saying what this file owns"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "files without a module doc:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_dbg_macro() {
    let root = root();
    // Built at run time so this file does not flag itself.
    let needle = format!("{}!(", "dbg");
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if line.contains(&needle) {
                bad.push(format!("{f}:{}: remove the debugging macro", i + 1));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn one_atomic_write() {
    let root = root();
    // Built at run time so this file does not flag itself.
    let needles = [
        format!("fn {}(", "write_atomic"),
        format!(".{}(", "persist"),
    ];
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        if f == "xtask/src/fsx.rs" {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n.as_str())) {
                bad.push(format!(
                    "{f}:{}: write files with `crate::fsx::write_atomic` (it fsyncs the file and its directory)",
                    i + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Whether `line` calls one of the standard printing macros (`println!`, `eprintln!`,
/// `print!`, `eprint!`) in code: not in a comment, not inside a string literal.
fn calls_std_print(line: &str) -> bool {
    if line.trim_start().starts_with("//") {
        return false;
    }
    let names = ["println", "eprintln", "print", "eprint"];
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            _ if !in_string => {
                let boundary = i == 0
                    || !(bytes[i - 1].is_ascii_alphanumeric()
                        || bytes[i - 1] == b'_'
                        || bytes[i - 1] == b':');
                if boundary
                    && names
                        .iter()
                        .any(|n| line[i..].starts_with(&format!("{n}!(")))
                {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[test]
fn one_output_path() {
    let root = root();
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        if !f.starts_with("xtask/src/") || f == "xtask/src/output.rs" || f == "xtask/src/tidy.rs" {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if calls_std_print(line) {
                bad.push(format!(
                    "{f}:{}: print with `crate::say!`/`crate::note!` (redacted, safe on a closed pipe), not the std macros",
                    i + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_print_scanner_sees_what_it_should() {
    let p = |name: &str, rest: &str| format!("{name}!({rest}");
    assert!(calls_std_print(&format!(
        "    {}",
        p("eprintln", "\"x\");")
    )));
    assert!(calls_std_print(&p("print", "\"{x}\")")));
    assert!(!calls_std_print(&format!("// {}", p("println", ""))));
    assert!(!calls_std_print(&format!(
        "write(\"fn main() {{ {} }}\");",
        p("println", ")")
    )));
    assert!(!calls_std_print(&format!("crate::{}", p("say", ""))));
    assert!(!calls_std_print(&p("xprintln", "")));
}

#[test]
fn integration_test_helpers_are_defined_once() {
    let root = root();
    // Free functions and types only: a method such as `fn root(&self)` is not a copy. The
    // types are the runner, its result, the layout builder and the release world.
    let helpers = [
        "fn repo_root()",
        "fn root()",
        "fn copy_dir(",
        "fn copy_tree(",
        "fn git(",
        "fn git_identity()",
        "fn skip_docker(",
        "async fn all_tags(",
        "fn operator()",
        "async fn run_within_an_hour(",
        "fn tag_release(",
        "fn tar_with(",
        "async fn put_blob(",
        "async fn put_manifest(",
        "async fn push_image(",
        "async fn get_manifest(",
        "async fn get_blob(",
        "async fn retag(",
        "fn skopeo_digest(",
        "fn skopeo_inspect(",
        "struct Xtask",
        "struct Run ",
        "struct Layout",
        "struct World",
        "struct Rehearsed",
        "struct Env ",
        "struct Control",
    ];
    let mut bad = Vec::new();
    for f in files(&root) {
        if !f.starts_with("xtask/tests/")
            || !f.ends_with(".rs")
            || f.starts_with("xtask/tests/it/support/")
        {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let line = line
                .trim_start()
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ");
            if helpers.iter().any(|h| line.starts_with(h)) {
                bad.push(format!(
                    "{f}:{}: use the helper in xtask/tests/it/support/ instead of a copy",
                    i + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_check_id_is_documented() {
    let root = root();
    let path = root.join(crate::checkdocs::PATH);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let missing: Vec<String> = ALL
        .iter()
        .filter(|c| !text.contains(&format!("### {}\n", c.id())))
        .map(|c| format!("{}: no section for `{}`", crate::checkdocs::PATH, c.id()))
        .collect();
    assert!(
        missing.is_empty(),
        "{}\nfix: run `{}`",
        missing.join("\n"),
        crate::checkdocs::REGENERATE
    );
}

#[test]
fn generated_checks_doc_is_current() {
    assert!(
        crate::checkdocs::is_current(&root()),
        "{}:1: stale; fix: run `{}` and commit the result",
        crate::checkdocs::PATH,
        crate::checkdocs::REGENERATE
    );
}

/// Whether `text` names the crate `ident` as a path root (`ident::`, `use ident`,
/// `extern crate ident`) or a macro (`ident!`), not as part of a longer word (`string::`).
fn names_crate(text: &str, ident: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find(ident) {
        let start = from + at;
        let end = start + ident.len();
        from = end;
        let before_ok = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        };
        let after = &text[end..];
        let after_ok = after.starts_with("::") || after.starts_with('!') || {
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let head = text[line_start..start].trim_start();
            (head.starts_with("use ") || head.starts_with("pub use ") || head == "extern crate ")
                && after.starts_with([';', ' ', ':'])
        };
        if before_ok && after_ok {
            return true;
        }
    }
    false
}

/// The names in one `[dependencies]`-like table of a manifest.
fn dependency_names(manifest: &toml::Value, table: &str) -> Vec<String> {
    manifest
        .get(table)
        .and_then(|t| t.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_declared_dependency_is_used() {
    // Every dependency costs every cold build (the publish workflow's included), so one that
    // no source names is dead weight. `[dependencies]` must be named in the package's `src/`
    // (code only tests use belongs in `[dev-dependencies]`), dev-dependencies in `src/`,
    // `tests/` or `benches/`.
    let root = root();
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let members: Vec<String> = manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    let all = files(&root);
    let mut bad = Vec::new();
    for member in &members {
        let path = format!("{member}/Cargo.toml");
        let text = std::fs::read_to_string(root.join(&path)).unwrap();
        let pkg: toml::Value = toml::from_str(&text).unwrap();
        let sources = |dirs: &[&str]| -> String {
            all.iter()
                .filter(|f| {
                    f.ends_with(".rs")
                        && dirs
                            .iter()
                            .any(|d| f.starts_with(&format!("{member}/{d}/")))
                })
                .map(|f| std::fs::read_to_string(root.join(f)).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let src = sources(&["src"]);
        let dev = sources(&["src", "tests", "benches"]);
        for (table, text_to_search) in [("dependencies", &src), ("dev-dependencies", &dev)] {
            for name in dependency_names(&pkg, table) {
                let ident = name.replace('-', "_");
                if !names_crate(text_to_search, &ident) {
                    let line = text
                        .lines()
                        .position(|l| l.trim_start().starts_with(&name.to_string()))
                        .map_or(1, |i| i + 1);
                    bad.push(format!(
                        "{path}:{line}: `{name}` is in [{table}] but no source names `{ident}`; remove it (and from [workspace.dependencies] if nothing else uses it)"
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "unused dependencies:\n{}", bad.join("\n"));
}

#[test]
fn crate_name_matcher_needs_a_path_or_use() {
    assert!(names_crate("let k = ring::signature::X;", "ring"));
    assert!(names_crate("use tokio_util::io;\n", "tokio_util"));
    assert!(names_crate("    use base64::Engine;", "base64"));
    assert!(names_crate("anyhow!(\"x\")", "anyhow"));
    assert!(!names_crate("let s: std::string::String;", "ring"));
    assert!(!names_crate("my_ring::x()", "ring"));
    assert!(!names_crate("// ring is the provider", "ring"));
    assert!(!names_crate("crate::tokio_util::x", "tokio_util"));
}

#[test]
fn one_crypto_provider_in_the_lockfile() {
    // ring is the one provider (rustls, rcgen, the stand-ins' token signatures). aws-lc-sys
    // alone cost 33 s to 85 s of every cold build; keep it (and any second provider) out.
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock).unwrap();
    let names: Vec<&str> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
        .collect();
    for banned in ["aws-lc-sys", "aws-lc-rs", "openssl-sys", "native-tls"] {
        assert!(
            !names.contains(&banned),
            "Cargo.lock:1: `{banned}` is in the lockfile; build rustls users with their `*-no-provider` feature and ring (see `cargo tree -i {banned}`)"
        );
    }
    assert!(names.contains(&"ring"), "Cargo.lock: ring is the provider");
}

#[test]
fn http_clients_come_from_the_one_builder() {
    // reqwest is built without a default crypto provider: a client made any other way than
    // `effects::http::{builder, client}` panics unless something else installed ring first.
    let root = root();
    let needles = [
        format!("reqwest::Client::{}()", "new"),
        format!("reqwest::Client::{}()", "builder"),
    ];
    let mut bad = Vec::new();
    for f in files(&root).into_iter().filter(|f| {
        f.ends_with(".rs") && f.starts_with("xtask/") && f != "xtask/src/effects/http.rs"
    }) {
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n.as_str())) {
                bad.push(format!(
                    "{f}:{}: use `xtask::effects::http::client()` or `::builder()` (they install the ring provider)",
                    i + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn version_tuple(v: &str) -> (u64, u64, u64) {
    let mut it = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

#[test]
fn declared_rust_version_is_what_the_locked_dependencies_need() {
    // `rust-version` promises that this compiler builds the workspace. Only the toolchain in
    // rust-toolchain.toml is installed here, so the promise is checked against the graph: it
    // must be at least the highest `rust-version` any locked package (built for our target)
    // declares.
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let declared = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("Cargo.toml: [workspace.package] rust-version");
    let meta: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--offline",
        "--filter-platform",
        crate::images::compile::TARGET,
    ]))
    .unwrap();
    let built: std::collections::BTreeSet<&str> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let needed = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| built.contains(id)))
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            Some((
                version_tuple(rv),
                format!(
                    "{} {} needs {rv}",
                    p["name"].as_str()?,
                    p["version"].as_str()?
                ),
            ))
        })
        .max()
        .expect("some locked package declares a rust-version");
    assert!(
        version_tuple(declared) >= needed.0,
        "Cargo.toml: rust-version = \"{declared}\" but {}; raise rust-version (or drop the crate that forces it up)",
        needed.1
    );
    let toolchain: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("rust-toolchain.toml")).unwrap())
            .unwrap();
    let channel = toolchain["toolchain"]["channel"].as_str().unwrap();
    assert!(
        channel.split('.').count() == 3 && channel.split('.').all(|p| p.parse::<u64>().is_ok()),
        "rust-toolchain.toml: channel = \"{channel}\"; pin an exact release such as 1.95.0"
    );
    assert!(
        version_tuple(channel) >= version_tuple(declared),
        "rust-toolchain.toml: {channel} is older than rust-version {declared}"
    );
}

#[test]
fn what_ships_builds_from_the_lockfile_and_the_pinned_toolchain() {
    let root = root();
    let alias = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
    let alias: toml::Value = toml::from_str(&alias).unwrap();
    let xtask = alias["alias"]["xtask"].as_str().unwrap();
    assert!(
        xtask.split_whitespace().any(|a| a == "--locked"),
        ".cargo/config.toml: the xtask alias `{xtask}` lacks --locked"
    );
    let wf = std::fs::read_to_string(root.join(".github/workflows/publish-images.yml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&wf).unwrap()[0];
    let steps = doc["jobs"]["publish"]["steps"].as_vec().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter()
            .any(|r| r.lines().any(|l| l.trim() == "rustup toolchain install")),
        "publish-images.yml: no step runs `rustup toolchain install` (the toolchain of rust-toolchain.toml)"
    );
    assert!(
        !wf.contains("toolchain: stable"),
        "publish-images.yml: installs `stable`, not the toolchain of rust-toolchain.toml"
    );
    let publish = steps
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.trim() == "cargo xtask publish")
        })
        .expect("publish-images.yml: a `cargo xtask publish` step");
    let built = publish["env"]["CARGO_ALIAS_XTASK"].as_str().unwrap_or("");
    for flag in [
        "--locked",
        "--no-default-features",
        "--profile cold",
        "--package xtask",
    ] {
        assert!(
            built.contains(flag),
            "publish-images.yml: the publish step's CARGO_ALIAS_XTASK (`{built}`) lacks {flag}"
        );
    }
}

#[test]
fn idna_has_no_unicode_back_end() {
    // `cargo update` would bring back idna_adapter 1.2 and with it ICU4X (about twenty crates,
    // 13 s of a cold build on 2 cores). 1.0 is idna's documented "no Unicode back end" choice:
    // non-ASCII host names are refused, and every host this tool talks to (the GitHub API, the
    // registry of release.toml, loopback stand-ins) is ASCII. Undo with
    // `cargo update -p idna_adapter`, and say why in docs/benchmarks.md.
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock).unwrap();
    let versions: Vec<&str> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str() == Some("idna_adapter"))
        .filter_map(|p| p["version"].as_str())
        .collect();
    assert!(
        versions.iter().all(|v| v.starts_with("1.0.")),
        "Cargo.lock has idna_adapter {versions:?}; pin it back with `cargo update -p idna_adapter --precise 1.0.0`"
    );
    for heavy in [
        "icu_normalizer",
        "icu_properties",
        "globset",
        "regex-automata",
    ] {
        assert!(
            !lock["package"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"].as_str() == Some(heavy)),
            "Cargo.lock has {heavy} again; see the dependency budget in xtask/Cargo.toml"
        );
    }
}

#[test]
fn the_publish_build_has_no_stand_ins() {
    // What the publish workflow builds (`--no-default-features`): no HTTP server, no
    // certificate or token minting.
    let tree = cargo(&[
        "tree",
        "-p",
        "xtask",
        "--no-default-features",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--locked",
        "--offline",
    ]);
    for banned in ["axum ", "rcgen ", "jsonwebtoken "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(banned)),
            "`cargo tree -p xtask --no-default-features -e normal` lists {banned}; put it behind the `rehearse` feature"
        );
    }
    assert!(tree.lines().any(|l| l.starts_with("reqwest ")), "{tree}");
}

/// The `cargo xtask ...` commands quoted in `text`: backtick spans and the lines of fenced
/// code blocks that start with `cargo xtask`, as `(line, command)`.
fn quoted_commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    // A ```text block is a program's output (a summary table may start with `cargo xtask`).
    let mut output = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            fenced = !fenced;
            output = fenced && info.trim() == "text";
            continue;
        }
        if fenced && output {
            continue;
        }
        if fenced {
            if let Some(cmd) = t
                .strip_prefix("$ ")
                .or(Some(t))
                .filter(|c| c.starts_with("cargo xtask "))
            {
                // A trailing shell comment is not part of the command.
                let cmd = cmd.split("  #").next().unwrap_or(cmd);
                let cmd = cmd.split(" # ").next().unwrap_or(cmd);
                out.push((i + 1, cmd.trim().to_string()));
            }
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("`cargo xtask") {
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else { break };
            out.push((i + 1, after[..end].to_string()));
            rest = &after[end + 1..];
        }
    }
    out
}

/// A quoted command made concrete: format placeholders (`{version}`) and documentation
/// placeholders (`VERSION`, `[--latest]`, `human|json`) become values the grammar accepts.
fn concrete(cmd: &str) -> Vec<String> {
    let mut s = String::new();
    let mut depth = 0;
    let mut inner = String::new();
    for ch in cmd.chars() {
        match ch {
            '{' => {
                depth += 1;
                if depth == 1 {
                    inner.clear();
                }
            }
            '}' if depth > 0 => {
                depth -= 1;
                // `{}` and a named placeholder (`{version}`) are values.
                if depth == 0 {
                    s.push_str(if inner.is_empty() { "x" } else { "1.2.3" });
                }
            }
            _ if depth > 0 => inner.push(ch),
            '[' | ']' => s.push(' '),
            _ => s.push(ch),
        }
    }
    s.split_whitespace()
        // The command ends where the shell takes over.
        .take_while(|w| !matches!(*w, "|" | ">" | "2>&1" | "&&" | ";" | "#"))
        .skip(2) // `cargo xtask`
        .filter(|w| *w != "..." && *w != "\u{2026}")
        .map(|w| {
            let w = w.trim_end_matches(['.', ',', ';', ':', ')']);
            let w = w.split('|').next().unwrap_or(w);
            match w {
                "SECS" | "N" => "60".to_string(),
                w => w.to_string(),
            }
        })
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn every_quoted_cargo_xtask_command_parses() {
    use clap::Parser as _;
    let root = root();
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in files(&root) {
        let wanted = f.ends_with(".md")
            || (f.ends_with(".rs") && !f.starts_with("xtask/fuzz/"))
            || f.ends_with(".toml")
            || f.ends_with(".yml")
            || f.ends_with(".yaml");
        let skipped = f.starts_with("docs/releases/")
            || f.starts_with("xtask/fuzz/")
            || f.starts_with("xtask/tests/")
            || f == "xtask/src/tidy.rs";
        if !wanted || skipped {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for (line, cmd) in quoted_commands(&text) {
            let mut args = concrete(&cmd);
            if args.first().is_some_and(|a| a == "1.2.3") {
                // `cargo xtask {command}`: the subcommand itself is a placeholder.
                args.clear();
            }
            seen += 1;
            let argv = std::iter::once("cargo xtask".to_string()).chain(args.iter().cloned());
            // A mention of a command (`cargo xtask release` in prose) lacks its required
            // arguments, which is fine; an unknown flag or a bad value is not.
            use clap::error::ErrorKind;
            let mention = |k: ErrorKind| {
                matches!(
                    k,
                    ErrorKind::MissingRequiredArgument
                        | ErrorKind::MissingSubcommand
                        | ErrorKind::DisplayHelp
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                )
            };
            if let Err(e) = crate::flags::Xtask::try_parse_from(argv).map_err(|e| (e.kind(), e)) {
                let (kind, e) = e;
                if mention(kind) {
                    continue;
                }
                let first = e.to_string();
                let first = first.lines().next().unwrap_or_default().to_string();
                bad.push(format!(
                    "{f}:{line}: `{cmd}` does not parse ({first}); fix the command or the grammar"
                ));
            }
        }
    }
    assert!(
        seen > 20,
        "found only {seen} quoted commands; is the extraction broken?"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_command_extraction_sees_what_it_should() {
    let text = "run `cargo xtask release {version}{}` or\n```sh\ncargo xtask preflight --only build   # builds\n```\n```text\n  cargo xtask test   exit 0   1.0 s\n```\n";
    let cmds = quoted_commands(text);
    assert_eq!(cmds.len(), 2);
    assert_eq!(concrete(&cmds[0].1), ["release", "1.2.3x"]);
    assert_eq!(concrete(&cmds[1].1), ["preflight", "--only", "build"]);
    assert_eq!(
        concrete("cargo xtask release VERSION --dry-run --write-draft"),
        ["release", "VERSION", "--dry-run", "--write-draft"]
    );
    use clap::Parser as _;
    assert!(
        crate::flags::Xtask::try_parse_from(std::iter::once("cargo xtask".to_string()).chain(
            concrete("cargo xtask release VERSION --dry-run --write-draft")
        ))
        .is_err()
    );
}

/// Rust source with comments, string and char literals blanked to spaces (newlines kept), so
/// braces and paths are read only where they are code.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || c == 'b')
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && {
                let mut j = i + 1;
                if c == 'b' && b.get(j) == Some(&'r') {
                    j += 1;
                }
                while b.get(j) == Some(&'#') {
                    j += 1;
                }
                b.get(j) == Some(&'"') && (c == 'r' || b[i + 1] == 'r')
            }
        {
            // A raw string: r"..", r#".."#, br"..".
            let mut j = i + 1;
            if c == 'b' {
                j += 1;
            }
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while j < b.len() && b[j..].iter().take(close.len()).ne(close.iter()) {
                j += 1;
            }
            j = (j + close.len()).min(b.len());
            out.extend(b[i..j].iter().map(|c| blank(*c)));
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            j = (j + 1).min(b.len());
            out.extend(b[i..j].iter().map(|c| blank(*c)));
            i = j;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..b.len()).find(|&j| b[j] == '\'').map(|j| j + 1)
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(j) => {
                    out.extend(b[i..j].iter().map(|c| blank(*c)));
                    i = j;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `(name, first line, length in lines)` of every `fn` item with a body in `text` (outside
/// its `#[cfg(test)] mod tests`), from the signature to the closing brace.
fn fn_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let text = text
        .split("\n#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let code = code_only(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let mut words = line.split_whitespace().peekable();
        while words.peek().is_some_and(|w| {
            ["pub", "async", "const", "unsafe", "extern"].contains(w) || w.starts_with("pub(")
        }) {
            words.next();
        }
        if words.next() != Some("fn") {
            continue;
        }
        let name: String = words
            .next()
            .unwrap_or_default()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0usize;
        let mut end = None;
        'scan: for (m, l) in lines.iter().enumerate().skip(n) {
            for c in l.chars() {
                match c {
                    ';' if depth == 0 => break 'scan,
                    '{' => depth += 1,
                    '}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(m);
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(m) = end {
            out.push((name, n + 1, m - n + 1));
        }
    }
    out
}

/// The files of the release, publish and promote paths.
const COMMAND_PATHS: [&str; 9] = [
    "xtask/src/execute/mod.rs",
    "xtask/src/execute/observe.rs",
    "xtask/src/execute/resume.rs",
    "xtask/src/execute/steps.rs",
    "xtask/src/execute/wait.rs",
    "xtask/src/plan.rs",
    "xtask/src/publish.rs",
    "xtask/src/promote.rs",
    "xtask/src/release.rs",
];

#[test]
fn no_long_functions_in_the_command_paths() {
    let root = root();
    let mut bad = Vec::new();
    for f in COMMAND_PATHS {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        for (name, line, len) in fn_lengths(&text) {
            if len > 100 {
                bad.push(format!(
                    "{f}:{line}: fn {name} is {len} lines; split it (one function per step), 100 at most"
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "functions over 100 lines:\n{}",
        bad.join("\n")
    );
}

/// The functions over 100 lines outside the command paths, as they stand: the list only
/// shrinks. A new long function fails, and so does an entry whose function was split (remove
/// it here). Most are the stand-ins' route tables and long judgement tables.
const LONG_FUNCTIONS: &[(&str, &str)] = &[
    ("xtask/src/checks/build.rs", "run"),
    ("xtask/src/checks/changes.rs", "run"),
    ("xtask/src/checks/credentials.rs", "words"),
    ("xtask/src/checks/notes.rs", "run"),
    ("xtask/src/checks/packages.rs", "run"),
    ("xtask/src/checks/settings.rs", "actions_enabled"),
    ("xtask/src/checks/verify.rs", "contents_outcomes"),
    ("xtask/src/checks/verify.rs", "manifest_digests"),
    ("xtask/src/checks/verify.rs", "run_outcome"),
    ("xtask/src/checks/verify.rs", "visibility_outcomes"),
    ("xtask/src/checks/workflow.rs", "routes"),
    ("xtask/src/checks/workflow.rs", "triggers"),
    ("xtask/src/effects/github/mod.rs", "call"),
    ("xtask/src/report.rs", "sarif"),
    ("xtask/src/setup.rs", "decide"),
    ("xtask/src/standin/github.rs", "finish"),
    ("xtask/src/standin/github/api.rs", "repo_route"),
    ("xtask/src/standin/github/world.rs", "compliant"),
    ("xtask/src/standin/registry.rs", "forward"),
    ("xtask/src/standin/registry.rs", "start"),
    ("xtask/src/standin/registry.rs", "token"),
    ("xtask/src/standin/registry.rs", "ui"),
    ("xtask/src/standin/rehearsal.rs", "start"),
    ("xtask/src/tidy.rs", "code_only"),
    ("xtask/src/verify.rs", "verify"),
    ("xtask/src/verify/contents.rs", "scan_image"),
    ("xtask/src/verify/contents.rs", "scan_tar"),
];

#[test]
fn long_functions_only_shrink() {
    let root = root();
    let mut long = std::collections::BTreeSet::new();
    let mut bad = Vec::new();
    for f in rust_sources(&root) {
        if !f.starts_with("xtask/src/") || COMMAND_PATHS.contains(&f.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&f)).unwrap();
        for (name, line, len) in fn_lengths(&text) {
            if len > 100 {
                if !LONG_FUNCTIONS.contains(&(f.as_str(), name.as_str())) {
                    bad.push(format!(
                        "{f}:{line}: fn {name} is {len} lines; split it (100 at most)"
                    ));
                }
                long.insert((f.clone(), name));
            }
        }
    }
    for (f, name) in LONG_FUNCTIONS {
        if !long.contains(&(f.to_string(), name.to_string())) {
            bad.push(format!(
                "{f}: fn {name} is 100 lines or fewer now (or gone); remove it from LONG_FUNCTIONS"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_function_measure_reads_code_not_strings() {
    let text = "/// fn not_this() {\nfn a() {\n    let s = \"}{\";\n    let c = '}';\n    let r = r#\"}\"#;\n    fn inner<'a>(x: &'a str) -> &'a str { x }\n}\ntrait T {\n    fn decl(&self);\n}\n";
    assert_eq!(
        fn_lengths(text),
        [("a".to_string(), 2, 6), ("inner".to_string(), 6, 1)]
    );
}

/// The top-level module a file of `xtask/src` belongs to (`checks/mod.rs` -> `checks`).
fn top_module(path: &str) -> Option<String> {
    let rel = path.strip_prefix("xtask/src/")?;
    let first = rel.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!["main", "lib"].contains(&name)).then(|| name.to_string())
}

/// The top-level modules `code` names through `crate::X` (also `crate::{X, Y::..}`).
fn crate_references(code: &str) -> std::collections::BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = std::collections::BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at the group's top level.
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

/// Cycles among the graph's nodes: every strongly connected component of more than one node
/// (Tarjan's algorithm), each sorted.
fn cycles(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        index: std::collections::BTreeMap<&'g str, (usize, usize)>,
        stack: Vec<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            self.index.insert(v, (self.next, self.next));
            self.next += 1;
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                match self.index.get(w).copied() {
                    None => {
                        self.visit(w);
                        let low = self.index[v].1.min(self.index[w].1);
                        self.index.get_mut(v).unwrap().1 = low;
                    }
                    Some((wi, _)) if self.stack.contains(&w) => {
                        let low = self.index[v].1.min(wi);
                        self.index.get_mut(v).unwrap().1 = low;
                    }
                    Some(_) => {}
                }
            }
            if self.index[v].0 == self.index[v].1 {
                let mut scc = Vec::new();
                while let Some(w) = self.stack.pop() {
                    scc.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    scc.sort();
                    self.out.push(scc);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: Default::default(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

#[test]
fn no_import_cycle_among_the_top_level_modules() {
    let root = root();
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    let mut seen = 0;
    for f in rust_sources(&root) {
        let Some(module) = top_module(&f) else {
            continue;
        };
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        let refs = crate_references(&code_only(&text));
        seen += refs.len();
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(refs.into_iter().filter(|r| *r != module));
    }
    assert!(
        seen > 50,
        "found only {seen} references; is the scan broken?"
    );
    let found: Vec<String> = cycles(&graph)
        .into_iter()
        .map(|c| {
            let why: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            format!("{} ({})", c.join(", "), why.join(", "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "modules of xtask/src that import each other (move the shared item down into one module both may use):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_cycles_and_only_them() {
    let refs =
        crate_references("use crate::{a::X, b, c::{d, e}};\nlet x = crate::f::g(); y::crate::no;");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["a", "b", "c", "f"]);
    let graph = |edges: &[(&str, &str)]| {
        let mut g: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert!(cycles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    assert_eq!(
        cycles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        [["a", "b", "c"]]
    );
}

/// The registry's `Variant => module::CONST,` lines, in order, with their line numbers.
fn registry_entries(registry: &str) -> Vec<(usize, String, String, String)> {
    let body = registry
        .split_once("\nregistry! {\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let first = registry.len() - body.len();
    let line0 = registry[..first].lines().count() + 1;
    body.lines()
        .take_while(|l| *l != "}")
        .enumerate()
        .filter_map(|(i, l)| {
            let (variant, path) = l.trim().trim_end_matches(',').split_once(" => ")?;
            let (module, konst) = path.split_once("::")?;
            Some((
                line0 + i,
                variant.to_string(),
                module.to_string(),
                konst.to_string(),
            ))
        })
        .collect()
}

/// Where the metadata of each check lives, against where its id is reported. `registry` is
/// checks/registry.rs; `ids` the ids in report order with whether each is a manual
/// attestation; `read` gives a file's text (None when absent). A `Meta` const must be named
/// after its id (`repo-private` → `REPO_PRIVATE`) and sit in an area module whose code (its
/// tests aside) names `CheckId::Variant`; manual attestations are all reported by
/// `checks/manual.rs`, by kind.
fn meta_home_problems(
    registry: &str,
    ids: &[(&str, bool)],
    read: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    const REG: &str = "xtask/src/checks/registry.rs";
    let entries = registry_entries(registry);
    let mut bad = Vec::new();
    if entries.len() != ids.len() {
        bad.push(format!(
            "{REG}: {} `Variant => module::CONST,` lines for {} check ids; keep one line per id in the registry! table",
            entries.len(),
            ids.len()
        ));
        return bad;
    }
    for ((line, variant, module, konst), (id, manual)) in entries.iter().zip(ids) {
        let want = id.to_ascii_uppercase().replace('-', "_");
        if *konst != want {
            bad.push(format!(
                "{REG}:{line}: `{variant}` ({id}) points at `{konst}`; name its Meta const `{want}`"
            ));
        }
        let file = format!("xtask/src/checks/{module}.rs");
        let Some(text) = read(&file) else {
            bad.push(format!(
                "{REG}:{line}: `{variant}`'s meta is in `{module}`, which has no file {file}"
            ));
            continue;
        };
        let code = code_only(&text);
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        if !code.contains(&format!("const {konst}: Meta")) {
            bad.push(format!(
                "{file}: no `const {konst}: Meta`; define it there (the registry names it)"
            ));
        }
        let reported = if *manual {
            module == "manual"
        } else {
            let needle = format!("CheckId::{variant}");
            let named = |c: &str| {
                c.match_indices(&needle).any(|(at, _)| {
                    !c[at + needle.len()..].starts_with(|ch: char| ch.is_alphanumeric())
                })
            };
            named(code)
        };
        if !reported {
            bad.push(format!(
                "{file}: holds `{konst}` but never reports `{variant}` ({id}); move the const into the module that judges it and point {REG}:{line} there"
            ));
        }
    }
    bad
}

#[test]
fn every_check_meta_lives_where_its_id_is_reported() {
    let root = root();
    let registry = std::fs::read_to_string(root.join("xtask/src/checks/registry.rs")).unwrap();
    let ids: Vec<(&str, bool)> = ALL
        .iter()
        .map(|c| (c.id(), c.meta().kind == crate::checks::Kind::Manual))
        .collect();
    let read = |f: &str| std::fs::read_to_string(root.join(f)).ok();
    let mut bad = meta_home_problems(&registry, &ids, &read);
    // And no Meta is defined anywhere the registry does not point.
    let homes: Vec<(String, String)> = registry_entries(&registry)
        .into_iter()
        .map(|(_, _, m, k)| (format!("xtask/src/checks/{m}.rs"), k))
        .collect();
    for f in rust_sources(&root) {
        let text = read(&f).unwrap_or_default();
        for (i, l) in code_only(&text).lines().enumerate() {
            let Some(k) = l
                .trim_start()
                .strip_prefix("pub(crate) const ")
                .or_else(|| l.trim_start().strip_prefix("pub const "))
                .or_else(|| l.trim_start().strip_prefix("const "))
                .and_then(|r| r.strip_suffix(": Meta = Meta {"))
            else {
                continue;
            };
            if !homes.iter().any(|(hf, hk)| *hf == f && hk == k) {
                bad.push(format!(
                    "{f}:{}: `{k}` is a check's Meta the registry does not point at; name it in xtask/src/checks/registry.rs or remove it",
                    i + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_meta_home_check_finds_a_misplaced_meta() {
    let registry = "use x;\n\nregistry! {\n    // A comment.\n    RepoPrivate => settings::REPO_PRIVATE,\n    ManualX => manual::MANUAL_X,\n}\n";
    let ids = [("repo-private", false), ("manual-x", true)];
    let files = |settings: &'static str| {
        move |f: &str| match f {
            "xtask/src/checks/settings.rs" => Some(settings.to_string()),
            "xtask/src/checks/manual.rs" => Some("const MANUAL_X: Meta = Meta {};".to_string()),
            _ => None,
        }
    };
    let good = files(
        "const REPO_PRIVATE: Meta = Meta {};\nfn j() { Outcome::pass(CheckId::RepoPrivate, m, e) }",
    );
    assert_eq!(
        meta_home_problems(registry, &ids, &good),
        Vec::<String>::new()
    );
    // Defined, but the id is reported elsewhere (only a longer id, a comment and a test name it).
    let moved = files(
        "const REPO_PRIVATE: Meta = Meta {};\n// CheckId::RepoPrivate\nfn j() { CheckId::RepoPrivateX }\n#[cfg(test)]\nmod t { CheckId::RepoPrivate }",
    );
    let bad = meta_home_problems(registry, &ids, &moved);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("never reports `RepoPrivate`"), "{bad:?}");
    // A const named after another id, and a table line missing.
    let bad = meta_home_problems(
        registry,
        &[("repo-public", false), ("manual-x", true)],
        &good,
    );
    assert!(
        bad[0].contains("name its Meta const `REPO_PUBLIC`"),
        "{bad:?}"
    );
    assert_eq!(meta_home_problems(registry, &ids[..1], &good).len(), 1);
}
