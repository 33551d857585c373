//! What API checks share: the client of the target's CircleCI API and the lazily fetched
//! answers several checks need (the user behind the token, the project, the project's
//! organization's contexts), each with the retries it took.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use harness::Fixture;
use realitycheck_config::{Target, display_host};

use crate::checks::contexts::{self, ContextSetup};
use crate::circleci::{ApiClient, ApiError, ApiSettings, Context, Project, Retry, RetryPolicy, User};
use crate::pipeline::{PipelineRun, PollIntervals, TriggerError};

/// An answer and the retries it took.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub value: T,
    pub retries: Vec<Retry>,
}

/// Why the organization's contexts could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ContextsError {
    #[error("the project could not be read: {0}")]
    Project(Arc<ApiError>),
    #[error("the API does not say which organization owns {0}")]
    NoOrganization(String),
    #[error(transparent)]
    Api(ApiError),
}

/// The run's pipeline, started once: a failed start is kept as a value, never retried.
pub type PipelineFixture = Fixture<Result<Arc<PipelineRun>, Arc<TriggerError>>, Infallible>;

pub struct Api {
    pub client: ApiClient,
    pub me: Fixture<Fetched<User>, ApiError>,
    /// `None` when no project slug is configured.
    pub project: Option<Arc<Fixture<Fetched<Project>, ApiError>>>,
    /// The contexts of the project's organization; `None` without a project.
    pub contexts: Option<Arc<Fixture<Fetched<OrgContexts>, ContextsError>>>,
    /// The required contexts, found (and with `--setup-contexts` created); `None` without a project.
    pub context_setup: Option<Arc<Fixture<ContextSetup, Arc<ContextsError>>>>,
    /// This run's pipeline, triggered by the first pipeline check that asks; a failed trigger
    /// is kept too, so that it is tried once per run. `None` without a project.
    pub pipeline: Option<PipelineFixture>,
    /// The IDs of the checks this run runs, when known before the pipeline starts: its
    /// parameters then leave out the workflows no selected check waits for.
    pub selected_checks: Arc<OnceLock<Vec<String>>>,
}

/// The contexts an organization owns, and the organization.
#[derive(Debug, Clone)]
pub struct OrgContexts {
    pub owner_id: String,
    pub owner_name: String,
    pub contexts: Vec<Context>,
}

impl Api {
    /// `None` when the target has no host or no token (the API checks are then skipped as
    /// not configured); `Err` when the CA bundle cannot be used.
    pub fn for_target(
        target: &Target,
        timeout: Duration,
        setup_contexts: bool,
        poll: PollIntervals,
    ) -> Result<Option<Api>, String> {
        let (Some(host), Some(token)) = (&target.host, &target.token) else {
            return Ok(None);
        };
        let client = ApiClient::new(&ApiSettings {
            host: host.clone(),
            token: token.clone(),
            timeout,
            ca_bundle: target.ca_bundle.clone(),
            insecure: target.insecure,
            retry: RetryPolicy::default(),
        })?;
        let for_me = client.clone();
        let me = Fixture::new("user behind the token", move || {
            let client = for_me.scoped();
            async move { client.me().await.map(|value| Fetched { value, retries: client.retries() }) }
        });
        let project = target.project.clone().map(|slug| {
            let client = client.clone();
            Arc::new(Fixture::new("project", move || {
                let (client, slug) = (client.scoped(), slug.clone());
                async move { client.project(&slug).await.map(|value| Fetched { value, retries: client.retries() }) }
            }))
        });
        let contexts = project.clone().map(|project| {
            let client = client.clone();
            Arc::new(Fixture::new("organization contexts", move || {
                let (client, project) = (client.scoped(), Arc::clone(&project));
                async move {
                    let project = project.get().await.map_err(ContextsError::Project)?;
                    let owner_id = project
                        .value
                        .organization_id
                        .clone()
                        .ok_or_else(|| ContextsError::NoOrganization(project.value.slug.clone()))?;
                    let contexts = client.contexts(&owner_id).await.map_err(ContextsError::Api)?;
                    let mut retries = project.retries.clone();
                    retries.extend(client.retries());
                    let owner_name = project.value.organization_name.clone().unwrap_or_else(|| owner_id.clone());
                    Ok(Fetched { value: OrgContexts { owner_id, owner_name, contexts }, retries })
                }
            }))
        });
        let context_setup = contexts.clone().map(|contexts| {
            let client = client.clone();
            Arc::new(Fixture::new("context setup", move || {
                let (client, contexts) = (client.clone(), Arc::clone(&contexts));
                async move {
                    let org = contexts.get().await?;
                    Ok(contexts::prepare(&client, org, setup_contexts).await)
                }
            }))
        });
        let selected_checks: Arc<OnceLock<Vec<String>>> = Arc::default();
        let pipeline = match (&target.project, &project, &context_setup) {
            (Some(slug), Some(project), Some(context_setup)) => {
                let (client, target, slug) = (client.clone(), target.clone(), slug.clone());
                let (project, context_setup) = (Arc::clone(project), Arc::clone(context_setup));
                let selected_checks = Arc::clone(&selected_checks);
                Some(Fixture::new("pipeline", move || {
                    let (client, target, slug) = (client.clone(), target.clone(), slug.clone());
                    let (project, context_setup) = (Arc::clone(&project), Arc::clone(&context_setup));
                    let selected_checks = Arc::clone(&selected_checks);
                    async move {
                        let selected = selected_checks.get().map(Vec::as_slice);
                        let run =
                            PipelineRun::start(&client, &target, &slug, &project, &context_setup, poll, selected).await;
                        Ok(run.map(Arc::new).map_err(Arc::new))
                    }
                }))
            }
            _ => None,
        };
        Ok(Some(Api { client, me, project, contexts, context_setup, pipeline, selected_checks }))
    }

    pub fn host(&self) -> String {
        display_host(self.client.host())
    }
}

/// ` (after 2 retries: GET /api/v2/me 503: ..., ...)` for a pass note, empty without retries.
pub fn retries_note(retries: &[Retry]) -> String {
    match retries {
        [] => String::new(),
        _ => {
            let list: Vec<String> = retries
                .iter()
                .map(|r| format!("{} {} (waited {})", r.call, r.reason, harness::humanize(r.wait)))
                .collect();
            let count = if retries.len() == 1 { "1 retry".to_string() } else { format!("{} retries", retries.len()) };
            format!(" (after {count}: {})", list.join("; "))
        }
    }
}
