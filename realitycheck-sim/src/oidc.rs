//! The installation's OIDC service (CircleCI server 4.4 and later, `oidc_service` in the Helm
//! values): the release enables it on every simulated version, with the simulation's own API URL
//! as the issuer (`oidc_service.base_url`), so that a client outside can read the issuer's
//! discovery document and key set, which [`router`] serves beside the API.
//!
//! Every job gets `$CIRCLE_OIDC_TOKEN` and `$CIRCLE_OIDC_TOKEN_V2` ([`OidcService::tokens`]):
//! RS256 JWTs signed with the installation's key, their claims those of CircleCI's tokens with the
//! ids the simulated API reports, issued at the job's start and valid an hour. The keys are two
//! fixed RSA-2048 keys of the simulation (not secrets: anyone can read them here), so that no key
//! is generated at run time. `oidc-wrong-issuer` issues tokens naming an issuer the installation
//! no longer has; `oidc-bad-signature` signs with the second key while the key set still
//! publishes the first under the same `kid`; `oidc-disabled` leaves OIDC off, as the chart
//! does by default: no token, no issuer served.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use realitycheck_project::outputs::OIDC_TOKEN_VARIABLES;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use crate::SIM_ORG_ID;
use crate::scenario::Scenario;

/// Where the issuer's discovery document is, under the issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Where the issuer's key set is, under the issuer URL (`jwks_uri`).
pub const JWKS_PATH: &str = "/.well-known/jwks-pub.json";
/// The `kid` of the installation's signing key.
pub const KEY_ID: &str = "realitycheck-sim-oidc-1";
/// The issuer the tokens of `oidc-wrong-issuer` name: a domain the installation no longer has.
pub const WRONG_ISSUER: &str = "https://circleci-old.example.com";
/// How long a token is valid (within the default `oidc_service.token_max_ttl` of 5h).
pub const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(1);
/// Where the VCS origin of the project's tokens is (`oidc.circleci.com/vcs-origin`).
pub const VCS_ORIGIN: &str = "github.com/realitycheck-sim/realitycheck";

/// One of the simulation's two RSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimKey {
    /// The installation's key, which its key set publishes.
    Installation,
    /// Another key: the one `oidc-bad-signature` signs with after a rotation nobody published.
    Rotated,
}

/// A key parsed from its PKCS#8 PEM: ring's key pair and the RSA integers (big-endian, no
/// leading zeros) of its JWK: `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`.
struct ParsedKey {
    pair: RsaKeyPair,
    parts: Vec<Vec<u8>>,
}

/// The JWK members of the RSA private key's integers, in the order PKCS#1 lists them.
const JWK_MEMBERS: [&str; 8] = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];

static INSTALLATION_KEY: LazyLock<ParsedKey> =
    LazyLock::new(|| ParsedKey::from_pem("oidc/installation.pem", include_str!("oidc/installation.pem")));
static ROTATED_KEY: LazyLock<ParsedKey> =
    LazyLock::new(|| ParsedKey::from_pem("oidc/rotated.pem", include_str!("oidc/rotated.pem")));

impl SimKey {
    fn parsed(self) -> &'static ParsedKey {
        match self {
            SimKey::Installation => &INSTALLATION_KEY,
            SimKey::Rotated => &ROTATED_KEY,
        }
    }

    /// The public JWK of the key under `kid`: `kty`, `kid`, `use`, `alg`, `n`, `e`.
    pub fn public_jwk(self, kid: &str) -> Value {
        let parts = &self.parsed().parts;
        json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&parts[0]), "e": URL_SAFE_NO_PAD.encode(&parts[1]),
        })
    }

    /// The JWK of the key with its private parts, as `oidc_service.json_web_keys` holds it.
    fn private_jwk(self, kid: &str) -> Value {
        let mut jwk = self.public_jwk(kid);
        for (member, part) in JWK_MEMBERS.iter().zip(&self.parsed().parts).skip(2) {
            jwk[*member] = json!(URL_SAFE_NO_PAD.encode(part));
        }
        jwk
    }

    /// The RS256 signature of `message`.
    fn sign(self, message: &[u8]) -> Vec<u8> {
        let pair = &self.parsed().pair;
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .expect("signing with an RSA-2048 key and a system RNG does not fail");
        signature
    }
}

