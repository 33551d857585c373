//! Nomad's HTTP API, for Nomad servers that run outside the Kubernetes cluster (server 4.8
//! and later): the leader and the peers, the server members with their leader marked as the
//! CLI marks it, the client nodes and one node's versions, the agent's version, the gossip
//! keys; and the certificate chain a server presents, read without verifying it.
//!
//! Over HTTPS the server's certificate is verified against the given CA only (no system roots)
//! for the name `tls_server_name` (`server.global.nomad`), whatever host is dialled, as Nomad's
//! own clients do: requests go to `https://{tls_server_name}:{port}`, which the client
//! resolves to the address's host, looked up once when the client is built. Plain `http://`
//! serves server 4.8's external servers. Each call reads its body within a limit and its
//! timeout, and is tried again a few times, with backoff, on a dropped or refused connection
//! and on 429, 502, 503 and 504. The token goes in `X-Nomad-Token`, and nowhere else: not in
//! `Debug`, an error or a log.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::Secret;
use reqwest::header::{ACCEPT, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, InvalidMessage, SignatureScheme};
use serde::de::DeserializeOwned;
use url::{Host, Url};

use super::ParseError;
use super::jobs;
use super::members::{self, Member};
use super::nodes::{self, Node, NodeDetail};
use crate::clients::causes::{causes, has_io_error, rustls_error};
use crate::clients::circleci::error::server_message;
use crate::clients::circleci::limits::{self, BodyError, MAX_JSON_BYTES, error_text, read_body};

/// The header Nomad reads its ACL token from.
const TOKEN_HEADER: &str = "X-Nomad-Token";

/// Retries of a call after its first attempt.
const MAX_RETRIES: u32 = 3;
/// The wait before retry n is `RETRY_BASE * 2^(n-1)`.
const RETRY_BASE: Duration = Duration::from_millis(250);
/// The longest a connection may take to open, within the call's timeout.
const MAX_CONNECT: Duration = Duration::from_secs(10);

/// What Nomad answers when its servers have no leader (500).
pub const NO_LEADER: &str = "No cluster leader";
/// What Go's HTTPS server answers (400) to a plain HTTP request.
const HTTP_TO_HTTPS: &str = "HTTP request to an HTTPS server";

/// Where the Nomad servers' HTTP API is, and how to trust and address it.
#[derive(Clone)]
pub struct NomadEndpoint {
    /// `https://nomad.example.internal:4646` (or `http://` for server 4.8's servers).
    pub url: Url,
    /// PEM of the CA the servers' certificate must chain to; required over HTTPS.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM of a client certificate and of its key, for servers that ask for one.
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name the servers' certificate must carry (`server.global.nomad`).
    pub tls_server_name: String,
    /// An ACL token, sent as `X-Nomad-Token`.
    pub token: Option<Secret>,
}

impl fmt::Debug for NomadEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NomadEndpoint")
            .field("url", &self.url.as_str())
            .field("ca_pem", &self.ca_pem.as_ref().map(|pem| format!("{} bytes", pem.len())))
            .field("client_identity", &self.client_identity.as_ref().map(|_| "[redacted]"))
            .field("tls_server_name", &self.tls_server_name)
            .field("token", &self.token)
            .finish()
    }
}

/// Why a connection could not be made or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFailure {
    /// Nothing listens at the port (or a firewall rejects).
    Refused,
    /// The host name does not resolve.
    UnknownHost,
    /// The connection did not open in time.
    TimedOut,
    /// The connection closed or was reset before the answer.
    Dropped,
    Other,
}

impl fmt::Display for ConnectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionFailure::Refused => "the connection was refused",
            ConnectionFailure::UnknownHost => "its host name does not resolve",
            ConnectionFailure::TimedOut => "the connection did not open in time",
            ConnectionFailure::Dropped => "the connection closed before the answer",
            ConnectionFailure::Other => "the connection failed",
        })
    }
}

