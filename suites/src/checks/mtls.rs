//! `nomad::mtls`: the Nomad mTLS material of Phase 3, read from its Secret (`nomad-mtls`, or
//! `nomad-rpc-mtls` as later guides name it): the CA is a CA (and `ca.pem` and `cert.pem` are
//! not swapped), the certificate chains to it, `key.pem` is the certificate's key, the
//! certificate names `server.global.nomad` (with Nomad servers outside the cluster the Secret
//! holds the clients' certificate, `client.global.nomad`, and the certificate those servers
//! present over HTTPS must come from the same CA), and neither expires within
//! `nomad.mtls_min_days`.
//! Whatever the verdict, the expiry of each certificate read is recorded as an observation
//! (`certificate_expiry_timestamp_seconds` of `<secret> ca.pem` and `<secret> cert.pem`).

use harness::{Check, Diagnosis, Observation, Verdict};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;

use super::cause::{Because, Cause, Stated, StatedBy, Values, causes};
use super::nomad::nomad_failure;
use super::{certificate_expiry, cluster_check, cluster_failed, ids, optional_read_failed};
use crate::RealityCheck;
use crate::clients::certs::{Certificate, Encoding, day_of, days_until, pem_of, public_key_of};
use crate::clients::nomad::http::server_certificate;
use crate::phase;
use crate::resources::cluster::ClusterAccess;
use crate::resources::nomad::{MTLS_SECRETS, NomadRoute};
use crate::resources::release::ServersAt;

/// The name Nomad's clients verify the servers' certificate against (`verify_server_hostname`).
const SERVER_NAME: &str = "server.global.nomad";

/// The name CircleCI's Terraform gives the Nomad clients' certificate.
const CLIENT_NAME: &str = "client.global.nomad";

/// Whose certificate the Secret holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The in-cluster Nomad servers' (`server.global.nomad`).
    Servers,
    /// With servers outside the cluster, the clients' (`client.global.nomad`): what the chart's
    /// components present to those servers.
    Clients,
}

impl Holder {
    /// The name the certificate must carry.
    pub fn name(self) -> &'static str {
        match self {
            Holder::Servers => SERVER_NAME,
            Holder::Clients => CLIENT_NAME,
        }
    }
}

/// The fix of every cause: make the material again.
const RECREATE: &str = "make the material again (CircleCI's Terraform `tls` module, or `nomad tls ca create` then `nomad tls cert create -server -region global`), store it with `kubectl -n {namespace} create secret generic {secret} --from-file=ca.pem --from-file=cert.pem --from-file=key.pem --dry-run=client -o yaml | kubectl apply -f -`, restart the Nomad servers, and give the Nomad clients certificates of the same CA";

causes! {
    StatedBy::Checks(&[ids::MTLS]) => {
        /// Neither Secret exists.
        NO_MTLS_SECRET:
            "the Nomad mTLS material of Phase 3 was not stored (or under another name)",
            RECREATE;
        /// A key missing, no PEM, or a certificate that does not parse.
        UNREADABLE_MATERIAL:
            "the Secret was not made from the material of Phase 3 (a placeholder, a wrong file, or a cut value)",
            RECREATE;
        SWAPPED:
            "cert.pem holds the CA and ca.pem the certificate: the install guide's command line pairs them the wrong way round",
            RECREATE;
        NOT_A_CA:
            "ca.pem holds a certificate without `CA:true`: Nomad cannot verify the others' certificates with it",
            RECREATE;
        OTHER_CA:
            "the certificate comes from another CA: the Nomad clients and servers reject each other's certificates (x509: certificate signed by unknown authority)",
            RECREATE;
        OTHER_KEY:
            "the private key belongs to another certificate: the Nomad servers cannot complete a TLS handshake with it",
            RECREATE;
        NOT_THE_SERVER_NAME:
            "the clients verify the servers' name (verify_server_hostname) and expect {server_name}; the certificate names {names}",
            RECREATE;
        NOT_THE_CLIENT_NAME:
            "with the Nomad servers outside the cluster, the Secret holds the clients' certificate, which CircleCI's Terraform makes for {client_name}; this one names {names} (the servers' certificate in its place?)",
            "store the client material of the Terraform `tls` module (its CA as ca.pem, the client certificate as cert.pem, its key as key.pem): `kubectl -n {namespace} create secret generic {secret} --from-file=ca.pem --from-file=cert.pem --from-file=key.pem --dry-run=client -o yaml | kubectl apply -f -`";
        OTHER_SERVER_CA:
            "the Nomad servers present a certificate the Secret's CA did not sign: the chart's components and the clients holding certificates of that CA cannot join them (x509: certificate signed by unknown authority)",
            "make the servers' and the clients' material from one CA (CircleCI's Terraform `tls` module makes both), put its ca.pem and the client certificate and key in Secret {secret}, and restart the servers with their certificate";
        /// Expired, or expiring within `nomad.mtls_min_days`.
        MTLS_EXPIRING:
            "once it expires, the Nomad clients and servers refuse each other: no docker job runs",
            RECREATE;
    }
}

