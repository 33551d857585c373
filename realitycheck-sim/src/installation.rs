//! The state of one simulated installation: the release's pods and StatefulSets, the Nomad
//! cluster (its servers in the cluster or outside it), the Kubernetes release, Velero's backups,
//! the cloud it runs on (which decides whether the machine provisioner can start VMs) and the
//! self-hosted runners registered with it, built from a [`Scenario`] on a [`Deployment`] (the
//! server version and where its Nomad servers run) as that version's healthy baseline plus the
//! scenario's fault; the `upgrade-*` scenarios start from the state an installation should be
//! in before upgrading to the next minor. The execution plane ([`crate::execution`]) decides
//! from it where jobs run.

use std::net::Ipv4Addr;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::kube::ApiResource;
use crate::mtls::{HttpsIssuer, MtlsFault, MtlsFor, ServerCertificate, nomad_mtls};
use crate::nomad::{
    ClientSize, DockerDriver, EXTERNAL_SERVER_HOSTNAME, Eligibility, MemberStatus, NomadClient, NomadState,
    external_servers,
};
use crate::oidc::OidcService;
use crate::pods::{AUTOSCALER, PodHealth, ReleasePod, release_pods, release_statefulsets};
use crate::project::executor::docker_class_size;
use crate::scenario::Scenario;
use crate::secrets::{
    GOSSIP_SECRET, Revision, SimSecret, autoscaler_secret, by_hand, failed_upgrade_history, gossip_key,
    healthy_history, helm_release_secrets, history_of, pending_upgrade_history, user_values, with_obsolete_values,
};
use crate::statefulsets::ReleaseStatefulSet;
use crate::velero::Velero;
use crate::version::{Deployment, KubernetesVersion, MongoDb, NomadServers, UnsupportedDeployment};
use crate::{SIM_RUNNER_RESOURCE_CLASS, SIM_TOKEN, ids};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use realitycheck_project::CloudProvider;

/// The error every VM start of the `machine-provisioner-broken` scenario ends with, as the
/// machine provisioner logs an AWS SDK error.
pub const MACHINE_PROVISIONING_ERROR: &str = "failed to provision the VM: operation error EC2: RunInstances, \
     https response error StatusCode: 403, api error UnauthorizedOperation: You are not authorized to perform this \
     operation. User: arn:aws:sts::123456789012:assumed-role/circleci-server-machine-provisioner is not authorized \
     to perform: ec2:RunInstances";

/// The error every VM start of the `machine-provisioner-forbidden` scenario ends with: STS
/// refuses the machine provisioner's web identity, as the AWS SDK reports it.
pub const MACHINE_PROVISIONER_TRUST_ERROR: &str = "failed to provision the VM: operation error EC2: RunInstances, \
     get identity: get credentials: failed to refresh cached credentials, failed to retrieve credentials, operation \
     error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403, RequestID: \
     5f1c2b7e-8d4a-4c3e-9a61-2b7f0e9d4c11, api error AccessDenied: Not authorized to perform \
     sts:AssumeRoleWithWebIdentity";

/// Where an installation built without a server ([`Installation::deployed`]) says its API (and
/// OIDC issuer) is: a reserved domain (RFC 2606), where nothing listens.
pub const UNSERVED_API_URL: &str = "https://circleci.realitycheck-sim.invalid";

/// What the machine provisioner answers a job that asks for Docker layer caching when it does not
/// grant it (`dlc-not-granted`): the machine job's VM spin-up, or the remote docker job's
/// `setup_remote_docker`, fails with it.
pub const DLC_REFUSAL: &str = "Error: Docker layer caching was requested, but the machine provisioner could not \
     attach a layer cache volume: DLC is not enabled for this installation";

/// What git prints when GitHub refuses the project's checkout key (`checkout-key-missing`).
pub const CHECKOUT_REFUSAL: &str = "Warning: Permanently added 'github.com' (ED25519) to the list of known hosts.\n\
     git@github.com: Permission denied (publickey).\n\
     fatal: Could not read from remote repository.\n\
     \n\
     Please make sure you have the correct access rights\n\
     and the repository exists.\n\
     \n\
     exit status 128";

/// A self-hosted runner (machine runner 3) registered with the installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// `namespace/name`.
    pub resource_class: String,
    pub hostname: String,
    pub name: String,
    pub version: String,
    pub ip: Ipv4Addr,
    pub first_connected: Timestamp,
}

/// The Nomad autoscaler, as the release's `nomad.auto_scaler` values configure it and the cloud
/// lets it scale the client group ([`crate::execution::fleet`] runs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autoscaler {
    /// `nomad.auto_scaler.enabled`.
    pub enabled: bool,
    /// `nomad.auto_scaler.scaling.min` and `.max`: the clients it keeps the group within.
    pub min: u32,
    pub max: u32,
    /// The cloud group's own maximum size, when it is below `max`: the cloud refuses every
    /// scale-out above it.
    pub group_max_size: Option<u32>,
}

impl Default for Autoscaler {
    /// Enabled, with the chart's bounds (min 1, max 5) and a group that lets it reach them.
    fn default() -> Self {
        Self { enabled: true, min: 1, max: 5, group_max_size: None }
    }
}

/// The Nomad servers outside the cluster, as realitycheck reaches their HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalNomad {
    /// `nomad.server.serverHostname`, in their certificates.
    pub hostname: &'static str,
    /// The certificate they serve HTTPS with; `None` when they serve plain HTTP (4.8).
    pub https: Option<ServerCertificate>,
    /// Whether anything listens at the address realitycheck is given.
    pub reachable: bool,
}

impl ExternalNomad {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https.is_some() { "https" } else { "http" }
    }
}

/// Everything the simulated Kubernetes API, the in-pod `nomad` CLI, the Nomad servers' HTTP API
/// and the execution plane answer from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub scenario: Scenario,
    pub deployment: Deployment,
    /// When the simulation started; object timestamps are fixed relative to it.
    pub started_at: Timestamp,
    /// The Kubernetes release the cluster runs.
    pub kubernetes: KubernetesVersion,
    /// The pods of the release, all in [`crate::NAMESPACE`].
    pub pods: Vec<ReleasePod>,
    /// The StatefulSets of the release, which run some of [`Self::pods`].
    pub statefulsets: Vec<ReleaseStatefulSet>,
    /// Velero and its backups, when it is installed (the `velero.io` API group exists).
    pub velero: Option<Velero>,
    /// The resources RBAC refuses the caller every verb on (Secrets in `secrets-forbidden`).
    pub refused: Vec<ApiResource>,
    pub nomad: NomadState,
    /// The Nomad autoscaler of the client group.
    pub autoscaler: Autoscaler,
    /// The Nomad servers outside the cluster, when they run there.
    pub external_nomad: Option<ExternalNomad>,
    pub cloud_provider: CloudProvider,
    /// Why every VM the machine provisioner starts fails, if it does.
    pub machine_provisioning_failure: Option<String>,
    /// Whether the machine provisioner attaches a Docker layer cache volume to a job that asks
    /// for one (not in `dlc-not-granted`).
    pub grants_docker_layer_caching: bool,
    /// Whether the `circleci` CLI in jobs' images has `env subst` (not in `env-subst-missing`).
    pub circleci_cli_has_env_subst: bool,
    pub runners: Vec<Runner>,
    /// The Secrets of the namespace (the Helm release records).
    pub secrets: Vec<SimSecret>,
    /// When the CircleCI API's TLS certificate expires, when a scenario sets it (else a year on).
    pub tls_expires_at: Option<Timestamp>,
    /// What the VCS answers every `checkout` step, when it refuses the project's checkout key.
    pub checkout_refusal: Option<String>,
    /// Whether the token's user follows the realitycheck project.
    pub project_followed: bool,
    /// A docker resource class the docker provisioner runs on another (asked, given).
    pub docker_class_substitute: Option<(String, String)>,
    /// Whether the output processor drops skipped test cases.
    pub drops_skipped_tests: bool,
    /// Whether the object storage returns only the first half of each artifact.
    pub truncates_artifacts: bool,
    /// The error config processing ends every pipeline with, if it does.
    pub config_error: Option<String>,
    /// Whether the workflow conductor starts no workflow of a created pipeline.
    pub starts_no_workflows: bool,
    /// The OIDC service, which the release enables (`oidc_service`): its issuer and keys.
    pub oidc: OidcService,
}

