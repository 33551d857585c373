//! The pipeline side of the API: trigger a pipeline, follow its workflows and jobs, read
//! job details, artifacts and test metadata, cancel a workflow, read a failed step's output
//! through v1.1 (whose presigned `output_url` is fetched without the token), and read the
//! installation's OIDC issuer documents (without the token too).

use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

use super::client::ApiClient;
use super::error::{ApiError, server_message};
use super::limits::{BodyError, MAX_DOWNLOAD_BYTES, error_text, read_body};
use super::model::{KeySet, OidcDiscovery, Page, vcs_type};
use super::pipeline_model::{
    Artifact, BuildDetails, JobDetails, OutputLine, Pipeline, PipelineCreation, TestCase, Workflow, WorkflowJob,
};

impl ApiClient {
    fn project_url(&self, slug: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["project"];
        segments.extend(Self::project_segments(slug));
        segments.extend(rest);
        self.v2(&segments)
    }

    /// `POST /project/{slug}/pipeline` with a branch and pipeline parameters.
    pub async fn trigger_pipeline(
        &self,
        slug: &str,
        branch: Option<&str>,
        parameters: &Map<String, Value>,
    ) -> Result<PipelineCreation, ApiError> {
        let mut body = json!({ "parameters": parameters });
        if let Some(branch) = branch {
            body["branch"] = Value::from(branch);
        }
        self.call(Method::POST, self.project_url(slug, &["pipeline"]), Some(body)).await
    }

    /// The newest pipeline of the project (on `branch`, when given) whose trigger parameter
    /// `name` is `value`, among the newest `pages` pages of its pipelines.
    pub async fn find_pipeline(
        &self,
        slug: &str,
        branch: Option<&str>,
        (name, value): (&str, &str),
        pages: u32,
    ) -> Result<Option<Pipeline>, ApiError> {
        let mut first = self.project_url(slug, &["pipeline"]);
        if let Some(branch) = branch {
            first.query_pairs_mut().append_pair("branch", branch);
        }
        let mut url = first.clone();
        for _ in 0..pages {
            let page: Page<Pipeline> = self.call(Method::GET, url.clone(), None).await?;
            let found =
                page.items.into_iter().find(|p| p.trigger_parameters.get(name).and_then(Value::as_str) == Some(value));
            if found.is_some() {
                return Ok(found);
            }
            let Some(token) = page.next_page_token.filter(|t| !t.is_empty()) else { break };
            url = first.clone();
            url.query_pairs_mut().append_pair("page-token", &token);
        }
        Ok(None)
    }

    pub async fn pipeline(&self, pipeline_id: &str) -> Result<Pipeline, ApiError> {
        self.call(Method::GET, self.v2(&["pipeline", pipeline_id]), None).await
    }

    /// The workflows of a pipeline, all pages.
    pub async fn pipeline_workflows(&self, pipeline_id: &str) -> Result<Vec<Workflow>, ApiError> {
        self.all_pages(self.v2(&["pipeline", pipeline_id, "workflow"])).await
    }

    pub async fn workflow(&self, workflow_id: &str) -> Result<Workflow, ApiError> {
        self.call(Method::GET, self.v2(&["workflow", workflow_id]), None).await
    }

    /// The jobs of a workflow, all pages (the spec omits `page-token` here; servers honour it).
    pub async fn workflow_jobs(&self, workflow_id: &str) -> Result<Vec<WorkflowJob>, ApiError> {
        self.all_pages(self.v2(&["workflow", workflow_id, "job"])).await
    }

    /// `POST /workflow/{id}/cancel`; the server's message on success.
    pub async fn cancel_workflow(&self, workflow_id: &str) -> Result<String, ApiError> {
        let answer: Value = self.call(Method::POST, self.v2(&["workflow", workflow_id, "cancel"]), None).await?;
        Ok(server_message(&answer.to_string()))
    }

    pub async fn job_details(&self, slug: &str, job_number: u64) -> Result<JobDetails, ApiError> {
        self.call(Method::GET, self.project_url(slug, &["job", &job_number.to_string()]), None).await
    }

    pub async fn job_artifacts(&self, slug: &str, job_number: u64) -> Result<Vec<Artifact>, ApiError> {
        self.all_pages(self.project_url(slug, &[&job_number.to_string(), "artifacts"])).await
    }

    pub async fn job_tests(&self, slug: &str, job_number: u64) -> Result<Vec<TestCase>, ApiError> {
        self.all_pages(self.project_url(slug, &[&job_number.to_string(), "tests"])).await
    }

