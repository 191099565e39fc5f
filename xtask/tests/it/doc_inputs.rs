//! Customer documents read as the real tools read them (issue #16 §5): the enterprise
//! repository however GitHub or a URL spells it, and image references by the distribution
//! reference grammar, so a pin docker would refuse is not a pin. End to end through
//! `cargo xtask preflight` on a committed copy of the layout.

use crate::hostile_git::{text, workspace, xtask};

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn run_docs(doc: &str) -> (Option<i32>, String) {
    let ws = workspace();
    let root = ws.path();
    std::fs::create_dir_all(root.join("docs/customer")).unwrap();
    std::fs::write(root.join("docs/customer/install.md"), doc).unwrap();
    crate::git(root, &["add", "."]);
    crate::git(root, &["commit", "-qm", "docs"]);
    let out = xtask(
        root,
        &[
            "preflight",
            "--offline",
            "--only",
            "docs-digest-pinning",
            "--only",
            "delivery-no-enterprise-repo",
        ],
        &[],
    );
    (out.status.code(), text(&out))
}

#[test]
fn the_enterprise_repository_is_found_in_any_case_and_encoding() {
    let lines = [
        "Source: https://GitHub.com/AisOpsFlow/AisOpsFlow-Enterprise.git",
        "Clone git@github.com:aisopsflow/aisopsflow-enterprise.git first.",
        "[issues](https://github.com/login?return_to=%2Faisopsflow%2Faisopsflow-enterprise%2Fissues)",
        "Badge: https://img.shields.io/github/v/release/aisopsflow%2Faisopsflow-enterprise",
        "<a href=\"https://github.com/aisopsflow&#x2F;aisopsflow-enterprise\">source</a>",
    ];
    let mut doc = String::from("# Install\n\n");
    for l in lines {
        doc.push_str(l);
        doc.push_str("\n\n");
    }
    doc.push_str("Plugins live in https://github.com/aisopsflow/aisopsflow-sdk.\n");
    let (code, t) = run_docs(&doc);
    assert_eq!(code, Some(1), "{t}");
    for (i, _) in lines.iter().enumerate() {
        let line = 3 + 2 * i;
        assert!(
            t.contains(&format!("docs/customer/install.md:{line}")),
            "line {line} not flagged:\n{t}"
        );
    }
    let sdk = 3 + 2 * lines.len();
    assert!(!t.contains(&format!("install.md:{sdk}")), "{t}");
}

#[test]
fn pins_docker_would_refuse_fail_digest_pinning() {
    let upper = HEX.to_uppercase();
    let short = &HEX[..63];
    let doc = format!(
        "# Install\n\n\
         docker pull ghcr.io/aisopsflow/aisopsflow-core:1.0.0@sha256:{upper}\n\n\
         docker pull ghcr.io/aisopsflow/aisopsflow-runner:1.0.0@sha256:{short}\n\n\
         docker pull ghcr.io/AisOpsFlow/aisopsflow-console:1.0.0@sha256:{HEX}\n\n\
         docker pull ghcr.io/aisopsflow/aisopsflow-core:1.0.0@sha256:{HEX}\n"
    );
    let (code, t) = run_docs(&doc);
    assert_eq!(code, Some(1), "{t}");
    for line in [3, 5, 7] {
        assert!(
            t.contains(&format!("docs/customer/install.md:{line}")),
            "line {line}:\n{t}"
        );
    }
    assert!(
        t.contains("is not an image reference docker accepts"),
        "{t}"
    );
    assert!(!t.contains("install.md:9:"), "the valid pin passes:\n{t}");
}
