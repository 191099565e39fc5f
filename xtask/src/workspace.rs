//! Finding the workspace root and loading what every command needs from it.
//!
//! The root is `--repo DIR`, or the nearest directory upward from the current one that holds
//! both `Cargo.toml` and `release.toml`. It is never a path compiled into the binary, so the
//! same xtask binary works in a rehearsal clone or a CI checkout.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::exit::usage;

/// Options every subcommand shares.
#[derive(Debug, Clone, Default)]
pub struct Global {
    pub repo: Option<PathBuf>,
    pub verbose: u8,
}

/// The workspace a command runs in.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    pub verbose: u8,
}

impl Global {
    /// The workspace root, without reading the configuration.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        match &self.repo {
            Some(dir) => {
                let meta = std::fs::metadata(dir).map_err(|e| {
                    usage(format!(
                        "--repo {}: {e}; pass the path of an aisopsflow-enterprise checkout",
                        dir.display()
                    ))
                })?;
                if !meta.is_dir() {
                    return Err(usage(format!(
                        "--repo {}: not a directory; pass the path of an aisopsflow-enterprise checkout",
                        dir.display()
                    )));
                }
                let dir = dir
                    .canonicalize()
                    .map_err(|e| usage(format!("--repo {}: {e}", dir.display())))?;
                if !dir.join(crate::config::FILE).is_file() {
                    return Err(usage(format!(
                        "--repo {}: no {} there; pass the root of an aisopsflow-enterprise checkout",
                        dir.display(),
                        crate::config::FILE
                    )));
                }
                Ok(dir)
            }
            None => {
                let cwd = std::env::current_dir()
                    .map_err(|e| usage(format!("cannot read the current directory: {e}")))?;
                find_root(&cwd).ok_or_else(|| {
                    usage(format!(
                        "no aisopsflow-enterprise workspace (Cargo.toml + {}) found in {} or above; cd into a checkout or pass --repo DIR",
                        crate::config::FILE,
                        cwd.display()
                    ))
                })
            }
        }
    }

    /// The workspace root and its validated `release.toml`.
    pub fn workspace(&self) -> anyhow::Result<Workspace> {
        let root = self.root()?;
        let config = Config::load(&root)?;
        Ok(Workspace {
            root,
            config,
            verbose: self.verbose,
        })
    }
}

/// The nearest ancestor of `start` holding `Cargo.toml` and `release.toml`.
pub(crate) fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join(crate::config::FILE).is_file())
        .map(Path::to_path_buf)
}
