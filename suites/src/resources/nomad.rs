//! The Nomad servers as the checks of one run reach them, decided once from the release: the
//! nomad CLI in a server pod (kube exec) when the release runs its servers in the cluster,
//! their HTTP API when it runs them outside (`nomad.server.internal: false`), at `nomad.address`
//! or the release's `nomad.server.serverHostname` on port 4646, verified against the CA of the
//! Nomad mTLS Secret (or `nomad.ca_cert`) with the name Nomad clients verify. One set of reads
//! either way: server members, client nodes, one node's attributes, the gossip keys.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use realitycheck_config::Nomad;
use url::Url;

use crate::clients::certs::{Encoding, pem_of};
use crate::clients::cluster::{Cluster, ClusterError, ExecOutput};
use crate::clients::nomad::http::{NO_LEADER, NomadEndpoint, NomadHttp, NomadHttpError};
use crate::clients::nomad::members::{self, Member};
use crate::clients::nomad::nodes::{self, Node, NodeDetail};
use crate::clients::nomad::table::NotATable;
use crate::clients::nomad::{ParseError, jobs, keyring};
use crate::resources::cluster::{NomadPodError, ready_pod};
use crate::resources::release::{InstalledRelease, ServersAt};
use crate::versions::{self, ExternalServers};

/// The Secrets the guides store the Nomad mTLS material in, in the order they are looked for.
pub const MTLS_SECRETS: [&str; 2] = ["nomad-mtls", "nomad-rpc-mtls"];

/// The port of Nomad's HTTP API.
const NOMAD_HTTP_PORT: u16 = 4646;

/// How this run reaches the Nomad servers.
#[derive(Debug)]
pub enum NomadRoute {
    /// The nomad CLI in this Running and Ready server pod.
    Pod(String),
    /// The servers' HTTP API.
    Http(Box<HttpRoute>),
}

/// The servers' HTTP API: the client, and the endpoint it was made for.
#[derive(Debug)]
pub struct HttpRoute {
    pub client: NomadHttp,
    pub endpoint: NomadEndpoint,
}

/// Why the Nomad servers cannot be reached at all.
#[derive(Debug, thiserror::Error)]
pub enum NomadAccessError {
    /// The Kubernetes API failed.
    #[error(transparent)]
    Cluster(Arc<ClusterError>),
    /// In-cluster servers without a usable pod.
    #[error(transparent)]
    NoPod(NomadPodError),
    /// The release runs its servers outside the cluster and nothing says where.
    #[error(
        "the release runs its Nomad servers outside the cluster (nomad.server.internal: false) but sets no nomad.server.serverHostname, and nomad.address is not set"
    )]
    NoAddress,
    /// HTTPS without a CA to verify the servers with.
    #[error("no CA to verify the Nomad servers at {url} with: {why}")]
    NoCa { url: String, why: String },
    /// A file of the settings cannot be used.
    #[error("{setting} `{path}` cannot be used: {why}")]
    File { setting: &'static str, path: String, why: String },
    /// One of nomad.client_cert and nomad.client_key without the other.
    #[error("nomad.client_cert and nomad.client_key go together; only {given} is set")]
    HalfIdentity { given: &'static str },
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Http(NomadHttpError),
}

/// Why a read of the Nomad servers failed.
#[derive(Debug)]
pub enum NomadError {
    /// The servers cannot be reached at all.
    Access(Arc<NomadAccessError>),
    /// The Kubernetes API failed the exec.
    Cluster(ClusterError),
    /// The command ran in the pod and failed.
    Exec { pod: String, command: Vec<String>, output: ExecOutput },
    /// The command succeeded but printed no table realitycheck can read.
    Unreadable { pod: String, command: Vec<String>, error: NotATable },
    /// The command succeeded but printed JSON realitycheck cannot read.
    Json { pod: String, command: Vec<String>, error: ParseError },
    /// The HTTP API failed (the error names the URL).
    Http(NomadHttpError),
}

impl NomadError {
    /// Whether the servers answered that they have no leader (`No cluster leader`).
    pub fn is_no_leader(&self) -> bool {
        match self {
            NomadError::Exec { output, .. } => output.stderr.contains(NO_LEADER),
            NomadError::Http(error) => matches!(error, NomadHttpError::NoLeader { .. }),
            _ => false,
        }
    }
}

/// The Nomad servers, reached the way [`NomadRoute`] says.
#[derive(Clone, Copy)]
pub struct NomadServers<'a> {
    pub route: &'a NomadRoute,
    pub cluster: &'a Cluster,
}

