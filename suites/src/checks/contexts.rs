//! `contexts::*`: the contexts the realitycheck project's jobs use exist in the project's
//! organization with their variables; `--setup-contexts` creates what is missing, and marks
//! what it creates so that it never changes a context it did not create.

use std::sync::Arc;

use harness::{Check, CheckKind, CheckSpec, Diagnosis, SkipReason, Tag, Verdict};
use realitycheck_config::Secret;

use super::api::{api_failure, not_configured, project_configured};
use crate::api::{ContextsError, Fetched, OrgContexts, retries_note};
use crate::circleci::{ApiClient, ApiError, Context as ApiContext, Retry};
use crate::context::Context;

/// A variable in each context realitycheck creates; its presence is the record that
/// realitycheck may change the context.
pub const CREATED_MARKER: &str = "REALITYCHECK_CREATED_THIS_CONTEXT";

/// The value realitycheck gives the variables it creates (the jobs check that they exist).
const VARIABLE_VALUE: &str = "1";

/// A context the project's jobs use, and the variable they read from it.
#[derive(Debug, Clone, Copy)]
pub struct RequiredContext {
    pub check_id: &'static str,
    pub name: &'static str,
    pub variable: &'static str,
}

pub const ORG_GLOBAL: RequiredContext =
    RequiredContext { check_id: "contexts::org_global", name: "org-global", variable: "CONTEXT_END_TO_END_TEST_VAR" };

pub const INDIVIDUAL_LOCAL: RequiredContext = RequiredContext {
    check_id: "contexts::individual_local",
    name: "individual-local",
    variable: "MULTI_CONTEXT_END_TO_END_VAR",
};

pub fn org_global() -> Check<Context> {
    context_check(ORG_GLOBAL)
}

pub fn individual_local() -> Check<Context> {
    context_check(INDIVIDUAL_LOCAL)
}

/// The contexts the project's jobs use, in the order the job reads their variables.
pub const REQUIRED: [RequiredContext; 2] = [ORG_GLOBAL, INDIVIDUAL_LOCAL];

/// What the run found (and, with `--setup-contexts`, did) for one required context.
#[derive(Debug, Clone)]
pub struct PreparedContext {
    pub required: RequiredContext,
    pub verdict: Verdict,
    /// The context's id when it exists and has the variable the jobs read.
    pub usable_id: Option<String>,
    /// realitycheck created the context, so it may set the variable's value.
    pub created_by_us: bool,
}

/// Every required context, prepared once per run for the context checks and the pipeline.
#[derive(Debug, Clone)]
pub struct ContextSetup {
    pub contexts: Vec<PreparedContext>,
    pub retries: Vec<Retry>,
}

impl ContextSetup {
    pub fn get(&self, required: RequiredContext) -> Option<&PreparedContext> {
        self.contexts.iter().find(|c| c.required.name == required.name)
    }
}

/// Finds each required context and its variable; with `setup`, creates what is missing
/// (only in contexts realitycheck created).
pub async fn prepare(client: &ApiClient, org: &Fetched<OrgContexts>, setup: bool) -> ContextSetup {
    let client = client.scoped();
    let mut contexts = Vec::new();
    for required in REQUIRED {
        contexts.push(match org.value.contexts.iter().find(|c| c.name == required.name) {
            None if setup => create(&client, &org.value, required).await,
            None => PreparedContext {
                required,
                verdict: Verdict::Fail(missing_context(&org.value, required)),
                usable_id: None,
                created_by_us: false,
            },
            Some(context) => check_variable(&client, &org.value, context, required, setup).await,
        });
    }
    let mut retries = org.retries.clone();
    retries.extend(client.retries());
    ContextSetup { contexts, retries }
}

fn context_check(required: RequiredContext) -> Check<Context> {
    let spec = CheckSpec::new(
        required.check_id,
        CheckKind::Api,
        format!("context `{}` has the variable {}", required.name, required.variable),
    )
    .tagged(Tag::NeedsApi);
    Check::new(spec, move |ctx: Arc<Context>| async move { verify(&ctx, required).await })
        .applies_when(project_configured)
}

async fn verify(ctx: &Context, required: RequiredContext) -> Verdict {
    let Some(context_setup) = ctx.api.as_ref().and_then(|api| api.context_setup.as_ref()) else {
        return not_configured(project_configured(ctx));
    };
    let setup = match context_setup.get().await {
        Ok(setup) => setup,
        Err(error) => return contexts_unavailable(&error),
    };
    match setup.get(required).map(|prepared| &prepared.verdict) {
        Some(Verdict::Pass(note)) => Verdict::Pass(format!("{note}{}", retries_note(&setup.retries))),
        Some(other) => other.clone(),
        None => Verdict::Fail(Diagnosis::new("the context was not prepared").cause("a bug in realitycheck")),
    }
}

