//! `api::*`: the token and the project, the installation's TLS certificate (whose expiry is
//! recorded as an observation whatever the verdict), and the preflight that the API answers
//! at all.

use std::borrow::Borrow;
use std::sync::Arc;

use harness::{Check, Diagnosis, Observation, Verdict};
use k8s_openapi::jiff::Timestamp;

use super::cause::{Because, StatedBy, causes};
use super::{ProjectHandles, api_check, certificate_expiry, ids, project_check, retries_note, tls_check};
use crate::RealityCheck;
use crate::clients::certs::{Certificate, day_of, days_until};
use crate::clients::circleci::{ApiError, vcs_type};
use crate::phase;
use crate::resources::Resources;
use crate::resources::api::ApiAccess;

/// The preflight: `GET /me` answers and accepts the token. Its message names what failed,
/// the URL, and what to check.
pub async fn preflight(resources: Arc<Resources>) -> Result<String, String> {
    let Some(api) = &resources.api else {
        return Err("no CircleCI API configured".into());
    };
    match api.me().await {
        Ok(me) => Ok(format!("authenticated as {} at {}{}", me.value.login, api.host(), retries_note(&me.retries))),
        Err(error) => Err(preflight_message(api, &error)),
    }
}

fn preflight_message(api: &ApiAccess, error: &ApiError) -> String {
    let host = api.host();
    match error {
        ApiError::Unreachable { .. } => format!(
            "{error}; check that {host} is the installation's base URL (CIRCLE_HOSTNAME) and that it is reachable from here (DNS, VPN, firewall, load balancer)"
        ),
        ApiError::Tls { .. } => format!(
            "{error}; give the CA that signs the installation's certificate with --ca-bundle FILE (or ca_bundle), or, for a self-signed test install only, --insecure"
        ),
        ApiError::Timeout { .. } => {
            format!(
                "{error}; the API is too slow or a proxy swallows the request; raise timeouts.api if it is merely slow"
            )
        }
        ApiError::Status { status: 401 | 403, .. } => format!(
            "the token was rejected: {error}; CIRCLE_TOKEN must be a personal API token (not a project token), made at {host}/settings/user/tokens"
        ),
        ApiError::Status { status: 404, .. } => {
            format!("{error}; no CircleCI API answers there: is {host} the installation's base URL?")
        }
        ApiError::Status { .. } | ApiError::Decode { .. } => {
            format!("{error}; the API is not healthy: check the api-service and frontend pods")
        }
        ApiError::NotTheApi { .. } => format!(
            "{error}; check that {host} is the installation's base URL (CIRCLE_HOSTNAME): a proxy, a single sign-on login page or the web app answered instead of the API"
        ),
        ApiError::Redirect { location, .. } => format!(
            "{error}; give the address it redirects to as the installation's base URL (CIRCLE_HOSTNAME is {host}; the Location is {location}): realitycheck does not follow redirects with the token"
        ),
        ApiError::TooLarge { .. } | ApiError::TooManyPages { .. } => {
            format!("{error}; check that {host} is the installation's base URL and that no proxy answers in its place")
        }
    }
}

/// The verdict of a failed API call: [`api_failure`].
pub(crate) fn api_failed(error: impl Borrow<ApiError>) -> Verdict {
    Verdict::Fail(api_failure(error.borrow()))
}

causes! {
    StatedBy::Shared("CircleCI API calls") => {
        /// 401, 403.
        TOKEN_REFUSED:
            "the token lacks the permission (it must be a personal API token of a member of the organization)",
            "create a personal API token as a user of the project's organization and export it as CIRCLE_TOKEN";
        /// 429, after the retries.
        RATE_LIMITED:
            "the API keeps rate limiting this client",
            "run again later, or raise the frontend's rate limit";
        /// 5xx, after the retries.
        API_FAILED:
            "the API failed on its side",
            "check the api-service, contexts-service and frontend pods and their logs";
        API_UNEXPECTED:
            "the API did not answer as expected",
            "run again with -vv to see the calls; check the api-service and frontend pods";
    }
    StatedBy::Checks(&[ids::TLS_CERTIFICATE]) => {
        UNPARSABLE_CERTIFICATE:
            "the TLS library accepted a certificate realitycheck cannot parse",
            "`openssl s_client -connect {host} -showcerts` shows it";
        EXPIRING_CERTIFICATE:
            "once it expires, browsers, the CircleCI CLI, runners and every API client refuse the installation",
            "renew the certificate (cert-manager, your CA, or the load balancer's certificate) and update the Secret or listener that serves it (values.yaml `tls.certificate` / `tls.privateKey`, or the ingress/load balancer)";
        /// The chain does not verify, and realitycheck's other calls skip verification.
        UNVERIFIED_INSECURE:
            "realitycheck's other calls skip verification (insecure); every client without that switch (browsers, the CircleCI CLI, runners) refuses the installation, or cannot tell it from an impostor",
            "give the CA that signs the certificate with --ca-bundle FILE (ca_bundle) and drop insecure; or serve a certificate a public CA signs";
        UNVERIFIED:
            "the certificate is not signed by a CA this machine or the CA bundle trusts, does not name the host, or is out of its validity",
            "`openssl s_client -connect {host} -showcerts` shows the chain the installation serves; serve the intermediate certificates too, and check the CA bundle (--ca-bundle)";
    }
    StatedBy::Checks(&[ids::PROJECT]) => {
        PROJECT_NOT_FOUND:
            "the project is not set up on this installation, the slug is misspelt, or the token's user cannot see it",
            "push the realitycheck project to your VCS, set it up in the CircleCI UI ({host}/projects), and check REALITYCHECK_PROJECT = {slug}";
        PROJECT_NOT_FOLLOWED:
            "CircleCI builds a project only once it is set up and followed; the token's user never followed it",
            "follow it in the CircleCI UI ({host}/projects, Set Up Project), or `curl -X POST -H \"Circle-Token: $CIRCLE_TOKEN\" {host}/api/v1.1/project/{vcs}/{repository}/follow`";
    }
}

