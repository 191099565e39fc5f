//! Build identity shared by every component: version, commit and edition, fixed at compile time.
//!
//! The values come from `build.rs`, which validates them, and from the `commercial` cargo feature.
//! This module also owns the one commercial-only default, the license server, because it is the
//! kind of value that must be decided per edition at compile time and never at run time.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The version embedded at build time (`AISOPSFLOW_VERSION`, or the package version).
pub const VERSION: &str = env!("AISOPSFLOW_BUILD_VERSION");

/// The 40-hex commit embedded at build time (`AISOPSFLOW_COMMIT`, git, or forty zeros).
pub const COMMIT: &str = env!("AISOPSFLOW_BUILD_COMMIT");

/// The edition this binary was built as: `"commercial"` or `"public"`.
pub const EDITION: &str = if cfg!(feature = "commercial") {
    "commercial"
} else {
    "public"
};

/// The license server a commercial build talks to unless told otherwise.
///
/// Each edition gets its own item rather than one item with a `cfg!`-chosen value: with `cfg!`,
/// the URL would still be a literal in the public build and could survive into its binary. Here
/// the public build never even parses the string.
#[cfg(feature = "commercial")]
pub const LICENSE_SERVER_DEFAULT: Option<&str> = Some("https://licensing.aisopsflow.io/v1");

/// The license server a commercial build talks to unless told otherwise; the public edition has
/// no licensing at all, so this is `None`.
#[cfg(not(feature = "commercial"))]
pub const LICENSE_SERVER_DEFAULT: Option<&str> = None;

/// The environment variable that overrides [`LICENSE_SERVER_DEFAULT`] in commercial builds, for
/// air-gapped installations that run their own license server.
pub const LICENSE_SERVER_ENV: &str = "AISOPSFLOW_LICENSE_SERVER";

/// Returns the license server this process should use: `None` in the public edition, otherwise
/// `AISOPSFLOW_LICENSE_SERVER` when set and non-empty, otherwise [`LICENSE_SERVER_DEFAULT`].
pub fn effective_license_server() -> Option<String> {
    // The public edition has no default and ignores the variable, so that setting it can never
    // make a public image look licensed.
    let default = LICENSE_SERVER_DEFAULT?;
    match std::env::var(LICENSE_SERVER_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => Some(default.to_owned()),
    }
}

/// Who a binary is and how it was built. It is the JSON body of every `/version` endpoint and the
/// `version` a runner reports when it registers, so it has to round-trip through serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The binary's name, such as `aisopsflow-core`.
    pub component: String,
    /// A semantic version such as `0.3.1`.
    pub version: String,
    /// The full 40-hex commit id the binary was built from.
    pub commit: String,
    /// `"public"` or `"commercial"`.
    pub edition: String,
}

impl BuildInfo {
    /// The build info of the running binary, labelled with `component`.
    pub fn for_component(component: &str) -> BuildInfo {
        BuildInfo {
            component: component.to_owned(),
            version: VERSION.to_owned(),
            commit: COMMIT.to_owned(),
            edition: EDITION.to_owned(),
        }
    }
}

/// Prints the `--version` line, for example
/// `aisopsflow-core 0.3.1 (commit 0123…, edition public)`. Release tooling parses this line, so
/// its shape is part of the interface.
impl fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (commit {}, edition {})",
            self.component, self.version, self.commit, self.edition
        )
    }
}

/// The body of a `/version` endpoint: the [`BuildInfo`] fields, plus `license_server` in
/// commercial builds. Keeping the extra field out of `BuildInfo` itself means a runner's
/// registration and a public build's JSON have exactly the four documented fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDocument {
    /// The component's build info, flattened into the top-level object.
    #[serde(flatten)]
    pub build: BuildInfo,
    /// The effective license server; omitted when there is none (always, in the public edition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_server: Option<String>,
}

impl VersionDocument {
    /// The `/version` document of the running binary, labelled with `component`.
    pub fn for_component(component: &str) -> VersionDocument {
        VersionDocument {
            build: BuildInfo::for_component(component),
            license_server: effective_license_server(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_the_documented_shape() {
        let info = BuildInfo {
            component: "aisopsflow-core".into(),
            version: "0.3.1".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            edition: "public".into(),
        };
        assert_eq!(
            info.to_string(),
            "aisopsflow-core 0.3.1 (commit 0123456789abcdef0123456789abcdef01234567, edition public)"
        );
    }

    #[test]
    fn embedded_values_are_well_formed() {
        assert_eq!(COMMIT.len(), 40, "{COMMIT}");
        assert!(
            COMMIT
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{COMMIT}"
        );
        assert!(!VERSION.is_empty());
        assert_eq!(
            LICENSE_SERVER_DEFAULT.is_some(),
            cfg!(feature = "commercial")
        );
        assert_eq!(EDITION == "commercial", cfg!(feature = "commercial"));
    }

    #[test]
    fn json_uses_the_documented_field_names() {
        let info = BuildInfo::for_component("aisopsflow-core");
        let value = serde_json::to_value(&info).unwrap();
        let object = value.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["commit", "component", "edition", "version"]);
        let back: BuildInfo = serde_json::from_value(value).unwrap();
        assert_eq!(back, info);
    }

    #[test]
    fn version_document_omits_a_missing_license_server() {
        let document = VersionDocument {
            build: BuildInfo::for_component("aisopsflow-core"),
            license_server: None,
        };
        let value = serde_json::to_value(&document).unwrap();
        assert!(value.get("license_server").is_none(), "{value}");
        assert_eq!(value["component"], "aisopsflow-core");

        let document = VersionDocument {
            license_server: Some("https://l.example/v1".into()),
            ..document
        };
        let value = serde_json::to_value(&document).unwrap();
        assert_eq!(value["license_server"], "https://l.example/v1");
        // A reader that only knows BuildInfo must still accept the commercial document.
        let info: BuildInfo = serde_json::from_value(value).unwrap();
        assert_eq!(info.component, "aisopsflow-core");
    }
}