pub fn mtls() -> Check<RealityCheck> {
    let summary = "the Nomad mTLS Secret: a CA, a certificate it signed for server.global.nomad (client.global.nomad with servers outside the cluster, whose certificate must come from the same CA), its key, not expiring soon";
    cluster_check(ids::MTLS, summary, |access, scope| async move {
        let cluster = access.client().await.map_err(cluster_failed)?;
        let namespace = cluster.namespace();
        let mut found = None;
        for name in MTLS_SECRETS {
            if let Some(secret) = cluster.secret(name).await.map_err(optional_read_failed)? {
                found = Some((name, secret));
                break;
            }
        }
        let (name, secret) = found.ok_or_else(|| {
            Verdict::Fail(
                Diagnosis::new(format!("no Secret {} in namespace `{namespace}`", MTLS_SECRETS.join(" or ")))
                    .because(recreated(&NO_MTLS_SECRET, namespace, MTLS_SECRETS[0], &[]))
                    .phase(&phase::NOMAD_MTLS),
            )
        })?;
        let material = MtlsMaterial::read(name, &secret).map_err(|what| {
            Verdict::Fail(
                Diagnosis::new(format!("Secret {name} {what}"))
                    .because(recreated(&UNREADABLE_MATERIAL, namespace, name, &[]))
                    .phase(&phase::NOMAD_MTLS),
            )
        })?;
        for observation in expiry_observations(&material) {
            scope.observations.record(observation);
        }
        let release = access.release().await.map_err(cluster_failed)?;
        let holder = match release.servers() {
            ServersAt::Outside { .. } => Holder::Clients,
            _ => Holder::Servers,
        };
        let now = Timestamp::now().as_second();
        let verdict = judge_mtls(namespace, &material, holder, now, access.nomad_settings().mtls_min_days);
        match (verdict, holder) {
            (Verdict::Pass(note), Holder::Clients) => {
                let presented = servers_certificate(&access).await;
                Ok(judge_servers_certificate(namespace, &material, note, presented))
            }
            (verdict, _) => Ok(verdict),
        }
    })
}

/// What the external Nomad servers presented over HTTPS, or why it was not read.
pub enum Presented {
    /// Their certificate chain (DER), leaf first, and where.
    Chain { url: String, tls_server_name: String, chain: Vec<Vec<u8>> },
    /// Their API is plain HTTP (server 4.8): no certificate to read.
    PlainHttp { url: String },
    /// It could not be read.
    Unread(String),
}

/// The certificate the external Nomad servers present on their HTTP API.
async fn servers_certificate(access: &ClusterAccess) -> Presented {
    let servers = match access.nomad().await {
        Ok(servers) => servers,
        Err(error) => return Presented::Unread(nomad_failure(access.namespace(), &error).summary),
    };
    let NomadRoute::Http(http) = servers.route else {
        return Presented::Unread(format!("the servers are read through {}", servers.route.describe()));
    };
    let (url, endpoint) = (servers.route.describe(), &http.endpoint);
    if endpoint.url.scheme() != "https" {
        return Presented::PlainHttp { url };
    }
    match server_certificate(endpoint, access.call_timeout()).await {
        Ok(chain) => Presented::Chain { url, tls_server_name: endpoint.tls_server_name.clone(), chain },
        Err(error) => Presented::Unread(error.to_string()),
    }
}

