//! A running simulation: the simulated Kubernetes API (plain HTTP), the simulated CircleCI API
//! with its execution plane (HTTPS, signed by a CA made at start) and, when the Nomad servers
//! run outside the cluster, their HTTP API (HTTPS from 4.9, with the certificate of their mTLS
//! material), each on its own listener, plus the kubeconfig, CA bundle and shell environment
//! that point clients at them.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use realitycheck_config::{Config, Flags, LoadRequest, Setting, Target, setting};
use realitycheck_project::CloudProvider;

use crate::circleci::{self, ApiBehaviour, ApiState};
use crate::execution::JobTiming;
use crate::https::{SimTls, serve_https};
use crate::installation::Installation;
use crate::scenario::Scenario;
use crate::version::{Deployment, NomadServers, ServerVersion};
use crate::{KUBE_CONTEXT, NAMESPACE, SIM_PROJECT, SIM_RUNNER_RESOURCE_CLASS, SIM_TOKEN, clock, kube, nomad};

/// The kubeconfig user's token; the simulation does not check it (and client-go sends no bearer
/// token over plain HTTP anyway).
const DUMMY_TOKEN: &str = "realitycheck-sim-token";

/// `capacity.max_wait_p95` of the simulation: the default 3m, at its [`SPEED`](crate::execution::timing::SPEED).
pub const CAPACITY_MAX_WAIT_P95: &str = "3s";
/// `capacity.autoscaler_reaction` of the simulation: the default 4m (an evaluation, the cooldown
/// and a client's boot), at its [`SPEED`](crate::execution::timing::SPEED).
pub const CAPACITY_AUTOSCALER_REACTION: &str = "4s";

/// The first kubectl minor version that runs `exec` over WebSocket unless told otherwise.
const KUBECTL_WEBSOCKET_EXEC_BY_DEFAULT: u32 = 30;

/// How a simulation behaves beyond its scenario's fault: the server version and where its
/// Nomad servers run, the cloud it runs on, the CircleCI API's delay and faults, and how long
/// jobs take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    pub api: ApiBehaviour,
    pub timing: JobTiming,
    /// What was installed; it must suit the scenario ([`Deployment::check`]).
    pub deployment: Deployment,
    /// The cloud the installation runs on (its machine provisioner's); `cloud-provider-other`
    /// runs on other whatever this says.
    pub cloud_provider: CloudProvider,
}

impl Default for SimOptions {
    /// The default API behaviour, timing and deployment, on AWS.
    fn default() -> Self {
        Self {
            api: ApiBehaviour::default(),
            timing: JobTiming::default(),
            deployment: Deployment::default(),
            cloud_provider: CloudProvider::Aws,
        }
    }
}

impl SimOptions {
    /// What `scenario` prescribes ([`ApiBehaviour::for_scenario`], [`Deployment::for_scenario`]:
    /// 4.10 unless the scenario has its own version, with the Nomad servers where the scenario
    /// needs them), with the default [`JobTiming`], on AWS.
    pub fn for_scenario(scenario: Scenario) -> Self {
        Self {
            api: ApiBehaviour::for_scenario(scenario),
            timing: JobTiming::default(),
            deployment: Deployment::for_scenario(scenario),
            cloud_provider: CloudProvider::Aws,
        }
    }
}

/// The files [`SimServer::write_env`] writes beside the exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFiles {
    /// The kubeconfig (`<file name>.kubeconfig`).
    pub kubeconfig: PathBuf,
    /// The CA bundle of the CircleCI API (`<file name>.ca.pem`).
    pub ca_bundle: PathBuf,
    /// The simulation's fake token (`<file name>.token`).
    pub token_file: PathBuf,
}

/// A simulated installation serving on local addresses until shut down.
#[derive(Debug)]
pub struct SimServer {
    scenario: Scenario,
    installation: Arc<Installation>,
    local_addr: SocketAddr,
    circleci_addr: SocketAddr,
    /// Where the Nomad servers' HTTP API is said to be, when they run outside the cluster
    /// (nothing listens there in `nomad-external-unreachable`).
    nomad_addr: Option<SocketAddr>,
    circleci: Arc<ApiState>,
    tls: SimTls,
    /// [`Self::write_env`]'s files in a directory of the server's own, written when first
    /// asked for and removed with the server (a `FROM scratch` image has no temporary
    /// directory to write them to).
    files: std::sync::OnceLock<(tempfile::TempDir, EnvFiles)>,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<io::Result<()>>,
}

