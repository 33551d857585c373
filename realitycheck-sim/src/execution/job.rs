//! What one job does on the simulated installation: whether an executor ever takes it, and if one
//! does, its steps, their output, the job's result, and what it leaves behind (artifacts, test
//! results, a workspace, caches).
//!
//! Where a job can run follows the installation ([`crate::installation`]):
//! - docker jobs (and the primary container of a remote docker job) need a Nomad client that is
//!   ready, eligible, not draining, with a healthy docker driver, and large enough for their
//!   resource class; without one they stay `queued` (the containers of a job with parallelism
//!   wait for a client with room in [`super::fleet`]'s queue instead, as Nomad jobs);
//! - machine, Arm, Windows and remote docker jobs need the machine provisioner's pods Running and
//!   Ready, else they stay `queued`; the VM then fails (`infrastructure_fail`, the provisioner's
//!   error in the step output) when the installation is on neither AWS nor GCP, for Arm when it is
//!   not on AWS, for the Android image (`android-default`) when it is not on GCP, and for every VM
//!   in `machine-provisioner-broken`. A machine job fails in its "Spin up environment" step, a
//!   remote docker job in its `setup_remote_docker` step. A VM of the Android image has the SDK at
//!   `ANDROID_HOME` (`/opt/android/sdk`);
//! - a job that asks for Docker layer caching fails there too when the machine provisioner does
//!   not grant it (`dlc-not-granted`, [`DLC_REFUSAL`]); when it does, the job's Docker engine
//!   ([`super::docker`]) starts with the layers the last job of the same kind (machine or remote
//!   docker) with Docker layer caching left in the installation's cache volume ([`DlcVolumes`]),
//!   and leaves its own there. Every other engine starts empty;
//! - runner jobs (`namespace/name`) need a runner registered for that class, else stay `queued`.
//!
//! Jobs with `context:` need every named context in the organization: a missing one fails the
//! job at spin-up naming it. The job's environment holds the contexts' variables (values as
//! clients last set them), its own `environment:` (which wins over them) and its OIDC tokens
//! ([`crate::oidc`], naming those contexts' ids), and its commands run in [`super::shell`]
//! (whose `circleci` CLI lacks `env subst` in `env-subst-missing`), so the context digest, the
//! workspace and cache round-trips, the rendered template and every `test`/`exit` decide
//! success as in a real job.
//!
//! Artifacts are the files `store_artifacts` finds at its `path` after the job's commands wrote
//! them (under `destination`); test results are the `<testcase>`s of the `.xml` files under the
//! `store_test_results` path ([`super::junit`], source: that path's last segment).

use std::collections::BTreeMap;
use std::time::Duration;

use super::docker::{Engine, Layers};
use super::junit::{self, TestCase};
use super::shell::{self, FileSystem, Host, Stream};
use super::timing::{self, JobTiming};
use crate::installation::{DLC_REFUSAL, Installation};
use crate::oidc::JobIdentity;
use crate::project::executor::{self, Executor, ExecutorKey, ExecutorKind};
use crate::project::plan::PlannedJob;
use crate::project::steps::Step;
use realitycheck_project::CloudProvider;

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    Success,
    Failed,
    InfrastructureFail,
}

impl JobResult {
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Success => "success",
            JobResult::Failed => "failed",
            JobResult::InfrastructureFail => "infrastructure_fail",
        }
    }
}

/// One step a job ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRun {
    pub name: String,
    /// The step id (v1.1 `step`): 0 for "Spin up environment", then 101, 102, ….
    pub id: u64,
    pub lines: Vec<(Stream, String)>,
    /// `run` steps' exit code.
    pub exit_code: Option<i32>,
    pub result: JobResult,
    pub duration: Duration,
}

/// A file `store_artifacts` uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    pub path: String,
    pub content: String,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq)]
pub enum Course {
    /// No executor ever takes the job.
    StaysQueued { reason: String },
    /// An executor takes it and runs `steps`; the last one's result is the job's.
    Runs {
        steps: Vec<StepRun>,
        result: JobResult,
        artifacts: Vec<StoredArtifact>,
        tests: Vec<TestCase>,
        workspace: FileSystem,
    },
}

impl Course {
    /// The result of a job that runs.
    pub fn result(&self) -> Option<JobResult> {
        match self {
            Course::StaysQueued { .. } => None,
            Course::Runs { result, .. } => Some(*result),
        }
    }
}

/// The caches of the project, by key.
pub type Caches = BTreeMap<String, FileSystem>;