impl ParsedKey {
    /// The key of PEM `pem` (file `name`), which is part of the simulation: it parses, or the
    /// simulation is broken.
    fn from_pem(name: &str, pem: &str) -> Self {
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        let der = STANDARD.decode(body).unwrap_or_else(|error| panic!("{name}: the PEM's base64 is invalid: {error}"));
        let pair = RsaKeyPair::from_pkcs8(&der).unwrap_or_else(|error| panic!("{name}: ring refuses the key: {error}"));
        let parts = rsa_private_key_integers(&der).unwrap_or_else(|| panic!("{name}: not a PKCS#8 RSA private key"));
        Self { pair, parts }
    }
}

/// The integers after the version of the RSAPrivateKey in PKCS#8 `der` (RFC 5208, RFC 8017
/// A.1.2): `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`, without leading zeros.
fn rsa_private_key_integers(der: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (0x30, info, _) = der_element(der)? else { return None };
    let (0x02, _, rest) = der_element(info)? else { return None };
    let (0x30, _, rest) = der_element(rest)? else { return None };
    let (0x04, private_key, _) = der_element(rest)? else { return None };
    let (0x30, mut integers, _) = der_element(private_key)? else { return None };
    let mut parts = Vec::new();
    for index in 0..=JWK_MEMBERS.len() {
        let (0x02, integer, rest) = der_element(integers)? else { return None };
        integers = rest;
        if index > 0 {
            let start = integer.iter().position(|byte| *byte != 0).unwrap_or(integer.len());
            parts.push(integer[start..].to_vec());
        }
    }
    Some(parts)
}

/// The DER element at the start of `input`: its tag, its content and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count].iter().fold(0_usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// The OIDC service of an installation: its issuer, what its tokens say and the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcService {
    /// The issuer the release names (`oidc_service.base_url`): the simulation's API URL. It
    /// serves the discovery document and the key set.
    pub issuer: Arc<Issuer>,
    /// The `iss` of the tokens: [`Self::issuer`]'s URL, but [`WRONG_ISSUER`] in
    /// `oidc-wrong-issuer`.
    pub token_issuer: String,
    /// The key the tokens are signed with (and the release's `json_web_keys` holds): the
    /// installation's, but the rotated one in `oidc-bad-signature`.
    pub signing_key: SimKey,
    /// Whether the release enables it (`oidc_service.isEnabled`): not in `oidc-disabled`.
    pub enabled: bool,
}

impl OidcService {
    /// The service of `scenario`'s installation, its API served at `api_url`.
    pub fn for_scenario(scenario: Scenario, api_url: &str) -> Self {
        let issuer = Issuer::new(api_url, SimKey::Installation);
        let token_issuer =
            if scenario == Scenario::OidcWrongIssuer { WRONG_ISSUER.to_owned() } else { issuer.url.clone() };
        let signing_key = if scenario == Scenario::OidcBadSignature { SimKey::Rotated } else { SimKey::Installation };
        let enabled = scenario != Scenario::OidcDisabled;
        Self { issuer: Arc::new(issuer), token_issuer, signing_key, enabled }
    }

    /// The release's `oidc_service` values: enabled, the issuer's URL, and the signing key as
    /// the chart takes it (the base64 of a JWK set with the private parts; a secret on a real
    /// installation). `token_max_ttl` is left to its default (5h). Disabled: `isEnabled` false
    /// and nothing else, as a release that never turned it on.
    pub fn release_values(&self) -> Value {
        if !self.enabled {
            return json!({"isEnabled": false});
        }
        let keys = json!({"keys": [self.signing_key.private_jwk(KEY_ID)]});
        json!({
            "isEnabled": true,
            "base_url": self.issuer.url,
            "json_web_keys": STANDARD.encode(keys.to_string()),
        })
    }

    /// The claims of the token of `job` (V2: its `sub` names the VCS origin and ref too).
    pub fn claims(&self, job: &JobIdentity, v2: bool) -> Value {
        let issued = job.started_at.as_second();
        let expires = job.started_at.checked_add(TOKEN_LIFETIME).unwrap_or(job.started_at).as_second();
        let mut sub =
            format!("org/{SIM_ORG_ID}/project/{}/user/{}", crate::circleci::project_id(), crate::circleci::user_id());
        if v2 {
            sub.push_str(&format!("/vcs-origin/{VCS_ORIGIN}/vcs-ref/{}", job.vcs_ref));
        }
        json!({
            "iss": self.token_issuer,
            "sub": sub,
            "aud": SIM_ORG_ID,
            "iat": issued,
            "exp": expires,
            "oidc.circleci.com/project-id": crate::circleci::project_id(),
            "oidc.circleci.com/context-ids": job.context_ids,
            "oidc.circleci.com/vcs-origin": VCS_ORIGIN,
            "oidc.circleci.com/vcs-ref": job.vcs_ref,
            "oidc.circleci.com/pipeline-id": job.pipeline_id,
            "oidc.circleci.com/workflow-id": job.workflow_id,
            "oidc.circleci.com/job-id": job.job_id,
        })
    }