impl Installation {
    /// `scenario` on its default deployment ([`Deployment::for_scenario`]).
    pub fn new(scenario: Scenario, started_at: Timestamp) -> Self {
        Self::deployed(scenario, Deployment::for_scenario(scenario), started_at)
            .expect("a scenario's default deployment suits it")
    }

    /// `scenario` on `deployment` on AWS, or why the simulation cannot make them together; its
    /// API (and so its OIDC issuer) is said to be at [`UNSERVED_API_URL`], where nothing listens.
    pub fn deployed(
        scenario: Scenario,
        deployment: Deployment,
        started_at: Timestamp,
    ) -> Result<Self, UnsupportedDeployment> {
        Self::deployed_at(scenario, deployment, CloudProvider::Aws, started_at, UNSERVED_API_URL)
    }

    /// `scenario` on `deployment` on `cloud` (the machine provisioner's cloud; `cloud-provider-other`
    /// makes it other whatever `cloud` says), its CircleCI API served at `api_url` (e.g.
    /// `https://127.0.0.1:41235`), which is also its OIDC issuer (`oidc_service.base_url`); or why
    /// the simulation cannot make them together.
    pub fn deployed_at(
        scenario: Scenario,
        deployment: Deployment,
        cloud: CloudProvider,
        started_at: Timestamp,
        api_url: &str,
    ) -> Result<Self, UnsupportedDeployment> {
        deployment.check(scenario)?;
        let version = deployment.server_version;
        let mut pods = release_pods(deployment);
        let (nomad, mtls_for) = match deployment.nomad_servers {
            NomadServers::Internal => {
                let servers: Vec<(String, Ipv4Addr)> =
                    pods.iter().filter(|pod| pod.has_nomad_cli).map(|pod| (pod.name.clone(), pod.pod_ip)).collect();
                (
                    NomadState::healthy_cluster(&servers, version.nomad_server_version(), started_at),
                    MtlsFor::InClusterServers,
                )
            }
            NomadServers::External => {
                let mut nomad = NomadState::healthy_cluster(
                    &external_servers(),
                    version.external_nomad_server_version(),
                    started_at,
                );
                let scheme = if version.external_nomad_https() { "https" } else { "http" };
                nomad.address = format!("{scheme}://{EXTERNAL_SERVER_HOSTNAME}:4646");
                nomad.gossip_keys.clear();
                let issuer = match scenario {
                    Scenario::NomadExternalCaMismatch => HttpsIssuer::AnotherCa,
                    _ => HttpsIssuer::SecretsCa,
                };
                (nomad, MtlsFor::ExternalServers { https: version.external_nomad_https().then_some(issuer) })
            }
        };
        let mtls = nomad_mtls(started_at, mtls_fault(scenario), mtls_for);
        let gossip = (deployment.nomad_servers == NomadServers::Internal)
            .then(|| by_hand(GOSSIP_SECRET.0, &[(GOSSIP_SECRET.1, gossip_key("installed").as_bytes())]));
        // The servers also get the key as a value of their environment, as an `extraEnvs` of
        // the values can set it: the evidence bundle must never carry a pod's environment.
        if gossip.is_some() {
            for pod in pods.iter_mut().filter(|pod| pod.label("app") == Some("nomad-server")) {
                pod.env.push(("NOMAD_GOSSIP_KEY".to_owned(), gossip_key("installed")));
            }
        }
        let external_nomad = (deployment.nomad_servers == NomadServers::External).then(|| ExternalNomad {
            hostname: EXTERNAL_SERVER_HOSTNAME,
            https: mtls.https.clone(),
            reachable: true,
        });
        let mut installation = Self {
            scenario,
            deployment,
            started_at,
            kubernetes: version.kubernetes(),
            nomad,
            autoscaler: Autoscaler::default(),
            external_nomad,
            pods,
            statefulsets: release_statefulsets(deployment),
            velero: Some(Velero::healthy()),
            refused: refused_by_rbac(scenario),
            cloud_provider: cloud,
            machine_provisioning_failure: None,
            grants_docker_layer_caching: true,
            circleci_cli_has_env_subst: true,
            runners: vec![healthy_runner(started_at)],
            secrets: [gossip.into_iter().collect(), vec![mtls.secret, autoscaler_secret(cloud)]].concat(),
            tls_expires_at: None,
            checkout_refusal: None,
            project_followed: true,
            docker_class_substitute: None,
            drops_skipped_tests: false,
            truncates_artifacts: false,
            config_error: None,
            starts_no_workflows: false,
            oidc: OidcService::for_scenario(scenario, api_url),
        };
        installation.record_release(&healthy_history(version), &user_values(deployment, &Autoscaler::default()));
        installation.apply_fault();
        Ok(installation)
    }

    /// The docker resource class a job that asks for `asked` runs on.
    pub fn docker_class_run_on<'a>(&'a self, asked: &'a str) -> &'a str {
        match &self.docker_class_substitute {
            Some((from, to)) if from == asked => to,
            _ => asked,
        }
    }

    /// The pod called `name`, if the release has one.
    pub fn pod(&self, name: &str) -> Option<&ReleasePod> {
        self.pods.iter().find(|pod| pod.name == name)
    }

