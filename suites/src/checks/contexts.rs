//! `contexts::*`: the contexts the realitycheck project's jobs use exist in the project's
//! organization with their variables; `--setup-contexts` creates what is missing, and marks
//! what it creates so that it never changes a context it did not create.

use std::sync::Arc;

use harness::{Check, CheckKind, CheckSpec, Diagnosis, SkipReason, Tag, Verdict};
use realitycheck_config::Secret;

use super::api::{api_failure, not_configured, project_configured};
use crate::api::{ContextsError, OrgContexts, retries_note};
use crate::circleci::{ApiClient, ApiError, Context as ApiContext};
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
    let Some((api, contexts)) = ctx.api.as_ref().and_then(|api| Some((api, api.contexts.as_ref()?))) else {
        return not_configured(project_configured(ctx));
    };
    let org = match contexts.get().await {
        Ok(org) => org,
        Err(error) => return contexts_unavailable(&error),
    };
    let client = api.client.scoped();
    let outcome = match org.value.contexts.iter().find(|c| c.name == required.name) {
        None if ctx.setup_contexts => create(&client, &org.value, required).await,
        None => Verdict::Fail(missing_context(&org.value, required)),
        Some(context) => check_variable(&client, &org.value, context, required, ctx.setup_contexts).await,
    };
    let mut retries = org.retries.clone();
    retries.extend(client.retries());
    match outcome {
        Verdict::Pass(note) => Verdict::Pass(format!("{note}{}", retries_note(&retries))),
        other => other,
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
async fn create(client: &ApiClient, org: &OrgContexts, required: RequiredContext) -> Verdict {
    let RequiredContext { name, variable, .. } = required;
    let created = match client.create_context(name, &org.owner_id).await {
        Ok(created) => created,
        Err(error) => return Verdict::Fail(creation_failure(name, &error)),
    };
    let marker = Secret::new("created by realitycheck --setup-contexts");
    for (key, value) in [(CREATED_MARKER, marker), (variable, Secret::new(VARIABLE_VALUE))] {
        if let Err(error) = client.put_context_variable(&created.id, key, &value).await {
            return Verdict::Fail(api_failure(&error));
        }
    }
    Verdict::Pass(format!("created context `{name}` with {variable} (--setup-contexts)"))
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
) -> Verdict {
    let RequiredContext { name, variable, .. } = required;
    let variables = match client.context_variables(&context.id).await {
        Ok(variables) => variables,
        Err(error) => return Verdict::Fail(api_failure(&error)),
    };
    if variables.iter().any(|v| v.variable == variable) {
        return Verdict::Pass(format!("context `{name}` has {variable}"));
    }
    let created_by_us = variables.iter().any(|v| v.variable == CREATED_MARKER);
    if setup && created_by_us {
        return match client.put_context_variable(&context.id, variable, &Secret::new(VARIABLE_VALUE)).await {
            Ok(_) => Verdict::Pass(format!("added {variable} to context `{name}` (--setup-contexts)")),
            Err(error) => Verdict::Fail(api_failure(&error)),
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
    Verdict::Fail(
        Diagnosis::new(format!("context `{name}` has no variable {variable}"))
            .observed(format!(
                "variables in `{name}`: {}",
                if present.is_empty() { "none".to_string() } else { present.join(", ") }
            ))
            .cause("the context exists but the variable the realitycheck jobs read was never added")
            .remediation(remediation)
            .phase("contexts"),
    )
}
