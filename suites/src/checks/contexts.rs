//! `contexts::*`: the contexts the realitycheck project's jobs use exist in the project's
//! organization with their variables. The run finds them once (and with `--setup-contexts`
//! creates what is missing: `crate::resources::contexts`); these checks judge what it found.

use harness::{Check, Diagnosis, SkipReason, Verdict};
use realitycheck_project::{INDIVIDUAL_LOCAL, ORG_GLOBAL, ProjectContext};

use super::api::{api_failed, api_failure};
use super::cause::{Because, StatedBy, causes};
use super::{BUG, ProjectHandles, ids, project_check, retries_note};
use crate::RealityCheck;
use crate::clients::circleci::{ApiError, Context};
use crate::phase;
use crate::resources::api::{ContextsError, OrgContexts};
use crate::resources::contexts::{ContextSetup, Finding, PreparedContext};

/// The check of each context the project's jobs use, by context.
pub const CHECK_OF: [(ProjectContext, &str); 2] =
    [(ORG_GLOBAL, ids::ORG_GLOBAL), (INDIVIDUAL_LOCAL, ids::INDIVIDUAL_LOCAL)];

pub fn org_global() -> Check<RealityCheck> {
    context_check(ORG_GLOBAL, ids::ORG_GLOBAL)
}

pub fn individual_local() -> Check<RealityCheck> {
    context_check(INDIVIDUAL_LOCAL, ids::INDIVIDUAL_LOCAL)
}

fn context_check(context: ProjectContext, id: &str) -> Check<RealityCheck> {
    let summary = format!("context `{}` has the variable {}", context.name, context.variable);
    project_check(id, &summary, move |ProjectHandles { project, .. }, _| async move {
        let setup = project.context_setup().await.map_err(|error| contexts_unavailable(&error))?;
        let prepared = setup
            .get(context)
            .ok_or_else(|| Verdict::Fail(Diagnosis::new("the context was not prepared").because(&BUG)))?;
        Ok(judge(setup, prepared))
    })
}

causes! {
    StatedBy::Checks(&[ids::ORG_GLOBAL, ids::INDIVIDUAL_LOCAL]) => {
        NO_ORGANIZATION:
            "this server's API is older than realitycheck expects (no organization_id on projects)",
            "report the server version; contexts cannot be listed without the organization";
        NO_CONTEXT:
            "the contexts of the install guide's Reality Check step were not created",
            "run `realitycheck run --setup-contexts contexts::` to create it, or by hand: `circleci context create --org-id {owner} {name}` then `circleci context store-secret --org-id {owner} {name} {variable}` (any value, e.g. 1)";
        /// Creating the context was refused (400, 409, 422).
        CONTEXT_NAME_TAKEN:
            "on CircleCI server, context names are unique across the whole installation: another organization may already own `{name}`",
            "find the context named `{name}` in the other organizations (Organization Settings > Contexts); the project's jobs need it in their own organization";
        NO_VARIABLE:
            "the context exists but the variable the realitycheck jobs read was never added",
            "add the variable: `circleci context store-secret --org-id {owner} {name} {variable}` (any value, e.g. 1), or in Organization Settings > Contexts > {name}";
        /// With --setup-contexts, in a context realitycheck did not create.
        NO_VARIABLE_NOT_OURS:
            "the context exists but the variable the realitycheck jobs read was never added",
            "realitycheck did not create `{name}`, so --setup-contexts leaves it alone; add the variable by hand: `circleci context store-secret --org-id {owner} {name} {variable}` (any value, e.g. 1)";
    }
}

/// The verdict on what the run found for one context.
pub fn judge(setup: &ContextSetup, prepared: &PreparedContext) -> Verdict {
    let ProjectContext { name, variable } = prepared.context;
    let pass = |note: String| Verdict::Pass(format!("{note}{}", retries_note(&setup.retries)));
    match &prepared.finding {
        Finding::HasVariable => pass(format!("context `{name}` has {variable}")),
        Finding::Created => pass(format!("created context `{name}` with {variable} (--setup-contexts)")),
        Finding::VariableAdded => pass(format!("added {variable} to context `{name}` (--setup-contexts)")),
        Finding::Missing => Verdict::Fail(missing_context(&setup.org, prepared.context)),
        Finding::NoVariable(present) => Verdict::Fail(missing_variable(setup, prepared, present)),
        Finding::CreationFailed(error) => Verdict::Fail(creation_failure(name, error)),
        Finding::ApiFailed(error) => api_failed(error),
    }
}

fn contexts_unavailable(error: &ContextsError) -> Verdict {
    match error {
        ContextsError::Project(error) => {
            Verdict::Skip(SkipReason::Blocked { by: ids::PROJECT.into(), reason: error.to_string() })
        }
        ContextsError::NoOrganization(slug) => Verdict::Fail(
            Diagnosis::new(format!("the API does not say which organization owns {slug}"))
                .because(&NO_ORGANIZATION)
                .phase(&phase::CIRCLECI_API),
        ),
        ContextsError::Api(error) => api_failed(error),
    }
}

fn missing_context(org: &OrgContexts, context: ProjectContext) -> Diagnosis {
    let ProjectContext { name, variable } = context;
    let owner = &org.owner_id;
    Diagnosis::new(format!("context `{name}` does not exist in organization {}", org.owner_name))
        .observed(format!("the organization has {} contexts: {}", org.contexts.len(), names(&org.contexts)))
        .because(NO_CONTEXT.with(&[("owner", owner), ("name", &name), ("variable", &variable)]))
        .phase(&phase::CONTEXTS)
}

