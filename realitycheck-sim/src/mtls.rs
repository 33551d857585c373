//! The Nomad mTLS material of Phase 3, generated at start: a CA and a certificate for the
//! Nomad RPC as CircleCI's Terraform modules make them (CA `Nomad CircleCI CA`, O `CircleCI`,
//! OU `Server`; the certificate with `server.global.nomad`, `client.global.nomad`, `localhost`,
//! `nomad-server` and 127.0.0.1; 100 years), stored in Secret `nomad-mtls` as the guide's
//! command leaves it: each value base64-encoded once more than Kubernetes requires. ECDSA keys
//! stand in for the modules' RSA 4096 keys: they are generated in microseconds.

use std::net::{IpAddr, Ipv4Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use time::OffsetDateTime;

use crate::secrets::{SimSecret, by_hand};

/// The Secret of the Nomad mTLS material, and its keys.
pub const MTLS_SECRET: &str = "nomad-mtls";

/// What is wrong with the material, if anything.
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

/// How long before the start the material was made.
const MADE_BEFORE_START: SignedDuration = SignedDuration::from_hours(12 * 24 + 5);
/// The validity the Terraform modules give: 876600 hours.
const VALIDITY: SignedDuration = SignedDuration::from_hours(876_600);

/// The Secret `nomad-mtls` with `fault`, its dates relative to `started_at`.
pub fn nomad_mtls_secret(started_at: Timestamp, fault: MtlsFault) -> SimSecret {
    let not_before = started_at - MADE_BEFORE_START;
    let ca_key = KeyPair::generate().expect("generating an ECDSA key does not fail");
    let ca_params = ca_params(not_before);
    let ca = ca_params.self_signed(&ca_key).expect("the CA parameters are valid");
    let key = KeyPair::generate().expect("generating an ECDSA key does not fail");
    let not_after = match fault {
        MtlsFault::Expiring => started_at + SignedDuration::from_hours(9 * 24 + 12),
        _ => not_before + VALIDITY,
    };
    let cert_params = server_params(not_before, not_after);
    let cert = match fault {
        MtlsFault::WrongCa => {
            let other_key = KeyPair::generate().expect("generating an ECDSA key does not fail");
            cert_params.signed_by(&key, &Issuer::new(ca_params, other_key))
        }
        _ => cert_params.signed_by(&key, &Issuer::new(ca_params, &ca_key)),
    }
    .expect("the certificate parameters are valid");
    let key_pem = match fault {
        MtlsFault::KeyMismatch => KeyPair::generate().expect("generating an ECDSA key does not fail").serialize_pem(),
        _ => key.serialize_pem(),
    };
    let (ca_pem, cert_pem) = match fault {
        MtlsFault::Swapped => (cert.pem(), ca.pem()),
        _ => (ca.pem(), cert.pem()),
    };
    let encoded = |pem: &str| STANDARD.encode(pem).into_bytes();
    let (ca_pem, cert_pem, key_pem) = (encoded(&ca_pem), encoded(&cert_pem), encoded(&key_pem));
    by_hand(MTLS_SECRET, &[("ca.pem", &ca_pem), ("cert.pem", &cert_pem), ("key.pem", &key_pem)])
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

fn server_params(not_before: Timestamp, not_after: Timestamp) -> CertificateParams {
    let names = ["server.global.nomad", "client.global.nomad", "localhost", "nomad-server"];
    let mut params = CertificateParams::new(names.map(String::from).to_vec()).expect("valid DNS names");
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, "nomad-server");
    params.distinguished_name.push(DnType::OrganizationName, "nomad:client");
    params.not_before = offset(not_before);
    params.not_after = offset(not_after);
    params
}

/// `timestamp` as the certificate parameters take it.
pub(crate) fn offset(timestamp: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(timestamp.as_second()).expect("a time within the calendar")
}