impl SimServer {
    /// Builds the installation for `scenario` (on its default deployment: 4.10 or the scenario's
    /// own version, the Nomad servers where the scenario needs them) and serves its Kubernetes
    /// API on `listen` (port 0: any free port) and its CircleCI API over HTTPS on another free
    /// port of the same IP (and the Nomad servers' API on a third when they run outside the
    /// cluster).
    pub async fn start(scenario: Scenario, listen: SocketAddr) -> io::Result<SimServer> {
        Self::start_with(scenario, listen, SimOptions::for_scenario(scenario)).await
    }

    /// As [`Self::start`], with `options` instead of the scenario's (e.g. another server version,
    /// a shorter delay for `api-slow`, or faster jobs, in tests); an error of kind
    /// `InvalidInput` when the deployment does not suit the scenario.
    pub async fn start_with(scenario: Scenario, listen: SocketAddr, options: SimOptions) -> io::Result<SimServer> {
        let started_at = clock::now();
        // An unsuitable deployment is refused before anything listens.
        options
            .deployment
            .check(scenario)
            .map_err(|unsupported| io::Error::new(io::ErrorKind::InvalidInput, unsupported))?;
        let kube_listener = TcpListener::bind(listen).await?;
        let local_addr = kube_listener.local_addr()?;
        let circleci_listener = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
        let circleci_addr = circleci_listener.local_addr()?;
        // The release names the API's URL as its OIDC issuer, so it is built once that is known.
        let api_url = format!("https://{circleci_addr}");
        let installation =
            Installation::deployed_at(scenario, options.deployment, options.cloud_provider, started_at, &api_url)
                .map_err(|unsupported| io::Error::new(io::ErrorKind::InvalidInput, unsupported))?;
        let installation = Arc::new(installation);
        let (nomad_addr, nomad_listener) = match &installation.external_nomad {
            Some(external) => {
                let listener = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
                let addr = listener.local_addr()?;
                // Unreachable: the port was free a moment ago, and the listener closes here.
                (Some(addr), external.reachable.then_some(listener))
            }
            None => (None, None),
        };
        let circleci =
            Arc::new(ApiState::new(Arc::clone(&installation)).with_behaviour(options.api).with_timing(options.timing));
        let kube_app = kube::router(Arc::clone(&installation), circleci.fleet());
        let circleci_app = circleci::router(Arc::clone(&circleci));
        let nomad_app = nomad::http::router(Arc::clone(&installation), circleci.fleet());
        let nomad_https = installation.external_nomad.as_ref().and_then(|external| external.https.clone());
        let tls = SimTls::generate(circleci_addr.ip(), started_at, installation.tls_expires_at);
        let files = std::sync::OnceLock::new();
        let (stop, stopped) = oneshot::channel::<()>();
        // A dropped sender stops the servers too.
        let stopped = stopped.map(|_| ()).shared();
        let https = tls.clone();
        let serving = tokio::spawn(async move {
            let kube = axum::serve(kube_listener, kube_app).with_graceful_shutdown(stopped.clone());
            let circleci = https.serve(circleci_listener, circleci_app, stopped.clone());
            let nomad = async move {
                match (nomad_listener, nomad_https) {
                    (Some(listener), Some(certificate)) => {
                        serve_https(&certificate, listener, nomad_app, stopped).await
                    }
                    (Some(listener), None) => axum::serve(listener, nomad_app).with_graceful_shutdown(stopped).await,
                    (None, _) => Ok(()),
                }
            };
            tokio::try_join!(kube.into_future(), circleci, nomad).map(|((), (), ())| ())
        });
        tracing::debug!(%scenario, deployment = %options.deployment, %local_addr, %circleci_addr, ?nomad_addr, "simulation started");
        Ok(SimServer {
            scenario,
            installation,
            local_addr,
            circleci_addr,
            nomad_addr,
            circleci,
            tls,
            files,
            stop,
            serving,
        })
    }