fn names(contexts: &[Context]) -> String {
    if contexts.is_empty() {
        return "none".into();
    }
    contexts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn creation_failure(name: &str, error: &ApiError) -> Diagnosis {
    let diagnosis = api_failure(error);
    match error.status() {
        Some(400 | 409 | 422) => diagnosis.because(CONTEXT_NAME_TAKEN.with(&[("name", &name)])).phase(&phase::CONTEXTS),
        _ => diagnosis,
    }
}

fn missing_variable(setup: &ContextSetup, prepared: &PreparedContext, present: &[String]) -> Diagnosis {
    let ProjectContext { name, variable } = prepared.context;
    let cause = match (setup.setup, prepared.created_by_us) {
        (true, false) => &NO_VARIABLE_NOT_OURS,
        _ => &NO_VARIABLE,
    };
    Diagnosis::new(format!("context `{name}` has no variable {variable}"))
        .observed(format!(
            "variables in `{name}`: {}",
            if present.is_empty() { "none".to_string() } else { present.join(", ") }
        ))
        .because(cause.with(&[("owner", &setup.org.owner_id), ("name", &name), ("variable", &variable)]))
        .phase(&phase::CONTEXTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG_ID: &str = "6f8c2b1e-0000-4000-8000-000000000001";

    fn setup(setup: bool, finding: Finding, created_by_us: bool) -> ContextSetup {
        let context = |name: &str| Context { id: format!("{name}-id"), name: name.into(), created_at: None };
        ContextSetup {
            org: OrgContexts {
                owner_id: ORG_ID.into(),
                owner_name: "realitycheck-sim".into(),
                contexts: vec![context("docker-hub"), context("org-global")],
            },
            setup,
            contexts: vec![PreparedContext { context: ORG_GLOBAL, finding, usable_id: None, created_by_us }],
            retries: Vec::new(),
        }
    }

    fn verdict(setup: &ContextSetup) -> Verdict {
        judge(setup, &setup.contexts[0])
    }

    fn refused(status: u16) -> ApiError {
        ApiError::Status {
            call: "POST /api/v2/context".into(),
            url: "https://circleci.example/api/v2/context".into(),
            status,
            message: "A context already exists with this name".into(),
        }
    }

    #[test]
    fn each_finding_has_its_verdict() {
        let pass = |finding, setup_flag| match verdict(&setup(setup_flag, finding, true)) {
            Verdict::Pass(note) => note,
            other => panic!("{other:?}"),
        };
        assert_eq!(pass(Finding::HasVariable, false), "context `org-global` has CONTEXT_END_TO_END_TEST_VAR");
        assert_eq!(
            pass(Finding::Created, true),
            "created context `org-global` with CONTEXT_END_TO_END_TEST_VAR (--setup-contexts)"
        );
        assert_eq!(
            pass(Finding::VariableAdded, true),
            "added CONTEXT_END_TO_END_TEST_VAR to context `org-global` (--setup-contexts)"
        );

        let Verdict::Fail(missing) = verdict(&setup(false, Finding::Missing, false)) else { panic!() };
        assert_eq!(missing.summary, "context `org-global` does not exist in organization realitycheck-sim");
        assert_eq!(missing.observed, ["the organization has 2 contexts: docker-hub, org-global"]);
        assert!(missing.remediation.contains(&format!("circleci context create --org-id {ORG_ID} org-global")));

        let Verdict::Fail(api) = verdict(&setup(false, Finding::ApiFailed(refused(500)), false)) else { panic!() };
        assert_eq!(api.summary, "POST /api/v2/context answered 500: A context already exists with this name");
    }

    #[test]
    fn a_missing_variable_is_added_by_hand_unless_realitycheck_owns_the_context() {
        let no_variable = || Finding::NoVariable(vec!["OTHER_VAR".into()]);
        let Verdict::Fail(foreign) = verdict(&setup(true, no_variable(), false)) else { panic!() };
        assert_eq!(foreign.summary, "context `org-global` has no variable CONTEXT_END_TO_END_TEST_VAR");
        assert_eq!(foreign.observed, ["variables in `org-global`: OTHER_VAR"]);
        assert!(foreign.remediation.starts_with("realitycheck did not create `org-global`"), "{foreign:?}");
        let Verdict::Fail(plain) = verdict(&setup(false, no_variable(), false)) else { panic!() };
        assert!(plain.remediation.starts_with("add the variable: `circleci context store-secret"), "{plain:?}");
        let Verdict::Fail(empty) = verdict(&setup(false, Finding::NoVariable(Vec::new()), false)) else { panic!() };
        assert_eq!(empty.observed, ["variables in `org-global`: none"]);
    }

    #[test]
    fn a_refused_creation_names_the_installation_wide_names() {
        for status in [400, 409, 422] {
            let Verdict::Fail(taken) = verdict(&setup(true, Finding::CreationFailed(refused(status)), false)) else {
                panic!()
            };
            assert!(taken.cause.contains("context names are unique across the whole installation"), "{taken:?}");
            assert_eq!(taken.phase, Some(&phase::CONTEXTS));
        }
        let Verdict::Fail(other) = verdict(&setup(true, Finding::CreationFailed(refused(503)), false)) else {
            panic!()
        };
        assert!(!other.cause.contains("unique across the whole installation"), "{other:?}");
    }
}
