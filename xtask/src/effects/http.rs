//! The one HTTP client stack: reqwest on hyper and rustls, with ring as the only crypto
//! provider.
//!
//! reqwest and oci-client are built with `rustls-no-provider`, so rustls has no provider until
//! one is installed; building a client before that panics. Every client in xtask (and in its
//! tests) is therefore made through [`builder`] or [`client`], which install ring first.

/// Installs ring as the process-wide rustls crypto provider (idempotent, thread-safe).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed; there is only ring in the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `reqwest::Client::builder()`, after installing the crypto provider.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A default client (tests and one-off probes), after installing the crypto provider.
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("a default reqwest client always builds once a crypto provider is installed")
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_build_with_ring_as_the_provider() {
        let _ = super::client();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
