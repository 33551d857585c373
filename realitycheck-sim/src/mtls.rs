//! The Nomad mTLS material of Phase 3, generated at start as CircleCI's Terraform modules make
//! it (CA `Nomad CircleCI CA`, O `CircleCI`, OU `Server`; 100 years), stored in Secret
//! `nomad-mtls` as the guide's command leaves it: each value base64-encoded once more than
//! Kubernetes requires. With the Nomad servers in the cluster the Secret holds their certificate
//! (`server.global.nomad`, `client.global.nomad`, `localhost`, `nomad-server`, 127.0.0.1); with
//! servers outside it, the clients' certificate (`client.global.nomad`, `localhost`,
//! `nomad-server`, `nomad-server-*.global`, the servers' host name, 127.0.0.1; O `nomad:client`),
//! and the same CA signs the servers' HTTPS certificate (`server.global.nomad` and the same
//! others) unless a scenario has another CA sign it. ECDSA keys stand in for the modules' RSA
//! 4096 keys: they are generated in microseconds.

use std::net::{IpAddr, Ipv4Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use time::OffsetDateTime;

use crate::nomad::EXTERNAL_SERVER_HOSTNAME;
use crate::secrets::{SimSecret, by_hand};

/// The Secret of the Nomad mTLS material, and its keys.
pub const MTLS_SECRET: &str = "nomad-mtls";

/// What is wrong with the Secret's material, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsFault {
    None,
    /// The certificate expires 9 and a half days after the start.
    Expiring,
    /// `key.pem` is the key of another certificate.
    KeyMismatch,
    /// The certificate was signed by another CA than `ca.pem`.
    WrongCa,
    /// `ca.pem` and `cert.pem` are swapped, as the guide's command line pairs them.
    Swapped,
}

/// Where the Nomad servers the material is for run, which decides the certificates made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsFor {
    /// In the cluster: the Secret holds the servers' certificate.
    InClusterServers,
    /// Outside the cluster: the Secret holds the clients' certificate; `https`, when the
    /// servers serve HTTPS, says which CA signs their certificate.
    ExternalServers { https: Option<HttpsIssuer> },
}

/// The CA that signs the HTTPS certificate of the servers outside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpsIssuer {
    /// The CA of `ca.pem` in the Secret, as one Terraform run makes them.
    SecretsCa,
    /// Another CA of the same name (another Terraform run's).
    AnotherCa,
}

/// A certificate (DER, alone: the servers send no chain) and its PKCS#8 key (DER), for a
/// listener.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerCertificate {
    pub certificate: Vec<u8>,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate").finish_non_exhaustive()
    }
}

/// The material of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NomadMtls {
    /// Secret `nomad-mtls`.
    pub secret: SimSecret,
    /// The HTTPS certificate of the servers outside the cluster, when they serve HTTPS.
    pub https: Option<ServerCertificate>,
}

/// How long before the start the material was made.
const MADE_BEFORE_START: SignedDuration = SignedDuration::from_hours(12 * 24 + 5);
/// The validity the Terraform modules give: 876600 hours.
const VALIDITY: SignedDuration = SignedDuration::from_hours(876_600);

/// The material for servers running as `for_servers`, with `fault` in the Secret, its dates
/// relative to `started_at`.
pub fn nomad_mtls(started_at: Timestamp, fault: MtlsFault, for_servers: MtlsFor) -> NomadMtls {
    let not_before = started_at - MADE_BEFORE_START;
    let ca_key = new_key();
    let ca = ca_params(not_before).self_signed(&ca_key).expect("the CA parameters are valid");
    let key = new_key();
    let not_after = match fault {
        MtlsFault::Expiring => started_at + SignedDuration::from_hours(9 * 24 + 12),
        _ => not_before + VALIDITY,
    };
    let cert_params = match for_servers {
        MtlsFor::InClusterServers => in_cluster_server_params(not_before, not_after),
        MtlsFor::ExternalServers { .. } => client_params(not_before, not_after),
    };
    let cert = match fault {
        MtlsFault::WrongCa => cert_params.signed_by(&key, &Issuer::new(ca_params(not_before), new_key())),
        _ => cert_params.signed_by(&key, &Issuer::new(ca_params(not_before), &ca_key)),
    }
    .expect("the certificate parameters are valid");
    let key_pem = match fault {
        MtlsFault::KeyMismatch => new_key().serialize_pem(),
        _ => key.serialize_pem(),
    };
    let (ca_pem, cert_pem) = match fault {
        MtlsFault::Swapped => (cert.pem(), ca.pem()),
        _ => (ca.pem(), cert.pem()),
    };
    let encoded = |pem: &str| STANDARD.encode(pem).into_bytes();
    let (ca_pem, cert_pem, key_pem) = (encoded(&ca_pem), encoded(&cert_pem), encoded(&key_pem));
    let secret = by_hand(MTLS_SECRET, &[("ca.pem", &ca_pem), ("cert.pem", &cert_pem), ("key.pem", &key_pem)]);
    let https = match for_servers {
        MtlsFor::ExternalServers { https: Some(issuer) } => {
            let https_key = new_key();
            let params = https_server_params(not_before);
            let certificate = match issuer {
                HttpsIssuer::SecretsCa => params.signed_by(&https_key, &Issuer::new(ca_params(not_before), &ca_key)),
                HttpsIssuer::AnotherCa => {
                    let other_ca_key = new_key();
                    params.signed_by(&https_key, &Issuer::new(ca_params(not_before), &other_ca_key))
                }
            }
            .expect("the certificate parameters are valid");
            Some(ServerCertificate { certificate: certificate.der().to_vec(), key: https_key.serialize_der() })
        }
        MtlsFor::ExternalServers { https: None } | MtlsFor::InClusterServers => None,
    };
    NomadMtls { secret, https }
}

