//! The CircleCI API as the checks of one run share it: the client of the target's API and the
//! lazily fetched answers several checks need (the user behind the token; the project, its
//! organization's contexts and their setup), each with the retries it took.

use std::sync::Arc;
use std::time::Duration;

use harness::Fixture;
use realitycheck_config::{Target, display_host};

use super::contexts::{self, ContextSetup};
use crate::clients::circleci::{
    ApiClient, ApiClientError, ApiError, ApiSettings, Context, Project, Retry, RetryPolicy, User,
};

/// An answer and the retries it took.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// The answer.
    pub value: T,
    /// The retries it took.
    pub retries: Vec<Retry>,
}

/// Why the organization's contexts could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ContextsError {
    /// The project (which names the organization) could not be read.
    #[error("the project could not be read: {0}")]
    Project(Arc<ApiError>),
    /// The project's answer names no organization.
    #[error("the API does not say which organization owns {0}")]
    NoOrganization(String),
    /// Listing the contexts failed.
    #[error(transparent)]
    Api(ApiError),
}

/// The contexts an organization owns, and the organization.
#[derive(Debug, Clone)]
pub struct OrgContexts {
    /// The organization's id.
    pub owner_id: String,
    /// The organization's name (its id when the API gives no name).
    pub owner_name: String,
    /// Its contexts.
    pub contexts: Vec<Context>,
}

/// The target's CircleCI API and the user behind the token.
#[derive(Clone)]
pub struct ApiAccess {
    client: ApiClient,
    me: Arc<Fixture<Fetched<User>, ApiError>>,
    insecure: bool,
    tls_min_days: u32,
}

impl ApiAccess {
    /// `None` when the target has no host or no token; `Err` when the client cannot be built
    /// (its CA bundle).
    pub fn for_target(target: &Target, timeout: Duration) -> Result<Option<ApiAccess>, ApiClientError> {
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
            max_pages: target.max_pages,
        })?;
        let for_me = client.clone();
        let me = Arc::new(Fixture::new("user behind the token", move || {
            let client = for_me.scoped();
            async move { client.me().await.map(|value| Fetched { value, retries: client.retries() }) }
        }));
        Ok(Some(ApiAccess { client, me, insecure: target.insecure, tls_min_days: target.tls_min_days }))
    }

    /// The API client.
    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    /// The user behind the token, asked once per run.
    pub async fn me(&self) -> Result<&Fetched<User>, Arc<ApiError>> {
        self.me.get().await
    }

    /// The installation's base URL, as messages print it.
    pub fn host(&self) -> String {
        display_host(self.client.host())
    }

    /// Whether the run's API calls accept any certificate (`insecure`).
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// An installation certificate that expires within this many days is red.
    pub fn tls_min_days(&self) -> u32 {
        self.tls_min_days
    }
}

/// The realitycheck project on the installation: the project, its organization's contexts and
/// the contexts its jobs need, each fetched once per run.
#[derive(Clone)]
pub struct ProjectAccess {
    slug: String,
    project: Arc<Fixture<Fetched<Project>, ApiError>>,
    context_setup: Arc<Fixture<ContextSetup, Arc<ContextsError>>>,
}

impl ProjectAccess {
    /// The project of `slug`; `setup_contexts` creates the contexts and variables its jobs
    /// need when they are missing.
    pub fn new(api: &ApiAccess, slug: &str, setup_contexts: bool) -> ProjectAccess {
        let client = api.client.clone();
        let for_project = (client.clone(), slug.to_string());
        let project = Arc::new(Fixture::new("project", move || {
            let (client, slug) = (for_project.0.scoped(), for_project.1.clone());
            async move { client.project(&slug).await.map(|value| Fetched { value, retries: client.retries() }) }
        }));
        let for_contexts = (client.clone(), Arc::clone(&project));
        let contexts = Arc::new(Fixture::new("organization contexts", move || {
            let (client, project) = (for_contexts.0.scoped(), Arc::clone(&for_contexts.1));
            async move { org_contexts(&client, &project).await }
        }));
        let context_setup = Arc::new(Fixture::new("context setup", move || {
            let (client, contexts) = (client.clone(), Arc::clone(&contexts));
            async move {
                let org = contexts.get().await?;
                Ok(contexts::prepare(&client, org, setup_contexts).await)
            }
        }));
        ProjectAccess { slug: slug.to_string(), project, context_setup }
    }

    /// The project's slug (`vcs/org/repo`).
    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The project, asked once per run.
    pub async fn project(&self) -> Result<&Fetched<Project>, Arc<ApiError>> {
        self.project.get().await
    }

    /// The contexts the project's jobs need, found (and with `--setup-contexts` created) once
    /// per run.
    pub async fn context_setup(&self) -> Result<&ContextSetup, Arc<ContextsError>> {
        self.context_setup.get().await.map_err(|error| Arc::clone(&*error))
    }
}

async fn org_contexts(
    client: &ApiClient,
    project: &Fixture<Fetched<Project>, ApiError>,
) -> Result<Fetched<OrgContexts>, ContextsError> {
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