    /// The variables `CIRCLE_OIDC_TOKEN` and `CIRCLE_OIDC_TOKEN_V2` of `job`, with its tokens;
    /// none when the release does not enable OIDC.
    pub fn tokens(&self, job: &JobIdentity) -> Vec<(String, String)> {
        if !self.enabled {
            return Vec::new();
        }
        OIDC_TOKEN_VARIABLES
            .iter()
            .enumerate()
            .map(|(index, variable)| ((*variable).to_owned(), self.sign(&self.claims(job, index == 1))))
            .collect()
    }

    /// `claims` as a compact JWS signed with the service's key.
    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": KEY_ID, "typ": "JWT"});
        let signed =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.signing_key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// Who a job is, as its tokens' claims say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIdentity {
    pub pipeline_id: String,
    pub workflow_id: String,
    /// The job's id, as the v2 API's workflow job list has it.
    pub job_id: String,
    /// `refs/heads/<branch>` or `refs/tags/<tag>`.
    pub vcs_ref: String,
    /// The ids of the job's contexts.
    pub context_ids: Vec<String>,
    /// When the job reaches its executor (iat).
    pub started_at: Timestamp,
}

/// What a URL leads to on the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched<'a> {
    /// One of the issuer's documents (JSON).
    Document(&'a str),
    /// Another path of the issuer's host: 404.
    NotFound,
    /// Another host (or not an HTTP URL): nothing the simulation serves.
    OtherHost,
}

/// The issuer: its URL, its discovery document and its key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// The URL, without a trailing `/` (e.g. `https://127.0.0.1:41235`).
    pub url: String,
    discovery: String,
    jwks: String,
}

impl Issuer {
    /// The issuer at `url`, whose key set publishes `published` under [`KEY_ID`].
    fn new(url: &str, published: SimKey) -> Self {
        let url = url.trim_end_matches('/').to_owned();
        let discovery = json!({
            "issuer": url,
            "jwks_uri": format!("{url}{JWKS_PATH}"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
        })
        .to_string();
        let jwks = json!({"keys": [published.public_jwk(KEY_ID)]}).to_string();
        Self { url, discovery, jwks }
    }

    /// What a GET of `url` reads.
    pub fn fetch(&self, url: &str) -> Fetched<'_> {
        let (Ok(asked), Ok(own)) = (url::Url::parse(url), url::Url::parse(&self.url)) else {
            return Fetched::OtherHost;
        };
        if asked.origin() != own.origin() {
            return Fetched::OtherHost;
        }
        let base = own.path().trim_end_matches('/');
        match asked.path().strip_prefix(base) {
            Some(DISCOVERY_PATH) => Fetched::Document(&self.discovery),
            Some(JWKS_PATH) => Fetched::Document(&self.jwks),
            _ => Fetched::NotFound,
        }
    }
}

/// The issuer's discovery document and key set at their paths under its URL, as JSON, with no
/// token and no fault (the OIDC service is not the API).
pub fn router(issuer: Arc<Issuer>) -> Router {
    let base = url::Url::parse(&issuer.url).map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default();
    let document = |body: String| {
        get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        })
    };
    Router::new()
        .route(&format!("{base}{DISCOVERY_PATH}"), document(issuer.discovery.clone()))
        .route(&format!("{base}{JWKS_PATH}"), document(issuer.jwks.clone()))
}

#[cfg(test)]
mod tests {
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    use super::*;

    fn job() -> JobIdentity {
        JobIdentity {
            pipeline_id: "p".into(),
            workflow_id: "w".into(),
            job_id: "j".into(),
            vcs_ref: "refs/heads/main".into(),
            context_ids: vec!["c1".into()],
            started_at: "2025-03-01T12:00:00Z".parse().unwrap(),
        }
    }

    fn verifies(token: &str, jwks: &Value) -> bool {
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let key = &jwks["keys"][0];
        let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .is_ok()
    }