    /// Base URL of the simulated Kubernetes API, e.g. `http://127.0.0.1:41234`.
    pub fn kube_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Base URL of the simulated CircleCI server, without `/api/v2`, e.g. `https://127.0.0.1:41235`.
    pub fn circleci_url(&self) -> String {
        format!("https://{}", self.circleci_addr)
    }

    /// The URL of the Nomad servers' HTTP API when they run outside the cluster, e.g.
    /// `https://127.0.0.1:41236` (`http://` on 4.8); nothing listens there in
    /// `nomad-external-unreachable`. A client trusts it through ca.pem of Secret nomad-mtls,
    /// naming the server `server.global.nomad`.
    pub fn nomad_url(&self) -> Option<String> {
        let external = self.installation.external_nomad.as_ref()?;
        Some(format!("{}://{}", external.scheme(), self.nomad_addr?))
    }

    /// The CircleCI server version installed.
    pub fn server_version(&self) -> ServerVersion {
        self.installation.deployment.server_version
    }

    /// Where the Nomad servers run.
    pub fn nomad_servers(&self) -> NomadServers {
        self.installation.deployment.nomad_servers
    }

    /// The PEM of the CA that signs the CircleCI API's certificate: a client's CA bundle.
    pub fn ca_pem(&self) -> &str {
        self.tls.ca_pem()
    }

    /// A file holding [`Self::ca_pem`] while the server lives: a client's `--ca-bundle`.
    pub fn ca_bundle(&self) -> &Path {
        &self.files().ca_bundle
    }

    /// [`Self::write_env`]'s files while the server lives, in a temporary directory of its
    /// own, written on the first call; panics when they cannot be (tests and benchmarks call
    /// it; the binary writes the files with [`Self::write_env`] where it is told).
    pub fn files(&self) -> &EnvFiles {
        &self
            .files
            .get_or_init(|| {
                let dir = tempfile::Builder::new()
                    .prefix("realitycheck-sim-")
                    .tempdir()
                    .expect("the temporary directory takes the simulation's files");
                let files = self.write_env(&dir.path().join("env.sh")).expect("the simulation's files are written");
                (dir, files)
            })
            .1
    }

    /// The live state of the simulated CircleCI API (e.g. the context values clients set).
    pub fn circleci_state(&self) -> &ApiState {
        &self.circleci
    }

    /// The Secrets the simulated Kubernetes API serves (Helm's release records among them):
    /// what tests hold every output of realitycheck against.
    pub fn secrets(&self) -> &[crate::secrets::SimSecret] {
        &self.installation.secrets
    }

    /// The installation the simulation serves (its StatefulSets, Velero's backups, the
    /// Kubernetes release, its start time): what tests hold realitycheck's findings against.
    pub fn installation(&self) -> &Installation {
        &self.installation
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The cloud the installation runs on (`aws`, `gcp` or `other`), as `CIRCLE_CLOUD_PROVIDER`
    /// names it: `other` in `cloud-provider-other`, else the options' ([`SimOptions::cloud_provider`],
    /// `aws` unless set).
    pub fn cloud_provider(&self) -> &'static str {
        self.installation.cloud_provider.as_str()
    }

    /// A kubeconfig with one cluster, user and context (`realitycheck-sim`, namespace
    /// `circleci-server`) pointing at [`Self::kube_url`].
    pub fn kubeconfig_yaml(&self) -> String {
        let server = yaml_quote(&self.kube_url());
        let context = yaml_quote(KUBE_CONTEXT);
        let namespace = yaml_quote(NAMESPACE);
        let token = yaml_quote(DUMMY_TOKEN);
        format!(
            "\
apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: {server}
contexts:
- name: {context}
  context:
    cluster: {context}
    namespace: {namespace}
    user: {context}
current-context: {context}
users:
- name: {context}
  user:
    token: {token}
"
        )
    }