/// With servers outside the cluster: pass (`note`, with what was seen of the servers) when the
/// certificate they present is signed by the Secret's CA and names the name clients verify;
/// a certificate that cannot be read is a note (`nomad::servers_alive` says why they cannot be
/// reached).
pub fn judge_servers_certificate(
    namespace: &str,
    material: &MtlsMaterial,
    note: String,
    presented: Presented,
) -> Verdict {
    let (url, tls_server_name, chain) = match presented {
        Presented::Chain { url, tls_server_name, chain } => (url, tls_server_name, chain),
        Presented::PlainHttp { url } => {
            return Verdict::Pass(format!(
                "{note}; the servers' API at {url} is plain HTTP (server 4.8's external servers): their certificate was not read"
            ));
        }
        Presented::Unread(why) => {
            return Verdict::Pass(format!("{note}; the servers' certificate was not read: {why}"));
        }
    };
    let secret = &material.secret;
    let leaf = match chain.first().map(|der| Certificate::from_der(der)) {
        Some(Ok(leaf)) => leaf,
        Some(Err(why)) => return Verdict::Pass(format!("{note}; the servers' certificate cannot be read: {why}")),
        None => return Verdict::Pass(format!("{note}; the servers at {url} presented no certificate")),
    };
    let red = |summary: String, cause: Stated| {
        Verdict::Fail(
            Diagnosis::new(summary)
                .observed(format!("the servers at {url} present {} issued by {}", leaf.subject, leaf.issuer))
                .observed(format!("ca.pem of Secret {secret}: {}", material.ca.subject))
                .because(cause)
                .phase(&phase::NOMAD_MTLS),
        )
    };
    if !leaf.signed_by(&material.ca) {
        let red = |summary: String, cause: Stated| match red(summary, cause) {
            Verdict::Fail(diagnosis) if leaf.issuer == material.ca.subject => Verdict::Fail(diagnosis.observed(
                "the issuer has the name of the Secret's CA and another key: a CA made again under the same name",
            )),
            verdict => verdict,
        };
        return red(
            format!(
                "the Nomad servers at {url} present a certificate the CA of Secret {secret} did not sign: clients cannot join"
            ),
            recreated(&OTHER_SERVER_CA, namespace, secret, &[]),
        );
    }
    if !leaf.dns_names.contains(&tls_server_name) {
        return red(
            format!("the Nomad servers at {url} present a certificate that does not name {tls_server_name}"),
            recreated(
                &NOT_THE_SERVER_NAME,
                namespace,
                secret,
                &[("server_name", &tls_server_name), ("names", &names(&leaf.dns_names))],
            ),
        );
    }
    Verdict::Pass(format!(
        "{note}; the servers at {url} present a certificate for {tls_server_name} signed by the same CA"
    ))
}

/// What the Secret holds, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsMaterial {
    /// The Secret's name.
    pub secret: String,
    /// How `ca.pem`, `cert.pem` and `key.pem` held their PEM.
    pub encodings: [Encoding; 3],
    /// `ca.pem`.
    pub ca: Certificate,
    /// `cert.pem`.
    pub cert: Certificate,
    /// The public key of `key.pem`, or why it cannot be compared.
    pub key: Result<Vec<u8>, String>,
}

impl MtlsMaterial {
    /// The material of Secret `name`; the error says what is missing or unreadable (`has no
    /// key ca.pem`).
    pub fn read(name: &str, secret: &Secret) -> Result<MtlsMaterial, String> {
        let pem = |file: &str| {
            let value =
                secret.data.as_ref().and_then(|data| data.get(file)).ok_or_else(|| format!("has no key {file}"))?;
            pem_of(&value.0).ok_or_else(|| format!("holds no PEM in {file} (neither PEM nor base64 of PEM)"))
        };
        let ((ca, ca_encoding), (cert, cert_encoding), (key, key_encoding)) =
            (pem("ca.pem")?, pem("cert.pem")?, pem("key.pem")?);
        let certificate = |file: &str, pem| Certificate::from_pem(pem).map_err(|e| format!("holds in {file} {e}"));
        Ok(MtlsMaterial {
            secret: name.to_string(),
            encodings: [ca_encoding, cert_encoding, key_encoding],
            ca: certificate("ca.pem", &ca)?,
            cert: certificate("cert.pem", &cert)?,
            key: public_key_of(&key),
        })
    }

    fn encoding_note(&self) -> &'static str {
        match self.encodings {
            [Encoding::Pem, Encoding::Pem, Encoding::Pem] => "values PEM",
            [Encoding::Base64OfPem, Encoding::Base64OfPem, Encoding::Base64OfPem] => {
                "values base64 of PEM, as the guide's command makes them"
            }
            _ => "values partly PEM, partly base64 of PEM",
        }
    }
}

