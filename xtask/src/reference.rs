//! Image references as docker reads them: the grammar of distribution/reference (the package
//! the docker CLI and moby use), ported by hand from its `regexp.go`, `reference.go` and
//! `normalize.go` at commit 0965666a6ade2e06035fe352e38344be1e68951a
//! (github.com/distribution/reference), with go-digest's validation of the digest.
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] remote-name
//! domain           := host [":" port-number]
//! host             := domain-name | IPv4address | "[" IPv6address "]"
//! domain-name      := domain-component ["." domain-component]*
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! port-number      := /[0-9]+/
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! alpha-numeric    := /[a-z0-9]+/
//! separator        := /[_.]|__|[-]+/
//! remote-name      := path-component ["/" path-component]*
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" encoded
//! algorithm        := /[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*/
//! encoded          := /[[:xdigit:]]{32,}/
//! ```
//!
//! go-digest then accepts only an algorithm it can verify: here `sha256`, whose encoded part
//! is exactly 64 lower-case hex digits (distribution/reference does not register sha512, and
//! neither do we: the stricter reading). The remote name is at most 255 characters.

use std::fmt;

/// Why a string is not a reference docker accepts (the messages are distribution's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefError {
    NameEmpty,
    InvalidFormat,
    NameContainsUppercase,
    NameTooLong,
    DigestInvalidFormat,
    DigestInvalidLength,
    DigestUnsupported,
    /// `ParseNormalizedNamed`: a bare 64-hex string is an image id, not a name.
    HexIdentifier,
    /// `ParseNormalizedNamed`: the remote name (before any tag) has upper-case letters.
    RemoteUppercase(String),
}

impl fmt::Display for RefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefError::NameEmpty => f.write_str("repository name must have at least one component"),
            RefError::InvalidFormat => f.write_str("invalid reference format"),
            RefError::NameContainsUppercase => f.write_str("repository name must be lowercase"),
            RefError::NameTooLong => {
                f.write_str("repository name must not be more than 255 characters")
            }
            RefError::DigestInvalidFormat => f.write_str("invalid checksum digest format"),
            RefError::DigestInvalidLength => f.write_str("invalid checksum digest length"),
            RefError::DigestUnsupported => f.write_str("unsupported digest algorithm"),
            RefError::HexIdentifier => {
                f.write_str("invalid repository name, cannot specify 64-byte hexadecimal strings")
            }
            RefError::RemoteUppercase(r) => write!(
                f,
                "invalid reference format: repository name ({r}) must be lowercase"
            ),
        }
    }
}

impl std::error::Error for RefError {}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The domain (`ghcr.io`, `localhost:5000`), or empty.
    pub domain: String,
    /// The remote name after the domain (`aisopsflow/aisopsflow-core`).
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<64 lower-case hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// The full name: domain and path.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `path-component`: alpha-numeric runs joined by `.`, `_`, `__` or any run of `-`.
fn path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn host(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_hexdigit() || c == b':');
    }
    s.split('.').all(domain_component)
}

/// `domain`: a host with an optional `:port`.
fn domain_and_port(s: &str) -> bool {
    if host(s) {
        return true;
    }
    match s.rsplit_once(':') {
        Some((h, port)) => !port.is_empty() && port.bytes().all(|c| c.is_ascii_digit()) && host(h),
        None => false,
    }
}

fn tag(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|c| word(*c) || *c == b'.' || *c == b'-')
}

/// The `digest` production of the grammar (before go-digest's validation).
fn digest_pat(s: &str) -> bool {
    let Some((alg, enc)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && enc.len() >= 32 && enc.bytes().all(|c| c.is_ascii_hexdigit())
}

/// go-digest's `Digest.Validate` (github.com/opencontainers/go-digest, digest.go) with only
/// sha256 available.
pub(crate) fn validate_digest(s: &str) -> Result<(), RefError> {
    let Some(i) = s.find(':').filter(|i| *i > 0 && i + 1 < s.len()) else {
        return Err(RefError::DigestInvalidFormat);
    };
    let (alg, enc) = (&s[..i], &s[i + 1..]);
    if alg != "sha256" {
        // go-digest's own DigestRegexp: lower-case algorithm, base64url-ish encoded part.
        let alg_ok = alg.split(['.', '+', '_', '-']).all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        let enc_ok = enc
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'));
        return Err(if alg_ok && enc_ok {
            RefError::DigestUnsupported
        } else {
            RefError::DigestInvalidFormat
        });
    }
    if enc.len() != 64 {
        return Err(RefError::DigestInvalidLength);
    }
    if !enc
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(RefError::DigestInvalidFormat);
    }
    Ok(())
}