impl NomadRoute {
    /// The route to the servers of `release`, with the `settings` of the target.
    pub async fn find(
        cluster: &Cluster,
        release: &InstalledRelease,
        settings: &Nomad,
        call_timeout: Duration,
    ) -> Result<NomadRoute, NomadAccessError> {
        let (hostname, scheme) = match release.servers() {
            ServersAt::Inside { .. } => return in_pod(cluster, &settings.server_selector, None).await,
            // Nothing says where they run: server pods, when there are any, else nomad.address
            // (a NOMAD_ADDR exported for another cluster must not win over the pods here).
            ServersAt::Unknown(why) => match in_pod(cluster, &settings.server_selector, Some(why)).await {
                Err(NomadAccessError::NoPod(NomadPodError::NoReadyPod { found, .. }))
                    if found.is_empty() && settings.address.is_some() =>
                {
                    (None, None)
                }
                found => return found,
            },
            ServersAt::Outside { hostname, scheme } => (hostname, scheme),
        };
        let url = address(settings.address.as_ref(), hostname, scheme, release.release())?;
        let ca_pem = match url.scheme() {
            "https" => Some(ca_pem(cluster, settings, &url).await?),
            _ => None,
        };
        let endpoint = NomadEndpoint {
            url,
            ca_pem,
            client_identity: client_identity(settings)?,
            tls_server_name: settings.tls_server_name.clone(),
            token: settings.token.clone(),
        };
        let client = NomadHttp::new(&endpoint, call_timeout).await.map_err(NomadAccessError::Http)?;
        Ok(NomadRoute::Http(Box::new(HttpRoute { client, endpoint })))
    }

    /// `pod nomad-server-0`, `https://nomad.example.internal:4646`.
    pub fn describe(&self) -> String {
        match self {
            NomadRoute::Pod(pod) => format!("pod {pod}"),
            NomadRoute::Http(http) => http.endpoint.url.to_string().trim_end_matches('/').to_string(),
        }
    }
}

/// The servers' API: `nomad.address` when set, else the release's host name on port 4646 with
/// its scheme (else the version's: plain HTTP on 4.8, else HTTPS).
fn address(
    configured: Option<&Url>,
    hostname: Option<String>,
    scheme: Option<String>,
    release: Option<&versions::Release>,
) -> Result<Url, NomadAccessError> {
    let hostname = match (configured, hostname) {
        (Some(address), _) => return Ok(address.clone()),
        (None, Some(hostname)) => hostname,
        (None, None) => return Err(NomadAccessError::NoAddress),
    };
    let scheme = scheme.unwrap_or_else(|| match release.map(|row| row.external_servers) {
        Some(ExternalServers::PlainHttp) => "http".to_string(),
        _ => "https".to_string(),
    });
    Url::parse(&format!("{scheme}://{hostname}:{NOMAD_HTTP_PORT}"))
        .map_err(|e| NomadAccessError::Http(NomadHttpError::BadAddress { url: hostname, reason: e.to_string() }))
}

/// A Running and Ready pod of `selector`; `unknown` says why the release could not tell where
/// the servers run, for the error when there is none.
async fn in_pod(cluster: &Cluster, selector: &str, unknown: Option<String>) -> Result<NomadRoute, NomadAccessError> {
    ready_pod(cluster, selector, unknown).await.map(NomadRoute::Pod).map_err(NomadAccessError::NoPod)
}

