//! The CircleCI contexts the project's jobs need, found in the project's organization once per
//! run; with `--setup-contexts`, what is missing is created, and what realitycheck creates is
//! marked so that it never changes a context it did not create. What was found is data: the
//! checks (`crate::checks::contexts`) judge it.

use realitycheck_config::Secret;
pub use realitycheck_project::CREATED_MARKER;
use realitycheck_project::{CONTEXTS, ProjectContext};

use super::api::{Fetched, OrgContexts};
use crate::clients::circleci::{ApiClient, ApiError, Context, Retry};

/// The value realitycheck gives the variables it creates (the jobs check that they exist).
const VARIABLE_VALUE: &str = "1";

/// What the run found, or did, for one context.
#[derive(Debug, Clone)]
pub enum Finding {
    /// The context has the variable.
    HasVariable,
    /// `--setup-contexts` created the context with the variable.
    Created,
    /// `--setup-contexts` added the variable to a context realitycheck had created.
    VariableAdded,
    /// The organization has no context of that name.
    Missing,
    /// The context exists without the variable; these are the variables it has.
    NoVariable(Vec<String>),
    /// Creating the context failed.
    CreationFailed(ApiError),
    /// An API call about the context failed (listing or storing its variables).
    ApiFailed(ApiError),
}

/// What the run found for one context the project's jobs need.
#[derive(Debug, Clone)]
pub struct PreparedContext {
    /// The context and the variable its jobs read.
    pub context: ProjectContext,
    /// What was found or done.
    pub finding: Finding,
    /// The context's id when it exists and has the variable the jobs read.
    pub usable_id: Option<String>,
    /// realitycheck created the context, so it may set the variable's value.
    pub created_by_us: bool,
}

/// Every context the project's jobs need, prepared once per run for the context checks and
/// the pipeline.
#[derive(Debug, Clone)]
pub struct ContextSetup {
    /// The organization and its contexts, as listed.
    pub org: OrgContexts,
    /// Whether `--setup-contexts` was asked for.
    pub setup: bool,
    /// One per context of [`CONTEXTS`], in that order.
    pub contexts: Vec<PreparedContext>,
    /// The retries the calls took.
    pub retries: Vec<Retry>,
}

impl ContextSetup {
    /// What was found for `context`.
    pub fn get(&self, context: ProjectContext) -> Option<&PreparedContext> {
        self.contexts.iter().find(|c| c.context.name == context.name)
    }
}

/// Finds each context the jobs need and its variable; with `setup`, creates what is missing
/// (only in contexts realitycheck created).
pub async fn prepare(client: &ApiClient, org: &Fetched<OrgContexts>, setup: bool) -> ContextSetup {
    let client = client.scoped();
    let mut contexts = Vec::new();
    for context in CONTEXTS {
        contexts.push(match org.value.contexts.iter().find(|c| c.name == context.name) {
            None if setup => create(&client, &org.value, context).await,
            None => PreparedContext { context, finding: Finding::Missing, usable_id: None, created_by_us: false },
            Some(existing) => check_variable(&client, existing, context, setup).await,
        });
    }
    let mut retries = org.retries.clone();
    retries.extend(client.retries());
    ContextSetup { org: org.value.clone(), setup, contexts, retries }
}

/// Creates the context, marks it as realitycheck's, and stores the variable.
async fn create(client: &ApiClient, org: &OrgContexts, context: ProjectContext) -> PreparedContext {
    let failed = |finding, created_by_us| PreparedContext { context, finding, usable_id: None, created_by_us };
    let created = match client.create_context(context.name, &org.owner_id).await {
        Ok(created) => created,
        Err(error) => return failed(Finding::CreationFailed(error), false),
    };
    let marker = Secret::new("created by realitycheck --setup-contexts");
    for (key, value) in [(CREATED_MARKER, marker), (context.variable, Secret::new(VARIABLE_VALUE))] {
        if let Err(error) = client.put_context_variable(&created.id, key, &value).await {
            return failed(Finding::ApiFailed(error), true);
        }
    }
    PreparedContext { context, finding: Finding::Created, usable_id: Some(created.id), created_by_us: true }
}

async fn check_variable(
    client: &ApiClient,
    existing: &Context,
    context: ProjectContext,
    setup: bool,
) -> PreparedContext {
    let variables = match client.context_variables(&existing.id).await {
        Ok(variables) => variables,
        Err(error) => {
            return PreparedContext {
                context,
                finding: Finding::ApiFailed(error),
                usable_id: None,
                created_by_us: false,
            };
        }
    };
    let created_by_us = variables.iter().any(|v| v.variable == CREATED_MARKER);
    let prepared = |finding, usable: bool| PreparedContext {
        context,
        finding,
        usable_id: usable.then(|| existing.id.clone()),
        created_by_us,
    };
    if variables.iter().any(|v| v.variable == context.variable) {
        return prepared(Finding::HasVariable, true);
    }
    if setup && created_by_us {
        return match client.put_context_variable(&existing.id, context.variable, &Secret::new(VARIABLE_VALUE)).await {
            Ok(_) => prepared(Finding::VariableAdded, true),
            Err(error) => prepared(Finding::ApiFailed(error), false),
        };
    }
    prepared(Finding::NoVariable(variables.into_iter().map(|v| v.variable).collect()), false)
}
