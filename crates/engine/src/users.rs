//! Users' API keys (SPEC F2): a key and a secret shown exactly once; only a
//! slow hash (Argon2id) of the secret is kept.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};
use rusqlite::OptionalExtension;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::actor::Actor;
use crate::document::store;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::site::Site;

/// What "Generate keys" hands out. The secret is never stored.
#[derive(Debug)]
pub struct GeneratedKeys {
    pub user: String,
    pub api_key: String,
    pub api_secret: Secret,
}

const BAD_CREDENTIALS: &str = "Invalid API key or secret";

/// The only form in which a site keeps its users' secrets and passwords:
/// a salted Argon2id hash.
pub(crate) fn slow_hash(secret: &Secret) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    crate::attempts::slow(|| {
        Ok(Argon2::default()
            .hash_password(secret.expose().as_bytes(), &salt)
            .map_err(|e| Error::Corrupt(format!("cannot hash a secret: {e}")))?
            .to_string())
    })
}

/// Whether `secret` is the one `hash` was made from, for `who` (a key or a
/// user): refused without hashing while `who` has too many failures. The
/// count is checked and kept inside the hashing slot, so concurrent guesses
/// cannot slip past it.
pub(crate) fn matches_slow_hash(
    attempts: &crate::attempts::Attempts,
    who: &str,
    secret: &Secret,
    hash: &str,
) -> Result<bool> {
    let parsed =
        PasswordHash::new(hash).map_err(|e| Error::Corrupt(format!("stored hash: {e}")))?;
    crate::attempts::slow(|| {
        attempts.check(who)?;
        let ok = Argon2::default()
            .verify_password(secret.expose().as_bytes(), &parsed)
            .is_ok();
        if ok {
            attempts.succeeded(who);
        } else {
            attempts.failed(who);
        }
        Ok(ok)
    })
}

impl Site {
    /// Gives `user` a new key and secret, replacing any earlier pair.
    /// A System Manager may do this for anyone; others only for themselves.
    pub fn generate_keys(&self, actor: &Actor, user: &str) -> Result<GeneratedKeys> {
        if actor.user != user {
            actor.require_system_manager("generate keys for another user")?;
        }
        let api_key = Alphanumeric
            .sample_string(&mut rand::thread_rng(), 15)
            .to_lowercase();
        let api_secret = Secret::new(Alphanumeric.sample_string(&mut rand::thread_rng(), 32));
        let hash = slow_hash(&api_secret)?;
        self.write(|tx| {
            if store::load(tx, "User", user)?.is_none() {
                return Err(Error::NotFound { doctype: "User".into(), name: user.into() });
            }
            tx.execute(
                "INSERT INTO api_keys (user, api_key, secret_hash) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user) DO UPDATE SET api_key = excluded.api_key, secret_hash = excluded.secret_hash",
                (user, &api_key, &hash),
            )?;
            Ok(())
        })?;
        self.verified_cache().retain(|_, _| false);
        Ok(GeneratedKeys {
            user: user.to_owned(),
            api_key,
            api_secret,
        })
    }

    /// The API key of `user`, if keys were generated (the secret is never kept).
    pub fn api_key_of(&self, actor: &Actor, user: &str) -> Result<Option<String>> {
        if actor.user != user {
            actor.require_system_manager("see another user's API key")?;
        }
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT api_key FROM api_keys WHERE user = ?1",
                    [user],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// Checks `api_key` + `api_secret` and returns who they belong to.
    pub fn authenticate_token(&self, api_key: &str, api_secret: &Secret) -> Result<Actor> {
        let row: Option<(String, String)> = self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT user, secret_hash FROM api_keys WHERE api_key = ?1",
                    [api_key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })?;
        let Some((user, hash)) = row else {
            return Err(Error::Authentication(BAD_CREDENTIALS.into()));
        };
        let digest: [u8; 32] = Sha256::digest(api_secret.expose().as_bytes()).into();
        let cached = self.verified_cache().get(api_key) == Some(&digest);
        if !cached {
            if !matches_slow_hash(&self.attempts, api_key, api_secret, &hash)? {
                return Err(Error::Authentication(BAD_CREDENTIALS.into()));
            }
            self.verified_cache().insert(api_key.to_owned(), digest);
        }
        self.actor_for(&user)
    }

    /// The actor for an enabled user, with their roles plus `All`.
    pub fn actor_for(&self, user: &str) -> Result<Actor> {
        let doc = self.read(|tx| store::load(tx, "User", user))?;
        let Some(doc) = doc else {
            return Err(Error::Authentication(format!("User {user} does not exist")));
        };
        if doc.get("enabled").and_then(Value::as_i64) != Some(1) {
            return Err(Error::Authentication(format!("User {user} is disabled")));
        }
        let mut roles: Vec<String> = doc
            .get("roles")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r.get("role").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        roles.push("All".into());
        if roles.iter().any(|r| r == crate::doctype::EVENT_SUBSCRIBER)
            && !roles.iter().any(|r| r == crate::doctype::SYSTEM_MANAGER)
        {
            // A subscriber key is confined to the streaming surface: no doctype
            // permission (not even those granted to All) reaches it.
            roles = vec![crate::doctype::EVENT_SUBSCRIBER.to_owned()];
        }
        Ok(Actor {
            user: user.to_owned(),
            roles,
        })
    }

    fn verified_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, [u8; 32]>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }
}
