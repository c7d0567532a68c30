//! The refresh grace window: the answer to a refresh is kept for a few seconds, so a connector
//! whose response was lost and that retries with the same (now rotated) refresh token gets the
//! same tokens again instead of tripping reuse detection and losing its connection.
//!
//! The answer holds live tokens, so it is sealed with AES-256-GCM under a key derived from the
//! presented refresh token, and stored under that token's digest: only the holder of the refresh
//! token can read it back, and a dump of the key-value store reveals nothing.

use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use store::StoreResult;
use store::kv::KeyValueStore;

fn storage_key(refresh_token: &str) -> String {
    format!("grace:{}", store::secret::sha256_hex(refresh_token))
}

fn cipher(refresh_token: &str) -> Option<LessSafeKey> {
    let key = Sha256::new()
        .chain_update(b"scimgate refresh grace v1\0")
        .chain_update(refresh_token.as_bytes())
        .finalize();
    UnboundKey::new(&AES_256_GCM, &key)
        .ok()
        .map(LessSafeKey::new)
}

fn seal(refresh_token: &str, plaintext: &[u8]) -> Option<Vec<u8>> {
    let key = cipher(refresh_token)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).ok()?;
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut in_out,
    )
    .ok()?;
    let mut out = nonce.to_vec();
    out.extend(in_out);
    Some(out)
}

fn open(refresh_token: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    let key = cipher(refresh_token)?;
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::empty(), &mut in_out).ok()?;
    Some(plain.to_vec())
}

/// Keeps the answer given for `refresh_token` for `window`.
pub async fn remember(
    kv: &dyn KeyValueStore,
    refresh_token: &str,
    answer: &[u8],
    window: Duration,
) -> StoreResult<()> {
    match seal(refresh_token, answer) {
        Some(sealed) if !window.is_zero() => {
            kv.set(&storage_key(refresh_token), &sealed, window).await
        }
        _ => Ok(()),
    }
}

/// The answer given for `refresh_token`, while the window lasts.
pub async fn recall(kv: &dyn KeyValueStore, refresh_token: &str) -> StoreResult<Option<Vec<u8>>> {
    Ok(kv
        .get(&storage_key(refresh_token))
        .await?
        .and_then(|sealed| open(refresh_token, &sealed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_answers_open_only_with_the_same_token() {
        let sealed = seal("sgr_a", b"answer").unwrap_or_default();
        assert_eq!(open("sgr_a", &sealed).as_deref(), Some(&b"answer"[..]));
        assert_eq!(open("sgr_b", &sealed), None);
        assert_eq!(open("sgr_a", &sealed[..5]), None);
    }
}