fn new_key() -> KeyPair {
    KeyPair::generate().expect("generating an ECDSA key does not fail")
}

fn ca_params(not_before: Timestamp) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names to check");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "Nomad CircleCI CA");
    params.distinguished_name.push(DnType::OrganizationName, "CircleCI");
    params.distinguished_name.push(DnType::OrganizationalUnitName, "Server");
    params.not_before = offset(not_before);
    params.not_after = offset(not_before + VALIDITY);
    params
}

/// The certificate of servers in the cluster, which the chart also gives its clients' side.
fn in_cluster_server_params(not_before: Timestamp, not_after: Timestamp) -> CertificateParams {
    let names = ["server.global.nomad", "client.global.nomad", "localhost", "nomad-server"];
    leaf_params(&names, "nomad-server", not_before, not_after)
}

/// The clients' certificate the Terraform modules make for servers outside the cluster: CN the
/// servers' host name, O `nomad:client`.
fn client_params(not_before: Timestamp, not_after: Timestamp) -> CertificateParams {
    let names = ["client.global.nomad", "localhost", "nomad-server", "nomad-server-*.global", EXTERNAL_SERVER_HOSTNAME];
    leaf_params(&names, EXTERNAL_SERVER_HOSTNAME, not_before, not_after)
}

/// The servers' certificate the Terraform modules make, which they serve HTTPS with.
fn https_server_params(not_before: Timestamp) -> CertificateParams {
    let names = ["server.global.nomad", "localhost", "nomad-server", "nomad-server-*.global", EXTERNAL_SERVER_HOSTNAME];
    let mut params = leaf_params(&names, EXTERNAL_SERVER_HOSTNAME, not_before, not_before + VALIDITY);
    params.distinguished_name.remove(DnType::OrganizationName);
    params
}

fn leaf_params(names: &[&str], common_name: &str, not_before: Timestamp, not_after: Timestamp) -> CertificateParams {
    let names = names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
    let mut params = CertificateParams::new(names).expect("valid DNS names");
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.distinguished_name.push(DnType::OrganizationName, "nomad:client");
    params.not_before = offset(not_before);
    params.not_after = offset(not_after);
    params
}

/// `timestamp` as the certificate parameters take it.
pub(crate) fn offset(timestamp: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(timestamp.as_second()).expect("a time within the calendar")
}

#[cfg(test)]
mod tests {
    use x509_parser::extensions::GeneralName;
    use x509_parser::pem::parse_x509_pem;
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::*;