    fn document(issuer: &Issuer, path: &str) -> Value {
        let Fetched::Document(body) = issuer.fetch(&format!("{}{path}", issuer.url)) else { panic!("{path}") };
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn the_keys_parse_and_their_jwk_matches_ring() {
        for key in [SimKey::Installation, SimKey::Rotated] {
            let parsed = key.parsed();
            assert_eq!(parsed.parts.len(), 8);
            assert_eq!(parsed.parts[0].len(), 256, "RSA-2048");
            assert_eq!(parsed.parts[1], [1, 0, 1]);
            assert_eq!(parsed.pair.public().modulus_len(), 256);
        }
        assert_ne!(SimKey::Installation.public_jwk(KEY_ID), SimKey::Rotated.public_jwk(KEY_ID));
    }

    #[test]
    fn the_issuer_serves_its_documents_and_nothing_else() {
        let service = OidcService::for_scenario(Scenario::Healthy, "https://127.0.0.1:4443/");
        let issuer = &service.issuer;
        assert_eq!(issuer.url, "https://127.0.0.1:4443");
        let discovery = document(issuer, DISCOVERY_PATH);
        assert_eq!(discovery["issuer"], "https://127.0.0.1:4443");
        assert_eq!(discovery["jwks_uri"], "https://127.0.0.1:4443/.well-known/jwks-pub.json");
        assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["RS256"]));
        let jwks = document(issuer, JWKS_PATH);
        let key = jwks["keys"][0].as_object().unwrap();
        assert_eq!(key.keys().collect::<Vec<_>>(), ["alg", "e", "kid", "kty", "n", "use"], "public parts only");
        assert_eq!(issuer.fetch("https://127.0.0.1:4443/other"), Fetched::NotFound);
        assert_eq!(issuer.fetch("https://127.0.0.1:4444/.well-known/jwks-pub.json"), Fetched::OtherHost);
        assert_eq!(issuer.fetch(&format!("{WRONG_ISSUER}{DISCOVERY_PATH}")), Fetched::OtherHost);
    }

    #[test]
    fn tokens_carry_the_claims_and_verify_with_the_published_key_but_in_bad_signature() {
        let healthy = OidcService::for_scenario(Scenario::Healthy, "https://127.0.0.1:4443");
        let tokens = healthy.tokens(&job());
        assert_eq!(tokens.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), OIDC_TOKEN_VARIABLES);
        let jwks = document(&healthy.issuer, JWKS_PATH);
        for (name, token) in &tokens {
            assert!(verifies(token, &jwks), "{name}");
            let claims: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
            assert_eq!(claims, healthy.claims(&job(), name.ends_with("V2")));
            assert_eq!(claims["iss"], "https://127.0.0.1:4443");
            assert_eq!(claims["aud"], SIM_ORG_ID);
            assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
            assert_eq!(claims["oidc.circleci.com/context-ids"], json!(["c1"]));
            let sub = claims["sub"].as_str().unwrap();
            assert!(sub.starts_with(&format!("org/{SIM_ORG_ID}/project/")), "{sub}");
            assert_eq!(
                sub.ends_with("/vcs-origin/github.com/realitycheck-sim/realitycheck/vcs-ref/refs/heads/main"),
                name.ends_with("V2")
            );
        }
        let rotated = OidcService::for_scenario(Scenario::OidcBadSignature, "https://127.0.0.1:4443");
        assert_eq!(document(&rotated.issuer, JWKS_PATH), jwks, "the key set still publishes the first key");
        assert!(rotated.tokens(&job()).iter().all(|(_, token)| !verifies(token, &jwks)));
        let wrong = OidcService::for_scenario(Scenario::OidcWrongIssuer, "https://127.0.0.1:4443");
        assert_eq!(wrong.claims(&job(), false)["iss"], WRONG_ISSUER);
        assert!(wrong.tokens(&job()).iter().all(|(_, token)| verifies(token, &jwks)));
    }

    #[test]
    fn the_release_values_enable_the_service_with_the_signing_key() {
        let service = OidcService::for_scenario(Scenario::OidcBadSignature, "https://127.0.0.1:4443");
        let values = service.release_values();
        assert_eq!(values["isEnabled"], true);
        assert_eq!(values["base_url"], "https://127.0.0.1:4443");
        let keys: Value =
            serde_json::from_slice(&STANDARD.decode(values["json_web_keys"].as_str().unwrap()).unwrap()).unwrap();
        let key = &keys["keys"][0];
        assert_eq!(key["n"], SimKey::Rotated.public_jwk(KEY_ID)["n"]);
        for member in JWK_MEMBERS {
            assert!(key[member].is_string(), "{member}");
        }
    }
}
