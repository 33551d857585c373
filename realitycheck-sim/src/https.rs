//! The simulated CircleCI API's TLS, as a real installation serves it: a CA made at start
//! (`realitycheck-sim CA`), the API's certificate signed by it for the listen address and
//! `localhost`, and the HTTPS listener that serves the API's router with them. Clients trust
//! the CA through its PEM ([`SimTls::ca_pem`]), the way operators pass `--ca-bundle`. The same
//! listener serves the HTTPS API of Nomad servers outside the cluster ([`serve_https`]) with the
//! certificate of their mTLS material.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::mtls::{ServerCertificate, offset};

/// How long before the start the certificate was issued (half a day off the whole days, so
/// that the days left never depend on the second a check reads them).
const ISSUED_BEFORE_START: SignedDuration = SignedDuration::from_hours(30 * 24 + 12);
/// The validity of a healthy installation's certificate: 397 days, the most public CAs give.
const VALIDITY: SignedDuration = SignedDuration::from_hours(397 * 24);
/// How long shutting down waits for open connections to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The CA and the API's certificate of one simulation.
#[derive(Clone)]
pub struct SimTls {
    ca_pem: String,
    server_config: Arc<ServerConfig>,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls").finish_non_exhaustive()
    }
}

impl SimTls {
    /// A CA and a certificate for `ip` and `localhost`, issued before `started_at`; it expires
    /// at `expires_at`, or [`VALIDITY`] after it was issued.
    pub fn generate(ip: IpAddr, started_at: Timestamp, expires_at: Option<Timestamp>) -> SimTls {
        let issued = started_at - ISSUED_BEFORE_START;
        let ca_key = KeyPair::generate().expect("generating an ECDSA key does not fail");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("no names to check");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.distinguished_name.push(DnType::CommonName, "realitycheck-sim CA");
        ca_params.distinguished_name.push(DnType::OrganizationName, "realitycheck");
        ca_params.not_before = offset(issued);
        ca_params.not_after = offset(issued + VALIDITY + VALIDITY);
        let ca = ca_params.self_signed(&ca_key).expect("the CA parameters are valid");

        let key = KeyPair::generate().expect("generating an ECDSA key does not fail");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("a valid DNS name");
        params.subject_alt_names.push(SanType::IpAddress(ip));
        if ip != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        params.distinguished_name.push(DnType::CommonName, "circleci.realitycheck-sim.test");
        params.not_before = offset(issued);
        params.not_after = offset(expires_at.unwrap_or(issued + VALIDITY));
        let certificate = params.signed_by(&key, &Issuer::new(ca_params, &ca_key)).expect("valid parameters");

        let chain = vec![certificate.der().clone(), CertificateDer::from(ca.der().to_vec())];
        SimTls { ca_pem: ca.pem(), server_config: server_config(chain, key.serialize_der()) }
    }

    /// The CA's certificate, PEM: what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Serves `app` over HTTPS on `listener` until `stopped` resolves, then lets open
    /// connections finish their requests for a few seconds.
    pub async fn serve(self, listener: TcpListener, app: Router, stopped: impl Future<Output = ()>) -> io::Result<()> {
        serve_tls(self.server_config, listener, app, stopped).await
    }
}

/// Serves `app` over HTTPS with `certificate` on `listener` until `stopped` resolves, asking
/// clients for no certificate, as [`SimTls::serve`] does.
pub async fn serve_https(
    certificate: &ServerCertificate,
    listener: TcpListener,
    app: Router,
    stopped: impl Future<Output = ()>,
) -> io::Result<()> {
    let config = server_config(vec![CertificateDer::from(certificate.certificate.clone())], certificate.key.clone());
    serve_tls(config, listener, app, stopped).await
}

/// A TLS server configuration sending `chain` (the leaf first), whose key is `key_der` (PKCS#8).
fn server_config(chain: Vec<CertificateDer<'static>>, key_der: Vec<u8>) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let private_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
    let server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .expect("the key matches the certificate");
    Arc::new(server_config)
}

/// The accept loop of [`SimTls::serve`] and [`serve_https`]; after `stopped`, open connections
/// may finish their requests for a few seconds.
async fn serve_tls(
    server_config: Arc<ServerConfig>,
    listener: TcpListener,
    app: Router,
    stopped: impl Future<Output = ()>,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(server_config);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stopped);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "accepting a connection failed");
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(error) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::debug!("HTTPS connections still open after the grace period");
    }
    Ok(())
}