/// A context a job runs with: its id (in the job's OIDC tokens) and its variables (names and
/// values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobContext {
    pub id: String,
    pub variables: Vec<(String, String)>,
}

/// A context by its name; `None` when the organization has no such context.
pub type ContextLookup<'a> = dyn Fn(&str) -> Option<JobContext> + 'a;

/// The installation's Docker layer cache volumes: the layers the last job with Docker layer
/// caching of each kind (machine, remote docker) left.
pub type DlcVolumes = BTreeMap<ExecutorKind, Layers>;

/// The machine image of the Android VMs, which the machine provisioner offers on GCP only.
pub const ANDROID_IMAGE: &str = "android-default";

/// Where the Android image keeps its SDK (`ANDROID_HOME`).
pub const ANDROID_HOME: &str = "/opt/android/sdk";

/// Everything a job runs with besides its plan.
pub struct JobInputs<'a> {
    pub installation: &'a Installation,
    pub contexts: &'a ContextLookup<'a>,
    pub timing: &'a JobTiming,
    /// The workspace of the jobs it requires (transitively), merged in their order.
    pub workspace: FileSystem,
    pub caches: &'a mut Caches,
    pub dlc_volumes: &'a mut DlcVolumes,
    /// `CIRCLE_*` variables.
    pub environment: BTreeMap<String, String>,
    /// Who the job is, for its OIDC tokens; the ids of its contexts are added once they are read.
    pub identity: JobIdentity,
    /// Seeds the container's and host's names: the job's id (its container of index 0) or the id
    /// and the index.
    pub seed: &'a str,
}

/// What `job` does with `inputs`.
pub fn simulate(job: &PlannedJob, inputs: JobInputs<'_>) -> Course {
    let installation = inputs.installation;
    let kind = job.executor.kind;
    let class = &job.executor.resource_class;
    if kind.needs_nomad()
        && let Some(reason) = installation.why_nomad_cannot_run_docker_jobs()
    {
        return Course::StaysQueued { reason: reason.into() };
    }
    // The containers of a job with parallelism wait in the fleet's queue instead.
    if kind.needs_nomad()
        && job.parallelism.is_none()
        && let Some(reason) = installation.why_no_client_holds(installation.docker_class_run_on(class))
    {
        return Course::StaysQueued { reason };
    }
    if kind.needs_machine_provisioner() && !installation.machine_provisioner_ready() {
        return Course::StaysQueued { reason: "the machine provisioner is not ready".into() };
    }
    if kind == ExecutorKind::Runner && installation.runners_of(class).next().is_none() {
        return Course::StaysQueued { reason: format!("no runner is registered for resource class {class}") };
    }
    let mut run = JobRun::new(job, inputs);
    let machine = matches!(kind, ExecutorKind::Machine | ExecutorKind::Arm | ExecutorKind::Windows);
    if machine {
        if let Err(error) = vm_for(installation, &job.executor) {
            return run.end_at_spin_up(JobResult::InfrastructureFail, error);
        }
        if let Err(refusal) = run.start_engine(job.executor.docker_layer_caching) {
            return run.end_at_spin_up(JobResult::InfrastructureFail, refusal);
        }
    }
    let mut environment = run.inputs.environment.clone();
    let mut identity = run.inputs.identity.clone();
    for context in &job.contexts {
        match (run.inputs.contexts)(context) {
            Some(found) => {
                environment.extend(found.variables);
                identity.context_ids.push(found.id);
            }
            None => {
                let organization = crate::SIM_ORG_SLUG.rsplit('/').next().unwrap_or(crate::SIM_ORG_SLUG);
                let message = format!(
                    "Error: the context `{context}` does not exist in organization {organization}; create it or \
                     remove it from the job's `context:`"
                );
                return run.end_at_spin_up(JobResult::Failed, message);
            }
        }
    }
    environment.extend(job.environment.clone());
    if kind == ExecutorKind::Windows {
        environment.insert("OS".to_owned(), "Windows_NT".to_owned());
    }
    if is_android(&job.executor) {
        environment.insert("ANDROID_HOME".to_owned(), ANDROID_HOME.to_owned());
        run.files.create_directory(ANDROID_HOME);
    }
    environment.extend(installation.oidc.tokens(&identity));
    run.spin_up();
    for step in &job.steps {
        if run.step(step, &environment, installation) != JobResult::Success {
            break;
        }
    }
    run.finish()
}

/// Whether a job runs on the Android machine image.
fn is_android(executor: &Executor) -> bool {
    matches!(&executor.key, ExecutorKey::Machine { image: Some(image) } if image == ANDROID_IMAGE)
}