fn contexts_unavailable(error: &ContextsError) -> Verdict {
    match error {
        ContextsError::Project(error) => {
            Verdict::Skip(SkipReason::Blocked { by: "api::project".into(), reason: error.to_string() })
        }
        ContextsError::NoOrganization(slug) => Verdict::Fail(
            Diagnosis::new(format!("the API does not say which organization owns {slug}"))
                .cause("this server's API is older than realitycheck expects (no organization_id on projects)")
                .remediation("report the server version; contexts cannot be listed without the organization")
                .phase("CircleCI API"),
        ),
        ContextsError::Api(error) => Verdict::Fail(api_failure(error)),
    }
}

fn missing_context(org: &OrgContexts, required: RequiredContext) -> Diagnosis {
    let RequiredContext { name, variable, .. } = required;
    let owner = &org.owner_id;
    Diagnosis::new(format!("context `{name}` does not exist in organization {}", org.owner_name))
        .observed(format!("the organization has {} contexts: {}", org.contexts.len(), names(&org.contexts)))
        .cause("the contexts of the install guide's Reality Check step were not created")
        .remediation(format!(
            "run `realitycheck run --setup-contexts contexts::` to create it, or by hand: `circleci context create --org-id {owner} {name}` then `circleci context store-secret --org-id {owner} {name} {variable}` (any value, e.g. 1)"
        ))
        .phase("contexts")
}

fn names(contexts: &[ApiContext]) -> String {
    if contexts.is_empty() {
        return "none".into();
    }
    contexts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Creates the context, marks it as realitycheck's, and stores the variable.
async fn create(client: &ApiClient, org: &OrgContexts, required: RequiredContext) -> PreparedContext {
    let RequiredContext { name, variable, .. } = required;
    let failed = |diagnosis| PreparedContext {
        required,
        verdict: Verdict::Fail(diagnosis),
        usable_id: None,
        created_by_us: false,
    };
    let created = match client.create_context(name, &org.owner_id).await {
        Ok(created) => created,
        Err(error) => return failed(creation_failure(name, &error)),
    };
    let marker = Secret::new("created by realitycheck --setup-contexts");
    for (key, value) in [(CREATED_MARKER, marker), (variable, Secret::new(VARIABLE_VALUE))] {
        if let Err(error) = client.put_context_variable(&created.id, key, &value).await {
            return PreparedContext { created_by_us: true, ..failed(api_failure(&error)) };
        }
    }
    PreparedContext {
        required,
        verdict: Verdict::Pass(format!("created context `{name}` with {variable} (--setup-contexts)")),
        usable_id: Some(created.id),
        created_by_us: true,
    }
}

fn creation_failure(name: &str, error: &ApiError) -> Diagnosis {
    let diagnosis = api_failure(error);
    match error.status() {
        Some(400 | 409 | 422) => diagnosis
            .cause(format!("on CircleCI server, context names are unique across the whole installation: another organization may already own `{name}`"))
            .remediation(format!("find the context named `{name}` in the other organizations (Organization Settings > Contexts); the project's jobs need it in their own organization"))
            .phase("contexts"),
        _ => diagnosis,
    }
}

async fn check_variable(
    client: &ApiClient,
    org: &OrgContexts,
    context: &ApiContext,
    required: RequiredContext,
    setup: bool,
) -> PreparedContext {
    let RequiredContext { name, variable, .. } = required;
    let variables = match client.context_variables(&context.id).await {
        Ok(variables) => variables,
        Err(error) => {
            return PreparedContext {
                required,
                verdict: Verdict::Fail(api_failure(&error)),
                usable_id: None,
                created_by_us: false,
            };
        }
    };
    let created_by_us = variables.iter().any(|v| v.variable == CREATED_MARKER);
    let prepared = |verdict, usable: bool| PreparedContext {
        required,
        verdict,
        usable_id: usable.then(|| context.id.clone()),
        created_by_us,
    };
    if variables.iter().any(|v| v.variable == variable) {
        return prepared(Verdict::Pass(format!("context `{name}` has {variable}")), true);
    }
    if setup && created_by_us {
        return match client.put_context_variable(&context.id, variable, &Secret::new(VARIABLE_VALUE)).await {
            Ok(_) => prepared(Verdict::Pass(format!("added {variable} to context `{name}` (--setup-contexts)")), true),
            Err(error) => prepared(Verdict::Fail(api_failure(&error)), false),
        };
    }
    let present: Vec<&str> = variables.iter().map(|v| v.variable.as_str()).collect();
    let owner = &org.owner_id;
    let by_hand = format!("`circleci context store-secret --org-id {owner} {name} {variable}` (any value, e.g. 1)");
    let remediation = match (setup, created_by_us) {
        (true, false) => format!(
            "realitycheck did not create `{name}`, so --setup-contexts leaves it alone; add the variable by hand: {by_hand}"
        ),
        _ => format!("add the variable: {by_hand}, or in Organization Settings > Contexts > {name}"),
    };
    let missing = Diagnosis::new(format!("context `{name}` has no variable {variable}"))
        .observed(format!(
            "variables in `{name}`: {}",
            if present.is_empty() { "none".to_string() } else { present.join(", ") }
        ))
        .cause("the context exists but the variable the realitycheck jobs read was never added")
        .remediation(remediation)
        .phase("contexts");
    prepared(Verdict::Fail(missing), false)
}