/// The name production, split into (domain, path) the way the anchored name regexp captures
/// it: the first component is the domain when it can be one and more components follow.
fn name(s: &str) -> Option<(String, String)> {
    let comps: Vec<&str> = s.split('/').collect();
    if comps.len() >= 2 && domain_and_port(comps[0]) && comps[1..].iter().all(|c| path_component(c))
    {
        return Some((comps[0].to_string(), comps[1..].join("/")));
    }
    comps
        .iter()
        .all(|c| path_component(c))
        .then(|| (String::new(), s.to_string()))
}

/// Whether the whole string matches the reference grammar; the parts when it does.
fn match_reference(s: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => {
            if !digest_pat(d) {
                return None;
            }
            (r, Some(d.to_string()))
        }
        None => (s, None),
    };
    // Only the last `:` can start a tag, and only when no `/` follows it.
    if let Some((n, t)) = rest.rsplit_once(':')
        && !t.contains('/')
        && tag(t)
        && let Some((domain, path)) = name(n)
    {
        return Some((domain, path, Some(t.to_string()), digest));
    }
    name(rest).map(|(domain, path)| (domain, path, None, digest))
}

/// `reference.Parse`: a reference exactly as written.
pub fn parse(s: &str) -> Result<Reference, RefError> {
    if s.is_empty() {
        return Err(RefError::NameEmpty);
    }
    let Some((domain, path, tag, digest)) = match_reference(s) else {
        let lower = s.to_lowercase();
        if lower != s && match_reference(&lower).is_some() {
            return Err(RefError::NameContainsUppercase);
        }
        return Err(RefError::InvalidFormat);
    };
    if path.len() > 255 {
        return Err(RefError::NameTooLong);
    }
    if let Some(d) = &digest {
        validate_digest(d)?;
    }
    Ok(Reference {
        domain,
        path,
        tag,
        digest,
    })
}

/// `reference.ParseNormalizedNamed`: what `docker pull` accepts, with Docker Hub's
/// normalisation (`ubuntu` is `docker.io/library/ubuntu`).
pub(crate) fn parse_normalized(s: &str) -> Result<Reference, RefError> {
    if s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(RefError::HexIdentifier);
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return Err(RefError::RemoteUppercase(remote.to_string()));
    }
    parse(&format!("{domain}/{remainder}"))
}

fn split_docker_domain(name: &str) -> (String, String) {
    const DEFAULT: &str = "docker.io";
    let Some((maybe_domain, remote)) = name.split_once('/') else {
        return (DEFAULT.into(), format!("library/{name}"));
    };
    let (domain, mut remote) = if maybe_domain == "localhost" {
        (maybe_domain.to_string(), remote.to_string())
    } else if maybe_domain == "index.docker.io" {
        (DEFAULT.to_string(), remote.to_string())
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain.to_string(), remote.to_string())
    } else {
        (DEFAULT.to_string(), name.to_string())
    };
    if domain == DEFAULT && !remote.contains('/') {
        remote = format!("library/{remote}");
    }
    (domain, remote)
}

#[cfg(test)]
mod tests {
    //! The tables of distribution/reference at 0965666a6ade2e06035fe352e38344be1e68951a:
    //! `TestReferenceParse` (reference_test.go) and `TestValidateReferenceName`
    //! (normalize_test.go), case for case.
    use super::*;

    const F64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    struct Case {
        input: String,
        err: Option<RefError>,
        repository: &'static str,
        domain: &'static str,
        tag: &'static str,
        digest: bool,
    }

    fn ok(input: &str, repository: &'static str, domain: &'static str, tag: &'static str) -> Case {
        Case {
            input: input.into(),
            err: None,
            repository,
            domain,
            tag,
            digest: false,
        }
    }

    fn err(input: &str, e: RefError) -> Case {
        Case {
            input: input.into(),
            err: Some(e),
            repository: "",
            domain: "",
            tag: "",
            digest: false,
        }
    }

    fn dg(mut c: Case) -> Case {
        c.digest = true;
        c
    }