    /// Writes the kubeconfig, the CA bundle and the token beside `path` (as `<file
    /// name>.kubeconfig`, `<file name>.ca.pem` and `<file name>.token`) and, at `path`, POSIX shell `export`s of `KUBECONFIG`,
    /// `REALITYCHECK_NAMESPACE`, `REALITYCHECK_KUBE_CONTEXT`, `CIRCLE_HOSTNAME`,
    /// `REALITYCHECK_CA_BUNDLE`, `CIRCLE_TOKEN` (the simulation's fake [`SIM_TOKEN`]),
    /// `REALITYCHECK_PROJECT`, `CIRCLE_CLOUD_PROVIDER` ([`Self::cloud_provider`]),
    /// `REALITYCHECK_RUNNER_RESOURCE_CLASS` ([`SIM_RUNNER_RESOURCE_CLASS`]) and, when the Nomad
    /// servers run outside the cluster, `NOMAD_ADDR` ([`Self::nomad_url`]); on a Kubernetes
    /// older than 1.30 (4.4's), `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true`, which its kubectl needs
    /// to run `exec` over WebSocket. Returns the files written beside it.
    pub fn write_env(&self, path: &Path) -> io::Result<EnvFiles> {
        let path = std::path::absolute(path)?;
        let file_name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{} does not name a file", path.display()))
        })?;
        let beside = |suffix: &str| {
            let mut name = file_name.to_os_string();
            name.push(suffix);
            path.with_file_name(name)
        };
        let utf8 = |file: &Path| {
            file.to_str().map(str::to_owned).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not valid UTF-8", file.display()))
            })
        };
        let kubeconfig = beside(".kubeconfig");
        std::fs::write(&kubeconfig, self.kubeconfig_yaml())?;
        let ca_bundle = beside(".ca.pem");
        std::fs::write(&ca_bundle, self.ca_pem())?;
        let token_file = beside(".token");
        std::fs::write(&token_file, SIM_TOKEN)?;
        let (kubeconfig_text, ca_bundle_text) = (utf8(&kubeconfig)?, utf8(&ca_bundle)?);
        let circleci_url = self.circleci_url();
        let nomad_url = self.nomad_url();
        let var = |setting: &Setting| setting.env.expect("the simulation exports settings that have a variable");
        let nomad_address = nomad_url.as_deref().map(|url| (var(&setting::NOMAD_ADDRESS), url));
        let websocket_exec = (self.installation.kubernetes.minor < KUBECTL_WEBSOCKET_EXEC_BY_DEFAULT)
            .then_some(("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "true"));
        let env = [
            ("KUBECONFIG", kubeconfig_text.as_str()),
            (var(&setting::NAMESPACE), NAMESPACE),
            (var(&setting::KUBE_CONTEXT), KUBE_CONTEXT),
            (var(&setting::HOST), circleci_url.as_str()),
            (var(&setting::CA_BUNDLE), ca_bundle_text.as_str()),
            (var(&setting::TOKEN), SIM_TOKEN),
            (var(&setting::PROJECT), SIM_PROJECT),
            (var(&setting::CLOUD_PROVIDER), self.cloud_provider()),
            (var(&setting::RUNNER_RESOURCE_CLASS), SIM_RUNNER_RESOURCE_CLASS),
        ]
        .iter()
        .chain(nomad_address.iter())
        .chain(websocket_exec.iter())
        .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
        .collect::<String>();
        std::fs::write(&path, env)?;
        Ok(EnvFiles { kubeconfig, ca_bundle, token_file })
    }

    /// The settings that point realitycheck at this simulation, as flags give them: its API
    /// (trusting its CA) with its token file and project, its cloud provider, its cluster
    /// through the kubeconfig, context and namespace `files` name, its runner's class, the
    /// Nomad servers' API when they run outside the cluster (not its CA: realitycheck reads it
    /// from Secret nomad-mtls), and the capacity thresholds of an installation that runs
    /// [`SPEED`](crate::execution::timing::SPEED) times faster than a real one ([`CAPACITY_MAX_WAIT_P95`],
    /// [`CAPACITY_AUTOSCALER_REACTION`]). The one way a run is pointed at a simulation: `demo`
    /// passes them as its flags, [`Self::target`] loads them.
    pub fn flags(&self, files: &EnvFiles) -> Flags {
        let path = |path: &Path| path.display().to_string();
        let flags = Flags::default()
            .with(&setting::HOST, self.circleci_url())
            .with(&setting::TOKEN_FILE, path(&files.token_file))
            .with(&setting::CA_BUNDLE, path(&files.ca_bundle))
            .with(&setting::PROJECT, SIM_PROJECT)
            .with(&setting::CLOUD_PROVIDER, self.cloud_provider())
            .with(&setting::KUBECONFIG, path(&files.kubeconfig))
            .with(&setting::KUBE_CONTEXT, KUBE_CONTEXT)
            .with(&setting::NAMESPACE, NAMESPACE)
            .with(&setting::RUNNER_RESOURCE_CLASS, SIM_RUNNER_RESOURCE_CLASS)
            .with(&setting::MAX_WAIT_P95, CAPACITY_MAX_WAIT_P95)
            .with(&setting::AUTOSCALER_REACTION, CAPACITY_AUTOSCALER_REACTION);
        match self.nomad_url() {
            Some(url) => flags.with(&setting::NOMAD_ADDRESS, url),
            None => flags,
        }
    }

    /// This simulation as the target `name`: [`Self::flags`] of [`Self::files`] loaded as
    /// `run` loads them, with no environment and no configuration file, every other setting
    /// at its default.
    pub fn target(&self, name: &str) -> Target {
        let files = self.files();
        let cwd = files.token_file.parent().unwrap_or(Path::new("/"));
        let request = LoadRequest { config_flag: None, var: &|_| None, cwd, flags: self.flags(files) };
        let config = Config::load(&request).unwrap_or_else(|e| panic!("the simulation's settings load: {e}"));
        let mut target =
            config.settings().unwrap_or_else(|e| panic!("the simulation's settings are valid: {e}")).target;
        target.name = name.to_string();
        target
    }

    /// Stops accepting connections and waits for the servers to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        match self.serving.await {
            Ok(Ok(())) => tracing::debug!("simulation stopped"),
            Ok(Err(error)) => tracing::debug!(%error, "simulation stopped with an error"),
            Err(error) => tracing::debug!(%error, "simulation task failed"),
        }
    }
}