/// A failed API call met by a check after the preflight passed.
pub(crate) fn api_failure(error: &ApiError) -> Diagnosis {
    let diagnosis = Diagnosis::new(error.to_string()).phase(&phase::CIRCLECI_API);
    diagnosis.because(match error.status() {
        Some(401 | 403) => &TOKEN_REFUSED,
        Some(429) => &RATE_LIMITED,
        Some(status) if status >= 500 => &API_FAILED,
        _ => &API_UNEXPECTED,
    })
}

pub fn authenticated() -> Check<RealityCheck> {
    api_check(ids::AUTHENTICATED, "GET /api/v2/me accepts the token", |api, _| async move {
        let me = api.me().await.map_err(api_failed)?;
        Ok(Verdict::Pass(format!("authenticated as {}{}", me.value.login, retries_note(&me.retries))))
    })
}

pub fn tls_certificate() -> Check<RealityCheck> {
    let summary = "the installation's TLS certificate: its chain verifies, and it does not expire soon";
    tls_check(ids::TLS_CERTIFICATE, summary, |api, scope| async move {
        let der = api.client().served_certificate().await.map_err(|error| match error {
            ApiError::Tls { .. } => Verdict::Fail(unverified(&api, &error)),
            error => api_failed(error),
        })?;
        let certificate = Certificate::from_der(&der).map_err(|why| {
            Verdict::Fail(
                Diagnosis::new(format!("the certificate {} serves cannot be read: {why}", api.host()))
                    .because(UNPARSABLE_CERTIFICATE.with(&[("host", &host_name(&api))]))
                    .phase(&phase::CIRCLECI_API),
            )
        })?;
        let host = api.host();
        scope.observations.record(expiry_observation(&host, &certificate));
        Ok(judge_certificate(&host, &certificate, Timestamp::now().as_second(), api.tls_min_days()))
    })
}

/// The expiry of the `certificate` that `host` serves, for metrics; its subject is the host as
/// the check's messages print it (`https://circleci.example.com`).
pub fn expiry_observation(host: &str, certificate: &Certificate) -> Observation {
    certificate_expiry(host, certificate)
}

/// Pass when `certificate`, served by `host` over a verified chain, is valid for at least
/// `min_days` more days after `now` (Unix seconds).
pub fn judge_certificate(host: &str, certificate: &Certificate, now: i64, min_days: u32) -> Verdict {
    let (days_left, date) = (days_until(certificate.not_after, now), day_of(certificate.not_after));
    let names = if certificate.dns_names.is_empty() {
        String::new()
    } else {
        format!(" for {}", certificate.dns_names.join(", "))
    };
    if days_left < i64::from(min_days) {
        let when = if certificate.not_after <= now {
            format!("expired on {date}")
        } else {
            format!("expires in {days_left} days, on {date} (tls_min_days = {min_days})")
        };
        return Verdict::Fail(
            Diagnosis::new(format!("the TLS certificate of {host} {when}"))
                .observed(format!("{}{names}, issued by {}", certificate.subject, certificate.issuer))
                .because(&EXPIRING_CERTIFICATE)
                .phase(&phase::CIRCLECI_API),
        );
    }
    Verdict::Pass(format!(
        "chain verified; {}{names}, issued by {}; expires {date} (in {days_left} days)",
        certificate.subject, certificate.issuer
    ))
}