/// Whether the machine provisioner can start the VM of a job of `executor` (its machine, or its
/// remote Docker engine) on this installation.
fn vm_for(installation: &Installation, executor: &Executor) -> Result<(), String> {
    let (kind, class) = (executor.kind, &executor.resource_class);
    match installation.cloud_provider {
        CloudProvider::Other => {
            return Err("No machine provisioner is configured for this installation: machine, Arm, Windows and \
                        remote Docker jobs need CircleCI server on AWS or GCP"
                .to_owned());
        }
        CloudProvider::Gcp if kind == ExecutorKind::Arm => {
            return Err(format!("Resource class {class} is not available: Arm VMs need CircleCI server on AWS"));
        }
        CloudProvider::Aws if is_android(executor) => {
            return Err(format!(
                "Machine image {ANDROID_IMAGE} is not available: Android machine images need CircleCI server on GCP"
            ));
        }
        CloudProvider::Aws | CloudProvider::Gcp => {}
    }
    match &installation.machine_provisioning_failure {
        Some(failure) => Err(format!("Error: could not start a VM of resource class {class}: {failure}")),
        None => Ok(()),
    }
}

/// A job being run, step by step.
struct JobRun<'a, 'b> {
    job: &'b PlannedJob,
    inputs: JobInputs<'a>,
    host: Host,
    files: FileSystem,
    steps: Vec<StepRun>,
    artifacts: Vec<StoredArtifact>,
    tests: Vec<TestCase>,
    workspace: FileSystem,
    step_time: Duration,
    /// The Docker engine `docker` reaches: the VM's, or the remote one once set up.
    engine: Option<Engine>,
    /// Whether the engine uses the installation's Docker layer cache volume of the job's kind.
    layer_caching: bool,
}

impl<'a, 'b> JobRun<'a, 'b> {
    fn new(job: &'b PlannedJob, inputs: JobInputs<'a>) -> Self {
        let host = host_of(job, &inputs);
        let config_steps = u32::try_from(job.steps.len().max(1)).unwrap_or(u32::MAX);
        let step_time = inputs.timing.run_time(&job.name) / config_steps;
        Self {
            job,
            inputs,
            host,
            files: FileSystem::default(),
            steps: Vec::new(),
            artifacts: Vec::new(),
            tests: Vec::new(),
            workspace: FileSystem::default(),
            step_time,
            engine: None,
            layer_caching: false,
        }
    }

    /// Starts the job's Docker engine: with the layers of the installation's cache volume of the
    /// job's kind when `layer_caching` asks for them, or the machine provisioner's refusal.
    fn start_engine(&mut self, layer_caching: bool) -> Result<(), String> {
        if !layer_caching {
            self.engine = Some(Engine::default());
            return Ok(());
        }
        if !self.inputs.installation.grants_docker_layer_caching {
            return Err(DLC_REFUSAL.to_owned());
        }
        let layers = self.inputs.dlc_volumes.get(&self.job.executor.kind).cloned().unwrap_or_default();
        self.engine = Some(Engine::with_layers(layers));
        self.layer_caching = true;
        Ok(())
    }

    fn spin_up_lines(&self) -> Vec<(Stream, String)> {
        let executor = &self.job.executor;
        let mut lines = vec![(Stream::Out, "Build-agent version 1.0.275443-6d93c4a6 (simulated)".to_owned())];
        match executor.kind {
            ExecutorKind::Docker | ExecutorKind::RemoteDocker => {
                if let crate::project::executor::ExecutorKey::Docker { image } = &executor.key {
                    lines.push((Stream::Out, format!("Starting container {image}")));
                }
            }
            ExecutorKind::Runner => {
                lines.push((Stream::Out, format!("Runner {} took the task", self.host.hostname)));
            }
            ExecutorKind::Machine | ExecutorKind::Arm | ExecutorKind::Windows => {
                lines.push((
                    Stream::Out,
                    format!("Creating a {} VM for resource class {}", executor.type_name(), executor.resource_class),
                ));
            }
        }
        lines
    }

    fn end_at_spin_up(mut self, result: JobResult, message: String) -> Course {
        let mut lines = self.spin_up_lines();
        lines.push((Stream::Err, message));
        self.steps.push(StepRun {
            name: "Spin up environment".to_owned(),
            id: 0,
            lines,
            exit_code: None,
            result,
            duration: self.inputs.timing.spin_up,
        });
        self.finish()
    }