/// Why the TLS handshake failed, from rustls's error (its type, never its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The certificate does not chain to the given CA (none of its name, or one of its name
    /// whose key did not sign it).
    UnknownIssuer,
    /// The certificate does not carry `tls_server_name`.
    NameMismatch,
    /// The certificate has expired, or is not valid yet.
    Expired,
    /// The server asks for a client certificate, and none (or one it refuses) was presented.
    ClientCertificateRequired,
    /// What answered is no TLS (a plain HTTP server, as server 4.8's external servers are).
    NotTls,
    Other,
}

impl TlsFailure {
    fn of(error: &rustls::Error) -> TlsFailure {
        use rustls::AlertDescription as Alert;
        match error {
            // A CA made again under the same name (as CircleCI's Terraform names every one)
            // is found as the issuer by its name, and its signature does not verify.
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
                TlsFailure::UnknownIssuer
            }
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => TlsFailure::NameMismatch,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
            ) => TlsFailure::Expired,
            rustls::Error::AlertReceived(Alert::CertificateRequired | Alert::BadCertificate | Alert::UnknownCA) => {
                TlsFailure::ClientCertificateRequired
            }
            rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType) => TlsFailure::NotTls,
            _ => TlsFailure::Other,
        }
    }

    fn describe(self, server_name: &str) -> String {
        match self {
            TlsFailure::UnknownIssuer => "the server's certificate is not signed by the CA realitycheck was given; give the CA that signs the Nomad servers' certificates (nomad.ca_cert, or ca.pem of the Nomad mTLS Secret)".to_string(),
            TlsFailure::NameMismatch => format!("the server's certificate is not valid for {server_name}, the name Nomad clients verify (server.<region>.nomad); issue it with that name from the Nomad CA"),
            TlsFailure::Expired => "the server's certificate has expired or is not valid yet; renew the Nomad servers' certificates".to_string(),
            TlsFailure::ClientCertificateRequired => "the server refuses the connection without a client certificate it trusts; set nomad.client_cert and nomad.client_key (NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY) to a certificate the Nomad CA signed".to_string(),
            TlsFailure::NotTls => "the server does not speak TLS at that port (server 4.8's external Nomad servers serve plain HTTP); use http:// in nomad.address".to_string(),
            TlsFailure::Other => "the TLS handshake failed".to_string(),
        }
    }
}