/// The chain of the installation's certificate does not verify.
fn unverified(api: &ApiAccess, error: &ApiError) -> Diagnosis {
    let diagnosis = Diagnosis::new(format!("the TLS certificate of {} does not verify", api.host()))
        .observed(error.to_string())
        .phase(&phase::CIRCLECI_API);
    if api.insecure() {
        diagnosis.because(&UNVERIFIED_INSECURE)
    } else {
        diagnosis.because(UNVERIFIED.with(&[("host", &host_name(api))]))
    }
}

/// The host and port, as `openssl s_client -connect` takes them.
fn host_name(api: &ApiAccess) -> String {
    let host = api.client().host();
    format!("{}:{}", host.host_str().unwrap_or("localhost"), host.port_or_known_default().unwrap_or(443))
}

pub fn project() -> Check<RealityCheck> {
    project_check(
        ids::PROJECT,
        "the realitycheck project exists on the installation and is followed",
        |ProjectHandles { api, project }, _| async move {
            let slug = project.slug();
            let found = project.project().await.map_err(|error| match error.status() {
                Some(404) => Verdict::Fail(
                    Diagnosis::new(format!("project {slug} not found: {error}"))
                        .because(PROJECT_NOT_FOUND.with(&[("host", &api.host()), ("slug", &slug)]))
                        .phase(&phase::REALITYCHECK_PROJECT),
                ),
                _ => api_failed(error),
            })?;
            let organization = found.value.organization_name.as_deref().unwrap_or("unknown organization");
            let branch = found.value.vcs_info.as_ref().and_then(|v| v.default_branch.as_deref()).unwrap_or("unknown");
            let client = api.client().scoped();
            let followed = match client.followed_projects().await {
                Ok(followed) if followed.iter().any(|p| p.is(&found.value.slug)) => Ok("followed".to_string()),
                Ok(followed) => Err(Verdict::Fail(not_followed(&api, &found.value.slug, followed.len()))),
                Err(error) => Ok(format!("whether it is followed is unknown: {error}")),
            }?;
            let mut retries = found.retries.clone();
            retries.extend(client.retries());
            Ok(Verdict::Pass(format!(
                "{} found and {followed} (organization {organization}, default branch {branch}){}",
                found.value.slug,
                retries_note(&retries)
            )))
        },
    )
}

fn not_followed(api: &ApiAccess, slug: &str, followed: usize) -> Diagnosis {
    let (vcs, rest) = slug.split_once('/').unwrap_or(("gh", slug));
    let vcs = vcs_type(vcs);
    Diagnosis::new(format!("project {slug} exists but the token's user does not follow it"))
        .observed(format!("the user follows {followed} other project(s) (GET /api/v1.1/projects)"))
        .because(PROJECT_NOT_FOLLOWED.with(&[("host", &api.host()), ("vcs", &vcs), ("repository", &rest)]))
        .phase(&phase::REALITYCHECK_PROJECT)
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 24 * 60 * 60;

    /// A certificate for circleci.example.com that ends `days_left` days (and an hour) after NOW.
    fn certificate(days_left: i64) -> Certificate {
        let mut params = CertificateParams::new(vec!["circleci.example.com".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "circleci.example.com");
        params.not_after = time::OffsetDateTime::from_unix_timestamp(NOW + days_left * DAY + 3600).unwrap();
        let certified = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
        Certificate::from_der(certified.der()).unwrap()
    }

    #[test]
    fn the_certificate_must_outlive_the_threshold() {
        let host = "https://circleci.example.com";
        let Verdict::Pass(note) = judge_certificate(host, &certificate(90), NOW, 30) else { panic!() };
        assert!(note.starts_with("chain verified; CN=circleci.example.com for circleci.example.com"), "{note}");
        assert!(note.ends_with("(in 90 days)"), "{note}");
        let Verdict::Pass(at_threshold) = judge_certificate(host, &certificate(30), NOW, 30) else { panic!() };
        assert!(at_threshold.ends_with("(in 30 days)"), "{at_threshold}");
        let Verdict::Fail(soon) = judge_certificate(host, &certificate(29), NOW, 30) else { panic!() };
        assert!(soon.summary.ends_with("expires in 29 days, on 2027-02-13 (tls_min_days = 30)"), "{soon:?}");
        let Verdict::Fail(expired) = judge_certificate(host, &certificate(-2), NOW, 30) else { panic!() };
        assert_eq!(expired.summary, "the TLS certificate of https://circleci.example.com expired on 2027-01-13");
    }

    #[test]
    fn the_served_certificate_has_its_expiry_observed_whatever_the_verdict() {
        let host = "https://circleci.example.com";
        let expired = certificate(-2);
        assert!(matches!(judge_certificate(host, &expired, NOW, 30), Verdict::Fail(_)), "red, and still observed");
        assert_eq!(
            expiry_observation(host, &expired),
            Observation::new("certificate_expiry_timestamp_seconds", host, NOW - 2 * DAY + 3600)
        );
    }
}