    #[test]
    fn reference_parse_table() {
        let long_a = "a".repeat(255);
        let a127 = format!("{}a", "a/".repeat(127));
        let a127_s: &'static str = Box::leak(a127.clone().into_boxed_str());
        let ex: &'static str = Box::leak(format!("example.com/{long_a}").into_boxed_str());
        let cases = vec![
            ok("test_com", "test_com", "", ""),
            ok("test.com:tag", "test.com", "", "tag"),
            ok("test.com:5000", "test.com", "", "5000"),
            ok("test.com/repo:tag", "test.com/repo", "test.com", "tag"),
            ok("test:5000/repo", "test:5000/repo", "test:5000", ""),
            ok("test:5000/repo:tag", "test:5000/repo", "test:5000", "tag"),
            dg(ok(
                &format!("test:5000/repo@sha256:{F64}"),
                "test:5000/repo",
                "test:5000",
                "",
            )),
            dg(ok(
                &format!("test:5000/repo:tag@sha256:{F64}"),
                "test:5000/repo",
                "test:5000",
                "tag",
            )),
            ok("test:5000/repo", "test:5000/repo", "test:5000", ""),
            err("", RefError::NameEmpty),
            err(":justtag", RefError::InvalidFormat),
            err(&format!("@sha256:{F64}"), RefError::InvalidFormat),
            err(
                "repo@sha256:ffffffffffffffffffffffffffffffffff",
                RefError::DigestInvalidLength,
            ),
            err(
                &format!("validname@invaliddigest:{F64}"),
                RefError::DigestUnsupported,
            ),
            err(
                &format!("validname@sha512:{F64}{F64}"),
                RefError::DigestUnsupported,
            ),
            err("Uppercase:tag", RefError::NameContainsUppercase),
            err(
                "test:5000/Uppercase/lowercase:tag",
                RefError::NameContainsUppercase,
            ),
            ok("lowercase:Uppercase", "lowercase", "", "Uppercase"),
            err(
                &format!("domain/{}:tag", "a".repeat(256)),
                RefError::NameTooLong,
            ),
            ok(
                &format!("{a127}:tag-puts-this-over-max"),
                a127_s,
                "a",
                "tag-puts-this-over-max",
            ),
            err("aa/asdf$$^/aa", RefError::InvalidFormat),
            ok(
                "sub-dom1.foo.com/bar/baz/quux",
                "sub-dom1.foo.com/bar/baz/quux",
                "sub-dom1.foo.com",
                "",
            ),
            ok(
                "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
                "sub-dom1.foo.com/bar/baz/quux",
                "sub-dom1.foo.com",
                "some-long-tag",
            ),
            ok(
                "b.gcr.io/test.example.com/my-app:test.example.com",
                "b.gcr.io/test.example.com/my-app",
                "b.gcr.io",
                "test.example.com",
            ),
            ok(
                "xn--n3h.com/myimage:xn--n3h.com",
                "xn--n3h.com/myimage",
                "xn--n3h.com",
                "xn--n3h.com",
            ),
            dg(ok(
                &format!("xn--7o8h.com/myimage:xn--7o8h.com@sha256:{F64}"),
                "xn--7o8h.com/myimage",
                "xn--7o8h.com",
                "xn--7o8h.com",
            )),
            ok("foo_bar.com:8080", "foo_bar.com", "", "8080"),
            ok("foo/foo_bar.com:8080", "foo/foo_bar.com", "foo", "8080"),
            ok("192.168.1.1", "192.168.1.1", "", ""),
            ok("192.168.1.1:tag", "192.168.1.1", "", "tag"),
            ok("192.168.1.1:5000", "192.168.1.1", "", "5000"),
            ok("192.168.1.1/repo", "192.168.1.1/repo", "192.168.1.1", ""),
            ok(
                "192.168.1.1:5000/repo",
                "192.168.1.1:5000/repo",
                "192.168.1.1:5000",
                "",
            ),
            ok(
                "192.168.1.1:5000/repo:5050",
                "192.168.1.1:5000/repo",
                "192.168.1.1:5000",
                "5050",
            ),
            err("[2001:db8::1]", RefError::InvalidFormat),
            err("[2001:db8::1]:5000", RefError::InvalidFormat),
            err("[2001:db8::1]:tag", RefError::InvalidFormat),
            ok(
                "[2001:db8::1]/repo",
                "[2001:db8::1]/repo",
                "[2001:db8::1]",
                "",
            ),
            ok(
                "[2001:db8:1:2:3:4:5:6]/repo:tag",
                "[2001:db8:1:2:3:4:5:6]/repo",
                "[2001:db8:1:2:3:4:5:6]",
                "tag",
            ),
            ok(
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000",
                "",
            ),
            ok(
                "[2001:db8::1]:5000/repo:tag",
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000",
                "tag",
            ),
            dg(ok(
                &format!("[2001:db8::1]:5000/repo@sha256:{F64}"),
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000",
                "",
            )),
            dg(ok(
                &format!("[2001:db8::1]:5000/repo:tag@sha256:{F64}"),
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000",
                "tag",
            )),
            ok(
                "[2001:db8::]:5000/repo",
                "[2001:db8::]:5000/repo",
                "[2001:db8::]:5000",
                "",
            ),
            ok("[::1]:5000/repo", "[::1]:5000/repo", "[::1]:5000", ""),
            err("[fe80::1%eth0]:5000/repo", RefError::InvalidFormat),
            err("[fe80::1%@invalidzone]:5000/repo", RefError::InvalidFormat),
            ok(
                &format!("example.com/{long_a}:tag"),
                ex,
                "example.com",
                "tag",
            ),
        ];
        for c in cases {
            let got = parse(&c.input);
            match (&c.err, got) {
                (Some(e), Err(g)) => assert_eq!(&g, e, "{}", c.input),
                (Some(e), Ok(r)) => panic!("{}: expected {e:?}, parsed {r:?}", c.input),
                (None, Err(g)) => panic!("{}: unexpected {g:?}", c.input),
                (None, Ok(r)) => {
                    assert_eq!(r.to_string(), c.input);
                    assert_eq!(r.name(), c.repository, "{}", c.input);
                    assert_eq!(r.domain, c.domain, "{}", c.input);
                    assert_eq!(r.tag.as_deref().unwrap_or(""), c.tag, "{}", c.input);
                    assert_eq!(r.digest.is_some(), c.digest, "{}", c.input);
                }
            }
        }
    }

