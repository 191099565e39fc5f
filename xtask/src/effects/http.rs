//! The one HTTP client stack: reqwest on hyper and rustls, with ring as the only crypto
//! provider.
//!
//! reqwest is built with `rustls-no-provider`, so rustls has no provider until
//! one is installed; building a client before that panics. Every client in xtask (and in its
//! tests) is therefore made through [`builder`] or [`client`], which install ring first.

/// Installs ring as the process-wide rustls crypto provider (idempotent, thread-safe).
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed; there is only ring in the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The TLS configuration every client shares: rustls with ring, the platform verifier (the
/// system's root certificates, which is what reqwest builds by itself) and HTTP/1.1 by ALPN.
/// Built once per process: reqwest would otherwise load and parse the system's roots for every
/// client, about 4 ms each in a debug build (docs/benchmarks.md). `None` when the platform
/// verifier cannot be built; each client then builds its own, as reqwest does.
fn shared_tls() -> Option<&'static rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Option<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            install_crypto_provider();
            let mut cfg =
                <rustls::ClientConfig as rustls_platform_verifier::ConfigVerifierExt>::with_platform_verifier()
                    .ok()?;
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(cfg)
        })
        .as_ref()
}

/// `reqwest::Client::builder()`, after installing the crypto provider, with the shared TLS
/// configuration.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    let b = reqwest::Client::builder();
    match shared_tls() {
        Some(cfg) => b.use_preconfigured_tls(cfg.clone()),
        None => b,
    }
}

/// A default client (tests and one-off probes), after installing the crypto provider.
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("a default reqwest client always builds once a crypto provider is installed")
}

#[cfg(test)]
mod tests {
    /// The shared configuration still verifies certificates: a TLS server on loopback with a
    /// self-signed certificate is refused (as reqwest's own configuration refuses it), and
    /// the handshake offers HTTP/1.1.
    #[cfg(feature = "rehearse")]
    #[tokio::test]
    async fn the_shared_tls_config_refuses_an_untrusted_certificate() {
        super::install_crypto_provider();
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let server = std::sync::Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(kp.serialize_der().into()),
                )
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let offered = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            let mut conn = rustls::ServerConnection::new(server).unwrap();
            // Read the ClientHello (and whatever follows) until the client gives up.
            let mut alpn = None;
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    break;
                }
                alpn = alpn.or(conn.alpn_protocol().map(<[u8]>::to_vec));
            }
            alpn
        });
        let client = super::builder().build().unwrap();
        let err = client
            .get(format!("https://localhost:{port}/"))
            .send()
            .await
            .expect_err("a self-signed certificate must not be trusted");
        let chain = format!("{:?}", anyhow::Error::from(err));
        assert!(
            chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate"),
            "{chain}"
        );
        let _ = offered.join();
        assert!(super::shared_tls().is_some());
        assert_eq!(
            super::shared_tls().unwrap().alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn clients_build_with_ring_as_the_provider() {
        let _ = super::client();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
