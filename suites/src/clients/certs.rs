//! Certificates and private keys as Secrets hold them: PEM, or PEM base64-encoded once more
//! (the install guide's command leaves them so). Reading only: the facts a judgement needs
//! (subject, issuer, CA or not, validity, DNS names), whether one certificate signed another,
//! and whether a private key is a certificate's key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::{Pem, parse_x509_pem};

/// How a value held its PEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// PEM as it is.
    Pem,
    /// PEM base64-encoded once more than Kubernetes requires.
    Base64OfPem,
}

/// A certificate's facts, and its DER to check signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The subject, as `CN=..., O=...`.
    pub subject: String,
    /// The issuer, as `CN=..., O=...`.
    pub issuer: String,
    /// `basicConstraints CA:true`.
    pub is_ca: bool,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// The DNS names of its Subject Alternative Name.
    pub dns_names: Vec<String>,
    der: Vec<u8>,
}

/// The PEM block a value holds, and how it held it; `None` when it holds none.
pub fn pem_of(value: &[u8]) -> Option<(Pem, Encoding)> {
    if let Ok((_, pem)) = parse_x509_pem(value) {
        return Some((pem, Encoding::Pem));
    }
    let decoded = STANDARD.decode(value.trim_ascii()).ok()?;
    parse_x509_pem(&decoded).ok().map(|(_, pem)| (pem, Encoding::Base64OfPem))
}

impl Certificate {
    /// The certificate of a `CERTIFICATE` PEM block.
    pub fn from_pem(pem: &Pem) -> Result<Certificate, String> {
        if pem.label != "CERTIFICATE" {
            return Err(format!("a `{}` PEM block, not a certificate", pem.label));
        }
        Certificate::from_der(&pem.contents)
    }

    /// The certificate of DER bytes (as a TLS handshake carries it).
    pub fn from_der(der: &[u8]) -> Result<Certificate, String> {
        let (_, certificate) =
            x509_parser::parse_x509_certificate(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let dns_names = match certificate.subject_alternative_name() {
            Ok(Some(names)) => names
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some(dns.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Certificate {
            subject: certificate.subject().to_string(),
            issuer: certificate.issuer().to_string(),
            is_ca: certificate.is_ca(),
            not_after: certificate.validity().not_after.timestamp(),
            dns_names,
            der: der.to_vec(),
        })
    }

    /// Whether `issuer`'s key signed this certificate.
    pub fn signed_by(&self, issuer: &Certificate) -> bool {
        let (Ok((_, certificate)), Ok((_, issuer))) =
            (x509_parser::parse_x509_certificate(&self.der), x509_parser::parse_x509_certificate(&issuer.der))
        else {
            return false;
        };
        certificate.verify_signature(Some(issuer.public_key())).is_ok()
    }

    /// The public key it certifies (the subjectPublicKey bits).
    pub fn public_key(&self) -> Vec<u8> {
        x509_parser::parse_x509_certificate(&self.der)
            .map(|(_, certificate)| certificate.public_key().subject_public_key.data.to_vec())
            .unwrap_or_default()
    }
}

/// Whole days from `now` until `not_after` (Unix seconds); negative once it has passed.
pub fn days_until(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(24 * 60 * 60)
}

/// `2027-01-31`: the day of `seconds` (Unix), UTC.
pub fn day_of(seconds: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_second(seconds).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// The public key of a private key PEM block (RSA in PKCS#1 or PKCS#8, ECDSA P-256/P-384 or
/// Ed25519 in PKCS#8), in the form a certificate carries it; the error says what the block is.
pub fn public_key_of(pem: &Pem) -> Result<Vec<u8>, String> {
    let der = pem.contents.as_slice();
    match pem.label.as_str() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der)
            .map(|key| key.public().as_ref().to_vec())
            .map_err(|e| format!("an unreadable RSA key: {e}")),
        "PRIVATE KEY" => {
            if let Ok(key) = RsaKeyPair::from_pkcs8(der) {
                return Ok(key.public().as_ref().to_vec());
            }
            let rng = SystemRandom::new();
            for algorithm in [&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &signature::ECDSA_P384_SHA384_ASN1_SIGNING] {
                if let Ok(key) = EcdsaKeyPair::from_pkcs8(algorithm, der, &rng) {
                    return Ok(key.public_key().as_ref().to_vec());
                }
            }
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(|key| key.public_key().as_ref().to_vec())
                .map_err(|_| "a PKCS#8 key of an algorithm realitycheck cannot read (RSA, ECDSA P-256/P-384 and Ed25519 are read)".to_string())
        }
        other => {
            Err(format!("a `{other}` PEM block, which realitycheck cannot compare (give the key as PKCS#8 or PKCS#1)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, IsCa, Issuer, KeyPair};

    use super::*;

    #[test]
    fn a_certificate_its_issuer_and_its_key_are_recognised() {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["server.global.nomad".to_string()])
            .unwrap()
            .signed_by(&key, &Issuer::new(ca_params, &ca_key))
            .unwrap();

        let (ca_pem, encoding) = pem_of(ca.pem().as_bytes()).unwrap();
        assert_eq!(encoding, Encoding::Pem);
        let (leaf_pem, encoding) = pem_of(STANDARD.encode(leaf.pem()).as_bytes()).unwrap();
        assert_eq!(encoding, Encoding::Base64OfPem);
        let (ca, leaf) = (Certificate::from_pem(&ca_pem).unwrap(), Certificate::from_pem(&leaf_pem).unwrap());
        assert!(ca.is_ca && !leaf.is_ca);
        assert_eq!(leaf.dns_names, ["server.global.nomad"]);
        assert!(leaf.signed_by(&ca) && !ca.signed_by(&leaf));

        let (key_pem, _) = pem_of(key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(public_key_of(&key_pem).unwrap(), leaf.public_key());
        let (other_pem, _) = pem_of(KeyPair::generate().unwrap().serialize_pem().as_bytes()).unwrap();
        assert_ne!(public_key_of(&other_pem).unwrap(), leaf.public_key());
        assert!(Certificate::from_pem(&key_pem).unwrap_err().contains("PRIVATE KEY"));
        assert!(pem_of(b"not a pem").is_none());
    }
}