    fn spin_up(&mut self) {
        let mut lines = self.spin_up_lines();
        lines.push((Stream::Out, format!("Using {} CPUs and {} MiB of memory", self.host.cpus, self.host.memory_mib)));
        self.steps.push(StepRun {
            name: "Spin up environment".to_owned(),
            id: 0,
            lines,
            exit_code: None,
            result: JobResult::Success,
            duration: self.inputs.timing.spin_up,
        });
    }

    /// Runs one config step; returns its result.
    fn step(&mut self, step: &Step, environment: &BTreeMap<String, String>, installation: &Installation) -> JobResult {
        let mut lines = Vec::new();
        let mut out = |line: String| lines.push((Stream::Out, line));
        let mut exit_code = None;
        let mut slept = Duration::ZERO;
        let mut result = JobResult::Success;
        match step {
            Step::Checkout => match &installation.checkout_refusal {
                Some(refusal) => {
                    lines.extend(checkout_lines(environment));
                    lines.extend(refusal.lines().map(|line| (Stream::Err, line.to_owned())));
                    result = JobResult::Failed;
                }
                None => {
                    lines.extend(checkout_lines(environment));
                    let commit = environment.get("CIRCLE_SHA1").cloned().unwrap_or_default();
                    self.files.write(".git/HEAD", format!("{commit}\n"));
                    self.files.write(".circleci/config.yml", realitycheck_project::CONFIG_YML.to_owned());
                    let short: String = commit.chars().take(7).collect();
                    lines.push((Stream::Out, format!("HEAD is now at {short} realitycheck")));
                }
            },
            Step::Run { command, .. } => {
                let run = shell::run(command, environment, &mut self.files, &self.host, self.engine.as_mut());
                lines = run.lines;
                exit_code = Some(run.exit_code);
                slept = run.slept;
                if run.exit_code != 0 {
                    lines.push((Stream::Err, format!("\nExited with code exit status {}", run.exit_code)));
                    result = JobResult::Failed;
                }
            }
            Step::SetupRemoteDocker { docker_layer_caching } => {
                out("Allocating a remote Docker Engine".to_owned());
                match vm_for(installation, &self.job.executor).and_then(|()| self.start_engine(*docker_layer_caching)) {
                    Ok(()) => {
                        let vm: String = self.inputs.seed.chars().take(8).collect();
                        out(format!("Remote Docker engine created. Using VM 'default-{vm}'"));
                    }
                    Err(error) => {
                        lines.push((Stream::Err, error));
                        result = JobResult::InfrastructureFail;
                    }
                }
            }
            Step::StoreArtifacts { path, destination } => {
                let found = self.files.under(path);
                if found.is_empty() {
                    out(format!("No artifact files found at {path}"));
                }
                let destination = shell::normalize(destination.as_deref().unwrap_or(path));
                for (relative, content) in found {
                    let stored =
                        if relative.is_empty() { destination.clone() } else { format!("{destination}/{relative}") };
                    out(format!("Uploading {stored}"));
                    self.artifacts.push(StoredArtifact { path: stored, content });
                }
            }
            Step::StoreTestResults { path } => {
                let source = shell::normalize(path).rsplit('/').next().unwrap_or_default().to_owned();
                out(format!("Archiving the following test results\n  * {path}"));
                for (relative, content) in self.files.under(path) {
                    if relative.ends_with(".xml") {
                        self.tests.extend(junit::test_cases(&content, &source));
                    }
                }
                if self.tests.is_empty() {
                    out("No test results found".to_owned());
                }
            }
            Step::PersistToWorkspace { root, paths } => {
                for path in paths {
                    let joined = format!("{root}/{path}");
                    for (relative, content) in self.files.under(&joined) {
                        let stored = if relative.is_empty() { path.clone() } else { format!("{path}/{relative}") };
                        self.workspace.write(&stored, content);
                    }
                }
                out(format!("Creating workspace archive of {} under {root}...", paths.join(", ")));
                out("Uploading workspace archive... Done".to_owned());
            }
            Step::AttachWorkspace { at } => {
                out("Downloading workspace layers".to_owned());
                for (relative, content) in self.inputs.workspace.under("") {
                    self.files.write(&format!("{at}/{relative}"), content);
                }
                out(format!("Applying workspace layers to {at}"));
            }
            Step::SaveCache { key, paths } => {
                if self.inputs.caches.contains_key(key) {
                    out(format!("Skipping cache generation, cache already exists for key: {key}"));
                } else {
                    let mut cache = FileSystem::default();
                    for path in paths {
                        for (relative, content) in self.files.under(path) {
                            let stored = if relative.is_empty() { path.clone() } else { format!("{path}/{relative}") };
                            cache.write(&stored, content);
                        }
                    }
                    self.inputs.caches.insert(key.clone(), cache);
                    out(format!("Creating cache archive...\nUploading cache archive...\nStored Cache to {key}"));
                }
            }
            Step::RestoreCache { keys } => {
                let found = keys
                    .iter()
                    .find_map(|key| self.inputs.caches.iter().find(|(stored, _)| stored.starts_with(key.as_str())));
                match found {
                    Some((key, cache)) => {
                        for (path, content) in cache.under("") {
                            self.files.write(&path, content);
                        }
                        out(format!("Found a cache at {key}\nUnarchiving cache..."));
                    }
                    None => out(format!("No cache is found for key: {}", keys.join(", "))),
                }
            }
        }
        let id = 101 + u64::try_from(self.steps.len() - 1).unwrap_or(0);
        let duration = self.step_time.saturating_add(timing::scaled(slept));
        self.steps.push(StepRun { name: step.display_name(), id, lines, exit_code, result, duration });
        result
    }

