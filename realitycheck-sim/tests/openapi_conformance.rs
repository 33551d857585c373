//! Every response the simulated CircleCI API can produce, validated against the schema the
//! official OpenAPI spec gives for its operation and status.
//!
//! This test reads the shared reference beside the repository (`../shared/reference`): the v2
//! spec `circleci-openapi-v2.json`, the v1.1 spec and a recorded v1.1 error body. Without them it
//! prints why and passes, unless `REALITYCHECK_REQUIRE_TOOLS=1`, which makes them mandatory.
//!
//! OpenAPI 3.0 schemas are not quite JSON Schema, so a copy of the spec is translated first:
//! `nullable: true` (and `x-nullable: true`) become a union with `null`, and an
//! `additionalProperties: false` beside `anyOf`/`oneOf` with no `properties` of its own is dropped
//! (as JSON Schema it would forbid every property; each alternative is closed on its own). The
//! spec's `$ref`s then resolve inside the translated document, registered as one resource.
//! A status the operation does not list uses its `default` response; without one, the body must
//! satisfy every error response the operation documents.
//!
//! Where real servers send `null` for a field the spec calls a required non-null string, the
//! simulation does too, and the spec copy admits `null` there and nowhere else
//! ([`REAL_SERVER_NULLS`], each with its evidence); the test checks that each such field exists and
//! was not nullable, so the list cannot silently widen.
//!
//! Answers no spec covers are checked by hand: the v1.1 errors (against recorded real bodies),
//! the presigned storage (artifact content, step output lines) and the self-hosted runner API,
//! whose reference (circleci.com/docs/reference/runner-api) has no OpenAPI document at hand.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use jsonschema::{Draft, Registry, Validator};
use realitycheck_sim::execution::JobTiming;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use realitycheck_sim::{SIM_ORG_ID, SIM_RUNNER_RESOURCE_CLASS, SIM_TOKEN};
use reqwest::Method;
use serde_json::{Map, Value, json};

const V2_URI: &str = "urn:circleci:openapi:v2";
const V1_URI: &str = "urn:circleci:openapi:v1.1";

/// A file of the shared reference, or `None` (with the reason printed) when the test may skip.
fn shared_reference(file: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference").join(file);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "{} is required (REALITYCHECK_REQUIRE_TOOLS=1) but absent",
        path.display()
    );
    eprintln!("skipping: {} is absent (set REALITYCHECK_REQUIRE_TOOLS=1 to require it)", path.display());
    None
}

fn read_json(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Rewrites OpenAPI 3.0 schema idioms into JSON Schema, everywhere in `value`.
fn translate_openapi_schemas(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(translate_openapi_schemas),
        Value::Object(object) => {
            object.values_mut().for_each(translate_openapi_schemas);
            let combines = ["anyOf", "oneOf"].iter().any(|keyword| object.contains_key(*keyword));
            if combines
                && !object.contains_key("properties")
                && object.get("additionalProperties") == Some(&json!(false))
            {
                object.remove("additionalProperties");
            }
            let nullable = object.remove("nullable") == Some(json!(true));
            let x_nullable = object.remove("x-nullable") == Some(json!(true));
            if nullable || x_nullable {
                make_nullable(value);
            }
        }
        _ => {}
    }
}

fn make_nullable(schema: &mut Value) {
    let Value::Object(object) = schema else { return };
    if let Some(Value::Array(choices)) = object.get_mut("enum") {
        choices.push(Value::Null);
    }
    match object.get_mut("type") {
        Some(Value::String(single)) => {
            let single = std::mem::take(single);
            object.insert("type".to_owned(), json!([single, "null"]));
        }
        Some(Value::Array(types)) => types.push(json!("null")),
        _ => {
            let original = Value::Object(std::mem::take(object));
            *schema = json!({"anyOf": [original, {"type": "null"}]});
        }
    }
}

/// `pointer` as a URI fragment: JSON pointer characters outside the fragment syntax escaped.
fn uri_fragment(pointer: &str) -> String {
    pointer
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// One JSON pointer segment (`/` → `~1`, `~` → `~0`).
fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Fields real servers send as `null` although the spec says a non-null string, by spec file
/// and JSON pointer to the field's schema: a job's `started_at` before it starts (approval jobs
/// in captured workflow job lists, circleci-api-facts.md §5.8 and §9), a test case's `file` when
/// the JUnit names none (§5.13), and v1.1 `start_time`, `stop_time` and `outcome` before a job
/// starts or ends (§7: every v1.1 timestamp and outcome is optional in real answers).
const REAL_SERVER_NULLS: &[(&str, &str)] = &[
    (
        "circleci-openapi-v2.json",
        "/paths/~1workflow~1{id}~1job/get/responses/200/content/application~1json/schema/properties/items/items/properties/started_at",
    ),
    (
        "circleci-openapi-v2.json",
        "/paths/~1project~1{project-slug}~1job~1{job-number}/get/responses/200/content/application~1json/schema/properties/started_at",
    ),
    (
        "circleci-openapi-v2.json",
        "/paths/~1project~1{project-slug}~1{job-number}~1tests/get/responses/200/content/application~1json/schema/properties/items/items/properties/file",
    ),
    ("circleci-openapi-v1.1.json", "/components/schemas/JobDetails/properties/start_time"),
    ("circleci-openapi-v1.1.json", "/components/schemas/JobDetails/properties/stop_time"),
    ("circleci-openapi-v1.1.json", "/components/schemas/JobDetails/properties/outcome"),
];

/// Marks the [`REAL_SERVER_NULLS`] of `file` nullable, checking each is a non-nullable string.
fn admit_real_server_nulls(file: &str, document: &mut Value) {
    for (_, pointer) in REAL_SERVER_NULLS.iter().filter(|(spec, _)| *spec == file) {
        let schema = document.pointer_mut(pointer).unwrap_or_else(|| panic!("{file} has no {pointer}"));
        assert_eq!(schema.get("type"), Some(&json!("string")), "{pointer} is not a string");
        assert!(schema.get("nullable").is_none() && schema.get("x-nullable").is_none(), "{pointer} is nullable");
        schema["nullable"] = json!(true);
    }
}

/// A translated spec registered as one resource, handing out validators of its schemas.
struct Spec {
    uri: &'static str,
    document: Value,
    registry: Registry<'static>,
}

impl Spec {
    fn load(file: &str, uri: &'static str) -> Option<Spec> {
        let mut document = read_json(&shared_reference(file)?);
        admit_real_server_nulls(file, &mut document);
        translate_openapi_schemas(&mut document);
        let resource = Draft::Draft202012.create_resource(document.clone());
        let registry = Registry::new()
            .add(uri, resource)
            .and_then(|builder| builder.prepare())
            .unwrap_or_else(|error| panic!("{file} does not register: {error}"));
        Some(Spec { uri, document, registry })
    }

    /// A validator of the schema at `pointer` in this spec.
    fn validator(&self, pointer: &str) -> Validator {
        let schema = json!({"$ref": format!("{}#{}", self.uri, uri_fragment(pointer))});
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&self.registry)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|error| panic!("no validator for {pointer}: {error}"))
    }

    /// Pointers to the JSON schemas the body of `method path` answering `status` must satisfy:
    /// the response listed for the status, else `default`, else every documented error response.
    fn response_schemas(&self, method: &Method, path: &str, status: u16) -> Vec<String> {
        let responses = format!("/paths/{}/{}/responses", pointer_segment(path), method.as_str().to_lowercase());
        let documented = self
            .document
            .pointer(&responses)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("the spec has no operation {method} {path}"));
        let keys: Vec<&String> = match [status.to_string(), "default".to_owned()]
            .iter()
            .find_map(|key| documented.get_key_value(key.as_str()))
        {
            Some((key, _)) => vec![key],
            None => documented.keys().filter(|key| key.starts_with('4') || key.starts_with('5')).collect(),
        };
        assert!(!keys.is_empty(), "{method} {path} documents nothing for status {status}");
        keys.into_iter().map(|key| self.schema_of_response(&format!("{responses}/{}", pointer_segment(key)))).collect()
    }

    /// The pointer to the JSON schema of the response at `response`, following a `$ref` to
    /// `#/components/responses/...`.
    fn schema_of_response(&self, response: &str) -> String {
        let object = self.document.pointer(response).unwrap_or_else(|| panic!("no response at {response}"));
        let response = match object.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference.strip_prefix('#').unwrap_or(reference).to_owned(),
            None => response.to_owned(),
        };
        let schema = format!("{response}/content/application~1json/schema");
        assert!(self.document.pointer(&schema).is_some(), "no JSON schema at {schema}");
        schema
    }

    /// Panics unless `body` satisfies every schema of `method path` answering `status`.
    fn assert_conforms(&self, method: &Method, path: &str, status: u16, body: &Value) {
        for pointer in self.response_schemas(method, path, status) {
            let validator = self.validator(&pointer);
            let errors: Vec<String> =
                validator.iter_errors(body).map(|error| format!("{error} at {}", error.instance_path())).collect();
            assert!(errors.is_empty(), "{method} {path} {status} violates {pointer}: {errors:#?}\nbody: {body}");
        }
    }
}

