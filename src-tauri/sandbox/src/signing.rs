//! Presigned chunk URLs: minting and checking their signatures.
//!
//! A URL looks like
//! `http://127.0.0.1:PORT/storage/{upload_id}/{chunk_index}?X-Tl-Expires=<unix secs>&X-Tl-Signature=<hex>`
//! (`https://localhost:PORT/...` with TLS; the origin is `Shared::public_url`).
//! The signature is HMAC-SHA256 over `"{upload_id}\n{chunk_index}\n{expires}"` with a secret
//! drawn at random when the sandbox starts, so URLs of one sandbox never work on another and a
//! client cannot extend a URL's life by editing `X-Tl-Expires`.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Query parameter carrying the expiry, in unix seconds.
pub(crate) const EXPIRES_PARAM: &str = "X-Tl-Expires";
/// Query parameter carrying the hex signature.
pub(crate) const SIGNATURE_PARAM: &str = "X-Tl-Signature";

/// Signs and verifies chunk URLs with a per-instance secret.
pub(crate) struct Signer {
    mac: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key material.
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// A signer with a fresh random secret.
    pub(crate) fn random() -> Self {
        let mut secret = [0u8; 64];
        rand::rng().fill_bytes(&mut secret);
        Self::with_secret(secret)
    }

    fn with_secret(secret: [u8; 64]) -> Self {
        // A 64-byte key is exactly SHA-256's block size, so `KeyInit::new` takes it as is.
        let mac = <HmacSha256 as hmac::digest::KeyInit>::new(&secret.into());
        Self { mac }
    }

    fn mac_for(&self, upload_id: &str, chunk_index: u32, expires: u64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(format!("{upload_id}\n{chunk_index}\n{expires}").as_bytes());
        mac
    }

    /// The hex signature of one chunk URL.
    pub(crate) fn sign(&self, upload_id: &str, chunk_index: u32, expires: u64) -> String {
        hex::encode(
            self.mac_for(upload_id, chunk_index, expires)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `signature` (hex) is the signature of this chunk URL. Constant time.
    pub(crate) fn verify(
        &self,
        upload_id: &str,
        chunk_index: u32,
        expires: u64,
        signature: &str,
    ) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        self.mac_for(upload_id, chunk_index, expires)
            .verify_slice(&bytes)
            .is_ok()
    }

    /// The path and query of a chunk URL (the caller prefixes scheme and host).
    pub(crate) fn path_and_query(&self, upload_id: &str, chunk_index: u32, expires: u64) -> String {
        let signature = self.sign(upload_id, chunk_index, expires);
        format!(
            "/storage/{upload_id}/{chunk_index}?{EXPIRES_PARAM}={expires}&{SIGNATURE_PARAM}={signature}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_own_inputs() {
        let signer = Signer::random();
        let sig = signer.sign("abc", 3, 1_000);
        assert_eq!(sig.len(), 64);
        assert!(signer.verify("abc", 3, 1_000, &sig));
        assert!(!signer.verify("abc", 3, 1_001, &sig));
        assert!(!signer.verify("abc", 4, 1_000, &sig));
        assert!(!signer.verify("abd", 3, 1_000, &sig));
        assert!(!signer.verify("abc", 3, 1_000, "zz"));
        assert!(!signer.verify("abc", 3, 1_000, ""));
    }

    #[test]
    fn two_sandboxes_do_not_share_secrets() {
        let a = Signer::random();
        let b = Signer::random();
        assert_ne!(a.sign("x", 1, 1), b.sign("x", 1, 1));
    }

    #[test]
    fn the_url_carries_both_parameters() {
        let signer = Signer::with_secret([7; 64]);
        let url = signer.path_and_query("0123456789abcdef01234567", 2, 99);
        assert!(
            url.starts_with("/storage/0123456789abcdef01234567/2?X-Tl-Expires=99&X-Tl-Signature=")
        );
    }
}
