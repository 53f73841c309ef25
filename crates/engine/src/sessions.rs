//! Browser sign-in (SPEC F26): a user's password (only its Argon2 hash is
//! kept) and sessions. A session token is random, handed out once, and
//! stored as its SHA-256 so the database never holds a usable token.

use rand::distributions::{Alphanumeric, DistString};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::actor::Actor;
use crate::document::store;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::site::Site;
use crate::users::{matches_slow_hash, slow_hash};

/// How long a session lasts without signing in again.
pub const SESSION_DAYS: i64 = 7;
pub const MIN_PASSWORD: usize = 8;
const BAD_LOGIN: &str = "Wrong email or password";

fn digest(token: &Secret) -> Vec<u8> {
    Sha256::digest(token.expose().as_bytes()).to_vec()
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Site {
    /// Sets `user`'s password. A System Manager may set anyone's; others
    /// only their own.
    pub fn set_password(&self, actor: &Actor, user: &str, password: &Secret) -> Result<()> {
        if actor.user != user {
            actor.require_system_manager("set another user's password")?;
        }
        if password.expose().chars().count() < MIN_PASSWORD {
            return Err(Error::invalid(
                "password",
                format!("A password needs at least {MIN_PASSWORD} characters"),
            ));
        }
        let hash = slow_hash(password)?;
        self.write(|tx| {
            if store::load(tx, "User", user)?.is_none() {
                return Err(Error::NotFound {
                    doctype: "User".into(),
                    name: user.into(),
                });
            }
            tx.execute(
                "INSERT INTO user_passwords (user, hash) VALUES (?1, ?2)
                 ON CONFLICT (user) DO UPDATE SET hash = excluded.hash",
                (user, &hash),
            )?;
            // A new password ends every session opened with the old one.
            tx.execute("DELETE FROM sessions WHERE user = ?1", [user])?;
            Ok(())
        })
    }

    /// Signs `user` in with a password; the session token, shown once.
    pub fn login(&self, user: &str, password: &Secret) -> Result<(Actor, Secret)> {
        let hash: Option<String> = self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT hash FROM user_passwords WHERE user = ?1",
                    [user],
                    |r| r.get(0),
                )
                .optional()?)
        })?;
        let Some(hash) = hash else {
            return Err(Error::Authentication(BAD_LOGIN.into()));
        };
        if !matches_slow_hash(&self.attempts, user, password, &hash)? {
            return Err(Error::Authentication(BAD_LOGIN.into()));
        }
        let actor = self.actor_for(user)?;
        let token = Secret::new(Alphanumeric.sample_string(&mut rand::thread_rng(), 40));
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE expires < ?1", [now_secs()])?;
            tx.execute(
                "INSERT INTO sessions (token_sha256, user, expires) VALUES (?1, ?2, ?3)",
                (digest(&token), user, now_secs() + SESSION_DAYS * 86_400),
            )?;
            Ok(())
        })?;
        Ok((actor, token))
    }

    /// Who a session token belongs to, while it lasts.
    pub fn session_actor(&self, token: &Secret) -> Result<Actor> {
        let user: Option<String> = self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT user FROM sessions WHERE token_sha256 = ?1 AND expires >= ?2",
                    (digest(token), now_secs()),
                    |r| r.get(0),
                )
                .optional()?)
        })?;
        match user {
            Some(u) => self.actor_for(&u),
            None => Err(Error::Authentication(
                "Your session has ended: sign in again".into(),
            )),
        }
    }

    pub fn logout(&self, token: &Secret) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sessions WHERE token_sha256 = ?1",
                [digest(token)],
            )?;
            Ok(())
        })
    }
}
