//! Generation and hashing of bearer secrets (API keys, callback tokens).
//!
//! Only `sha256(plaintext)` is stored: a leaked database does not leak usable
//! keys, and keys are random enough (256 bits) that a salt adds nothing.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly generated secret: the plaintext (shown once) and what is stored.
pub struct NewSecret {
    pub plaintext: String,
    pub hash: String,
    /// The first characters, stored for display ("which key is this?").
    pub prefix: String,
}

/// `dp_<kind>_<64 hex chars>`.
pub fn generate(kind: &str) -> NewSecret {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let plaintext = format!("dp_{kind}_{}", hex::encode(raw));
    let prefix = plaintext[..plaintext.len().min(kind.len() + 12)].to_string();
    NewSecret {
        hash: hash(&plaintext),
        prefix,
        plaintext,
    }
}

/// Lower-case hex sha256 of the secret.
pub fn hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Lower-case hex sha256 of bytes (plugin content hash).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