/// One answer of the simulation.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert!(self.content_type.starts_with("application/json"), "not JSON ({}): {}", self.content_type, self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// Drives a simulation and validates what it answers, recording which operation and status
/// pairs were validated.
struct Driver {
    spec: Spec,
    client: reqwest::Client,
    /// The CA of the simulation the client trusts.
    ca: reqwest::Certificate,
    base: String,
    validated: BTreeSet<String>,
}

impl Driver {
    async fn send(&self, method: Method, url_path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
        let mut request = self.client.request(method, format!("{}{url_path}", self.base));
        if let Some(token) = token {
            request = request.header("Circle-Token", token);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
        Answer { status, content_type, body: response.text().await.unwrap() }
    }

    /// Sends a request for operation `method spec_path`, checks its status and validates its
    /// body; returns the body.
    async fn expect(
        &mut self,
        (method, spec_path): (Method, &str),
        url_path: &str,
        body: Option<&str>,
        status: u16,
    ) -> Value {
        let answer = self.send(method.clone(), url_path, Some(SIM_TOKEN), body).await;
        assert_eq!(answer.status, status, "{method} {url_path}: {}", answer.body);
        self.validate(&method, spec_path, &answer)
    }

    fn validate(&mut self, method: &Method, spec_path: &str, answer: &Answer) -> Value {
        let body = answer.json();
        self.spec.assert_conforms(method, spec_path, answer.status, &body);
        self.validated.insert(format!("{method} {spec_path} {}", answer.status));
        body
    }

    /// The same request without a token: 401.
    async fn expect_unauthorized(&mut self, (method, spec_path): (Method, &str), url_path: &str, body: Option<&str>) {
        let answer = self.send(method.clone(), url_path, None, body).await;
        assert_eq!(answer.status, 401, "{method} {url_path}: {}", answer.body);
        assert_eq!(self.validate(&method, spec_path, &answer), json!({"message": "You must log in first."}));
    }
}

const ME: (Method, &str) = (Method::GET, "/me");
const PROJECT: (Method, &str) = (Method::GET, "/project/{project-slug}");
const LIST_CONTEXTS: (Method, &str) = (Method::GET, "/context");
const CREATE_CONTEXT: (Method, &str) = (Method::POST, "/context");
const GET_CONTEXT: (Method, &str) = (Method::GET, "/context/{context_id}");
const DELETE_CONTEXT: (Method, &str) = (Method::DELETE, "/context/{context_id}");
const LIST_VARIABLES: (Method, &str) = (Method::GET, "/context/{context_id}/environment-variable");
const SET_VARIABLE: (Method, &str) = (Method::PUT, "/context/{context_id}/environment-variable/{env_var_name}");
const DELETE_VARIABLE: (Method, &str) = (Method::DELETE, "/context/{context_id}/environment-variable/{env_var_name}");

const TRIGGER: (Method, &str) = (Method::POST, "/project/{project-slug}/pipeline");
const PIPELINE: (Method, &str) = (Method::GET, "/pipeline/{pipeline-id}");
const PIPELINE_WORKFLOWS: (Method, &str) = (Method::GET, "/pipeline/{pipeline-id}/workflow");
const WORKFLOW: (Method, &str) = (Method::GET, "/workflow/{id}");
const WORKFLOW_JOBS: (Method, &str) = (Method::GET, "/workflow/{id}/job");
const CANCEL_WORKFLOW: (Method, &str) = (Method::POST, "/workflow/{id}/cancel");
const JOB_DETAILS: (Method, &str) = (Method::GET, "/project/{project-slug}/job/{job-number}");
const ARTIFACTS: (Method, &str) = (Method::GET, "/project/{project-slug}/{job-number}/artifacts");
const TESTS: (Method, &str) = (Method::GET, "/project/{project-slug}/{job-number}/tests");
const V1_BUILD: (Method, &str) = (Method::GET, "/project/{vcs-type}/{username}/{project}/{build_num}");
const V1_PROJECTS: (Method, &str) = (Method::GET, "/projects");

const SLUG_PATH: &str = "/api/v2/project/gh/realitycheck-sim/realitycheck";
const UNKNOWN_UUID: &str = "00000000-0000-4000-8000-000000000000";

async fn start(scenario: Scenario) -> SimServer {
    SimServer::start(scenario, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

fn driver(spec: Spec, sim: &SimServer) -> Driver {
    let ca = ca_of(sim);
    let client = trusting(&ca);
    Driver { spec, client, ca, base: sim.circleci_url(), validated: BTreeSet::new() }
}

fn trusting(ca: &reqwest::Certificate) -> reqwest::Client {
    reqwest::Client::builder().add_root_certificate(ca.clone()).build().unwrap()
}

/// The CA of `sim` (each simulation makes its own).
fn ca_of(sim: &SimServer) -> reqwest::Certificate {
    reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap()
}

/// A simulation whose jobs take no time, so pipelines end the moment they are triggered.
async fn start_instant(scenario: Scenario) -> SimServer {
    let options = SimOptions { timing: JobTiming::instant(), ..SimOptions::for_scenario(scenario) };
    SimServer::start_with(scenario, SocketAddr::from(([127, 0, 0, 1], 0)), options).await.unwrap()
}

/// Every item of a v2 list, validating each page against `operation`.
async fn all_items(api: &mut Driver, operation: (Method, &str), url_path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = url_path.to_owned();
    loop {
        let page = api.expect(operation.clone(), &url, None, 200).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_page_token"].as_str() {
            Some(token) => url = format!("{url_path}?page-token={token}"),
            None => return items,
        }
    }
}

/// Triggers a full run (every gated workflow open) and returns the pipeline's id.
async fn trigger_everything(api: &mut Driver) -> String {
    let body = json!({"branch": "main", "parameters": {
        "run_id": "conformance", "cloud_provider": "aws", "runner_resource_class": SIM_RUNNER_RESOURCE_CLASS,
        "windows": true, "docker_resource_classes": true
    }});
    let created = api.expect(TRIGGER, &format!("{SLUG_PATH}/pipeline"), Some(&body.to_string()), 201).await;
    created["id"].as_str().unwrap().to_owned()
}

/// The jobs of a pipeline (validated), by name, with their workflow's id.
async fn jobs_of(api: &mut Driver, pipeline_id: &str) -> Vec<(String, Value)> {
    let mut jobs = Vec::new();
    for workflow in all_items(api, PIPELINE_WORKFLOWS, &format!("/api/v2/pipeline/{pipeline_id}/workflow")).await {
        let workflow_id = workflow["id"].as_str().unwrap().to_owned();
        for job in all_items(api, WORKFLOW_JOBS, &format!("/api/v2/workflow/{workflow_id}/job")).await {
            jobs.push((workflow_id.clone(), job));
        }
    }
    jobs
}

fn job_named<'a>(jobs: &'a [(String, Value)], name: &str) -> &'a (String, Value) {
    jobs.iter().find(|(_, job)| job["name"] == name).unwrap_or_else(|| panic!("no job {name}"))
}