/// What went wrong reaching Nomad's API: where (the URL as given, never the token), what, and
/// what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NomadHttpError {
    #[error(
        "cannot use `{url}` as the Nomad servers' address (nomad.address, NOMAD_ADDR): {reason}; give a URL like https://nomad.example.internal:4646"
    )]
    BadAddress { url: String, reason: String },
    #[error(
        "cannot verify the Nomad servers' certificate for the name `{name}` (nomad.tls_server_name, NOMAD_TLS_SERVER_NAME): {reason}; give the DNS name their certificate carries, server.global.nomad"
    )]
    BadServerName { name: String, reason: String },
    /// HTTPS without a CA to verify the servers' certificate with.
    #[error(
        "{url} is HTTPS and realitycheck has no CA to verify the Nomad servers' certificate with; set nomad.ca_cert (NOMAD_CACERT), or let realitycheck read ca.pem of the Nomad mTLS Secret"
    )]
    CaRequired { url: String },
    /// The CA, or the client certificate and key, cannot be used.
    #[error("cannot use {what} for {url}: {reason}")]
    BadTlsMaterial { url: String, what: &'static str, reason: String },
    #[error(
        "the Nomad token holds characters an HTTP header cannot carry; check NOMAD_TOKEN for stray quotes or line breaks"
    )]
    TokenNotAHeader,
    #[error(
        "cannot connect to {url}: {failure} ({detail}); {}",
        if *failure == ConnectionFailure::UnknownHost {
            "check the host name of nomad.address (NOMAD_ADDR) and the DNS realitycheck uses"
        } else {
            "check nomad.address (NOMAD_ADDR), that the Nomad servers run and listen on that port, and that the network lets realitycheck reach them"
        }
    )]
    Connection { url: String, failure: ConnectionFailure, detail: String },
    #[error(
        "no answer from {url} within {}; the Nomad servers may be overloaded, or the network drops the traffic",
        harness::humanize(*after)
    )]
    Timeout { url: String, after: Duration },
    #[error("TLS failure with {url}: {} ({detail})", failure.describe(server_name))]
    Tls { url: String, server_name: String, failure: TlsFailure, detail: String },
    #[error("{url} answered {status}: {excerpt}")]
    Status { url: String, status: u16, excerpt: String },
    /// 403: Nomad's ACLs refuse the call.
    #[error(
        "{url} answered 403 ({excerpt}): Nomad's ACLs refuse the call; export NOMAD_TOKEN (nomad.token) with a token whose policy allows it"
    )]
    AclDenied { url: String, excerpt: String },
    /// 500 `No cluster leader`.
    #[error(
        "{url} answered 500 No cluster leader: the Nomad servers have no leader; check that a majority of them run and reach each other (RPC port 4647, Serf port 4648)"
    )]
    NoLeader { url: String },
    /// A plain HTTP request reached an HTTPS server.
    #[error(
        "{url} answered 400 ({excerpt}): the Nomad servers serve HTTPS there (server 4.9 and later); use https:// in nomad.address (NOMAD_ADDR), with the Nomad CA"
    )]
    HttpsExpected { url: String, excerpt: String },
    #[error(
        "{url} sent more than {} (the most realitycheck reads of a Nomad answer); reading stopped there",
        limits::bytes(*limit)
    )]
    TooLarge { url: String, limit: usize },
    #[error("cannot read the answer of {url} as {what}: {message}")]
    Decode { url: String, what: &'static str, message: String },
}

/// A client of one Nomad API address. Clones share the connection pool.
#[derive(Clone)]
pub struct NomadHttp {
    http: reqwest::Client,
    /// The address as given: what errors name.
    url: Url,
    /// Where requests go: the address over HTTP; `https://{tls_server_name}:{port}` over HTTPS.
    base: Url,
    server_name: String,
    token: Option<Secret>,
    /// The token's header value, marked sensitive so that no HTTP log shows it.
    token_header: Option<HeaderValue>,
    timeout: Duration,
}

impl fmt::Debug for NomadHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NomadHttp")
            .field("url", &self.url.as_str())
            .field("server_name", &self.server_name)
            .field("token", &self.token)
            .finish()
    }
}

/// One answer's text, and the URL (as given) it came from.
struct Answer {
    url: String,
    text: String,
}