/// A single-quoted YAML scalar.
fn yaml_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A single-quoted POSIX shell word.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_env_writes_exports_and_a_kubeconfig_beside_them() {
        let sim = SimServer::start(Scenario::Healthy, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        assert_eq!(sim.kube_url(), format!("http://127.0.0.1:{}", sim.local_addr().port()));
        let dir = tempfile::tempdir().unwrap();
        let env_path = dir.path().join("env.sh");
        let EnvFiles { kubeconfig, ca_bundle, token_file } = sim.write_env(&env_path).unwrap();
        assert_eq!(std::fs::read_to_string(token_file).unwrap(), SIM_TOKEN);
        assert_eq!(kubeconfig, dir.path().join("env.sh.kubeconfig"));
        assert_eq!(ca_bundle, dir.path().join("env.sh.ca.pem"));
        let yaml = std::fs::read_to_string(&kubeconfig).unwrap();
        assert_eq!(yaml, sim.kubeconfig_yaml());
        assert!(yaml.contains(&format!("server: '{}'", sim.kube_url())));
        assert!(yaml.contains("current-context: 'realitycheck-sim'"));
        assert!(yaml.contains("namespace: 'circleci-server'"));
        assert_eq!(
            std::fs::read_to_string(&env_path).unwrap(),
            format!(
                "export KUBECONFIG='{}'\n\
                 export REALITYCHECK_NAMESPACE='circleci-server'\n\
                 export REALITYCHECK_KUBE_CONTEXT='realitycheck-sim'\n\
                 export CIRCLE_HOSTNAME='{}'\n\
                 export REALITYCHECK_CA_BUNDLE='{}'\n\
                 export CIRCLE_TOKEN='realitycheck-sim-circle-token'\n\
                 export REALITYCHECK_PROJECT='gh/realitycheck-sim/realitycheck'\n\
                 export CIRCLE_CLOUD_PROVIDER='aws'\n\
                 export REALITYCHECK_RUNNER_RESOURCE_CLASS='realitycheck-sim/linux-runner'\n",
                kubeconfig.display(),
                sim.circleci_url(),
                ca_bundle.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&ca_bundle).unwrap(), sim.ca_pem());
        assert!(sim.write_env(Path::new("/")).is_err());
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn the_circleci_api_listens_over_https_on_its_own_port_of_the_same_ip() {
        let sim =
            SimServer::start_with(Scenario::ApiSlow, SocketAddr::from(([127, 0, 0, 1], 0)), SimOptions::default())
                .await
                .unwrap();
        assert!(sim.circleci_url().starts_with("https://127.0.0.1:"), "{}", sim.circleci_url());
        assert_ne!(sim.circleci_url(), sim.kube_url());
        assert_eq!(sim.circleci_state().behaviour(), &ApiBehaviour::default());
        let untrusting = reqwest::Client::new().get(format!("{}/api/v2/me", sim.circleci_url())).send().await;
        assert!(untrusting.unwrap_err().is_connect(), "a client without the CA must refuse the certificate");
        let ca = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap();
        let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
        let me = client.get(format!("{}/api/v2/me", sim.circleci_url())).header("Circle-Token", SIM_TOKEN);
        let me: serde_json::Value = me.send().await.unwrap().json().await.unwrap();
        assert_eq!(me["login"], "realitycheck-bot");
        let kube_version = client.get(format!("{}/version", sim.kube_url())).send().await.unwrap();
        assert!(kube_version.status().is_success());
        assert!(sim.circleci_state().context_variable_value("org-global", "CONTEXT_END_TO_END_TEST_VAR").is_some());
        assert!(!format!("{sim:?}").contains(SIM_TOKEN), "Debug leaks the token");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn scenarios_set_the_api_behaviour_and_the_cloud() {
        let sim = SimServer::start(Scenario::ApiFlaky, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        assert_eq!(sim.circleci_state().behaviour(), &ApiBehaviour::for_scenario(Scenario::ApiFlaky));
        assert_eq!(sim.cloud_provider(), "aws");
        sim.shutdown().await;
        let sim = SimServer::start(Scenario::CloudProviderOther, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        assert_eq!(sim.cloud_provider(), "other");
        let dir = tempfile::tempdir().unwrap();
        sim.write_env(&dir.path().join("env.sh")).unwrap();
        let env = std::fs::read_to_string(dir.path().join("env.sh")).unwrap();
        assert!(env.contains("export CIRCLE_CLOUD_PROVIDER='other'\n"), "{env}");
        sim.shutdown().await;
        let on = |scenario: Scenario, cloud: CloudProvider| SimOptions {
            cloud_provider: cloud,
            ..SimOptions::for_scenario(scenario)
        };
        let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
        let gcp = SimServer::start_with(Scenario::Healthy, localhost, on(Scenario::Healthy, CloudProvider::Gcp))
            .await
            .unwrap();
        assert_eq!(gcp.cloud_provider(), "gcp");
        let account = gcp.installation().service_account("machine-provisioner").unwrap();
        assert!(account.metadata.annotations.unwrap().contains_key("iam.gke.io/gcp-service-account"));
        gcp.shutdown().await;
        let forced = on(Scenario::CloudProviderOther, CloudProvider::Gcp);
        let other = SimServer::start_with(Scenario::CloudProviderOther, localhost, forced).await.unwrap();
        assert_eq!(other.cloud_provider(), "other", "the scenario forces other");
        other.shutdown().await;
        assert_eq!(SimOptions::for_scenario(Scenario::ApiSlow).api, ApiBehaviour::for_scenario(Scenario::ApiSlow));
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("/tmp/it's here"), r"'/tmp/it'\''s here'");
        assert_eq!(yaml_quote("it's"), "'it''s'");
    }

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    async fn start_on(scenario: Scenario, server_version: ServerVersion, nomad_servers: NomadServers) -> SimServer {
        let options = SimOptions { deployment: Deployment { server_version, nomad_servers }, ..SimOptions::default() };
        SimServer::start_with(scenario, loopback(), options).await.unwrap()
    }

    /// ca.pem of Secret nomad-mtls, as realitycheck reads it (base64 once more than Kubernetes asks).
    fn mtls_ca(sim: &SimServer) -> reqwest::Certificate {
        use base64::Engine;
        let secret = sim.secrets().iter().find(|secret| secret.name == crate::mtls::MTLS_SECRET).unwrap();
        let pem = base64::engine::general_purpose::STANDARD.decode(&secret.data["ca.pem"]).unwrap();
        reqwest::Certificate::from_pem(&pem).unwrap()
    }

    /// A client that trusts only the mTLS Secret's CA and reaches the Nomad API as
    /// `server.global.nomad`, as the nomad CLI does with `NOMAD_TLS_SERVER_NAME`.
    fn nomad_client(sim: &SimServer) -> (reqwest::Client, String) {
        let url = url::Url::parse(&sim.nomad_url().unwrap()).unwrap();
        let addr = SocketAddr::new(url.host_str().unwrap().parse().unwrap(), url.port().unwrap());
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(mtls_ca(sim))
            .resolve("server.global.nomad", addr)
            .build()
            .unwrap();
        (client, format!("{}://server.global.nomad:{}", url.scheme(), addr.port()))
    }

    #[tokio::test]
    async fn external_nomad_servers_serve_https_signed_by_the_mtls_secrets_ca() {
        for version in [ServerVersion::V4_9, ServerVersion::V4_10] {
            let sim = start_on(Scenario::Healthy, version, NomadServers::External).await;
            assert_eq!((sim.server_version(), sim.nomad_servers()), (version, NomadServers::External));
            let url = sim.nomad_url().unwrap();
            assert!(url.starts_with("https://127.0.0.1:"), "{url}");
            assert_ne!(url, sim.circleci_url());
            let (client, base) = nomad_client(&sim);
            let leader = client.get(format!("{base}/v1/status/leader")).header("X-Nomad-Token", "anything");
            let leader: String = leader.send().await.unwrap().json().await.unwrap();
            assert_eq!(leader, "10.0.1.10:4647");
            let nodes: Vec<serde_json::Value> =
                client.get(format!("{base}/v1/nodes")).send().await.unwrap().json().await.unwrap();
            let node = client.get(format!("{base}/v1/node/{}", nodes[0]["ID"].as_str().unwrap())).send().await.unwrap();
            assert_eq!(node.status(), reqwest::StatusCode::OK);
            let agent: serde_json::Value =
                client.get(format!("{base}/v1/agent/self")).send().await.unwrap().json().await.unwrap();
            let servers = if version == ServerVersion::V4_10 { "1.11.3" } else { "1.7.7" };
            assert_eq!(agent["config"]["Version"]["Version"], servers);

            let untrusting = reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap())
                .build()
                .unwrap();
            let refused = untrusting.get(format!("{url}/v1/status/leader")).send().await;
            assert!(refused.unwrap_err().is_connect(), "the CircleCI API's CA does not sign the Nomad servers");
            sim.shutdown().await;
        }
    }

    #[tokio::test]
    async fn external_nomad_servers_of_4_8_serve_plain_http() {
        let sim = start_on(Scenario::Healthy, ServerVersion::V4_8, NomadServers::External).await;
        let url = sim.nomad_url().unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let members: serde_json::Value =
            reqwest::get(format!("{url}/v1/agent/members")).await.unwrap().json().await.unwrap();
        assert_eq!(members["Members"].as_array().unwrap().len(), 3);
        assert_eq!(members["Members"][0]["Tags"]["build"], "1.7.7");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn the_ca_mismatch_and_unreachable_scenarios_break_only_the_way_to_the_nomad_api() {
        let mismatch = SimServer::start(Scenario::NomadExternalCaMismatch, loopback()).await.unwrap();
        assert_eq!(
            (mismatch.server_version(), mismatch.nomad_servers()),
            (ServerVersion::V4_10, NomadServers::External)
        );
        let (client, base) = nomad_client(&mismatch);
        let refused = client.get(format!("{base}/v1/status/leader")).send().await.unwrap_err();
        assert!(refused.is_connect(), "{refused:?}");
        let unverified = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
        let leader =
            unverified.get(format!("{}/v1/status/leader", mismatch.nomad_url().unwrap())).send().await.unwrap();
        assert_eq!(leader.status(), reqwest::StatusCode::OK, "the servers themselves answer");
        mismatch.shutdown().await;

        let unreachable = SimServer::start(Scenario::NomadExternalUnreachable, loopback()).await.unwrap();
        let url = unreachable.nomad_url().unwrap();
        let refused = reqwest::get(format!("{url}/v1/status/leader")).await.unwrap_err();
        assert!(refused.is_connect(), "{refused:?}");
        unreachable.shutdown().await;
    }

    #[tokio::test]
    async fn external_servers_are_pointed_at_through_nomad_addr_but_not_their_ca() {
        let sim = start_on(Scenario::Healthy, ServerVersion::V4_10, NomadServers::External).await;
        let url = sim.nomad_url().unwrap();
        let flags = sim.flags(sim.files());
        assert_eq!(flags.get(&setting::NOMAD_ADDRESS), Some(url.as_str()));
        assert_eq!(flags.get(&setting::NOMAD_CA_CERT), None, "realitycheck reads the CA from Secret nomad-mtls");
        let target = sim.target("sim");
        assert_eq!(target.nomad.address.map(|address| address.to_string()), Some(format!("{url}/")));
        let dir = tempfile::tempdir().unwrap();
        sim.write_env(&dir.path().join("env.sh")).unwrap();
        let env = std::fs::read_to_string(dir.path().join("env.sh")).unwrap();
        assert!(env.ends_with(&format!("export NOMAD_ADDR='{url}'\n")), "{env}");
        sim.shutdown().await;

        let internal = SimServer::start(Scenario::Healthy, loopback()).await.unwrap();
        assert_eq!(
            (internal.server_version(), internal.nomad_servers()),
            (ServerVersion::V4_10, NomadServers::Internal)
        );
        assert_eq!(internal.nomad_url(), None);
        assert_eq!(internal.flags(internal.files()).get(&setting::NOMAD_ADDRESS), None);
        internal.shutdown().await;
    }

    #[tokio::test]
    async fn the_capacity_thresholds_are_the_defaults_at_the_simulations_speed() {
        use std::time::Duration;

        use crate::execution::fleet::{BOOT, COOLDOWN, EVALUATION};
        use crate::execution::timing::scaled;

        let sim = SimServer::start(Scenario::CapacityHealthy, loopback()).await.unwrap();
        let flags = sim.flags(sim.files());
        assert_eq!(flags.get(&setting::MAX_WAIT_P95), Some("3s"));
        let capacity = sim.target("sim").capacity;
        assert_eq!(capacity.max_wait_p95, scaled(Duration::from_secs(180)), "the default 3m");
        assert_eq!(capacity.autoscaler_reaction, scaled(Duration::from_secs(240)), "the default 4m");
        assert_eq!(capacity.autoscaler_reaction, EVALUATION + COOLDOWN + BOOT);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_deployment_that_does_not_suit_the_scenario_is_refused() {
        let options = |server_version, nomad_servers| SimOptions {
            deployment: Deployment { server_version, nomad_servers },
            ..SimOptions::default()
        };
        let old =
            SimServer::start_with(Scenario::Healthy, loopback(), options(ServerVersion::V4_4, NomadServers::External));
        let error = old.await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("4.8 or later"), "{error}");
        let gossip = options(ServerVersion::V4_10, NomadServers::External);
        assert!(SimServer::start_with(Scenario::GossipKeyInvalid, loopback(), gossip).await.is_err());
        let plain = options(ServerVersion::V4_8, NomadServers::External);
        assert!(SimServer::start_with(Scenario::NomadExternalCaMismatch, loopback(), plain).await.is_err());
    }
}