/// The expiry of each certificate of `material`, for metrics: `ca.pem`'s then `cert.pem`'s,
/// of subjects `<secret> ca.pem` and `<secret> cert.pem`, as the check's notes name them.
pub fn expiry_observations(material: &MtlsMaterial) -> Vec<Observation> {
    let secret = &material.secret;
    vec![
        certificate_expiry(format!("{secret} ca.pem"), &material.ca),
        certificate_expiry(format!("{secret} cert.pem"), &material.cert),
    ]
}

/// Pass when the material is a CA, a certificate it signed for the `holder`'s name
/// (`server.global.nomad`, or `client.global.nomad` with servers outside the cluster), that
/// certificate's key, and neither certificate expires within `min_days` of `now` (Unix seconds).
pub fn judge_mtls(namespace: &str, material: &MtlsMaterial, holder: Holder, now: i64, min_days: u32) -> Verdict {
    let MtlsMaterial { secret, ca, cert, key, .. } = material;
    let red = |summary: String, cause: &Cause, values: Values<'_>| {
        Verdict::Fail(
            Diagnosis::new(summary)
                .observed(format!("ca.pem: {} (CA: {})", ca.subject, yes(ca.is_ca)))
                .observed(format!("cert.pem: {} issued by {} (CA: {})", cert.subject, cert.issuer, yes(cert.is_ca)))
                .because(recreated(cause, namespace, secret, values))
                .phase(&phase::NOMAD_MTLS),
        )
    };
    if !ca.is_ca && cert.is_ca {
        return red(format!("ca.pem and cert.pem of Secret {secret} are swapped"), &SWAPPED, &[]);
    }
    if !ca.is_ca {
        return red(format!("ca.pem of Secret {secret} is not a CA"), &NOT_A_CA, &[]);
    }
    if !cert.signed_by(ca) {
        return red(format!("cert.pem of Secret {secret} was not signed by the CA in ca.pem"), &OTHER_CA, &[]);
    }
    match key {
        Ok(public) if *public != cert.public_key() => {
            return red(format!("key.pem of Secret {secret} is not the key of cert.pem"), &OTHER_KEY, &[]);
        }
        _ => {}
    }
    let expected_name = holder.name();
    if !cert.dns_names.iter().any(|name| name == expected_name) {
        let cause = match holder {
            Holder::Servers => &NOT_THE_SERVER_NAME,
            Holder::Clients => &NOT_THE_CLIENT_NAME,
        };
        return red(
            format!("cert.pem of Secret {secret} does not name {expected_name}"),
            cause,
            &[("server_name", &SERVER_NAME), ("client_name", &CLIENT_NAME), ("names", &names(&cert.dns_names))],
        );
    }
    let (earliest, which) =
        if cert.not_after <= ca.not_after { (cert.not_after, "cert.pem") } else { (ca.not_after, "ca.pem") };
    let (days_left, date) = (days_until(earliest, now), day_of(earliest));
    if days_left < i64::from(min_days) {
        let summary = if earliest <= now {
            format!("{which} of Secret {secret} expired on {date}")
        } else {
            format!(
                "{which} of Secret {secret} expires in {days_left} days, on {date} (nomad.mtls_min_days = {min_days})"
            )
        };
        return red(summary, &MTLS_EXPIRING, &[]);
    }
    let key_note = match key {
        Ok(_) => "key.pem is its key".to_string(),
        Err(why) => format!("key.pem not compared: it is {why}"),
    };
    Verdict::Pass(format!(
        "Secret {secret} ({}): {} signed the certificate for {expected_name}; {key_note}; earliest expiry {date} ({which}, in {days_left} days)",
        material.encoding_note(),
        ca.subject
    ))
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn names(names: &[String]) -> String {
    if names.is_empty() { "no DNS name".into() } else { names.join(", ") }
}