    #[test]
    fn validate_reference_name_table() {
        let valid = [
            "docker/docker",
            "library/debian",
            "debian",
            "localhost/library/debian",
            "localhost/debian",
            "LOCALDOMAIN/library/debian",
            "LOCALDOMAIN/debian",
            "docker.io/docker/docker",
            "docker.io/library/debian",
            "docker.io/debian",
            "index.docker.io/docker/docker",
            "index.docker.io/library/debian",
            "index.docker.io/debian",
            "127.0.0.1:5000/docker/docker",
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000/debian",
            "192.168.0.1",
            "192.168.0.1:80",
            "192.168.0.1:8/debian",
            "192.168.0.2:25000/debian",
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "[fc00::1]:5000/docker",
            "[fc00::1]:5000/docker/docker",
            "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
            "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "Docker/docker",
            "DOCKER/docker",
        ];
        let invalid = [
            "https://github.com/docker/docker",
            "docker/Docker",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker/Docker",
            "docker.io/docker///docker",
            "[fc00::1]",
            "[fc00::1]:5000",
            "fc00::1:5000/debian",
            "[fe80::1%eth0]:5000/debian",
            "[2001:db8:3:4::192.0.2.33]:5000/debian",
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        ];
        for v in valid {
            assert!(
                parse_normalized(v).is_ok(),
                "{v}: {:?}",
                parse_normalized(v)
            );
        }
        for v in invalid {
            assert!(
                parse_normalized(v).is_err(),
                "{v}: {:?}",
                parse_normalized(v)
            );
        }
        assert_eq!(
            parse_normalized("ubuntu").unwrap().name(),
            "docker.io/library/ubuntu"
        );
    }

    #[test]
    fn sha256_digests_are_exactly_64_lower_case_hex() {
        let d = "0123456789abcdef".repeat(4);
        assert!(validate_digest(&format!("sha256:{d}")).is_ok());
        assert_eq!(
            validate_digest(&format!("sha256:{}", d.to_uppercase())),
            Err(RefError::DigestInvalidFormat)
        );
        assert_eq!(
            validate_digest(&format!("sha256:{d}0")),
            Err(RefError::DigestInvalidLength)
        );
        assert_eq!(
            validate_digest(&format!("sha256:{}", &d[..63])),
            Err(RefError::DigestInvalidLength)
        );
        assert_eq!(
            validate_digest(&format!("SHA256:{d}")),
            Err(RefError::DigestInvalidFormat)
        );
        assert_eq!(
            validate_digest("sha256:"),
            Err(RefError::DigestInvalidFormat)
        );
        assert!(parse(&format!("ghcr.io/a/b@sha256:{}", d.to_uppercase())).is_err());
    }
}