impl NomadHttp {
    /// The client of `endpoint`, each call within `call_timeout`; the address's host name is
    /// looked up here. The error says what is wrong: the address, the CA (required over
    /// HTTPS), the client certificate, the token, or a host name that does not resolve.
    pub async fn new(endpoint: &NomadEndpoint, call_timeout: Duration) -> Result<NomadHttp, NomadHttpError> {
        let url = endpoint.url.clone();
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(bad_address(&url, format!("`{other}` is neither http nor https")));
            }
        };
        let addresses = addresses(&url, call_timeout).await?;
        let mut builder = reqwest::Client::builder()
            .timeout(call_timeout)
            .connect_timeout(call_timeout.min(MAX_CONNECT))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would be asked for the server name, which only this client resolves.
            .no_proxy()
            .user_agent(concat!("realitycheck/", env!("CARGO_PKG_VERSION")));
        let (base, server_name) = if https {
            let name = server_name(&endpoint.tls_server_name)?;
            let port = addresses[0].port();
            let base = Url::parse(&format!("https://{name}:{port}/"))
                .map_err(|e| NomadHttpError::BadServerName { name: name.clone(), reason: e.to_string() })?;
            let ca = endpoint.ca_pem.as_deref().ok_or_else(|| NomadHttpError::CaRequired { url: url.to_string() })?;
            builder = builder.tls_built_in_root_certs(false).resolve_to_addrs(&name, &addresses);
            for root in ca_certificates(&url, ca)? {
                builder = builder.add_root_certificate(root);
            }
            if let Some((certificate, key)) = &endpoint.client_identity {
                builder = builder.identity(identity(&url, certificate, key)?);
            }
            (base, name)
        } else {
            if let Some(Host::Domain(domain)) = url.host() {
                builder = builder.resolve_to_addrs(domain, &addresses);
            }
            (url.clone(), String::new())
        };
        let http = builder.build().map_err(|e| NomadHttpError::BadTlsMaterial {
            url: url.to_string(),
            what: if endpoint.client_identity.is_some() { CLIENT_IDENTITY } else { CA_CERTIFICATE },
            reason: causes(&e),
        })?;
        let token_header = match &endpoint.token {
            Some(token) => {
                let mut header = HeaderValue::from_str(token.expose()).map_err(|_| NomadHttpError::TokenNotAHeader)?;
                header.set_sensitive(true);
                Some(header)
            }
            None => None,
        };
        Ok(NomadHttp {
            http,
            url,
            base,
            server_name,
            token: endpoint.token.clone(),
            token_header,
            timeout: call_timeout,
        })
    }

    /// The RPC address (`10.0.0.8:4647`) of the leader of the agent's region; `None` when it
    /// answers that there is none (`""`).
    pub async fn leader(&self) -> Result<Option<String>, NomadHttpError> {
        self.region_leader("").await
    }

    /// The RPC addresses of the Raft peers.
    pub async fn peers(&self) -> Result<Vec<String>, NomadHttpError> {
        let answer = self.get(&["v1", "status", "peers"], None).await?;
        let peers: Option<Vec<String>> = self.decode(&answer, "the Raft peers (a list of addresses)")?;
        Ok(peers.unwrap_or_default())
    }

    /// The server members, each marked leader or not as `nomad server members` does: the
    /// leader of each member's region (`/v1/status/leader?region=`) is the member whose
    /// `Addr:Tags.port` it names; a region without a leader has none.
    pub async fn members(&self) -> Result<Vec<Member>, NomadHttpError> {
        let answer = self.get(&["v1", "agent", "members"], None).await?;
        let members = members::from_agent_members(&answer.text)
            .map_err(|e| self.parse_failed(&answer, "Nomad's server members", e))?;
        let mut leaders = std::collections::BTreeMap::new();
        for region in members.regions() {
            match self.region_leader(&region).await {
                Ok(Some(leader)) => {
                    leaders.insert(region, leader);
                }
                Ok(None) | Err(NomadHttpError::NoLeader { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(members.with_leaders(&leaders))
    }

    /// The client nodes (`GET /v1/nodes`: the list `nomad node status -json` prints).
    pub async fn nodes(&self) -> Result<Vec<Node>, NomadHttpError> {
        let answer = self.get(&["v1", "nodes"], None).await?;
        nodes::from_json(&answer.text).map_err(|e| self.parse_failed(&answer, "Nomad's client nodes", e))
    }

    /// One node's details (`GET /v1/node/:id`): its Nomad, Docker and cgroups versions.
    pub async fn node(&self, id: &str) -> Result<NodeDetail, NomadHttpError> {
        let answer = self.get(&["v1", "node", id], None).await?;
        nodes::detail_from_json(&answer.text).map_err(|e| self.parse_failed(&answer, "a Nomad node", e))
    }

    /// The allocations waiting for a client with room (`GET /v1/jobs`).
    pub async fn queued_allocations(&self) -> Result<u32, NomadHttpError> {
        let answer = self.get(&["v1", "jobs"], None).await?;
        jobs::queued_from_json(&answer.text).map_err(|e| self.parse_failed(&answer, "Nomad's jobs", e))
    }

    /// The leader of `region` (the agent's own when empty).
    async fn region_leader(&self, region: &str) -> Result<Option<String>, NomadHttpError> {
        let query = (!region.is_empty()).then_some(("region", region));
        let answer = self.get(&["v1", "status", "leader"], query).await?;
        let leader: Option<String> = self.decode(&answer, "the leader's address (a JSON string)")?;
        Ok(leader.filter(|leader| !leader.is_empty()))
    }

    /// `GET` of `segments` (each percent-encoded) with its retries; the body of the first
    /// success, read within [`MAX_JSON_BYTES`].
    async fn get(&self, segments: &[&str], query: Option<(&str, &str)>) -> Result<Answer, NomadHttpError> {
        let shown = at(&self.url, segments, query);
        let sent = at(&self.base, segments, query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.get(sent.clone()).header(ACCEPT, "application/json");
            if let Some(token) = &self.token_header {
                request = request.header(TOKEN_HEADER, token.clone());
            }
            let reason = match request.send().await {
                Err(error) => {
                    let failure = self.transport_error(&shown, error);
                    let passing = matches!(
                        failure,
                        NomadHttpError::Connection {
                            failure: ConnectionFailure::Refused | ConnectionFailure::Dropped | ConnectionFailure::Other,
                            ..
                        }
                    );
                    if !passing || attempt > MAX_RETRIES {
                        return Err(failure);
                    }
                    failure.to_string()
                }
                Ok(response) if response.status().is_success() => {
                    let body = read_body(response, MAX_JSON_BYTES).await.map_err(|error| match error {
                        BodyError::TooLarge => {
                            NomadHttpError::TooLarge { url: shown.to_string(), limit: MAX_JSON_BYTES }
                        }
                        BodyError::Transport(error) => self.transport_error(&shown, error),
                    })?;
                    return Ok(Answer { url: shown.to_string(), text: String::from_utf8_lossy(&body).into_owned() });
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let excerpt = self.redact(&server_message(&error_text(response).await));
                    if !matches!(status, 429 | 502 | 503 | 504) || attempt > MAX_RETRIES {
                        return Err(status_error(&shown, status, excerpt));
                    }
                    format!("{status}: {excerpt}")
                }
            };
            let wait = RETRY_BASE.saturating_mul(2u32.saturating_pow(attempt - 1));
            tracing::debug!(url = %shown, attempt, %reason, "retrying a call of the Nomad API");
            tokio::time::sleep(wait).await;
        }
    }

    fn decode<T: DeserializeOwned>(&self, answer: &Answer, what: &'static str) -> Result<T, NomadHttpError> {
        let text = if answer.text.trim().is_empty() { "null" } else { &answer.text };
        serde_json::from_str(text).map_err(|e| NomadHttpError::Decode {
            url: answer.url.clone(),
            what,
            message: self.redact(&e.to_string()),
        })
    }

    fn parse_failed(&self, answer: &Answer, what: &'static str, error: ParseError) -> NomadHttpError {
        NomadHttpError::Decode { url: answer.url.clone(), what, message: self.redact(&error.source.to_string()) }
    }

    fn transport_error(&self, shown: &Url, error: reqwest::Error) -> NomadHttpError {
        let url = shown.to_string();
        if error.is_timeout() && !error.is_connect() {
            return NomadHttpError::Timeout { url, after: self.timeout };
        }
        let timed_out = error.is_timeout();
        let connecting = error.is_connect();
        let error = error.without_url();
        let detail = self.redact(&causes(&error));
        let failure = if timed_out {
            Some(ConnectionFailure::TimedOut)
        } else if connecting {
            None
        } else {
            Some(ConnectionFailure::Dropped)
        };
        connection_error(url, &self.server_name, &error, failure, detail)
    }

    fn redact(&self, text: &str) -> String {
        match &self.token {
            Some(token) => token.redact(text),
            None => text.to_string(),
        }
    }
}

const CA_CERTIFICATE: &str = "the CA certificate (nomad.ca_cert, or ca.pem of the Nomad mTLS Secret)";
const CLIENT_IDENTITY: &str = "the client certificate and key (nomad.client_cert, nomad.client_key)";

/// The error a failed connection (or handshake) stands for: a TLS failure when rustls's error
/// is among its causes, a refusal when the system's is, else `failure` (`None`: other).
fn connection_error(
    url: String,
    server_name: &str,
    error: &(dyn std::error::Error + 'static),
    failure: Option<ConnectionFailure>,
    detail: String,
) -> NomadHttpError {
    if let Some(tls) = rustls_error(error) {
        return NomadHttpError::Tls { url, server_name: server_name.to_string(), failure: TlsFailure::of(tls), detail };
    }
    let failure = if has_io_error(error, &[std::io::ErrorKind::ConnectionRefused]) {
        ConnectionFailure::Refused
    } else {
        failure.unwrap_or(ConnectionFailure::Other)
    };
    NomadHttpError::Connection { url, failure, detail }
}

/// The error an answer other than a success stands for.
fn status_error(url: &Url, status: u16, excerpt: String) -> NomadHttpError {
    let url = url.to_string();
    match status {
        403 => NomadHttpError::AclDenied { url, excerpt },
        500 if excerpt.contains(NO_LEADER) => NomadHttpError::NoLeader { url },
        400 if excerpt.contains(HTTP_TO_HTTPS) => NomadHttpError::HttpsExpected { url, excerpt },
        _ => NomadHttpError::Status { url, status, excerpt },
    }
}

/// `base` with the path `segments` (each percent-encoded) and `query`.
fn at(base: &Url, segments: &[&str], query: Option<(&str, &str)>) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.clear().extend(segments);
    }
    if let Some((key, value)) = query {
        url.query_pairs_mut().append_pair(key, value);
    }
    url
}

fn bad_address(url: &Url, reason: impl Into<String>) -> NomadHttpError {
    NomadHttpError::BadAddress { url: url.to_string(), reason: reason.into() }
}

/// The socket addresses of `url`'s host and port, looked up within `timeout`.
async fn addresses(url: &Url, timeout: Duration) -> Result<Vec<SocketAddr>, NomadHttpError> {
    let port = url.port_or_known_default().ok_or_else(|| bad_address(url, "it has no port"))?;
    let name = match url.host() {
        Some(Host::Ipv4(ip)) => return Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(Host::Ipv6(ip)) => return Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(Host::Domain(name)) => name,
        None => return Err(bad_address(url, "it names no host")),
    };
    let unresolved = |failure, detail| NomadHttpError::Connection { url: url.to_string(), failure, detail };
    match tokio::time::timeout(timeout, tokio::net::lookup_host((name, port))).await {
        Err(_) => Err(unresolved(
            ConnectionFailure::TimedOut,
            format!("looking up {name} took longer than {}", harness::humanize(timeout)),
        )),
        Ok(Err(error)) => Err(unresolved(ConnectionFailure::UnknownHost, format!("looking up {name}: {error}"))),
        Ok(Ok(found)) => {
            let found: Vec<SocketAddr> = found.collect();
            if found.is_empty() {
                return Err(unresolved(ConnectionFailure::UnknownHost, format!("{name} has no address")));
            }
            Ok(found)
        }
    }
}

/// `tls_server_name` as a DNS name; an IP address would be dialled instead of the address's
/// host, so it is refused.
fn server_name(name: &str) -> Result<String, NomadHttpError> {
    let refused = |reason: &str| NomadHttpError::BadServerName { name: name.to_string(), reason: reason.to_string() };
    match ServerName::try_from(name) {
        Ok(ServerName::DnsName(dns)) => Ok(dns.as_ref().to_ascii_lowercase()),
        Ok(_) => Err(refused("it is an IP address, not a DNS name")),
        Err(_) => Err(refused("it is not a DNS name")),
    }
}

/// The certificates of the CA PEM, each checked to be one a client can trust.
fn ca_certificates(url: &Url, pem: &[u8]) -> Result<Vec<reqwest::Certificate>, NomadHttpError> {
    let refused =
        |reason: String| NomadHttpError::BadTlsMaterial { url: url.to_string(), what: CA_CERTIFICATE, reason };
    let ders = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refused(format!("it is not PEM: {e}")))?;
    if ders.is_empty() {
        return Err(refused("it holds no PEM certificate".to_string()));
    }
    let mut store = rustls::RootCertStore::empty();
    ders.into_iter()
        .map(|der| {
            store.add(der.clone()).map_err(|e| refused(format!("a certificate that cannot be trusted: {e}")))?;
            reqwest::Certificate::from_der(&der).map_err(|e| refused(causes(&e)))
        })
        .collect()
}

/// The client certificate (with its chain) and its key, checked to be PEM of each.
fn identity(url: &Url, certificate: &[u8], key: &[u8]) -> Result<reqwest::Identity, NomadHttpError> {
    let refused =
        |reason: String| NomadHttpError::BadTlsMaterial { url: url.to_string(), what: CLIENT_IDENTITY, reason };
    let certificates = CertificateDer::pem_slice_iter(certificate).collect::<Result<Vec<_>, _>>();
    if certificates.is_err() || certificates.is_ok_and(|c| c.is_empty()) {
        return Err(refused("the certificate holds no PEM certificate".to_string()));
    }
    if PrivateKeyDer::from_pem_slice(key).is_err() {
        return Err(refused("the key holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".to_string()));
    }
    let mut pem = certificate.to_vec();
    pem.push(b'\n');
    pem.extend_from_slice(key);
    reqwest::Identity::from_pem(&pem).map_err(|e| refused(causes(&e)))
}

/// The certificate chain (DER, the server's own first) the server at `endpoint` presents for
/// `tls_server_name`, read from a handshake that accepts any certificate: so that a check can
/// say why a verified connection fails (another CA, another name). Nothing is sent over the
/// connection; it is closed once the chain is known.
pub async fn server_certificate(endpoint: &NomadEndpoint, timeout: Duration) -> Result<Vec<Vec<u8>>, NomadHttpError> {
    let url = &endpoint.url;
    if url.scheme() != "https" {
        return Err(bad_address(url, "it is not https://, and a plain HTTP server presents no certificate"));
    }
    let name = server_name(&endpoint.tls_server_name)?;
    let dns_name = ServerName::try_from(name.clone())
        .map_err(|e| NomadHttpError::BadServerName { name: name.clone(), reason: e.to_string() })?;
    let addresses = addresses(url, timeout).await?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder =
        Arc::new(Recorder { chain: Mutex::default(), algorithms: provider.signature_verification_algorithms });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NomadHttpError::Tls {
            url: url.to_string(),
            server_name: name.clone(),
            failure: TlsFailure::Other,
            detail: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = async {
        let stream = tokio::net::TcpStream::connect(&addresses[..]).await?;
        connector.connect(dns_name, stream).await.map(drop)
    };
    let outcome = tokio::time::timeout(timeout, handshake).await;
    let chain = recorder.chain.lock().map(|chain| chain.clone()).unwrap_or_default();
    if !chain.is_empty() {
        return Ok(chain);
    }
    match outcome {
        Err(_) => Err(NomadHttpError::Timeout { url: url.to_string(), after: timeout }),
        Ok(Err(error)) => {
            let failure = match error.kind() {
                std::io::ErrorKind::TimedOut => Some(ConnectionFailure::TimedOut),
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted => Some(ConnectionFailure::Dropped),
                _ => None,
            };
            Err(connection_error(url.to_string(), &name, &error, failure, causes(&error)))
        }
        Ok(Ok(())) => Err(NomadHttpError::Tls {
            url: url.to_string(),
            server_name: name,
            failure: TlsFailure::Other,
            detail: "the handshake carried no certificate".to_string(),
        }),
    }
}

/// A verifier that accepts whatever certificate it is shown and keeps the chain. The
/// handshake's signatures are still checked: the server holds the key of what it presented.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<Vec<u8>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity).chain(intermediates).map(|der| der.to_vec()).collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    #[test]
    fn tls_failures_are_named_by_rustls_type_not_by_text() {
        let failure = |error: rustls::Error| {
            let io = Error::other(Error::new(ErrorKind::InvalidData, error));
            match connection_error("https://nomad:4646/".into(), "server.global.nomad", &io, None, String::new()) {
                NomadHttpError::Tls { failure, .. } => Some(failure),
                _ => None,
            }
        };
        assert_eq!(
            failure(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            Some(TlsFailure::UnknownIssuer)
        );
        assert_eq!(
            failure(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)),
            Some(TlsFailure::NameMismatch)
        );
        assert_eq!(failure(rustls::Error::InvalidCertificate(CertificateError::Expired)), Some(TlsFailure::Expired));
        assert_eq!(
            failure(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)),
            Some(TlsFailure::ClientCertificateRequired)
        );
        assert_eq!(
            failure(rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType)),
            Some(TlsFailure::NotTls)
        );
        assert_eq!(failure(rustls::Error::General("unknown issuer".into())), Some(TlsFailure::Other));

        let lookalike = Error::new(ErrorKind::ConnectionReset, "invalid peer certificate: UnknownIssuer");
        let error =
            connection_error("https://nomad:4646/".into(), "server.global.nomad", &lookalike, None, String::new());
        assert!(
            matches!(error, NomadHttpError::Connection { failure: ConnectionFailure::Other, .. }),
            "words alone are no TLS failure: {error:?}"
        );
        let refused = Error::other(Error::new(ErrorKind::ConnectionRefused, "refused"));
        let error = connection_error("http://nomad:4646/".into(), "", &refused, None, String::new());
        assert!(matches!(error, NomadHttpError::Connection { failure: ConnectionFailure::Refused, .. }), "{error:?}");
    }

    #[test]
    fn answers_name_their_cause() {
        let url = Url::parse("https://nomad.example.internal:4646/v1/status/leader").unwrap();
        assert!(matches!(status_error(&url, 403, "Permission denied".into()), NomadHttpError::AclDenied { .. }));
        assert!(matches!(status_error(&url, 500, "No cluster leader".into()), NomadHttpError::NoLeader { .. }));
        assert!(matches!(status_error(&url, 500, "rpc error".into()), NomadHttpError::Status { status: 500, .. }));
        let https = status_error(&url, 400, "Client sent an HTTP request to an HTTPS server.".into());
        assert!(matches!(https, NomadHttpError::HttpsExpected { .. }));
        assert!(https.to_string().starts_with("https://nomad.example.internal:4646/v1/status/leader answered 400"));
    }

    #[test]
    fn paths_are_encoded_segments_at_the_root() {
        let base = Url::parse("https://server.global.nomad:4646/").unwrap();
        assert_eq!(
            at(&base, &["v1", "node", "a/b c"], None).as_str(),
            "https://server.global.nomad:4646/v1/node/a%2Fb%20c"
        );
        assert_eq!(
            at(&base, &["v1", "status", "leader"], Some(("region", "global"))).as_str(),
            "https://server.global.nomad:4646/v1/status/leader?region=global"
        );
    }

    #[test]
    fn the_server_name_is_a_dns_name() {
        assert_eq!(server_name("Server.Global.Nomad").unwrap(), "server.global.nomad");
        assert!(matches!(server_name("10.0.0.8"), Err(NomadHttpError::BadServerName { .. })));
        assert!(matches!(server_name(""), Err(NomadHttpError::BadServerName { .. })));
        assert!(matches!(server_name("not a name"), Err(NomadHttpError::BadServerName { .. })));
    }
}