/// The CA the servers' certificate must chain to: `nomad.ca_cert`, else `ca.pem` of the mTLS
/// Secret.
async fn ca_pem(cluster: &Cluster, settings: &Nomad, url: &Url) -> Result<Vec<u8>, NomadAccessError> {
    if let Some(path) = &settings.ca_cert {
        return read_file("nomad.ca_cert", path);
    }
    let no_ca = |why: String| NomadAccessError::NoCa { url: url.to_string(), why };
    for name in MTLS_SECRETS {
        let secret = match cluster.secret(name).await {
            Ok(secret) => secret,
            Err(error) => return Err(no_ca(format!("{error}; set nomad.ca_cert (NOMAD_CACERT) to the CA's PEM file"))),
        };
        let Some(secret) = secret else { continue };
        let value = secret.data.as_ref().and_then(|data| data.get("ca.pem")).map(|value| value.0.clone());
        return value.as_deref().and_then(pem_text).ok_or_else(|| {
            no_ca(format!(
                "Secret {name} holds no PEM in ca.pem; set nomad.ca_cert (NOMAD_CACERT) to the CA's PEM file"
            ))
        });
    }
    Err(no_ca(format!(
        "no Secret {} in namespace `{}`; set nomad.ca_cert (NOMAD_CACERT) to the CA's PEM file",
        MTLS_SECRETS.join(" or "),
        cluster.namespace()
    )))
}

/// The PEM text of a Secret's value: PEM as it is, or base64 of PEM.
pub fn pem_text(value: &[u8]) -> Option<Vec<u8>> {
    match pem_of(value)?.1 {
        Encoding::Pem => Some(value.to_vec()),
        Encoding::Base64OfPem => STANDARD.decode(value.trim_ascii()).ok(),
    }
}

/// A client certificate's PEM and its key's.
type ClientIdentity = (Vec<u8>, Vec<u8>);

fn client_identity(settings: &Nomad) -> Result<Option<ClientIdentity>, NomadAccessError> {
    match (&settings.client_cert, &settings.client_key) {
        (Some(cert), Some(key)) => {
            Ok(Some((read_file("nomad.client_cert", cert)?, read_file("nomad.client_key", key)?)))
        }
        (Some(_), None) => Err(NomadAccessError::HalfIdentity { given: "nomad.client_cert" }),
        (None, Some(_)) => Err(NomadAccessError::HalfIdentity { given: "nomad.client_key" }),
        (None, None) => Ok(None),
    }
}