    /// Why Nomad cannot place a docker job, if it cannot: no server leads, or no client is ready,
    /// eligible, not draining, with a docker driver that is not unhealthy.
    pub fn why_nomad_cannot_run_docker_jobs(&self) -> Option<&'static str> {
        if self.nomad.leader().is_none() {
            return Some("the Nomad servers have no leader: fewer than a quorum of them are alive");
        }
        let placeable = self.nomad.clients.iter().any(NomadClient::takes_docker_jobs);
        (!placeable).then_some("no Nomad client is ready, eligible and has a healthy docker driver")
    }

    /// Why no Nomad client that takes docker jobs can hold a container of docker resource class
    /// `class`, if none can (nor a client the autoscaler adds: they have the same size).
    pub fn why_no_client_holds(&self, class: &str) -> Option<String> {
        let size = docker_class_size(class);
        let clients: Vec<&NomadClient> =
            self.nomad.clients.iter().filter(|client| client.takes_docker_jobs()).collect();
        let holds = |client: &&NomadClient| {
            size.cpus <= client.size.cpus && size.memory_mib <= client.size.schedulable_memory_mib()
        };
        let largest = clients.iter().max_by_key(|client| (client.size.cpus, client.size.schedulable_memory_mib()))?;
        (!clients.iter().any(holds)).then(|| {
            format!(
                "no Nomad client can hold resource class {class} ({} vCPU, {} MiB): the largest, {}, has {} vCPU and \
                 {} MiB for jobs",
                size.cpus,
                size.memory_mib,
                largest.size.instance_type,
                largest.size.cpus,
                largest.size.schedulable_memory_mib()
            )
        })
    }

    /// Whether the machine provisioner takes work: the pods of its deployments
    /// (`machine-provisioner-*`) exist and are all Running and Ready.
    pub fn machine_provisioner_ready(&self) -> bool {
        let mut provisioners = self.pods.iter().filter(|pod| pod.is_of("machine-provisioner")).peekable();
        provisioners.peek().is_some() && provisioners.all(|pod| pod.health == PodHealth::Ready)
    }

    /// Whether RBAC refuses the caller `resource`.
    pub fn refuses(&self, resource: ApiResource) -> bool {
        self.refused.contains(&resource)
    }

    /// The StatefulSet `name` of the release, if it has one.
    pub fn statefulset(&self, name: &str) -> Option<&ReleaseStatefulSet> {
        self.statefulsets.iter().find(|statefulset| statefulset.name == name)
    }

    /// The ServiceAccount `name`, when a pod runs as it; the machine provisioner's is bound to
    /// the cloud role it starts VMs with (IRSA on AWS, Workload Identity on GCP).
    pub fn service_account(&self, name: &str) -> Option<ServiceAccount> {
        self.pods.iter().find(|pod| pod.service_account() == name)?;
        let annotation = match (name, self.cloud_provider) {
            ("machine-provisioner", CloudProvider::Aws) => Some((
                "eks.amazonaws.com/role-arn",
                "arn:aws:iam::123456789012:role/circleci-server-machine-provisioner",
            )),
            ("machine-provisioner", CloudProvider::Gcp) => {
                Some(("iam.gke.io/gcp-service-account", "machine-provisioner@realitycheck-sim.iam.gserviceaccount.com"))
            }
            _ => None,
        };
        Some(ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(crate::NAMESPACE.to_owned()),
                uid: Some(ids::uuid(&format!("serviceaccount/{name}"))),
                annotations: annotation.map(|(key, value)| [(key.to_owned(), value.to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        })
    }

    /// The Secret `name` of the namespace.
    pub fn secret(&self, name: &str) -> Option<&SimSecret> {
        self.secrets.iter().find(|secret| secret.name == name)
    }

    /// The runners registered for `resource_class`.
    pub fn runners_of(&self, resource_class: &str) -> impl Iterator<Item = &Runner> {
        self.runners.iter().filter(move |runner| runner.resource_class == resource_class)
    }

    fn apply_fault(&mut self) {
        match self.scenario {
            Scenario::Healthy => {}
            Scenario::NoNomadClients => self.nomad.clients.clear(),
            Scenario::NomadClientsDraining => {
                let drain_started_at = self.started_at - SignedDuration::from_mins(14);
                for (index, client) in self.nomad.clients.iter_mut().enumerate() {
                    client.eligibility = Eligibility::Ineligible;
                    client.modify_index += 40;
                    if index == 0 {
                        client.drain_started_at = Some(drain_started_at);
                    }
                }
            }
            Scenario::NomadDockerUnhealthy => {
                for client in &mut self.nomad.clients {
                    client.docker =
                        DockerDriver::Unhealthy { description: "Failed to connect to docker daemon".to_owned() };
                }
            }
            Scenario::NomadExecBroken => {
                self.nomad.api_failure = Some("x509: certificate signed by unknown authority".to_owned());
            }
            Scenario::PodsNotReady => {
                self.set_health("frontend", PodHealth::CrashLoopBackOff { restarts: 7 });
                self.set_health("machine-provisioner-provisioner", PodHealth::NotReady);
            }
            Scenario::MachineProvisionerBroken => self.fail_machine_provisioning(MACHINE_PROVISIONING_ERROR),
            Scenario::MachineProvisionerForbidden => self.fail_machine_provisioning(MACHINE_PROVISIONER_TRUST_ERROR),
            Scenario::RunnerMissing => self.runners.clear(),
            Scenario::CheckoutKeyMissing => self.checkout_refusal = Some(CHECKOUT_REFUSAL.to_owned()),
            Scenario::ProjectNotFollowed => self.project_followed = false,
            Scenario::ResourceClassMismatch => {
                self.docker_class_substitute = Some(("medium".to_owned(), "large".to_owned()));
            }
            Scenario::TestResultDropped => self.drops_skipped_tests = true,
            Scenario::ArtifactCorrupted => self.truncates_artifacts = true,
            Scenario::NoWorkflows => self.starts_no_workflows = true,
            Scenario::PipelineConfigError => {
                self.config_error = Some(
                    "Unable to fetch the config from GitHub: the VCS answered 502 Bad Gateway while reading .circleci/config.yml"
                        .to_owned(),
                );
            }
            Scenario::TlsExpiring => {
                self.tls_expires_at = Some(self.started_at + SignedDuration::from_hours(12 * 24 + 6));
            }
            Scenario::CloudProviderOther => self.cloud_provider = CloudProvider::Other,
            Scenario::DlcNotGranted => self.grants_docker_layer_caching = false,
            Scenario::EnvSubstMissing => self.circleci_cli_has_env_subst = false,
            // Refused by the Kubernetes API (`secrets_forbidden`), or made into the mTLS material
            // with the installation (`mtls_fault`, and the other CA of the servers' certificate).
            Scenario::SecretsForbidden
            | Scenario::MtlsExpiring
            | Scenario::MtlsKeyMismatch
            | Scenario::MtlsWrongCa
            | Scenario::MtlsSwapped
            | Scenario::NomadExternalCaMismatch => {}
            Scenario::GossipKeyInvalid => self.set_gossip_secret(b"changeme"),
            Scenario::AutoscalerForbidden => {
                let refused = "level=error msg=\"scaling policy check failed\" error=\"operation error Auto Scaling: DescribeInstanceRefreshes, https response error StatusCode: 403, api error AccessDenied: User: arn:aws:sts::123456789012:assumed-role/circleci-server-nomad-autoscaler is not authorized to perform: autoscaling:DescribeInstanceRefreshes\"";
                for pod in self.pods.iter_mut().filter(|pod| pod.is_of(AUTOSCALER)) {
                    pod.logged.push(refused.to_owned());
                }
            }
            Scenario::NomadPodmanClients => {
                for client in &mut self.nomad.clients {
                    client.docker = DockerDriver::Absent;
                    client.cgroups_version = 2;
                }
            }
            Scenario::NomadVersionSkew => {
                let servers = self.nomad.servers[0].version;
                self.nomad.clients[1].version = servers.next_minor();
                self.nomad.clients[1].modify_index += 12;
            }
            Scenario::GossipKeyNotRolledOut => self.set_gossip_secret(gossip_key("rotated").as_bytes()),
            Scenario::HelmUpgradeFailed => {
                let history = failed_upgrade_history(self.deployment.server_version);
                self.record_release(&history, &user_values(self.deployment, &self.autoscaler));
            }
            Scenario::NomadExternalUnreachable => {
                if let Some(external) = &mut self.external_nomad {
                    external.reachable = false;
                }
            }
            Scenario::NomadClientsDocker29 => self.nomad.clients.iter_mut().for_each(run_docker_29),
            Scenario::NomadClientsCgroupsV2 => {
                for client in &mut self.nomad.clients {
                    client.cgroups_version = 2;
                }
            }
            Scenario::NomadServersNoQuorum => {
                let alive = self.nomad.quorum() - 1;
                for (index, server) in self.nomad.servers.iter_mut().enumerate() {
                    server.leader = false;
                    if index >= alive {
                        server.status = MemberStatus::Failed;
                    }
                }
            }
            Scenario::KubernetesUnsupported => {
                self.kubernetes = self.deployment.server_version.unsupported_kubernetes()
            }
            // Faults of the CircleCI API (see `crate::circleci`): the cluster stays healthy.
            Scenario::ContextsMissing
            | Scenario::ContextValueChanged
            | Scenario::BadToken
            | Scenario::ApiFlaky
            | Scenario::ApiSlow => {}
            // Faults of the OIDC service, made with it (`OidcService::for_scenario`).
            Scenario::OidcWrongIssuer | Scenario::OidcBadSignature | Scenario::OidcDisabled => {}
            Scenario::UpgradeReady
            | Scenario::UpgradeSkipsMinor
            | Scenario::UpgradeKubernetesTooOld
            | Scenario::UpgradePendingRelease
            | Scenario::UpgradeRenamedValues
            | Scenario::UpgradeMongodbTooOld
            | Scenario::UpgradeDocker29
            | Scenario::UpgradeNoRecentBackup
            | Scenario::UpgradeForbidden => self.prepare_upgrade(),
            Scenario::CapacityHealthy => self.set_autoscaler(Autoscaler { max: 15, ..Autoscaler::default() }),
            Scenario::AutoscalerAtMax => {
                let clients = u32::try_from(self.nomad.clients.len()).unwrap_or(u32::MAX);
                self.set_autoscaler(Autoscaler { max: clients, ..Autoscaler::default() });
            }
            Scenario::AutoscalerStuck => {
                self.autoscaler.group_max_size = Some(u32::try_from(self.nomad.clients.len()).unwrap_or(u32::MAX));
            }
            Scenario::ClientsTooSmall => {
                for client in &mut self.nomad.clients {
                    client.size = ClientSize::T3A_XLARGE;
                }
            }
        }
    }

    /// The autoscaler is `autoscaler`, as the release's values say.
    fn set_autoscaler(&mut self, autoscaler: Autoscaler) {
        self.autoscaler = autoscaler;
        let history = healthy_history(self.deployment.server_version);
        self.record_release(&history, &user_values(self.deployment, &self.autoscaler));
    }

    /// The state before an upgrade to the next minor, with the scenario's fault: the version's
    /// last patch deployed, the MongoDB the next minor needs migrated to (its tag pinned in the
    /// user's values where the chart defaults to another), Tink enabled, a Completed backup 2
    /// hours old, Kubernetes within both versions' ranges, Docker 28.1.1 and cgroups v1 on the
    /// clients (the healthy baseline has these).
    fn prepare_upgrade(&mut self) {
        let version = self.deployment.server_version;
        let mut history = healthy_history(version);
        let mut mongodb = version.mongodb_for_next_minor();
        let mut values = user_values(self.deployment, &self.autoscaler);
        match self.scenario {
            Scenario::UpgradeSkipsMinor => {
                // `Deployment::check` refuses the versions without an earlier patch.
                if let Some(charts) = version.earlier_patch_history() {
                    history = history_of(charts);
                }
                mongodb = version.mongodb();
            }
            Scenario::UpgradeKubernetesTooOld => self.kubernetes = version.kubernetes_too_old_for_next_minor(),
            Scenario::UpgradePendingRelease => history = pending_upgrade_history(version),
            Scenario::UpgradeRenamedValues => values = with_obsolete_values(values),
            Scenario::UpgradeMongodbTooOld => mongodb = version.mongodb_without_migration(),
            Scenario::UpgradeDocker29 => self.nomad.clients.iter_mut().take(1).for_each(run_docker_29),
            Scenario::UpgradeNoRecentBackup => self.velero = Some(Velero::without_recent_backup()),
            _ => {}
        }
        self.set_mongodb(mongodb);
        if mongodb != version.mongodb() {
            values["mongodb"] = json!({"image": {"tag": mongodb.tag()}});
        }
        self.record_release(&history, &values);
    }

    /// The release's records are `history`, each with the user's values `config` and the OIDC
    /// service's (`oidc_service`).
    fn record_release(&mut self, history: &[Revision], config: &serde_json::Value) {
        let mut config = config.clone();
        config["oidc_service"] = self.oidc.release_values();
        self.secrets.retain(|secret| secret.label("owner") != Some("helm"));
        self.secrets.extend(helm_release_secrets(history, &config, self.started_at));
    }

    /// MongoDB's StatefulSet, and so its pods, run `mongodb`.
    fn set_mongodb(&mut self, mongodb: MongoDb) {
        let Some(statefulset) = self.statefulsets.iter_mut().find(|statefulset| statefulset.name == "mongodb") else {
            return;
        };
        if statefulset.image == mongodb.image() {
            return;
        }
        statefulset.image = mongodb.image().to_owned();
        statefulset.generation += 1;
        statefulset.resource_version += 4_000;
        for pod in self.pods.iter_mut().filter(|pod| statefulset.selects(pod)) {
            pod.image = statefulset.image.clone();
            pod.resource_version += 4_000;
        }
    }

    /// Every VM the machine provisioner starts fails with `error`, which its provisioner pods log.
    fn fail_machine_provisioning(&mut self, error: &str) {
        self.machine_provisioning_failure = Some(error.to_owned());
        let logged = format!("level=error msg=\"starting a VM failed\" error=\"{error}\"");
        // A debug line that dumps the request of the job that asked for the VM, the API
        // token of its trigger included: the evidence bundle must redact it.
        let dumped = format!("level=debug msg=\"VM requested\" request_headers=\"Circle-Token: {SIM_TOKEN}\"");
        for pod in self.pods.iter_mut().filter(|pod| pod.label("app") == Some("machine-provisioner-provisioner")) {
            pod.logged.push(logged.clone());
            pod.logged.push(dumped.clone());
        }
    }

    /// The gossip key Secret holds `value`; the servers keep the key they started with.
    fn set_gossip_secret(&mut self, value: &[u8]) {
        self.secrets.retain(|secret| secret.name != GOSSIP_SECRET.0);
        let mut secret = by_hand(GOSSIP_SECRET.0, &[(GOSSIP_SECRET.1, value)]);
        secret.resource_version += 900;
        self.secrets.insert(0, secret);
    }

    fn set_health(&mut self, app: &str, health: PodHealth) {
        for pod in &mut self.pods {
            if pod.label("app") == Some(app) {
                pod.health = health;
                pod.resource_version += 5_000;
            }
        }
    }
}

/// The resources RBAC refuses the caller in `scenario`: a scenario of a refusal names its
/// resource here (`ApiResource::STATEFULSETS`, `ApiResource::BACKUPS` are refused the same way).
fn refused_by_rbac(scenario: Scenario) -> Vec<ApiResource> {
    match scenario {
        Scenario::SecretsForbidden => vec![ApiResource::SECRETS],
        Scenario::UpgradeForbidden => vec![ApiResource::STATEFULSETS, ApiResource::BACKUPS],
        _ => Vec::new(),
    }
}

/// `client` runs Docker 29.0.1 (`driver.docker.version`), which its node's modify index records.
fn run_docker_29(client: &mut NomadClient) {
    client.docker = DockerDriver::Healthy { version: "29.0.1".to_owned() };
    client.modify_index += 7;
}

/// What is wrong with the Nomad mTLS material in `scenario`.
fn mtls_fault(scenario: Scenario) -> MtlsFault {
    match scenario {
        Scenario::MtlsExpiring => MtlsFault::Expiring,
        Scenario::MtlsKeyMismatch => MtlsFault::KeyMismatch,
        Scenario::MtlsWrongCa => MtlsFault::WrongCa,
        Scenario::MtlsSwapped => MtlsFault::Swapped,
        _ => MtlsFault::None,
    }
}

/// The machine runner of [`SIM_RUNNER_RESOURCE_CLASS`], connected since a week before the start.
fn healthy_runner(started_at: Timestamp) -> Runner {
    let hostname = "ip-10-0-7-21";
    Runner {
        resource_class: SIM_RUNNER_RESOURCE_CLASS.to_owned(),
        hostname: hostname.to_owned(),
        name: format!("{hostname}-{}", &ids::uuid(SIM_RUNNER_RESOURCE_CLASS)[..8]),
        version: "3.0.29-a2a7a9f".to_owned(),
        ip: Ipv4Addr::new(10, 0, 7, 21),
        first_connected: started_at - SignedDuration::from_hours(24 * 7),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nomad::{NodeStatus, NomadVersion};
    use crate::secrets::decode;
    use crate::velero::BackupPhase;
    use crate::version::ServerVersion;

    fn started_at() -> Timestamp {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    /// `scenario` on its default deployment: 4.10 (4.9 or 4.8 for the `upgrade-*` scenarios), with
    /// the Nomad servers where it needs them (in the cluster by default).
    fn build(scenario: Scenario) -> Installation {
        Installation::new(scenario, started_at())
    }

    fn build_on(scenario: Scenario, server_version: ServerVersion, nomad_servers: NomadServers) -> Installation {
        Installation::deployed(scenario, Deployment { server_version, nomad_servers }, started_at()).unwrap()
    }

    /// Every deployment the simulation makes.
    fn deployments() -> Vec<(ServerVersion, NomadServers)> {
        ServerVersion::ALL
            .iter()
            .flat_map(|&version| NomadServers::ALL.iter().map(move |&servers| (version, servers)))
            .filter(|&(version, servers)| {
                servers == NomadServers::Internal || version.supports_external_nomad_servers()
            })
            .collect()
    }

    /// The installation as `healthy` for comparisons: what is generated anew each time (the mTLS
    /// material, the servers' HTTPS certificate) made equal, the scenario `healthy`.
    fn comparable(installation: &Installation) -> Installation {
        let mut copy = Installation { scenario: Scenario::Healthy, ..installation.clone() };
        for secret in copy.secrets.iter_mut().filter(|secret| secret.name == crate::mtls::MTLS_SECRET) {
            secret.data.clear();
        }
        if let Some(https) = copy.external_nomad.as_mut().and_then(|external| external.https.as_mut()) {
            *https = ServerCertificate { certificate: Vec::new(), key: Vec::new() };
        }
        copy
    }

    fn unready_apps(installation: &Installation) -> Vec<&str> {
        installation
            .pods
            .iter()
            .filter(|pod| pod.health != PodHealth::Ready)
            .filter_map(|pod| pod.label("app"))
            .collect()
    }

    fn secret_names(installation: &Installation) -> Vec<&str> {
        installation.secrets.iter().map(|secret| secret.name.as_str()).collect()
    }

    #[test]
    fn healthy_4_4_installation_matches_the_brief() {
        let installation = build_on(Scenario::Healthy, ServerVersion::V4_4, NomadServers::Internal);
        assert!(unready_apps(&installation).is_empty());
        let nomad = &installation.nomad;
        assert_eq!(nomad.servers.len(), 3);
        assert!(nomad.servers.iter().all(|server| server.status == MemberStatus::Alive));
        assert!(nomad.servers.iter().all(|server| server.version == NomadVersion::new(1, 7, 7)));
        assert_eq!(nomad.servers.iter().filter(|server| server.leader).count(), 1);
        assert_eq!(nomad.servers[0].address, installation.pod("nomad-server-0").unwrap().pod_ip);
        assert!(nomad.clients.len() >= 2);
        for client in &nomad.clients {
            assert_eq!(client.status, NodeStatus::Ready);
            assert_eq!(client.eligibility, Eligibility::Eligible);
            assert_eq!(client.drain_started_at, None);
            assert_eq!(client.docker, DockerDriver::Healthy { version: "28.1.1".to_owned() });
            assert_eq!((client.version, client.cgroups_version), (NomadVersion::new(1, 7, 7), 1));
            assert_eq!(client.node_class, "linux-64bit");
            assert!(client.name.starts_with("i-0"));
        }
        assert_eq!(nomad.api_failure, None);
        assert_eq!(installation.why_nomad_cannot_run_docker_jobs(), None);
        assert!(installation.machine_provisioner_ready());
        assert_eq!(installation.cloud_provider, CloudProvider::Aws);
        assert_eq!(installation.machine_provisioning_failure, None);
        assert_eq!(installation.runners_of(SIM_RUNNER_RESOURCE_CLASS).count(), 1);
        assert_eq!(installation.runners_of("realitycheck-sim/other").count(), 0);
        assert_eq!(installation.kubernetes.minor, 29);
        assert_eq!(installation.external_nomad, None);
        assert_eq!(
            secret_names(&installation),
            [
                "nomad-gossip-encryption-key",
                "nomad-mtls",
                "nomad-autoscaler-secret",
                "sh.helm.release.v1.circleci-server.v1",
                "sh.helm.release.v1.circleci-server.v2",
            ]
        );
    }

    #[test]
    fn each_version_runs_its_nomad_servers_in_the_cluster() {
        for (version, replicas, nomad) in [
            (ServerVersion::V4_8, 5, NomadVersion::new(1, 10, 0)),
            (ServerVersion::V4_9, 5, NomadVersion::new(1, 11, 3)),
            (ServerVersion::V4_10, 5, NomadVersion::new(1, 11, 3)),
        ] {
            let installation = build_on(Scenario::Healthy, version, NomadServers::Internal);
            let servers = &installation.nomad.servers;
            assert_eq!(servers.len(), replicas, "{version}");
            assert!(servers.iter().all(|server| server.version == nomad), "{version}");
            assert_eq!(installation.nomad.agent_version, nomad, "{version}");
            for (ordinal, server) in servers.iter().enumerate() {
                let pod = installation.pod(&format!("nomad-server-{ordinal}")).unwrap();
                assert_eq!(server.address, pod.pod_ip, "{version}");
            }
            assert!(installation.nomad.clients.iter().all(|c| c.version == NomadVersion::new(1, 7, 7)));
            assert_eq!(installation.kubernetes.minor, 34, "{version}");
            assert!(installation.secret("nomad-gossip-encryption-key").is_some());
            assert_eq!(installation.why_nomad_cannot_run_docker_jobs(), None);
        }
    }

    #[test]
    fn external_nomad_servers_run_outside_the_cluster_without_gossip_encryption() {
        for (version, nomad, https) in [
            (ServerVersion::V4_8, NomadVersion::new(1, 7, 7), false),
            (ServerVersion::V4_9, NomadVersion::new(1, 7, 7), true),
            (ServerVersion::V4_10, NomadVersion::new(1, 11, 3), true),
        ] {
            let installation = build_on(Scenario::Healthy, version, NomadServers::External);
            let names: Vec<&str> = installation.nomad.servers.iter().map(|server| server.name.as_str()).collect();
            assert_eq!(names, ["ip-10-0-1-10.global", "ip-10-0-2-10.global", "ip-10-0-3-10.global"], "{version}");
            assert!(installation.nomad.servers.iter().all(|server| server.version == nomad), "{version}");
            assert_eq!(installation.nomad.leader().map(|leader| leader.address), Some(Ipv4Addr::new(10, 0, 1, 10)));
            assert!(installation.nomad.gossip_keys.is_empty());
            assert!(installation.pods.iter().all(|pod| !pod.has_nomad_cli), "{version}");
            assert_eq!(secret_names(&installation)[..2], ["nomad-mtls", "nomad-autoscaler-secret"], "{version}");
            let external = installation.external_nomad.as_ref().unwrap();
            assert_eq!((external.hostname, external.reachable), ("nomad.circleci-sim.internal", true));
            assert_eq!(external.https.is_some(), https, "{version}");
            assert_eq!(external.scheme(), if https { "https" } else { "http" });
            assert_eq!(installation.why_nomad_cannot_run_docker_jobs(), None);
        }
        let refused = Installation::deployed(
            Scenario::Healthy,
            Deployment { server_version: ServerVersion::V4_4, nomad_servers: NomadServers::External },
            started_at(),
        );
        assert_eq!(refused, Err(UnsupportedDeployment::ExternalServersBefore4_8 { version: ServerVersion::V4_4 }));
    }

    #[test]
    fn each_fault_changes_only_its_part() {
        let healthy = build(Scenario::Healthy);
        let no_clients = build(Scenario::NoNomadClients);
        assert!(no_clients.nomad.clients.is_empty());
        assert_eq!(no_clients.pods, healthy.pods);

        let draining = build(Scenario::NomadClientsDraining);
        assert!(draining.nomad.clients.iter().all(|c| c.eligibility == Eligibility::Ineligible));
        assert_eq!(draining.nomad.clients.iter().filter(|c| c.drain_started_at.is_some()).count(), 1);

        let docker = build(Scenario::NomadDockerUnhealthy);
        assert!(
            docker
                .nomad
                .clients
                .iter()
                .all(|c| matches!(c.docker, DockerDriver::Unhealthy { .. }) && c.eligibility == Eligibility::Eligible)
        );

        let broken = build(Scenario::NomadExecBroken);
        assert!(broken.nomad.api_failure.as_deref().unwrap().contains("x509"));

        let pods_not_ready = build(Scenario::PodsNotReady);
        assert_eq!(unready_apps(&pods_not_ready), ["frontend", "machine-provisioner-provisioner"]);
        assert_eq!(pods_not_ready.nomad, healthy.nomad);
        assert!(!pods_not_ready.machine_provisioner_ready());

        let provisioner_broken = build(Scenario::MachineProvisionerBroken);
        assert!(provisioner_broken.machine_provisioner_ready(), "the pod stays Ready");
        assert!(provisioner_broken.machine_provisioning_failure.as_deref().unwrap().contains("RunInstances"));
        assert_eq!(provisioner_broken.nomad, healthy.nomad);
        let logging: Vec<&str> = provisioner_broken
            .pods
            .iter()
            .filter(|pod| !pod.logged.is_empty())
            .map(|pod| pod.container.as_str())
            .collect();
        assert_eq!(logging, ["machine-provisioner-provisioner"], "the provisioner logs the cloud's refusal");
        let quiet: Vec<ReleasePod> =
            provisioner_broken.pods.iter().map(|pod| ReleasePod { logged: Vec::new(), ..pod.clone() }).collect();
        assert_eq!(quiet, healthy.pods, "and nothing else changes");

        let runner_missing = build(Scenario::RunnerMissing);
        assert!(runner_missing.runners.is_empty());
        assert_eq!((&runner_missing.pods, &runner_missing.nomad), (&healthy.pods, &healthy.nomad));

        let other_cloud = build(Scenario::CloudProviderOther);
        assert_eq!(other_cloud.cloud_provider, CloudProvider::Other);
        assert_eq!(other_cloud.cloud_provider.to_string(), "other");
        assert_eq!(
            (&other_cloud.pods, &other_cloud.nomad, &other_cloud.runners),
            (&healthy.pods, &healthy.nomad, &healthy.runners)
        );

        for nomad_fault in [Scenario::NoNomadClients, Scenario::NomadClientsDraining, Scenario::NomadDockerUnhealthy] {
            assert!(build(nomad_fault).why_nomad_cannot_run_docker_jobs().is_some(), "{nomad_fault}");
        }
        assert_eq!(broken.why_nomad_cannot_run_docker_jobs(), None, "a broken nomad CLI does not stop the clients");

        for api_fault in [
            Scenario::ContextsMissing,
            Scenario::ContextValueChanged,
            Scenario::BadToken,
            Scenario::ApiFlaky,
            Scenario::ApiSlow,
        ] {
            assert_eq!(comparable(&build(api_fault)), comparable(&healthy), "{api_fault}");
        }
    }

    #[test]
    fn the_new_nomad_and_kubernetes_faults_change_only_their_part_on_every_deployment() {
        for (version, servers) in deployments() {
            let on = |scenario| build_on(scenario, version, servers);
            let healthy = comparable(&on(Scenario::Healthy));
            let context = format!("{version} {servers}");

            let mut docker_29 = comparable(&on(Scenario::NomadClientsDocker29));
            for client in &mut docker_29.nomad.clients {
                assert_eq!(client.docker, DockerDriver::Healthy { version: "29.0.1".to_owned() }, "{context}");
                client.docker = DockerDriver::terraform();
                client.modify_index -= 7;
            }
            assert_eq!(docker_29, healthy, "{context}");

            let mut cgroups_v2 = comparable(&on(Scenario::NomadClientsCgroupsV2));
            for client in &mut cgroups_v2.nomad.clients {
                assert_eq!(client.cgroups_version, 2, "{context}");
                client.cgroups_version = 1;
            }
            assert_eq!(cgroups_v2, healthy, "{context}");

            let no_quorum = on(Scenario::NomadServersNoQuorum);
            let alive = no_quorum.nomad.servers.iter().filter(|server| server.status == MemberStatus::Alive).count();
            assert_eq!(
                (alive, no_quorum.nomad.servers.len()),
                if no_quorum.nomad.servers.len() == 5 { (2, 5) } else { (1, 3) },
                "{context}"
            );
            assert_eq!(no_quorum.nomad.leader(), None, "{context}");
            assert!(no_quorum.why_nomad_cannot_run_docker_jobs().unwrap().contains("no leader"), "{context}");
            let mut revived = comparable(&no_quorum);
            for (index, server) in revived.nomad.servers.iter_mut().enumerate() {
                server.status = MemberStatus::Alive;
                server.leader = index == 0;
            }
            assert_eq!(revived, healthy, "{context}");

            let mut old_kubernetes = comparable(&on(Scenario::KubernetesUnsupported));
            assert!(!version.supported_kubernetes().contains(&old_kubernetes.kubernetes.minor), "{context}");
            old_kubernetes.kubernetes = version.kubernetes();
            assert_eq!(old_kubernetes, healthy, "{context}");

            let skew = on(Scenario::NomadVersionSkew);
            let server_version = skew.nomad.servers[0].version;
            let newer: Vec<NomadVersion> =
                skew.nomad.clients.iter().map(|client| client.version).filter(|v| *v > server_version).collect();
            assert_eq!(newer.len(), 1, "{context}: one client newer than the servers ({server_version})");

            let failed = on(Scenario::HelmUpgradeFailed);
            assert_eq!(secret_names(&failed).last(), Some(&"sh.helm.release.v1.circleci-server.v3"), "{context}");
        }
        assert_eq!(
            build_on(Scenario::KubernetesUnsupported, ServerVersion::V4_4, NomadServers::Internal).kubernetes.minor,
            25
        );
        assert_eq!(build(Scenario::KubernetesUnsupported).kubernetes.minor, 31);
        let skewed =
            |version| build_on(Scenario::NomadVersionSkew, version, NomadServers::Internal).nomad.clients[1].version;
        assert_eq!(skewed(ServerVersion::V4_4), NomadVersion::new(1, 8, 2));
        assert_eq!(skewed(ServerVersion::V4_8), NomadVersion::new(1, 11, 2));
        assert_eq!(skewed(ServerVersion::V4_10), NomadVersion::new(1, 12, 2));
    }

    /// The image MongoDB's StatefulSet runs, which its pod runs too.
    fn mongodb_image(installation: &Installation) -> &str {
        let statefulset = installation.statefulset("mongodb").unwrap();
        let pods: Vec<&ReleasePod> = installation.pods.iter().filter(|pod| statefulset.selects(pod)).collect();
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].image, statefulset.image);
        &statefulset.image
    }

    /// The release records, oldest first.
    fn records(installation: &Installation) -> Vec<serde_json::Value> {
        installation.secrets.iter().filter(|secret| secret.label("owner") == Some("helm")).map(decode).collect()
    }

    fn charts(installation: &Installation) -> Vec<String> {
        records(installation)
            .iter()
            .map(|record| record["chart"]["metadata"]["version"].as_str().unwrap().to_owned())
            .collect()
    }

    fn statuses(installation: &Installation) -> Vec<String> {
        records(installation).iter().map(|record| record["info"]["status"].as_str().unwrap().to_owned()).collect()
    }

    /// `installation` without its release records and MongoDB's image (and the versions that
    /// record its change), to compare the rest.
    fn without_release_and_mongodb(installation: &Installation) -> Installation {
        let mut copy = comparable(installation);
        copy.secrets.retain(|secret| secret.label("owner") != Some("helm"));
        let mongodb = copy.statefulsets.iter_mut().find(|statefulset| statefulset.name == "mongodb").unwrap();
        (mongodb.image, mongodb.generation, mongodb.resource_version) = (String::new(), 0, 0);
        for pod in copy.pods.iter_mut().filter(|pod| pod.name == "mongodb-0") {
            (pod.image, pod.resource_version) = (String::new(), 0);
        }
        copy
    }

    #[test]
    fn healthy_installations_run_their_charts_mongodb_with_tink_and_daily_backups() {
        for (version, servers) in deployments() {
            let installation = build_on(Scenario::Healthy, version, servers);
            assert_eq!(mongodb_image(&installation), version.mongodb().image(), "{version} {servers}");
            assert_eq!(installation.velero, Some(Velero::healthy()), "{version} {servers}");
            assert!(installation.refused.is_empty());
            let newest = records(&installation).pop().unwrap();
            assert_eq!(newest["config"]["tink"]["enabled"], true);
            assert!(newest["config"].get("mongodb").is_none(), "the chart's default MongoDB needs no value");
            assert_eq!(newest["chart"]["values"]["mongodb"]["image"]["tag"], version.mongodb().tag());
            let names: Vec<&str> = installation.statefulsets.iter().map(|set| set.name.as_str()).collect();
            assert_eq!(names.contains(&"nomad-server"), servers == NomadServers::Internal, "{version} {servers}");
        }
        let tag = |version| {
            build_on(Scenario::Healthy, version, NomadServers::Internal).statefulset("mongodb").unwrap().image.clone()
        };
        assert_eq!(tag(ServerVersion::V4_4), "cciserver.azurecr.io/server-mongodb:3.6.22-debian-9-r38");
        assert_eq!(tag(ServerVersion::V4_8), "cciserver.azurecr.io/server-mongodb:3.6.22-debian-9-r38");
        assert_eq!(tag(ServerVersion::V4_9), "cciserver.azurecr.io/server-mongodb:4.4.15-debian-10-r8");
        assert_eq!(tag(ServerVersion::V4_10), "cciserver.azurecr.io/server-mongodb:7.0.15-debian-12-r2");
        assert_eq!(build(Scenario::SecretsForbidden).refused, [ApiResource::SECRETS]);
        assert_eq!(build(Scenario::UpgradeForbidden).refused, [ApiResource::STATEFULSETS, ApiResource::BACKUPS]);
    }

    #[test]
    fn ready_for_the_upgrade_is_healthy_with_the_next_minors_mongodb() {
        for (version, servers) in deployments() {
            let context = format!("{version} {servers}");
            let ready = build_on(Scenario::UpgradeReady, version, servers);
            let healthy = build_on(Scenario::Healthy, version, servers);
            let mongodb = version.mongodb_for_next_minor();
            assert_eq!(mongodb_image(&ready), mongodb.image(), "{context}");
            assert_eq!(charts(&ready), charts(&healthy), "{context}: the version's last patch");
            assert_eq!(statuses(&ready), ["superseded", "deployed"], "{context}");
            let config = &records(&ready)[1]["config"];
            assert_eq!(config["tink"]["enabled"], true, "{context}");
            let pinned = config["mongodb"]["image"]["tag"].as_str();
            assert_eq!(pinned, (mongodb != version.mongodb()).then_some(mongodb.tag()), "{context}");
            assert_eq!(without_release_and_mongodb(&ready), without_release_and_mongodb(&healthy), "{context}");
        }
        let ready = build(Scenario::UpgradeReady);
        assert_eq!(ready.deployment.server_version, ServerVersion::V4_9);
        assert_eq!(charts(&ready), ["4.9.3", "4.9.5"]);
        assert_eq!(mongodb_image(&ready), "cciserver.azurecr.io/server-mongodb:7.0.15-debian-12-r2");
        assert_eq!(ready.statefulset("mongodb").unwrap().generation, 2, "the migration changed the StatefulSet");
        assert_eq!(ready.kubernetes.git_version(), "v1.34.2");
        assert!(ready.nomad.clients.iter().all(|c| c.docker == DockerDriver::terraform() && c.cgroups_version == 1));
        let newest = &ready.velero.as_ref().unwrap().backups[0];
        assert_eq!((newest.phase, newest.completed_before_start.as_hours()), (BackupPhase::Completed, 2));
    }

    #[test]
    fn each_upgrade_fault_changes_only_its_part_of_the_ready_state() {
        let ready = build(Scenario::UpgradeReady);
        let ready_rest = without_release_and_mongodb(&ready);

        let skips = build(Scenario::UpgradeSkipsMinor);
        assert_eq!(skips.deployment.server_version, ServerVersion::V4_8);
        assert_eq!(charts(&skips), ["4.8.0", "4.8.3"]);
        assert_eq!(statuses(&skips), ["superseded", "deployed"]);
        assert_eq!(mongodb_image(&skips), "cciserver.azurecr.io/server-mongodb:3.6.22-debian-9-r38");
        assert!(records(&skips)[1]["config"].get("mongodb").is_none());
        let skips_4_9 = build_on(Scenario::UpgradeSkipsMinor, ServerVersion::V4_9, NomadServers::Internal);
        assert_eq!(charts(&skips_4_9), ["4.9.0", "4.9.2"]);
        assert_eq!(mongodb_image(&skips_4_9), MongoDb::V4_4.image());
        assert_eq!(without_release_and_mongodb(&skips_4_9), ready_rest);

        let mut old_kubernetes = build(Scenario::UpgradeKubernetesTooOld);
        assert_eq!(old_kubernetes.kubernetes.git_version(), "v1.32.7");
        assert_eq!(mongodb_image(&old_kubernetes), MongoDb::V7_0.image());
        old_kubernetes.kubernetes = ready.kubernetes;
        assert_eq!(comparable(&old_kubernetes), comparable(&ready));

        let pending = build(Scenario::UpgradePendingRelease);
        assert_eq!(charts(&pending), ["4.9.3", "4.9.5", "4.9.5"]);
        assert_eq!(statuses(&pending), ["superseded", "deployed", "pending-upgrade"]);
        assert_eq!(records(&pending)[2]["info"]["description"], "Preparing upgrade");
        assert_eq!(records(&pending)[2]["config"], records(&ready)[1]["config"]);
        assert_eq!(without_release_and_mongodb(&pending), ready_rest);
        assert_eq!(mongodb_image(&pending), MongoDb::V7_0.image());

        let renamed = build(Scenario::UpgradeRenamedValues);
        let config = &records(&renamed)[1]["config"];
        for (key, nested) in [
            ("machine_provisioner", "machine_agent_base_url"),
            ("docker_provisioner", "config_path"),
            ("telegraf", "custom_config"),
        ] {
            assert!(config[key].get(nested).is_some(), "{key}.{nested}");
        }
        let tracing = config["global"]["tracing"].as_object().unwrap();
        assert_eq!(tracing.keys().collect::<Vec<_>>(), ["collector_host", "enabled"]);
        assert_eq!(config["tink"]["enabled"], true);
        assert_eq!(config["mongodb"], records(&ready)[1]["config"]["mongodb"]);
        assert_eq!(statuses(&renamed), ["superseded", "deployed"]);
        assert_eq!(without_release_and_mongodb(&renamed), ready_rest);

        let too_old = build(Scenario::UpgradeMongodbTooOld);
        assert_eq!(mongodb_image(&too_old), "cciserver.azurecr.io/server-mongodb:3.6.22-debian-9-r38");
        assert_eq!(records(&too_old)[1]["config"]["mongodb"]["image"]["tag"], "3.6.22-debian-9-r38");
        assert_eq!(charts(&too_old), ["4.9.3", "4.9.5"]);
        assert_eq!(without_release_and_mongodb(&too_old), ready_rest);
        let too_old_4_10 = build_on(Scenario::UpgradeMongodbTooOld, ServerVersion::V4_10, NomadServers::Internal);
        assert_eq!(mongodb_image(&too_old_4_10), MongoDb::V4_4.image());

        let mut docker_29 = build(Scenario::UpgradeDocker29);
        let dockers: Vec<&DockerDriver> = docker_29.nomad.clients.iter().map(|client| &client.docker).collect();
        assert_eq!(
            dockers,
            [&DockerDriver::Healthy { version: "29.0.1".to_owned() }, &DockerDriver::terraform()],
            "one client of two"
        );
        docker_29.nomad.clients[0].docker = DockerDriver::terraform();
        docker_29.nomad.clients[0].modify_index -= 7;
        assert_eq!(comparable(&docker_29), comparable(&ready));

        let mut no_backup = build(Scenario::UpgradeNoRecentBackup);
        let backups = &no_backup.velero.as_ref().unwrap().backups;
        let newest_completed = backups.iter().find(|backup| backup.phase == BackupPhase::Completed).unwrap();
        assert_eq!(newest_completed.completed_before_start.as_hours(), 72);
        assert_eq!((backups[0].phase, backups[0].completed_before_start.as_hours()), (BackupPhase::Failed, 24));
        no_backup.velero = ready.velero.clone();
        assert_eq!(comparable(&no_backup), comparable(&ready));
    }

    /// The autoscaler's `enabled`, `scaling.min` and `scaling.max` in the newest release record.
    fn released_autoscaler(installation: &Installation) -> (bool, u64, u64) {
        let newest = records(installation).pop().unwrap();
        let values = &newest["config"]["nomad"]["auto_scaler"];
        (
            values["enabled"].as_bool().unwrap(),
            values["scaling"]["min"].as_u64().unwrap(),
            values["scaling"]["max"].as_u64().unwrap(),
        )
    }

    #[test]
    fn the_capacity_scenarios_change_only_the_autoscaler_or_the_clients_size_and_the_release_agrees() {
        let healthy = build(Scenario::Healthy);
        assert_eq!(healthy.autoscaler, Autoscaler { enabled: true, min: 1, max: 5, group_max_size: None });
        assert_eq!(released_autoscaler(&healthy), (true, 1, 5));
        assert!(healthy.nomad.clients.iter().all(|client| client.size == ClientSize::T3A_2XLARGE));
        assert_eq!(healthy.why_no_client_holds("xlarge"), None);
        assert!(healthy.why_no_client_holds("2xlarge").unwrap().contains("2xlarge (16 vCPU, 32768 MiB)"));
        let without_release = |installation: &Installation| {
            let mut copy = comparable(installation);
            copy.secrets.retain(|secret| secret.label("owner") != Some("helm"));
            copy.autoscaler = Autoscaler::default();
            copy
        };
        for (scenario, max, group_max_size) in [
            (Scenario::CapacityHealthy, 15, None),
            (Scenario::AutoscalerAtMax, 2, None),
            (Scenario::AutoscalerStuck, 5, Some(2)),
        ] {
            let installation = build(scenario);
            assert_eq!(
                installation.autoscaler,
                Autoscaler { max, group_max_size, ..Autoscaler::default() },
                "{scenario}"
            );
            assert_eq!(released_autoscaler(&installation), (true, 1, u64::from(max)), "{scenario}");
            assert_eq!(charts(&installation), charts(&healthy), "{scenario}");
            assert_eq!(without_release(&installation), without_release(&healthy), "{scenario}");
        }
        let mut too_small = build(Scenario::ClientsTooSmall);
        assert!(too_small.nomad.clients.iter().all(|client| client.size == ClientSize::T3A_XLARGE));
        assert!(too_small.why_no_client_holds("xlarge").unwrap().contains("the largest, t3a.xlarge, has 4 vCPU"));
        assert_eq!(too_small.why_no_client_holds("large"), None);
        assert_eq!(too_small.why_nomad_cannot_run_docker_jobs(), None);
        for client in &mut too_small.nomad.clients {
            client.size = ClientSize::T3A_2XLARGE;
        }
        assert_eq!(comparable(&too_small), comparable(&healthy));
        assert_eq!(build(Scenario::NoNomadClients).why_no_client_holds("medium"), None, "no client says nothing");
    }

    #[test]
    fn the_external_faults_change_only_the_servers_address_or_certificate() {
        let healthy = build(Scenario::Healthy);
        assert_eq!(healthy.deployment.nomad_servers, NomadServers::Internal);
        let external = build_on(Scenario::Healthy, ServerVersion::V4_10, NomadServers::External);

        let unreachable = build(Scenario::NomadExternalUnreachable);
        assert_eq!(unreachable.deployment.nomad_servers, NomadServers::External, "the scenario implies them");
        let mut reached = comparable(&unreachable);
        reached.external_nomad.as_mut().unwrap().reachable = true;
        assert_eq!(reached, comparable(&external));
        assert_eq!(unreachable.why_nomad_cannot_run_docker_jobs(), None, "the clients reach the servers");
        assert!(
            build_on(Scenario::NomadExternalUnreachable, ServerVersion::V4_8, NomadServers::External)
                .external_nomad
                .is_some()
        );

        let mismatch = build(Scenario::NomadExternalCaMismatch);
        assert!(mismatch.external_nomad.as_ref().unwrap().https.is_some());
        assert_eq!(comparable(&mismatch), comparable(&external));
        assert_eq!(mismatch.why_nomad_cannot_run_docker_jobs(), None);
    }

    #[test]
    fn every_release_record_enables_oidc_with_the_api_url_as_issuer() {
        for (version, servers) in deployments() {
            let deployment = Deployment { server_version: version, nomad_servers: servers };
            for scenario in [Scenario::Healthy, Scenario::HelmUpgradeFailed, Scenario::UpgradeRenamedValues] {
                let Ok(installation) = Installation::deployed_at(
                    scenario,
                    deployment,
                    CloudProvider::Aws,
                    started_at(),
                    "https://10.1.2.3:443",
                ) else {
                    continue;
                };
                for record in records(&installation) {
                    let oidc = &record["config"]["oidc_service"];
                    assert_eq!(oidc["isEnabled"], true, "{scenario} on {deployment}");
                    assert_eq!(oidc["base_url"], "https://10.1.2.3:443", "{scenario} on {deployment}");
                    assert!(oidc["json_web_keys"].as_str().is_some_and(|keys| !keys.is_empty()));
                    assert!(oidc.get("token_max_ttl").is_none(), "the default 5h applies");
                }
            }
        }
        let unserved = records(&build(Scenario::Healthy)).pop().unwrap();
        assert_eq!(unserved["config"]["oidc_service"]["base_url"], UNSERVED_API_URL);
    }

    #[test]
    fn oidc_disabled_leaves_it_off_in_every_record_and_gives_jobs_no_token() {
        let disabled = build(Scenario::OidcDisabled);
        for record in records(&disabled) {
            assert_eq!(record["config"]["oidc_service"], serde_json::json!({"isEnabled": false}));
        }
        let identity = crate::oidc::JobIdentity {
            pipeline_id: "p".into(),
            workflow_id: "w".into(),
            job_id: "j".into(),
            vcs_ref: "refs/heads/main".into(),
            context_ids: Vec::new(),
            started_at: started_at(),
        };
        assert!(disabled.oidc.tokens(&identity).is_empty());
        assert_eq!(build(Scenario::Healthy).oidc.tokens(&identity).len(), 2);
    }

    #[test]
    fn the_oidc_faults_change_only_the_oidc_service() {
        let healthy = build(Scenario::Healthy);
        for fault in [Scenario::OidcWrongIssuer, Scenario::OidcBadSignature] {
            let faulty = build(fault);
            assert_eq!(faulty.oidc.issuer, healthy.oidc.issuer, "{fault}: the issuer and its key set stay");
            assert_ne!(faulty.oidc, healthy.oidc, "{fault}");
            let without_oidc = |installation: &Installation| {
                let mut copy = comparable(installation);
                copy.oidc = healthy.oidc.clone();
                copy.secrets.retain(|secret| secret.label("owner") != Some("helm"));
                copy
            };
            assert_eq!(without_oidc(&faulty), without_oidc(&healthy), "{fault}");
        }
        let values =
            |installation: &Installation| records(installation).pop().unwrap()["config"]["oidc_service"].clone();
        let wrong = build(Scenario::OidcWrongIssuer);
        assert_eq!(values(&wrong), values(&healthy), "the release names the right issuer");
        assert_eq!(wrong.oidc.token_issuer, crate::oidc::WRONG_ISSUER);
        let rotated = build(Scenario::OidcBadSignature);
        assert_ne!(values(&rotated)["json_web_keys"], values(&healthy)["json_web_keys"], "the values hold the new key");
    }
}