#[tokio::test]
async fn every_status_of_every_endpoint_conforms_to_the_spec() {
    let Some(spec) = Spec::load("circleci-openapi-v2.json", V2_URI) else { return };
    let sim = start(Scenario::Healthy).await;
    let mut api = driver(spec, &sim);

    api.expect(ME, "/api/v2/me", None, 200).await;
    api.expect_unauthorized(ME, "/api/v2/me", None).await;

    for slug in ["gh/realitycheck-sim/realitycheck", "gh%2Frealitycheck-sim%2Frealitycheck"] {
        api.expect(PROJECT, &format!("/api/v2/project/{slug}"), None, 200).await;
    }
    api.expect(PROJECT, "/api/v2/project/gh/realitycheck-sim/unknown", None, 404).await;
    api.expect(PROJECT, "/api/v2/project/gh/%FF/x", None, 400).await;
    api.expect_unauthorized(PROJECT, "/api/v2/project/gh/realitycheck-sim/realitycheck", None).await;

    let contexts = format!("/api/v2/context?owner-id={SIM_ORG_ID}&owner-type=organization");
    let mut page_token = None;
    let mut pages = 0;
    loop {
        let url = page_token.map_or_else(|| contexts.clone(), |token| format!("{contexts}&page-token={token}"));
        let page = api.expect(LIST_CONTEXTS, &url, None, 200).await;
        pages += 1;
        page_token = page["next_page_token"].as_str().map(str::to_owned);
        if page_token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    api.expect(LIST_CONTEXTS, "/api/v2/context", None, 400).await;
    api.expect(LIST_CONTEXTS, &format!("{contexts}&page-token=garbage"), None, 400).await;
    api.expect(LIST_CONTEXTS, "/api/v2/context?owner-slug=gh/nobody", None, 404).await;
    api.expect_unauthorized(LIST_CONTEXTS, &contexts, None).await;

    let new_context = json!({"name": "conformance", "owner": {"id": SIM_ORG_ID, "type": "organization"}}).to_string();
    let context = api.expect(CREATE_CONTEXT, "/api/v2/context", Some(&new_context), 200).await;
    api.expect(CREATE_CONTEXT, "/api/v2/context", Some(&new_context), 400).await;
    api.expect(CREATE_CONTEXT, "/api/v2/context", Some("{"), 400).await;
    let foreign = json!({"name": "foreign", "owner": {"slug": "gh/nobody"}}).to_string();
    api.expect(CREATE_CONTEXT, "/api/v2/context", Some(&foreign), 404).await;
    api.expect_unauthorized(CREATE_CONTEXT, "/api/v2/context", Some(&new_context)).await;

    let id = context["id"].as_str().unwrap();
    let context_path = format!("/api/v2/context/{id}");
    let unknown_context = "/api/v2/context/00000000-0000-4000-8000-000000000000";
    api.expect(GET_CONTEXT, &context_path, None, 200).await;
    api.expect(GET_CONTEXT, unknown_context, None, 404).await;
    api.expect_unauthorized(GET_CONTEXT, &context_path, None).await;

    let value = Some(r#"{"value":"conformance"}"#);
    for name in ["FIRST", "SECOND", "THIRD", "FIRST"] {
        api.expect(SET_VARIABLE, &format!("{context_path}/environment-variable/{name}"), value, 200).await;
    }
    api.expect(SET_VARIABLE, &format!("{context_path}/environment-variable/NOT-VALID"), value, 400).await;
    api.expect(SET_VARIABLE, &format!("{context_path}/environment-variable/FIRST"), Some("[]"), 400).await;
    api.expect(SET_VARIABLE, &format!("{unknown_context}/environment-variable/FIRST"), value, 404).await;
    api.expect_unauthorized(SET_VARIABLE, &format!("{context_path}/environment-variable/FIRST"), value).await;

    let variables = format!("{context_path}/environment-variable");
    let first = api.expect(LIST_VARIABLES, &variables, None, 200).await;
    let token = first["next_page_token"].as_str().unwrap();
    let last = api.expect(LIST_VARIABLES, &format!("{variables}?page-token={token}"), None, 200).await;
    assert_eq!(last["next_page_token"], Value::Null);
    api.expect(LIST_VARIABLES, &format!("{variables}?page-token=garbage"), None, 400).await;
    api.expect(LIST_VARIABLES, &format!("{unknown_context}/environment-variable"), None, 404).await;
    api.expect_unauthorized(LIST_VARIABLES, &variables, None).await;

    api.expect(DELETE_VARIABLE, &format!("{variables}/SECOND"), None, 200).await;
    api.expect(DELETE_VARIABLE, &format!("{variables}/SECOND"), None, 404).await;
    api.expect(DELETE_VARIABLE, &format!("{unknown_context}/environment-variable/SECOND"), None, 404).await;
    api.expect_unauthorized(DELETE_VARIABLE, &format!("{variables}/FIRST"), None).await;

    api.expect_unauthorized(DELETE_CONTEXT, &context_path, None).await;
    api.expect(DELETE_CONTEXT, &context_path, None, 200).await;
    api.expect(DELETE_CONTEXT, &context_path, None, 404).await;

    let expected: BTreeSet<String> = [
        "GET /me 200",
        "GET /me 401",
        "GET /project/{project-slug} 200",
        "GET /project/{project-slug} 400",
        "GET /project/{project-slug} 401",
        "GET /project/{project-slug} 404",
        "GET /context 200",
        "GET /context 400",
        "GET /context 401",
        "GET /context 404",
        "POST /context 200",
        "POST /context 400",
        "POST /context 401",
        "POST /context 404",
        "GET /context/{context_id} 200",
        "GET /context/{context_id} 401",
        "GET /context/{context_id} 404",
        "DELETE /context/{context_id} 200",
        "DELETE /context/{context_id} 401",
        "DELETE /context/{context_id} 404",
        "GET /context/{context_id}/environment-variable 200",
        "GET /context/{context_id}/environment-variable 400",
        "GET /context/{context_id}/environment-variable 401",
        "GET /context/{context_id}/environment-variable 404",
        "PUT /context/{context_id}/environment-variable/{env_var_name} 200",
        "PUT /context/{context_id}/environment-variable/{env_var_name} 400",
        "PUT /context/{context_id}/environment-variable/{env_var_name} 401",
        "PUT /context/{context_id}/environment-variable/{env_var_name} 404",
        "DELETE /context/{context_id}/environment-variable/{env_var_name} 200",
        "DELETE /context/{context_id}/environment-variable/{env_var_name} 401",
        "DELETE /context/{context_id}/environment-variable/{env_var_name} 404",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(api.validated, expected);

    // Routes the spec does not have answer the shape of its generic 404.
    let unknown = api.send(Method::GET, "/api/v2/no-such-route", Some(SIM_TOKEN), None).await;
    assert_eq!(unknown.status, 404);
    let not_found = api.spec.validator("/components/responses/404_entity_not_found/content/application~1json/schema");
    assert!(not_found.is_valid(&unknown.json()), "{}", unknown.body);
    let wrong_method = api.send(Method::PATCH, "/api/v2/me", Some(SIM_TOKEN), None).await;
    assert_eq!(wrong_method.status, 405);
    assert!(not_found.is_valid(&wrong_method.json()), "{}", wrong_method.body);
    sim.shutdown().await;
}

/// Every pipeline operation (trigger, pipeline, workflows, workflow, jobs, cancel, job details,
/// artifacts, tests) for every status it produces, with finished, queued and blocked jobs.
#[tokio::test]
async fn every_status_of_every_pipeline_operation_conforms_to_the_spec() {
    let Some(spec) = Spec::load("circleci-openapi-v2.json", V2_URI) else { return };
    let sim = start_instant(Scenario::Healthy).await;
    let mut api = driver(spec, &sim);
    let trigger_path = format!("{SLUG_PATH}/pipeline");

    let id = trigger_everything(&mut api).await;
    api.expect(TRIGGER, &trigger_path, None, 201).await;
    let with_tag = json!({"tag": "v1.0.0"}).to_string();
    let tagged = api.expect(TRIGGER, &trigger_path, Some(&with_tag), 201).await;
    for bad in [
        json!({"parameters": {"name": "x"}}),
        json!({"parameters": {"windows": "yes"}}),
        json!({"parameters": {"cloud_provider": "azure"}}),
        json!({"branch": "main", "tag": "v1"}),
        json!({"parameters": ["not", "an", "object"]}),
    ] {
        api.expect(TRIGGER, &trigger_path, Some(&bad.to_string()), 400).await;
    }
    let unexpected = api.expect(TRIGGER, &trigger_path, Some(r#"{"parameters":{"name":1}}"#), 400).await;
    assert_eq!(unexpected, json!({"message": "Unexpected argument(s): name"}));
    api.expect(TRIGGER, "/api/v2/project/gh/realitycheck-sim/unknown/pipeline", Some("{}"), 404).await;
    api.expect_unauthorized(TRIGGER, &trigger_path, Some("{}")).await;

    let pipeline = api.expect(PIPELINE, &format!("/api/v2/pipeline/{id}"), None, 200).await;
    assert_eq!((pipeline["state"].clone(), pipeline["errors"].clone()), (json!("created"), json!([])));
    let tagged_id = tagged["id"].as_str().unwrap();
    let tagged = api.expect(PIPELINE, &format!("/api/v2/pipeline/{tagged_id}"), None, 200).await;
    assert_eq!(tagged["vcs"]["tag"], "v1.0.0");
    api.expect(PIPELINE, &format!("/api/v2/pipeline/{UNKNOWN_UUID}"), None, 404).await;
    api.expect_unauthorized(PIPELINE, &format!("/api/v2/pipeline/{id}"), None).await;

    let workflows_path = format!("/api/v2/pipeline/{id}/workflow");
    api.expect(PIPELINE_WORKFLOWS, &format!("{workflows_path}?page-token=garbage"), None, 400).await;
    api.expect(PIPELINE_WORKFLOWS, &format!("/api/v2/pipeline/{UNKNOWN_UUID}/workflow"), None, 404).await;
    api.expect_unauthorized(PIPELINE_WORKFLOWS, &workflows_path, None).await;

    let jobs = jobs_of(&mut api, &id).await;
    assert_eq!(jobs.len(), 20);
    assert!(jobs.iter().all(|(_, job)| job["status"] == "success"), "{jobs:?}");
    let (workflow_id, docker) = job_named(&jobs, "docker").clone();
    let workflow_path = format!("/api/v2/workflow/{workflow_id}");
    let workflow = api.expect(WORKFLOW, &workflow_path, None, 200).await;
    assert_eq!(workflow["status"], "success");
    api.expect(WORKFLOW, &format!("/api/v2/workflow/{UNKNOWN_UUID}"), None, 404).await;
    api.expect_unauthorized(WORKFLOW, &workflow_path, None).await;
    api.expect(WORKFLOW_JOBS, &format!("{workflow_path}/job?page-token=garbage"), None, 400).await;
    api.expect(WORKFLOW_JOBS, &format!("/api/v2/workflow/{UNKNOWN_UUID}/job"), None, 404).await;
    api.expect_unauthorized(WORKFLOW_JOBS, &format!("{workflow_path}/job"), None).await;

    let number = docker["job_number"].as_u64().unwrap();
    let details = api.expect(JOB_DETAILS, &format!("{SLUG_PATH}/job/{number}"), None, 200).await;
    assert_eq!(details["executor"], json!({"resource_class": "medium", "type": "docker"}));
    let runner = &job_named(&jobs, "runner").1;
    let runner = api.expect(JOB_DETAILS, &format!("{SLUG_PATH}/job/{}", runner["job_number"]), None, 200).await;
    assert_eq!(runner["executor"]["resource_class"], SIM_RUNNER_RESOURCE_CLASS);
    api.expect(JOB_DETAILS, &format!("{SLUG_PATH}/job/99999"), None, 404).await;
    api.expect(JOB_DETAILS, "/api/v2/project/gh/realitycheck-sim/unknown/job/1", None, 404).await;
    api.expect_unauthorized(JOB_DETAILS, &format!("{SLUG_PATH}/job/{number}"), None).await;

    let artifacts_job = job_named(&jobs, "artifacts").1["job_number"].as_u64().unwrap();
    let artifacts_path = format!("{SLUG_PATH}/{artifacts_job}/artifacts");
    let artifacts = all_items(&mut api, ARTIFACTS, &artifacts_path).await;
    assert_eq!(artifacts.len(), 1);
    api.expect(ARTIFACTS, &format!("{SLUG_PATH}/{number}/artifacts"), None, 200).await;
    api.expect(ARTIFACTS, &format!("{artifacts_path}?page-token=garbage"), None, 400).await;
    api.expect(ARTIFACTS, &format!("{SLUG_PATH}/99999/artifacts"), None, 404).await;
    api.expect_unauthorized(ARTIFACTS, &artifacts_path, None).await;
    assert_artifact_download(&api, artifacts[0]["url"].as_str().unwrap(), "realitycheck artifact conformance\n").await;

    let tests_job = job_named(&jobs, "test_results").1["job_number"].as_u64().unwrap();
    let tests_path = format!("{SLUG_PATH}/{tests_job}/tests");
    let tests = all_items(&mut api, TESTS, &tests_path).await;
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0]["file"], Value::Null, "the JUnit names no file");
    api.expect(TESTS, &format!("{tests_path}?page-token=garbage"), None, 400).await;
    api.expect(TESTS, &format!("{SLUG_PATH}/99999/tests"), None, 404).await;
    api.expect_unauthorized(TESTS, &tests_path, None).await;

    api.expect(CANCEL_WORKFLOW, &format!("{workflow_path}/cancel"), None, 202).await;
    api.expect(CANCEL_WORKFLOW, &format!("/api/v2/workflow/{UNKNOWN_UUID}/cancel"), None, 404).await;
    api.expect_unauthorized(CANCEL_WORKFLOW, &format!("{workflow_path}/cancel"), None).await;
    let finished = api.expect(WORKFLOW, &workflow_path, None, 200).await;
    assert_eq!(finished["status"], "success", "cancelling a finished workflow changes nothing");
    sim.shutdown().await;

    // Queued and blocked jobs (started_at null, no job_number), and a canceled workflow.
    let sim = start_instant(Scenario::NoNomadClients).await;
    api.ca = ca_of(&sim);
    api.client = trusting(&api.ca);
    api.base = sim.circleci_url();
    let id = trigger_everything(&mut api).await;
    let jobs = jobs_of(&mut api, &id).await;
    let (workflow_id, queued) = job_named(&jobs, "write_workspace").clone();
    assert_eq!((queued["status"].clone(), queued["started_at"].clone()), (json!("queued"), Value::Null));
    assert!(job_named(&jobs, "read_workspace").1.get("job_number").is_none());
    let queued_number = queued["job_number"].as_u64().unwrap();
    let details = api.expect(JOB_DETAILS, &format!("{SLUG_PATH}/job/{queued_number}"), None, 200).await;
    assert_eq!((details["status"].clone(), details["started_at"].clone()), (json!("queued"), Value::Null));
    let running = api.expect(WORKFLOW, &format!("/api/v2/workflow/{workflow_id}"), None, 200).await;
    assert_eq!((running["status"].clone(), running["stopped_at"].clone()), (json!("running"), Value::Null));
    api.expect(CANCEL_WORKFLOW, &format!("/api/v2/workflow/{workflow_id}/cancel"), None, 202).await;
    let canceled = api.expect(WORKFLOW, &format!("/api/v2/workflow/{workflow_id}"), None, 200).await;
    assert_eq!(canceled["status"], "canceled");
    let canceled_jobs = all_items(&mut api, WORKFLOW_JOBS, &format!("/api/v2/workflow/{workflow_id}/job")).await;
    assert!(canceled_jobs.iter().all(|job| job["status"] == "canceled"), "{canceled_jobs:?}");
    api.expect(ARTIFACTS, &format!("{SLUG_PATH}/{queued_number}/artifacts"), None, 200).await;
    sim.shutdown().await;

    let expected: BTreeSet<String> = [
        "POST /project/{project-slug}/pipeline 201",
        "POST /project/{project-slug}/pipeline 400",
        "POST /project/{project-slug}/pipeline 401",
        "POST /project/{project-slug}/pipeline 404",
        "GET /pipeline/{pipeline-id} 200",
        "GET /pipeline/{pipeline-id} 401",
        "GET /pipeline/{pipeline-id} 404",
        "GET /pipeline/{pipeline-id}/workflow 200",
        "GET /pipeline/{pipeline-id}/workflow 400",
        "GET /pipeline/{pipeline-id}/workflow 401",
        "GET /pipeline/{pipeline-id}/workflow 404",
        "GET /workflow/{id} 200",
        "GET /workflow/{id} 401",
        "GET /workflow/{id} 404",
        "GET /workflow/{id}/job 200",
        "GET /workflow/{id}/job 400",
        "GET /workflow/{id}/job 401",
        "GET /workflow/{id}/job 404",
        "POST /workflow/{id}/cancel 202",
        "POST /workflow/{id}/cancel 401",
        "POST /workflow/{id}/cancel 404",
        "GET /project/{project-slug}/job/{job-number} 200",
        "GET /project/{project-slug}/job/{job-number} 401",
        "GET /project/{project-slug}/job/{job-number} 404",
        "GET /project/{project-slug}/{job-number}/artifacts 200",
        "GET /project/{project-slug}/{job-number}/artifacts 400",
        "GET /project/{project-slug}/{job-number}/artifacts 401",
        "GET /project/{project-slug}/{job-number}/artifacts 404",
        "GET /project/{project-slug}/{job-number}/tests 200",
        "GET /project/{project-slug}/{job-number}/tests 400",
        "GET /project/{project-slug}/{job-number}/tests 401",
        "GET /project/{project-slug}/{job-number}/tests 404",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(api.validated, expected);
}

/// An artifact URL: 401 without the token; with it, 302 to presigned storage, which serves the
/// content without a token and refuses a forged signature.
async fn assert_artifact_download(api: &Driver, url: &str, content: &str) {
    let client = reqwest::Client::builder()
        .add_root_certificate(api.ca.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert!(url.starts_with(&api.base), "{url} is not on the API host {}", api.base);
    assert_eq!(client.get(url).send().await.unwrap().status().as_u16(), 401);
    let redirect = client.get(url).header("Circle-Token", SIM_TOKEN).send().await.unwrap();
    assert_eq!(redirect.status().as_u16(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/storage/") && location.contains("X-Amz-Signature="), "{location}");
    let stored = client.get(&location).send().await.unwrap();
    assert_eq!(stored.status().as_u16(), 200);
    assert_eq!(stored.text().await.unwrap(), content);
    let forged = client.get(location.replace("X-Amz-Signature=", "X-Amz-Signature=f")).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(forged.text().await.unwrap().contains("<Code>SignatureDoesNotMatch</Code>"));
}

/// v1.1 job details (finished, failed, queued) and followed projects conform to the v1.1 spec;
/// their errors, which it does not document, are the recorded real bodies. The step output behind
/// `output_url` (no spec) is a JSON array of `{type, time, message}` lines, fetched without a
/// token. The runner API (no spec at hand) is checked field by field.
#[tokio::test]
async fn v1_build_details_projects_step_output_and_runner_api() {
    let Some(spec) = Spec::load("circleci-openapi-v1.1.json", V1_URI) else { return };
    let Some(recorded_401) = shared_reference("recorded/circleci-api/v1.1-error.401.json") else { return };
    let Some(recorded_404) = shared_reference("recorded/circleci-api/v1.1-error.404-project-not-found.json") else {
        return;
    };
    let sim = start_instant(Scenario::ContextsMissing).await;
    let mut api = driver(spec, &sim);
    let body = json!({"parameters": {"run_id": "v1", "runner_resource_class": "realitycheck-sim/absent"}}).to_string();
    let created = api.send(Method::POST, &format!("{SLUG_PATH}/pipeline"), Some(SIM_TOKEN), Some(&body)).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let workflows = api.send(Method::GET, &format!("/api/v2/pipeline/{id}/workflow"), Some(SIM_TOKEN), None).await;
    let mut numbers = std::collections::BTreeMap::new();
    let mut workflow_ids: Vec<String> =
        workflows.json()["items"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect();
    if let Some(token) = workflows.json()["next_page_token"].as_str() {
        let url = format!("/api/v2/pipeline/{id}/workflow?page-token={token}");
        let more = api.send(Method::GET, &url, Some(SIM_TOKEN), None).await.json();
        workflow_ids.extend(more["items"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()));
    }
    for workflow_id in workflow_ids {
        let mut url = format!("/api/v2/workflow/{workflow_id}/job");
        loop {
            let page = api.send(Method::GET, &url, Some(SIM_TOKEN), None).await.json();
            for job in page["items"].as_array().unwrap() {
                numbers.insert(job["name"].as_str().unwrap().to_owned(), job["job_number"].as_u64());
            }
            match page["next_page_token"].as_str() {
                Some(token) => url = format!("/api/v2/workflow/{workflow_id}/job?page-token={token}"),
                None => break,
            }
        }
    }
    let v1 = |vcs: &str, name: &str| {
        format!("/api/v1.1/project/{vcs}/realitycheck-sim/realitycheck/{}", numbers[name].unwrap())
    };

    let docker = api.expect(V1_BUILD, &v1("github", "docker"), None, 200).await;
    assert_eq!((docker["status"].clone(), docker["lifecycle"].clone()), (json!("success"), json!("finished")));
    let failed = api.expect(V1_BUILD, &v1("gh", "contexts"), None, 200).await;
    assert_eq!((failed["status"].clone(), failed["outcome"].clone()), (json!("failed"), json!("failed")));
    let queued = api.expect(V1_BUILD, &v1("github", "runner"), None, 200).await;
    assert_eq!(
        (queued["status"].clone(), queued["outcome"].clone(), queued["start_time"].clone()),
        (json!("queued"), Value::Null, Value::Null)
    );
    assert_eq!(queued["steps"], json!([]));
    let projects = api.expect(V1_PROJECTS, "/api/v1.1/projects", None, 200).await;
    assert_eq!((projects[0]["following"].clone(), projects[0]["vcs_type"].clone()), (json!(true), json!("github")));
    assert_eq!(
        api.validated,
        BTreeSet::from([format!("GET {} 200", V1_BUILD.1), format!("GET {} 200", V1_PROJECTS.1)])
    );

    // The failing step's output, without a token, names the missing context.
    let action = &failed["steps"].as_array().unwrap().last().unwrap()["actions"][0];
    assert_eq!(action["status"], "failed");
    let output =
        api.send(Method::GET, action["output_url"].as_str().unwrap().trim_start_matches(&api.base), None, None).await;
    let lines = output.json();
    for line in lines.as_array().unwrap() {
        assert!(matches!(line["type"].as_str(), Some("out" | "err")), "{line}");
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(line["message"].as_str().unwrap().ends_with("\r\n"), "{line}");
    }
    let text: String = lines.as_array().unwrap().iter().map(|line| line["message"].as_str().unwrap()).collect();
    assert!(text.contains("the context `org-global` does not exist"), "{text}");

    let recorded_401 = read_json(&recorded_401);
    let recorded_404 = read_json(&recorded_404);
    for path in [v1("github", "docker"), "/api/v1.1/projects".to_owned()] {
        let unauthorized = api.send(Method::GET, &path, None, None).await;
        assert_eq!((unauthorized.status, unauthorized.json()), (401, recorded_401.clone()), "{path}");
    }
    let unknown =
        api.send(Method::GET, "/api/v1.1/project/github/realitycheck-sim/other/1", Some(SIM_TOKEN), None).await;
    assert_eq!((unknown.status, unknown.json()), (404, recorded_404));
    let no_build = api
        .send(Method::GET, "/api/v1.1/project/github/realitycheck-sim/realitycheck/99999", Some(SIM_TOKEN), None)
        .await;
    assert_eq!((no_build.status, no_build.json()), (404, json!({"message": "Build not found"})));

    // The runner API: items of the documented fields; the queued job of an unknown class counts.
    let runners = api
        .send(Method::GET, &format!("/api/v3/runner?resource-class={SIM_RUNNER_RESOURCE_CLASS}"), Some(SIM_TOKEN), None)
        .await;
    let runners = runners.json();
    let runner = runners["items"][0].as_object().unwrap();
    let fields: BTreeSet<&str> = runner.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "resource_class",
            "hostname",
            "name",
            "first_connected",
            "last_connected",
            "last_used",
            "version",
            "ip"
        ])
    );
    assert!(runner.values().all(Value::is_string), "{runner:?}");
    let tasks = api
        .send(Method::GET, "/api/v3/runner/tasks?resource-class=realitycheck-sim/absent", Some(SIM_TOKEN), None)
        .await;
    assert_eq!((tasks.status, tasks.json()), (200, json!({"unclaimed_task_count": 1})));
    let missing = api.send(Method::GET, "/api/v3/runner/tasks", Some(SIM_TOKEN), None).await;
    assert_eq!(missing.status, 400);
    assert!(missing.json()["message"].is_string());
    assert_eq!(api.send(Method::GET, "/api/v3/runner/tasks?resource-class=a/b", None, None).await.status, 401);
    sim.shutdown().await;
}

/// The faults of `api-flaky`: the 500 conforms to each operation's documented 500 (or default);
/// the 503 and the 429 are plain text, as real ones were (circleci-api-facts.md §4), not JSON.
/// Faulted requests change nothing: a trigger retried after a 503 creates one pipeline.
#[tokio::test]
async fn api_flaky_faults_conform_or_are_plain_text() {
    let Some(spec) = Spec::load("circleci-openapi-v2.json", V2_URI) else { return };
    let sim = start_instant(Scenario::ApiFlaky).await;
    let mut api = driver(spec, &sim);
    // Requests sent so far to each endpoint (method and path): the fault plan counts them.
    let mut sent: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut retrying = async |api: &mut Driver, method: Method, url_path: &str, body: Option<&str>| -> Value {
        loop {
            let endpoint = format!("{method} {}", url_path.split('?').next().unwrap_or_default());
            *sent.entry(endpoint).or_default() += 1;
            let answer = api.send(method.clone(), url_path, Some(SIM_TOKEN), body).await;
            if answer.status < 300 {
                return answer.json();
            }
        }
    };
    let contexts = format!("/api/v2/context?owner-id={SIM_ORG_ID}");
    let id = retrying(&mut api, Method::GET, &contexts, None).await["items"][0]["id"].as_str().unwrap().to_owned();
    let trigger_path = format!("{SLUG_PATH}/pipeline");
    let pipeline = retrying(&mut api, Method::POST, &trigger_path, Some("{}")).await["id"].as_str().unwrap().to_owned();
    let workflows_path = format!("/api/v2/pipeline/{pipeline}/workflow");
    let workflow =
        retrying(&mut api, Method::GET, &workflows_path, None).await["items"][0]["id"].as_str().unwrap().to_owned();
    let jobs_path = format!("/api/v2/workflow/{workflow}/job");
    let number = retrying(&mut api, Method::GET, &jobs_path, None).await["items"][0]["job_number"].as_u64().unwrap();
    let new_context = json!({"name": "flaky", "owner": {"id": SIM_ORG_ID}}).to_string();
    let value = r#"{"value":"v"}"#;
    let operations = [
        (ME, "/api/v2/me".to_owned(), None),
        (PROJECT, SLUG_PATH.to_owned(), None),
        (LIST_CONTEXTS, contexts, None),
        (CREATE_CONTEXT, "/api/v2/context".to_owned(), Some(new_context.as_str())),
        (GET_CONTEXT, format!("/api/v2/context/{id}"), None),
        (LIST_VARIABLES, format!("/api/v2/context/{id}/environment-variable"), None),
        (SET_VARIABLE, format!("/api/v2/context/{id}/environment-variable/FLAKY"), Some(value)),
        (DELETE_VARIABLE, format!("/api/v2/context/{id}/environment-variable/FLAKY"), None),
        (DELETE_CONTEXT, format!("/api/v2/context/{id}"), None),
        (TRIGGER, trigger_path, Some("{}")),
        (PIPELINE, format!("/api/v2/pipeline/{pipeline}"), None),
        (PIPELINE_WORKFLOWS, workflows_path, None),
        (WORKFLOW, format!("/api/v2/workflow/{workflow}"), None),
        (WORKFLOW_JOBS, jobs_path, None),
        (CANCEL_WORKFLOW, format!("/api/v2/workflow/{workflow}/cancel"), None),
        (JOB_DETAILS, format!("{SLUG_PATH}/job/{number}"), None),
        (ARTIFACTS, format!("{SLUG_PATH}/{number}/artifacts"), None),
        (TESTS, format!("{SLUG_PATH}/{number}/tests"), None),
    ];
    for ((method, spec_path), url_path, body) in operations {
        let endpoint = format!("{method} {}", url_path.split('?').next().unwrap_or_default());
        let already_sent = sent.get(&endpoint).copied().unwrap_or_default();
        for number in already_sent + 1..=already_sent + 5 {
            let answer = api.send(method.clone(), &url_path, Some(SIM_TOKEN), body).await;
            let expected_fault = match number % 6 {
                1 => Some((503, "Service Unavailable")),
                3 => Some((429, "Rate limited.")),
                _ => None,
            };
            match expected_fault {
                Some((status, text)) => {
                    assert_eq!((answer.status, answer.body.as_str()), (status, text), "{method} {url_path} #{number}");
                    assert!(answer.content_type.starts_with("text/plain"), "{}", answer.content_type);
                }
                None => {
                    if number % 6 == 5 {
                        assert_eq!(answer.status, 500, "{method} {url_path} #{number}: {}", answer.body);
                    }
                    api.validate(&method, spec_path, &answer);
                }
            }
        }
    }
    let operations_with_500: BTreeSet<&str> =
        api.validated.iter().filter_map(|validated| validated.strip_suffix(" 500")).collect();
    assert_eq!(operations_with_500.len(), 18, "{operations_with_500:?}");
    // Setup's second attempt and the loop's 4th and 6th triggers got through; the faulted ones
    // created nothing.
    assert_eq!(sim.circleci_state().pipeline_summaries().len(), 3);
    sim.shutdown().await;
}

/// v1.1 `me` conforms to the v1.1 spec; its 401, which that spec does not document, is the
/// recorded real body.
#[tokio::test]
async fn v1_me_conforms_to_the_v1_spec() {
    let Some(spec) = Spec::load("circleci-openapi-v1.1.json", V1_URI) else { return };
    let Some(recorded_401) = shared_reference("recorded/circleci-api/v1.1-error.401.json") else { return };
    let sim = start(Scenario::Healthy).await;
    let mut api = driver(spec, &sim);
    let me = api.expect((Method::GET, "/me"), "/api/v1.1/me", None, 200).await;
    assert_eq!(me["login"], "realitycheck-bot");
    let unauthorized = api.send(Method::GET, "/api/v1.1/me", None, None).await;
    assert_eq!((unauthorized.status, unauthorized.json()), (401, read_json(&recorded_401)));
    sim.shutdown().await;
}

/// The validators can fail: wrong bodies are rejected by the same validators, and the nullable
/// translation admits `null` only where the spec allows it.
#[test]
fn the_validators_reject_wrong_bodies() {
    let Some(spec) = Spec::load("circleci-openapi-v2.json", V2_URI) else { return };
    let check = |(method, path): (Method, &str), status: u16, body: Value| {
        let pointers = spec.response_schemas(&method, path, status);
        pointers.iter().all(|pointer| spec.validator(pointer).is_valid(&body))
    };
    let context = json!({"id": "8f14e45f-ceea-4e7a-9d1b-0c5b2f1c2a3d", "name": "org-global", "created_at": "2025-03-01T12:00:00.000Z"});
    assert!(check(GET_CONTEXT, 200, context.clone()));
    let mut without_id = context.clone();
    without_id.as_object_mut().unwrap().remove("id");
    assert!(!check(GET_CONTEXT, 200, without_id));
    let mut bad_uuid = context.clone();
    bad_uuid["id"] = json!("not-a-uuid");
    assert!(!check(GET_CONTEXT, 200, bad_uuid));
    let mut extra = context.clone();
    extra["value"] = json!("secret");
    assert!(!check(GET_CONTEXT, 200, extra));

    assert!(check(LIST_CONTEXTS, 200, json!({"items": [context.clone()], "next_page_token": null})));
    assert!(check(LIST_CONTEXTS, 200, json!({"items": [], "next_page_token": "abc"})));
    assert!(!check(LIST_CONTEXTS, 200, json!({"items": [context.clone()]})));
    assert!(!check(LIST_CONTEXTS, 200, json!({"items": [context], "next_page_token": 5})));

    let user = json!({"id": "8f14e45f-ceea-4e7a-9d1b-0c5b2f1c2a3d", "login": "bot", "name": "Bot", "avatar_url": null});
    assert!(check(ME, 200, user.clone()));
    let mut without_avatar = user;
    without_avatar.as_object_mut().unwrap().remove("avatar_url");
    assert!(!check(ME, 200, without_avatar));

    let variable = json!({
        "variable": "X", "context_id": "8f14e45f-ceea-4e7a-9d1b-0c5b2f1c2a3d",
        "created_at": "2025-03-01T12:00:00.000Z", "updated_at": "2025-03-01T12:00:00.000Z"
    });
    assert!(check(SET_VARIABLE, 200, variable.clone()));
    let mut with_value = variable;
    with_value["value"] = json!("secret");
    assert!(!check(SET_VARIABLE, 200, with_value));

    assert!(check(GET_CONTEXT, 404, json!({"message": "Context not found."})));
    assert!(!check(GET_CONTEXT, 404, json!({"message": 404})));
    assert!(!check(GET_CONTEXT, 401, json!({"message": "no", "error": "no"})));
    assert!(!check(CREATE_CONTEXT, 400, json!({"message": "no", "error": "no"})));
}

#[test]
fn the_translation_of_openapi_idioms() {
    let mut schema = json!({
        "properties": {
            "token": {"type": "string", "nullable": true},
            "kind": {"type": "string", "enum": ["a"], "x-nullable": true},
            "any": {"$ref": "#/x", "nullable": true},
            "strict": {"type": "string", "nullable": false}
        },
        "either": {"additionalProperties": false, "anyOf": [{"type": "object"}]},
        "closed": {"additionalProperties": false, "properties": {}, "anyOf": []}
    });
    translate_openapi_schemas(&mut schema);
    let mut expected = Map::new();
    expected.insert("token".to_owned(), json!({"type": ["string", "null"]}));
    expected.insert("kind".to_owned(), json!({"type": ["string", "null"], "enum": ["a", null]}));
    expected.insert("any".to_owned(), json!({"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}));
    expected.insert("strict".to_owned(), json!({"type": "string"}));
    assert_eq!(schema["properties"], Value::Object(expected));
    assert_eq!(schema["either"], json!({"anyOf": [{"type": "object"}]}));
    assert_eq!(schema["closed"]["additionalProperties"], json!(false));
    assert_eq!(uri_fragment("/paths/~1context~1{context_id}"), "/paths/~1context~1%7Bcontext_id%7D");
}

#[tokio::test]
async fn a_parallel_jobs_details_and_build_conform_to_the_specs() {
    let Some(v2) = Spec::load("circleci-openapi-v2.json", V2_URI) else { return };
    let Some(v1) = Spec::load("circleci-openapi-v1.1.json", V1_URI) else { return };
    let sim = start_instant(Scenario::CapacityHealthy).await;
    let mut api = driver(v2, &sim);
    let body = json!({"parameters": {
        "run_id": "parallel", "docker": false, "features": false, "capacity_executor": "docker",
        "capacity_jobs": 12, "capacity_resource_class": "medium", "capacity_hold_seconds": 0
    }});
    let created = api.expect(TRIGGER, &format!("{SLUG_PATH}/pipeline"), Some(&body.to_string()), 201).await;
    let jobs = jobs_of(&mut api, created["id"].as_str().unwrap()).await;
    let (_, job) = job_named(&jobs, "capacity_docker");
    assert_eq!(job["status"], "success", "containers that hold nothing end at once: {job}");
    let number = job["job_number"].as_u64().unwrap();
    let details = api.expect(JOB_DETAILS, &format!("{SLUG_PATH}/job/{number}"), None, 200).await;
    assert_eq!(details["parallelism"], 12);
    let runs = details["parallel_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 12);
    assert!(runs.iter().enumerate().all(|(index, run)| run == &json!({"index": index, "status": "success"})));

    let mut api = driver(v1, &sim);
    let build = api
        .expect(V1_BUILD, &format!("/api/v1.1/project/github/realitycheck-sim/realitycheck/{number}"), None, 200)
        .await;
    assert_eq!(build["parallel"], 12);
    for step in build["steps"].as_array().unwrap() {
        let indexes: Vec<u64> =
            step["actions"].as_array().unwrap().iter().map(|a| a["index"].as_u64().unwrap()).collect();
        assert_eq!(indexes, (0..12).collect::<Vec<u64>>(), "{step}");
    }
}