    /// An artifact's content. The token goes only to the installation's own host; a
    /// redirect elsewhere (object storage) is followed without it. Both requests are retried
    /// like API reads.
    pub async fn download_artifact(&self, artifact: &Artifact) -> Result<Vec<u8>, ApiError> {
        let (call, url, shown) = outside_url("GET artifact", &artifact.url)?;
        // Same origin: scheme, host and port; the token never travels over plain HTTP.
        let same_host = url.scheme() == self.host().scheme()
            && url.host_str() == self.host().host_str()
            && url.port_or_known_default() == self.host().port_or_known_default();
        let build = || match same_host {
            true => self.http.get(url.clone()).header("Circle-Token", self.token_header.clone()),
            false => self.plain.get(url.clone()),
        };
        let response = self.retrying(&call, &Method::GET, &shown, build).await?;
        let location = response.headers().get(reqwest::header::LOCATION).filter(|_| response.status().is_redirection());
        let response = match location.and_then(|l| l.to_str().ok()).map(|l| url.join(l)) {
            Some(Ok(target)) => self.retrying(&call, &Method::GET, &shown, || self.plain.get(target.clone())).await?,
            Some(Err(_)) => {
                let message = "a redirect without a usable Location".to_string();
                return Err(ApiError::Decode { call, url: shown.to_string(), message });
            }
            None => response,
        };
        self.body_bytes(&call, &shown, response).await
    }

    /// v1.1 job details (`gh/o/r` becomes `github/o/r`), for the steps' output URLs.
    pub async fn build_details(&self, slug: &str, build_num: u64) -> Result<BuildDetails, ApiError> {
        let mut segments: Vec<&str> = Self::project_segments(slug);
        if let Some(vcs) = segments.first_mut() {
            *vcs = vcs_type(vcs);
        }
        let number = build_num.to_string();
        let mut path = vec!["project"];
        path.extend(segments);
        path.push(&number);
        self.call(Method::GET, self.v1_1(&path), None).await
    }

    /// A step's output from its presigned `output_url`, fetched without the token.
    pub async fn step_output(&self, output_url: &str) -> Result<Vec<OutputLine>, ApiError> {
        self.outside_json("GET step output", output_url).await
    }

    /// The OIDC discovery document of `issuer` (`<issuer>/.well-known/openid-configuration`).
    pub async fn oidc_discovery(&self, issuer: &str) -> Result<OidcDiscovery, ApiError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        self.outside_json("GET OIDC discovery document", &url).await
    }

    /// The key set (JWKS) an OIDC discovery document names.
    pub async fn oidc_key_set(&self, jwks_uri: &str) -> Result<KeySet, ApiError> {
        self.outside_json("GET OIDC key set", jwks_uri).await
    }

    /// The JSON document at `url`, which may be outside the API (object storage, the OIDC
    /// issuer): fetched without the token, retried like an API read.
    async fn outside_json<T: serde::de::DeserializeOwned>(&self, call: &str, url: &str) -> Result<T, ApiError> {
        let (call, url, shown) = outside_url(call, url)?;
        let response = self.retrying(&call, &Method::GET, &shown, || self.plain.get(url.clone())).await?;
        let body = self.body_bytes(&call, &shown, response).await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
            call,
            url: shown.to_string(),
            message: e.to_string(),
        })
    }

    /// The body of a download, bounded; `shown` is the URL errors may print.
    async fn body_bytes(&self, call: &str, shown: &Url, response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Status {
                call: call.to_string(),
                url: shown.to_string(),
                status: status.as_u16(),
                message: self.token.redact(&server_message(&error_text(response).await)),
            });
        }
        read_body(response, MAX_DOWNLOAD_BYTES).await.map_err(|error| match error {
            BodyError::Transport(e) => self.transport_error(call, shown, &e.without_url()),
            BodyError::TooLarge => ApiError::TooLarge {
                call: call.to_string(),
                url: shown.to_string(),
                what: "a download",
                limit: MAX_DOWNLOAD_BYTES,
            },
        })
    }
}

/// A URL outside the API: the call's name, the URL, and the URL as errors print it.
/// Presigned URLs carry their signature in the query, so errors show them without it.
fn outside_url(call: &str, text: &str) -> Result<(String, Url, Url), ApiError> {
    let url = Url::parse(text).map_err(|e| {
        let mut shown = text.split('?').next().unwrap_or_default().to_string();
        shown.truncate(200);
        ApiError::Decode { call: call.to_string(), url: shown, message: format!("not a URL: {e}") }
    })?;
    let mut shown = url.clone();
    shown.set_query(None);
    Ok((call.to_string(), url, shown))
}