/// `cause` (its own placeholders filled from `values`), with the fix that makes the material of
/// Secret `secret` in `namespace` again.
fn recreated(cause: &Cause, namespace: &str, secret: &str, values: Values<'_>) -> Stated {
    cause.with(&[values, &[("namespace", &namespace), ("secret", &secret)]].concat())
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use x509_parser::pem::Pem;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn pem(text: &str) -> Pem {
        pem_of(text.as_bytes()).unwrap().0
    }

    fn ca_params() -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Nomad CircleCI CA");
        params
    }

    /// Material made as the Terraform modules make it; `days` of validity left at `NOW`.
    fn material(names: &[&str], days: i64) -> (MtlsMaterial, KeyPair) {
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params().self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "nomad-server");
        params.not_after = time::OffsetDateTime::from_unix_timestamp(NOW + days * 24 * 60 * 60).unwrap();
        let cert = params.signed_by(&key, &Issuer::new(ca_params(), &ca_key)).unwrap();
        let material = MtlsMaterial {
            secret: "nomad-mtls".into(),
            encodings: [Encoding::Base64OfPem; 3],
            ca: Certificate::from_pem(&pem(&ca.pem())).unwrap(),
            cert: Certificate::from_pem(&pem(&cert.pem())).unwrap(),
            key: public_key_of(&pem(&key.serialize_pem())),
        };
        (material, ca_key)
    }

    fn fail(verdict: Verdict) -> Diagnosis {
        match verdict {
            Verdict::Fail(diagnosis) => diagnosis,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sound_material_passes_with_its_earliest_expiry() {
        let (material, _) = material(&["server.global.nomad", "localhost"], 400);
        let Verdict::Pass(note) = judge_mtls("ns", &material, Holder::Servers, NOW, 30) else { panic!() };
        assert!(note.starts_with("Secret nomad-mtls (values base64 of PEM, as the guide's command makes them): CN=Nomad CircleCI CA signed the certificate for server.global.nomad; key.pem is its key; earliest expiry 2028-02-19 (cert.pem, in 400 days)"), "{note}");
    }

    #[test]
    fn each_fault_is_named() {
        let (sound, _) = material(&["server.global.nomad"], 400);
        let swapped = MtlsMaterial { ca: sound.cert.clone(), cert: sound.ca.clone(), ..sound.clone() };
        assert!(
            fail(judge_mtls("ns", &swapped, Holder::Servers, NOW, 30))
                .summary
                .contains("ca.pem and cert.pem of Secret nomad-mtls are swapped")
        );
        let (other, _) = material(&["server.global.nomad"], 400);
        let wrong_ca = MtlsMaterial { ca: other.ca.clone(), ..sound.clone() };
        assert!(
            fail(judge_mtls("ns", &wrong_ca, Holder::Servers, NOW, 30))
                .summary
                .contains("was not signed by the CA in ca.pem")
        );
        let wrong_key = MtlsMaterial { key: other.key.clone(), ..sound.clone() };
        assert!(
            fail(judge_mtls("ns", &wrong_key, Holder::Servers, NOW, 30))
                .summary
                .contains("key.pem of Secret nomad-mtls is not the key of cert.pem")
        );
        let (unnamed, _) = material(&["client.global.nomad"], 400);
        let diagnosis = fail(judge_mtls("ns", &unnamed, Holder::Servers, NOW, 30));
        assert!(
            diagnosis.summary.contains("does not name server.global.nomad")
                && diagnosis.cause.contains("client.global.nomad"),
            "{diagnosis:?}"
        );
        let uncompared = MtlsMaterial { key: Err("an `EC PRIVATE KEY` PEM block".into()), ..sound.clone() };
        let Verdict::Pass(note) = judge_mtls("ns", &uncompared, Holder::Servers, NOW, 30) else { panic!() };
        assert!(note.contains("key.pem not compared: it is an `EC PRIVATE KEY` PEM block"), "{note}");
    }

    #[test]
    fn a_certificate_that_expires_soon_is_red_ahead_of_time() {
        let (expiring, _) = material(&["server.global.nomad"], 9);
        insta::assert_debug_snapshot!(fail(judge_mtls("circleci-server", &expiring, Holder::Servers, NOW, 30)).summary);
        let (expired, _) = material(&["server.global.nomad"], -2);
        assert!(fail(judge_mtls("ns", &expired, Holder::Servers, NOW, 30)).summary.contains("expired on"));
        let Verdict::Pass(_) = judge_mtls("ns", &expiring, Holder::Servers, NOW, 7) else {
            panic!("7 days is the threshold asked for")
        };
    }

    #[test]
    fn each_certificate_read_has_its_expiry_observed_whatever_the_verdict() {
        let (expiring, _) = material(&["server.global.nomad"], 9);
        assert!(
            matches!(judge_mtls("ns", &expiring, Holder::Servers, NOW, 30), Verdict::Fail(_)),
            "red, and still observed"
        );
        let observed = expiry_observations(&expiring);
        assert_eq!(
            observed,
            [
                Observation::new("certificate_expiry_timestamp_seconds", "nomad-mtls ca.pem", expiring.ca.not_after),
                Observation::new("certificate_expiry_timestamp_seconds", "nomad-mtls cert.pem", NOW + 9 * 24 * 60 * 60),
            ]
        );
        let renamed = MtlsMaterial { secret: "nomad-rpc-mtls".into(), ..expiring };
        let subjects: Vec<String> = expiry_observations(&renamed).into_iter().map(|o| o.subject).collect();
        assert_eq!(subjects, ["nomad-rpc-mtls ca.pem", "nomad-rpc-mtls cert.pem"]);
    }

    #[test]
    fn what_the_mutation_run_found_untested() {
        // The note says how the values held their PEM.
        let (sound, _) = material(&["server.global.nomad"], 400);
        let pem_values = MtlsMaterial { encodings: [Encoding::Pem; 3], ..sound.clone() };
        let Verdict::Pass(note) = judge_mtls("ns", &pem_values, Holder::Servers, NOW, 30) else { panic!() };
        assert!(note.starts_with("Secret nomad-mtls (values PEM):"), "{note}");
        // Neither is a CA: not a swap, ca.pem is no CA; the observed lines say which is which.
        let no_ca = MtlsMaterial { ca: sound.cert.clone(), ..sound.clone() };
        let diagnosis = fail(judge_mtls("ns", &no_ca, Holder::Servers, NOW, 30));
        assert_eq!(diagnosis.summary, "ca.pem of Secret nomad-mtls is not a CA");
        assert_eq!(diagnosis.observed[0], "ca.pem: CN=nomad-server (CA: no)");
        assert!(diagnosis.observed[1].ends_with("issued by CN=Nomad CircleCI CA (CA: no)"), "{diagnosis:?}");
        // The remediation says how to make and store the material again.
        assert!(
            diagnosis.remediation.contains("nomad tls cert create -server -region global")
                && diagnosis.remediation.contains("kubectl -n ns create secret generic nomad-mtls --from-file=ca.pem"),
            "{diagnosis:?}"
        );
        // Exactly the threshold left is enough.
        let (at_threshold, _) = material(&["server.global.nomad"], 30);
        assert!(
            matches!(judge_mtls("ns", &at_threshold, Holder::Servers, NOW, 30), Verdict::Pass(_)),
            "30 days left, 30 asked"
        );
    }

    /// A server certificate for `names`, signed by `ca_key` (as a CA of Terraform's name).
    fn server_der(names: &[&str], ca_key: &KeyPair) -> Vec<u8> {
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.signed_by(&KeyPair::generate().unwrap(), &Issuer::new(ca_params(), ca_key)).unwrap().der().to_vec()
    }

    #[test]
    fn the_servers_outside_the_cluster_present_a_certificate_of_the_same_ca_for_the_name_clients_verify() {
        let (material, ca_key) = material(&["client.global.nomad"], 3650);
        let chain = |der: Vec<u8>| Presented::Chain {
            url: "https://nomad.example.internal:4646".into(),
            tls_server_name: "server.global.nomad".into(),
            chain: vec![der],
        };
        let judge = |presented| judge_servers_certificate("ns", &material, "Secret ok".into(), presented);
        assert_eq!(
            judge(chain(server_der(&["server.global.nomad", "localhost"], &ca_key))),
            Verdict::Pass("Secret ok; the servers at https://nomad.example.internal:4646 present a certificate for server.global.nomad signed by the same CA".into())
        );
        let Verdict::Fail(other_ca) = judge(chain(server_der(&["server.global.nomad"], &KeyPair::generate().unwrap())))
        else {
            panic!()
        };
        assert!(other_ca.summary.ends_with("did not sign: clients cannot join"), "{other_ca:?}");
        assert!(
            other_ca.observed.iter().any(|line| line.contains("another key")),
            "same name, another key: {other_ca:?}"
        );
        let Verdict::Fail(other_name) = judge(chain(server_der(&["nomad.example.internal"], &ca_key))) else {
            panic!()
        };
        assert_eq!(
            other_name.summary,
            "the Nomad servers at https://nomad.example.internal:4646 present a certificate that does not name server.global.nomad"
        );
        assert!(other_name.cause.contains("nomad.example.internal"), "{other_name:?}");
        let Verdict::Pass(plain) = judge(Presented::PlainHttp { url: "http://nomad:4646".into() }) else { panic!() };
        assert!(plain.contains("plain HTTP"), "{plain}");
        let Verdict::Pass(unread) = judge(Presented::Unread("connection refused".into())) else { panic!() };
        assert!(unread.ends_with("the servers' certificate was not read: connection refused"), "{unread}");
    }
}
