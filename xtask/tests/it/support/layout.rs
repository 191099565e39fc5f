//! The one builder of the release layout the tools read (`release.toml`, Dockerfiles, docs,
//! the workflow), written to a directory or committed as a git repository.

use std::path::{Path, PathBuf};

use super::{copy_tree, git, repo_root};

/// The one builder of the repository layout the release tools read: `release.toml` from this
/// repository and a `FROM scratch` Dockerfile per component, plus what a test asks for. Then
/// `commit` makes it a git repository on `main` with one commit.
pub struct Layout {
    docs: bool,
    workflow: Option<PathBuf>,
    cargo_stub: bool,
    files: Vec<(String, String)>,
    without: Vec<String>,
}

impl Layout {
    pub fn new() -> Layout {
        Layout {
            docs: false,
            workflow: None,
            cargo_stub: false,
            files: Vec::new(),
            without: Vec::new(),
        }
    }

    /// This repository's `docs/` (customer docs, package READMEs, release notes).
    pub fn docs(mut self) -> Layout {
        self.docs = true;
        self
    }

    /// `from` as `.github/workflows/publish-images.yml`.
    pub fn workflow(mut self, from: impl AsRef<Path>) -> Layout {
        self.workflow = Some(from.as_ref().to_path_buf());
        self
    }

    /// A `Cargo.toml` of an empty workspace (so nothing above the layout is mistaken for it).
    pub fn cargo_stub(mut self) -> Layout {
        self.cargo_stub = true;
        self
    }

    /// One more file, `rel` under the root.
    pub fn file(mut self, rel: &str, content: &str) -> Layout {
        self.files.push((rel.to_string(), content.to_string()));
        self
    }

    /// Leaves out `rel` under the root (a file or directory the rest would write, such as
    /// `docs/releases`).
    pub fn without(mut self, rel: &str) -> Layout {
        self.without.push(rel.to_string());
        self
    }

    /// Writes the layout under `root` (created if missing).
    pub fn write(&self, root: &Path) {
        let real = repo_root();
        std::fs::create_dir_all(root).unwrap();
        std::fs::copy(real.join("release.toml"), root.join("release.toml")).unwrap();
        if self.cargo_stub {
            std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        }
        if self.docs {
            copy_tree(&real.join("docs"), &root.join("docs"));
        }
        if let Some(from) = &self.workflow {
            std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
            std::fs::copy(from, root.join(".github/workflows/publish-images.yml")).unwrap();
        }
        for c in ["core", "runner", "console"] {
            std::fs::create_dir_all(root.join(c)).unwrap();
            std::fs::write(root.join(c).join("Dockerfile"), "FROM scratch\n").unwrap();
        }
        for (rel, content) in &self.files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        for rel in &self.without {
            let p = root.join(rel);
            if p.is_dir() {
                std::fs::remove_dir_all(p).unwrap();
            } else if p.exists() {
                std::fs::remove_file(p).unwrap();
            }
        }
    }

    /// Writes the layout under `root` and commits it on `main` with `message`.
    pub fn commit_in(&self, root: &Path, message: &str) {
        self.write(root);
        git(root, &["-c", "init.defaultBranch=main", "init", "-q"]);
        git(root, &["add", "."]);
        git(root, &["commit", "-qm", message]);
    }

    /// The layout in a new temporary directory, committed as "initial".
    pub fn commit(self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        self.commit_in(dir.path(), "initial");
        dir
    }
}
