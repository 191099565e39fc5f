//! The answers GitHub gave that we cannot use (`GithubError`), each naming the endpoint, what
//! GitHub said and the fix.

use super::*;
use crate::time::rfc3339;

/// An answer GitHub gave that we cannot use. Each variant's message names the endpoint, what
/// GitHub said, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubError {
    /// 404: missing, or private and invisible to this token.
    NotFound { endpoint: String, message: String },
    /// 401: no valid credentials.
    Unauthorized { endpoint: String, message: String },
    /// 403 for a permission or scope the token lacks.
    Forbidden {
        endpoint: String,
        message: String,
        /// `X-Accepted-GitHub-Permissions`, e.g. `administration=read`.
        accepted_permissions: Option<String>,
        /// `X-Accepted-OAuth-Scopes`, e.g. `repo`.
        accepted_scopes: Option<String>,
        /// `X-OAuth-Scopes`: what a classic token has.
        token_scopes: Option<String>,
    },
    /// 403 because the feature needs a paid plan (private repository on GitHub Free).
    PlanLimit { endpoint: String, message: String },
    /// Primary limit exhausted (until `reset`, epoch seconds) or a secondary limit that did
    /// not clear within the retry budget.
    RateLimited {
        endpoint: String,
        secondary: bool,
        reset: Option<u64>,
    },
    /// 422 (or 409/400) with GitHub's explanation.
    Validation {
        endpoint: String,
        status: u16,
        message: String,
        /// `errors[].code` values, e.g. `already_exists`.
        codes: Vec<String>,
    },
    /// Any other status.
    Status {
        endpoint: String,
        status: u16,
        message: String,
    },
}

impl GithubError {
    pub fn endpoint(&self) -> &str {
        match self {
            GithubError::NotFound { endpoint, .. }
            | GithubError::Unauthorized { endpoint, .. }
            | GithubError::Forbidden { endpoint, .. }
            | GithubError::PlanLimit { endpoint, .. }
            | GithubError::RateLimited { endpoint, .. }
            | GithubError::Validation { endpoint, .. }
            | GithubError::Status { endpoint, .. } => endpoint,
        }
    }

    /// The permission or scope needed, as a phrase, when GitHub said which.
    pub fn needed(&self) -> Option<String> {
        match self {
            GithubError::Forbidden {
                accepted_permissions,
                accepted_scopes,
                ..
            } => needed_phrase(accepted_permissions.as_deref(), accepted_scopes.as_deref()),
            _ => None,
        }
    }

    /// Finds a `GithubError` anywhere in an anyhow chain.
    pub fn find(err: &anyhow::Error) -> Option<&GithubError> {
        // `downcast_ref` sees through `context` layers (where the client puts it); the chain
        // walk finds one wrapped as a source.
        err.downcast_ref::<GithubError>()
            .or_else(|| err.chain().find_map(|e| e.downcast_ref::<GithubError>()))
    }
}

fn needed_phrase(perms: Option<&str>, scopes: Option<&str>) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(p) = perms.filter(|p| !p.trim().is_empty()) {
        parts.push(format!(
            "fine-grained permission {}",
            p.split(';').map(str::trim).collect::<Vec<_>>().join(" or ")
        ));
    }
    if let Some(s) = scopes.filter(|s| !s.trim().is_empty()) {
        parts.push(format!("classic token scope `{}`", s.trim()));
    }
    (!parts.is_empty()).then(|| parts.join(", or "))
}

impl fmt::Display for GithubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GithubError::NotFound { endpoint, message } => write!(
                f,
                "{endpoint}: 404 {message}: GitHub answers 404 both for missing resources and for private ones the token cannot see; fix: check the name, and that the token can read the repository (classic scope `repo`, or a fine-grained token with access to it)"
            ),
            GithubError::Unauthorized { endpoint, message } => write!(
                f,
                "{endpoint}: 401 {message}: the GitHub token was rejected"
            ),
            GithubError::Forbidden {
                endpoint,
                message,
                token_scopes,
                ..
            } => {
                write!(f, "{endpoint}: 403 {message}")?;
                if let Some(need) = self.needed() {
                    write!(f, ": the token lacks {need}")?;
                }
                if let Some(has) = token_scopes {
                    write!(
                        f,
                        " (the token has scopes: {})",
                        if has.is_empty() { "none" } else { has }
                    )?;
                }
                write!(
                    f,
                    "; fix: use a token with that permission (admin settings need a repository admin's classic token with `repo`, or Administration: read)"
                )
            }
            GithubError::PlanLimit { endpoint, message } => write!(
                f,
                "{endpoint}: 403 {message}: this feature is unavailable on the repository's GitHub plan; fix: upgrade the plan (GitHub Team or Pro), or attest the setting manually"
            ),
            GithubError::RateLimited {
                endpoint,
                secondary,
                reset,
            } => {
                let which = if *secondary { "secondary" } else { "primary" };
                write!(f, "{endpoint}: GitHub {which} rate limit exceeded")?;
                if let Some(reset) = reset {
                    write!(f, " until {} (epoch {reset})", rfc3339(*reset))?;
                }
                Ok(())
            }
            GithubError::Validation {
                endpoint,
                status,
                message,
                codes,
            } => {
                write!(f, "{endpoint}: {status} {message}")?;
                if !codes.is_empty() {
                    write!(f, " ({})", codes.join(", "))?;
                }
                Ok(())
            }
            GithubError::Status {
                endpoint,
                status,
                message,
            } => write!(f, "{endpoint}: {status} {message}"),
        }
    }
}

impl std::error::Error for GithubError {}
