//! Test certificates, made at test time (never checked in): a private CA
//! and a server certificate it signs, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// PEM files of a test CA and a leaf certificate for `names`.
pub struct TestPki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestPki {
    /// A fresh CA, and a leaf for `names` (e.g. `localhost`, `127.0.0.1`),
    /// written under `dir` with file names starting with `prefix`.
    pub fn new(dir: &Path, prefix: &str, names: &[&str]) -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("medusa test CA {prefix}"),
        );
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let pki = TestPki {
            ca: dir.join(format!("{prefix}ca.pem")),
            cert: dir.join(format!("{prefix}cert.pem")),
            key: dir.join(format!("{prefix}key.pem")),
        };
        std::fs::write(&pki.ca, ca.as_ref().pem()).unwrap();
        std::fs::write(&pki.cert, leaf.pem()).unwrap();
        std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
        pki
    }
}