fn read_file(setting: &'static str, path: &std::path::Path) -> Result<Vec<u8>, NomadAccessError> {
    std::fs::read(path).map_err(|e| NomadAccessError::File {
        setting,
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

impl NomadServers<'_> {
    /// The server members, each with whether it leads.
    pub async fn members(&self) -> Result<Vec<Member>, NomadError> {
        match self.route {
            NomadRoute::Pod(pod) => {
                self.query(pod, &["server", "members"], members::from_json, members::from_table).await
            }
            NomadRoute::Http(http) => http.client.members().await.map_err(NomadError::Http),
        }
    }

    /// How many servers Raft counts as peers (those configured, failed ones included): read
    /// from the HTTP API only (`/v1/status/peers`, which needs a leader); `None` otherwise.
    pub async fn raft_peers(&self) -> Option<usize> {
        match self.route {
            NomadRoute::Pod(_) => None,
            NomadRoute::Http(http) => http.client.peers().await.ok().map(|peers| peers.len()).filter(|n| *n > 0),
        }
    }

    /// The client nodes.
    pub async fn nodes(&self) -> Result<Vec<Node>, NomadError> {
        match self.route {
            NomadRoute::Pod(pod) => self.query(pod, &["node", "status"], nodes::from_json, nodes::from_table).await,
            NomadRoute::Http(http) => http.client.nodes().await.map_err(NomadError::Http),
        }
    }

    /// One node's attributes (Nomad, Docker and cgroups versions).
    pub async fn node(&self, id: &str) -> Result<NodeDetail, NomadError> {
        match self.route {
            NomadRoute::Pod(pod) => {
                let command = ["nomad", "node", "status", "-json", id];
                let output = self.exec(pod, &command).await?;
                nodes::detail_from_json(&output.stdout).map_err(|error| NomadError::Json {
                    pod: pod.clone(),
                    command: owned(&command),
                    error,
                })
            }
            NomadRoute::Http(http) => http.client.node(id).await.map_err(NomadError::Http),
        }
    }

    /// The allocations waiting for a client with room: `GET /v1/jobs`, in a server pod through
    /// `nomad operator api` (Nomad 1.5 and later).
    pub async fn queued_allocations(&self) -> Result<u32, NomadError> {
        match self.route {
            NomadRoute::Pod(pod) => {
                let command = ["nomad", "operator", "api", "/v1/jobs"];
                let output = self.exec(pod, &command).await?;
                jobs::queued_from_json(&output.stdout).map_err(|error| NomadError::Json {
                    pod: pod.clone(),
                    command: owned(&command),
                    error,
                })
            }
            NomadRoute::Http(http) => http.client.queued_allocations().await.map_err(NomadError::Http),
        }
    }

    /// The gossip encryption keys the servers have installed (base64), read in server pod
    /// `pod` (servers outside the cluster run without gossip encryption: no check asks them).
    pub async fn gossip_keys(&self, pod: &str) -> Result<Vec<String>, NomadError> {
        let mut command: &[&str] = &["nomad", "operator", "gossip", "keyring", "list"];
        let mut output = self.run(pod, command).await?;
        if is_unknown_command(&output) {
            command = &["nomad", "operator", "keyring", "-list"];
            output = self.run(pod, command).await?;
        }
        if output.exit_code != 0 {
            return Err(NomadError::Exec { pod: pod.to_string(), command: owned(command), output });
        }
        keyring::from_output(&output.stdout).map_err(|error| NomadError::Unreadable {
            pod: pod.to_string(),
            command: owned(command),
            error,
        })
    }

    /// Runs `nomad <args> -json` in `pod` and parses it; when the CLI has no `-json` or its
    /// JSON cannot be read, runs `nomad <args>` and reads the table.
    async fn query<T>(
        &self,
        pod: &str,
        args: &[&str],
        from_json: fn(&str) -> Result<T, ParseError>,
        from_table: fn(&str) -> Result<T, NotATable>,
    ) -> Result<T, NomadError> {
        let json_command: Vec<&str> = ["nomad"].iter().chain(args).chain(&["-json"]).copied().collect();
        let output = self.run(pod, &json_command).await?;
        let json_unsupported = output.exit_code != 0 && output.stderr.contains("flag provided but not defined");
        if output.exit_code == 0 {
            match from_json(&output.stdout) {
                Ok(parsed) => return Ok(parsed),
                Err(e) => tracing::debug!(error = %e, "JSON unreadable; reading the table instead"),
            }
        } else if !json_unsupported {
            return Err(NomadError::Exec { pod: pod.to_string(), command: owned(&json_command), output });
        }
        let table_command: Vec<&str> = ["nomad"].iter().chain(args).copied().collect();
        let output = self.exec(pod, &table_command).await?;
        from_table(&output.stdout).map_err(|error| NomadError::Unreadable {
            pod: pod.to_string(),
            command: owned(&table_command),
            error,
        })
    }

    /// Runs `command` in `pod`, whatever its exit code.
    async fn run(&self, pod: &str, command: &[&str]) -> Result<ExecOutput, NomadError> {
        self.cluster.exec(pod, command).await.map_err(NomadError::Cluster)
    }

    /// Runs `command` in `pod`; an exit code other than 0 is an error.
    async fn exec(&self, pod: &str, command: &[&str]) -> Result<ExecOutput, NomadError> {
        let output = self.run(pod, command).await?;
        match output.exit_code {
            0 => Ok(output),
            _ => Err(NomadError::Exec { pod: pod.to_string(), command: owned(command), output }),
        }
    }
}

/// Whether the nomad CLI refused the command as one it does not know (it prints its usage):
/// Nomad before 1.4 has `operator keyring -list` instead of `operator gossip keyring list`.
pub fn is_unknown_command(output: &ExecOutput) -> bool {
    output.exit_code != 0 && output.stderr.contains("Usage")
}

fn owned(command: &[&str]) -> Vec<String> {
    command.iter().map(|part| part.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_command_printing_its_usage_is_unknown_to_the_cli() {
        let output =
            |exit_code: i32, stderr: &str| ExecOutput { stdout: String::new(), stderr: stderr.into(), exit_code };
        assert!(is_unknown_command(&output(1, "Usage: nomad operator keyring [options]")));
        assert!(!is_unknown_command(&output(0, "Usage: nomad operator gossip keyring <subcommand>")));
        assert!(!is_unknown_command(&output(1, "Error: x509: certificate signed by unknown authority")));
    }

    #[test]
    fn the_address_is_the_setting_else_the_release_s_host_name_with_the_version_s_scheme() {
        let release = |text: &str| versions::lookup(versions::ServerVersion::parse(text).unwrap()).release;
        let host = || Some("nomad.example.internal".to_string());
        let url = |found: Result<Url, NomadAccessError>| found.unwrap().to_string();
        assert_eq!(url(address(None, host(), None, Some(release("4.10.0")))), "https://nomad.example.internal:4646/");
        assert_eq!(url(address(None, host(), None, Some(release("4.8.12")))), "http://nomad.example.internal:4646/");
        assert_eq!(url(address(None, host(), None, None)), "https://nomad.example.internal:4646/", "unknown: HTTPS");
        assert_eq!(
            url(address(None, host(), Some("http".into()), Some(release("4.10.0")))),
            "http://nomad.example.internal:4646/",
            "the release's nomad.server.scheme wins"
        );
        let tunnel = Url::parse("https://localhost:14646").unwrap();
        assert_eq!(url(address(Some(&tunnel), host(), None, None)), "https://localhost:14646/", "nomad.address wins");
        assert!(matches!(address(None, None, None, None), Err(NomadAccessError::NoAddress)));
        assert!(matches!(
            address(None, Some("bad host".into()), None, None),
            Err(NomadAccessError::Http(NomadHttpError::BadAddress { .. }))
        ));
    }

    #[test]
    fn a_client_certificate_goes_with_its_key_and_files_must_read() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("client.pem"), dir.path().join("client-key.pem"));
        std::fs::write(&cert, "CERT").unwrap();
        std::fs::write(&key, "KEY").unwrap();
        let settings = |client_cert: Option<&std::path::Path>, client_key: Option<&std::path::Path>| Nomad {
            client_cert: client_cert.map(std::path::Path::to_path_buf),
            client_key: client_key.map(std::path::Path::to_path_buf),
            ..realitycheck_config::Target::with_defaults("t").nomad
        };
        assert_eq!(client_identity(&settings(None, None)).unwrap(), None);
        assert_eq!(
            client_identity(&settings(Some(&cert), Some(&key))).unwrap(),
            Some((b"CERT".to_vec(), b"KEY".to_vec()))
        );
        let half = client_identity(&settings(Some(&cert), None)).unwrap_err();
        assert_eq!(
            half.to_string(),
            "nomad.client_cert and nomad.client_key go together; only nomad.client_cert is set"
        );
        let missing = client_identity(&settings(Some(&cert), Some(&dir.path().join("absent.pem")))).unwrap_err();
        assert!(missing.to_string().starts_with("nomad.client_key `"), "{missing}");
    }

    #[test]
    fn a_secret_s_ca_is_pem_or_base64_of_pem() {
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = rcgen::CertificateParams::new(vec!["ca".to_string()]).unwrap().self_signed(&key).unwrap().pem();
        assert_eq!(pem_text(pem.as_bytes()).as_deref(), Some(pem.as_bytes()));
        assert_eq!(pem_text(STANDARD.encode(&pem).as_bytes()).as_deref(), Some(pem.as_bytes()));
        assert_eq!(pem_text(b"not a certificate"), None);
    }
}