    fn finish(self) -> Course {
        if self.layer_caching
            && let Some(engine) = self.engine
        {
            self.inputs.dlc_volumes.insert(self.job.executor.kind, engine.into_layers());
        }
        let result = self.steps.last().map_or(JobResult::Success, |step| step.result);
        Course::Runs {
            steps: self.steps,
            result,
            artifacts: self.artifacts,
            tests: self.tests,
            workspace: self.workspace,
        }
    }
}

/// The machine a job's commands see.
/// What CircleCI's checkout step prints before it clones (the repository of the project, over
/// SSH with the project's checkout key).
fn checkout_lines(environment: &BTreeMap<String, String>) -> Vec<(Stream, String)> {
    let repository = crate::SIM_PROJECT.trim_start_matches("gh/");
    let branch = environment.get("CIRCLE_BRANCH").map_or("main", String::as_str);
    [
        "Using SSH Config Dir '/home/circleci/.ssh'".to_owned(),
        "git version 2.43.0".to_owned(),
        format!("Cloning git repository git@github.com:{repository}.git"),
        "Cloning into '.'...".to_owned(),
        format!("Checking out branch {branch}"),
    ]
    .into_iter()
    .map(|line| (Stream::Out, line))
    .collect()
}

fn host_of(job: &PlannedJob, inputs: &JobInputs<'_>) -> Host {
    let class = match job.executor.kind {
        ExecutorKind::Docker | ExecutorKind::RemoteDocker => {
            inputs.installation.docker_class_run_on(&job.executor.resource_class)
        }
        _ => job.executor.resource_class.as_str(),
    };
    let container: String = inputs.seed.chars().filter(|c| *c != '-').take(12).collect();
    let (cpus, memory_mib) = match (job.executor.kind, class) {
        (ExecutorKind::Docker | ExecutorKind::RemoteDocker, _) => {
            let size = executor::docker_class_size(class);
            (size.cpus, u32::try_from(size.memory_mib).unwrap_or(u32::MAX))
        }
        (ExecutorKind::Machine | ExecutorKind::Windows, "large" | "windows.large") => (4, 15360),
        (ExecutorKind::Machine | ExecutorKind::Arm | ExecutorKind::Windows, _) => (2, 7680),
        (ExecutorKind::Runner, _) => (2, 3840),
    };
    let (arch, kernel, hostname) = match job.executor.kind {
        ExecutorKind::Docker | ExecutorKind::RemoteDocker => ("x86_64", "Linux", container),
        ExecutorKind::Machine => ("x86_64", "Linux", format!("ip-10-0-9-{}", inputs.seed.len() + 100)),
        ExecutorKind::Arm => ("aarch64", "Linux", format!("ip-10-0-10-{}", inputs.seed.len() + 100)),
        ExecutorKind::Windows => (
            "x86_64",
            "Windows_NT",
            format!("EC2AMAZ-{}", container.chars().take(7).collect::<String>().to_uppercase()),
        ),
        ExecutorKind::Runner => {
            let hostname = inputs.installation.runners_of(class).next().map(|runner| runner.hostname.clone());
            ("x86_64", "Linux", hostname.unwrap_or(container))
        }
    };
    let issuer = Some(std::sync::Arc::clone(&inputs.installation.oidc.issuer));
    let env_subst = inputs.installation.circleci_cli_has_env_subst;
    Host { arch, kernel, cpus, memory_mib, hostname, env_subst, issuer }
}