    fn started_at() -> Timestamp {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    /// The PEM stored under `key` of the Secret (base64 once more than Kubernetes requires).
    fn pem(secret: &SimSecret, key: &str) -> Vec<u8> {
        STANDARD.decode(&secret.data[key]).unwrap()
    }

    /// A certificate's DNS and IP names, its CN and O.
    fn names(der: &[u8]) -> (Vec<String>, String, Option<String>) {
        let (_, certificate) = X509Certificate::from_der(der).unwrap();
        let sans = certificate
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(dns) => (*dns).to_owned(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        let subject = certificate.subject();
        let cn = subject.iter_common_name().next().unwrap().as_str().unwrap().to_owned();
        let o = subject.iter_organization().next().map(|o| o.as_str().unwrap().to_owned());
        (sans, cn, o)
    }

    fn signed_by(der: &[u8], ca_der: &[u8]) -> bool {
        let (_, certificate) = X509Certificate::from_der(der).unwrap();
        let (_, ca) = X509Certificate::from_der(ca_der).unwrap();
        certificate.verify_signature(Some(ca.public_key())).is_ok()
    }

    fn der_of(pem_bytes: &[u8]) -> Vec<u8> {
        parse_x509_pem(pem_bytes).unwrap().1.contents
    }

    #[test]
    fn servers_in_the_cluster_get_their_certificate_in_the_secret_and_no_https_one() {
        let mtls = nomad_mtls(started_at(), MtlsFault::None, MtlsFor::InClusterServers);
        assert_eq!(mtls.https, None);
        let (ca, cert) = (der_of(&pem(&mtls.secret, "ca.pem")), der_of(&pem(&mtls.secret, "cert.pem")));
        let (sans, cn, o) = names(&cert);
        assert_eq!(sans[..4], ["server.global.nomad", "client.global.nomad", "localhost", "nomad-server"]);
        assert_eq!((cn.as_str(), o.as_deref()), ("nomad-server", Some("nomad:client")));
        assert!(signed_by(&cert, &ca));
        assert!(String::from_utf8(pem(&mtls.secret, "key.pem")).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn servers_outside_the_cluster_get_the_clients_certificate_and_an_https_one_from_the_same_ca() {
        let https = Some(HttpsIssuer::SecretsCa);
        let mtls = nomad_mtls(started_at(), MtlsFault::None, MtlsFor::ExternalServers { https });
        let (ca, cert) = (der_of(&pem(&mtls.secret, "ca.pem")), der_of(&pem(&mtls.secret, "cert.pem")));
        let (sans, cn, o) = names(&cert);
        let expected =
            ["client.global.nomad", "localhost", "nomad-server", "nomad-server-*.global", EXTERNAL_SERVER_HOSTNAME];
        assert_eq!(sans[..5], expected);
        assert_eq!(sans.len(), 6, "and 127.0.0.1: {sans:?}");
        assert_eq!((cn.as_str(), o.as_deref()), (EXTERNAL_SERVER_HOSTNAME, Some("nomad:client")));
        assert!(signed_by(&cert, &ca));
        let server = mtls.https.unwrap();
        let (server_sans, _, server_o) = names(&server.certificate);
        assert_eq!(server_sans[0], "server.global.nomad");
        assert!(
            server_sans.contains(&EXTERNAL_SERVER_HOSTNAME.to_owned()) && server_sans.contains(&"localhost".to_owned())
        );
        assert!(!server_sans.contains(&"client.global.nomad".to_owned()));
        assert_eq!(server_o, None);
        assert!(signed_by(&server.certificate, &ca));

        let other =
            nomad_mtls(started_at(), MtlsFault::None, MtlsFor::ExternalServers { https: Some(HttpsIssuer::AnotherCa) });
        let other_ca = der_of(&pem(&other.secret, "ca.pem"));
        assert!(!signed_by(&other.https.unwrap().certificate, &other_ca));
        let plain = nomad_mtls(started_at(), MtlsFault::None, MtlsFor::ExternalServers { https: None });
        assert_eq!(plain.https, None, "4.8's servers serve plain HTTP");
    }

    #[test]
    fn faults_break_the_secrets_certificate_whichever_it_is() {
        for for_servers in [MtlsFor::InClusterServers, MtlsFor::ExternalServers { https: Some(HttpsIssuer::SecretsCa) }]
        {
            let wrong_ca = nomad_mtls(started_at(), MtlsFault::WrongCa, for_servers);
            let (ca, cert) = (der_of(&pem(&wrong_ca.secret, "ca.pem")), der_of(&pem(&wrong_ca.secret, "cert.pem")));
            assert!(!signed_by(&cert, &ca), "{for_servers:?}");
            if let Some(https) = &wrong_ca.https {
                assert!(signed_by(&https.certificate, &ca), "the servers' certificate keeps ca.pem's CA");
            }

            let swapped = nomad_mtls(started_at(), MtlsFault::Swapped, for_servers);
            let cert = der_of(&pem(&swapped.secret, "cert.pem"));
            let (_, certificate) = X509Certificate::from_der(&cert).unwrap();
            assert!(certificate.is_ca(), "{for_servers:?}: cert.pem holds the CA");

            let expiring = nomad_mtls(started_at(), MtlsFault::Expiring, for_servers);
            let cert = der_of(&pem(&expiring.secret, "cert.pem"));
            let (_, certificate) = X509Certificate::from_der(&cert).unwrap();
            let days_left = (certificate.validity().not_after.timestamp() - started_at().as_second()) / 86_400;
            assert_eq!(days_left, 9, "{for_servers:?}");

            let mismatch = nomad_mtls(started_at(), MtlsFault::KeyMismatch, for_servers);
            let key = KeyPair::from_pem(&String::from_utf8(pem(&mismatch.secret, "key.pem")).unwrap()).unwrap();
            let cert = der_of(&pem(&mismatch.secret, "cert.pem"));
            let (_, certificate) = X509Certificate::from_der(&cert).unwrap();
            let public_key = certificate.public_key().subject_public_key.data.as_ref();
            assert_ne!(public_key, key.public_key_raw(), "{for_servers:?}");
        }
    }
}
