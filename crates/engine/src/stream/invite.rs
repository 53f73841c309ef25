//! One-paste enrolment of a shop (beyond Frappe's manual dance): the hub's
//! System Manager makes an invitation saying which doctypes flow each way;
//! it is one link holding the hub's address, an id and a single-use token
//! (only its SHA-256 is kept). The shop redeems it: the hub makes the shop's
//! subscriber user and keys and answers them once; the shop keeps the secret
//! in its keyring and sets up push (shop → hub) and pull (hub → shop) as the
//! invitation says. Approval stays the hub's, unless the invitation
//! pre-approves its doctypes.

use rand::distributions::{Alphanumeric, DistString};
use rusqlite::{OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::actor::Actor;
use crate::document::values;
use crate::document::Doc;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::site::Site;

/// The role a redeemed invitation's user holds (pull, push, fetch only).
const SUBSCRIBER_ROLE: &str = "Event Subscriber";
/// Where a shop's link starts its secret part.
const MARK: &str = "/join#";
const DEFAULT_HOURS: u32 = 48;
const MAX_HOURS: u32 = 24 * 30;

/// What the hub's System Manager asks for.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[ts(export)]
pub struct InvitationRequest {
    /// A name for the shop, to recognise the invitation by.
    pub label: String,
    /// Doctypes the shop sends to the hub.
    #[serde(default)]
    pub push_doctypes: Vec<String>,
    /// Doctypes the hub sends to the shop, each with an optional condition.
    #[serde(default)]
    pub pull_doctypes: Vec<InvitedRow>,
    /// Hours before it expires (default 48, at most 720).
    #[serde(default)]
    #[ts(optional)]
    pub expires_in_hours: Option<u32>,
    /// The doctypes flow as soon as the shop redeems it (no approval step).
    #[serde(default)]
    pub pre_approved: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[ts(export)]
pub struct InvitedRow {
    pub ref_doctype: String,
    #[serde(default)]
    #[ts(optional)]
    pub condition: Option<String>,
}

/// An invitation as the hub lists it; `link` only when just made.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Invitation {
    pub id: String,
    pub label: String,
    pub push_doctypes: Vec<String>,
    pub pull_doctypes: Vec<InvitedRow>,
    pub pre_approved: bool,
    pub created_by: String,
    pub creation: String,
    /// UTC, RFC 3339.
    pub expires: String,
    #[ts(optional)]
    pub redeemed_at: Option<String>,
    /// The site that redeemed it (its id) and its name.
    #[ts(optional)]
    pub redeemed_by: Option<String>,
    #[ts(optional)]
    pub redeemed_by_name: Option<String>,
    /// The link to paste on the shop: shown once, when made.
    #[ts(optional)]
    pub link: Option<String>,
}

/// What a shop sends to the hub to redeem.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[ts(export)]
pub struct AcceptRequest {
    pub id: String,
    pub token: String,
    pub site_id: String,
    pub site_name: String,
}

/// The hub's answer: the keys (once) and what flows which way.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Accepted {
    pub hub_site_id: String,
    pub hub_name: String,
    pub api_key: String,
    pub api_secret: String,
    pub push_doctypes: Vec<String>,
    pub pull_doctypes: Vec<InvitedRow>,
}

/// A subscriber's new keys, as its producer answers them (once).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RenewedKeys {
    pub api_key: String,
    pub api_secret: String,
}

/// A pasted link, taken apart: the hub's address, the id, the token.
#[derive(Debug, PartialEq, Eq)]
pub struct Link {
    pub hub_url: String,
    pub id: String,
    pub token: String,
}

impl Link {
    pub fn parse(text: &str) -> Result<Link> {
        let bad = || {
            Error::invalid(
                "link",
                "This is not an Outpost invitation link: paste the whole link the hub gave (it looks like https://hub.example/join#abc…)",
            )
        };
        let text = text.trim();
        let (hub, secret) = text.split_once(MARK).ok_or_else(bad)?;
        let (id, token) = secret.split_once('.').ok_or_else(bad)?;
        let word =
            |s: &str, len: usize| s.len() == len && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !(hub.starts_with("http://") || hub.starts_with("https://"))
            || !word(id, 10)
            || !word(token, 32)
        {
            return Err(bad());
        }
        Ok(Link {
            hub_url: hub.trim_end_matches('/').to_owned(),
            id: id.to_owned(),
            token: token.to_owned(),
        })
    }
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn refused(message: String) -> Error {
    Error::invalid("link", message)
}

fn invitation_from_row(r: &rusqlite::Row) -> rusqlite::Result<(Invitation, String)> {
    let spec: String = r.get(2)?;
    let req: InvitationRequest = serde_json::from_str(&spec).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok((
        Invitation {
            id: r.get(0)?,
            label: req.label,
            push_doctypes: req.push_doctypes,
            pull_doctypes: req.pull_doctypes,
            pre_approved: req.pre_approved,
            created_by: r.get(3)?,
            creation: r.get(4)?,
            expires: r.get(5)?,
            redeemed_at: r.get(6)?,
            redeemed_by: r.get(7)?,
            redeemed_by_name: r.get(8)?,
            link: None,
        },
        r.get(1)?,
    ))
}

const SELECT: &str = "SELECT id, token_hash, spec, created_by, creation, expires, redeemed_at, redeemed_by, redeemed_by_name FROM invitations";

/// Whether the invitation `user` came from pre-approves `doctype` flowing
/// `to_shop` (pull) or from it (push): the hub's registration and push
/// set-up then start that row Approved.
pub fn pre_approved(tx: &Transaction, user: &str, doctype: &str, to_shop: bool) -> Result<bool> {
    let spec: Option<String> = tx
        .prepare_cached("SELECT spec FROM invitations WHERE redeemed_user = ?1")?
        .query_row([user], |r| r.get(0))
        .optional()?;
    let Some(spec) = spec else { return Ok(false) };
    let req: InvitationRequest =
        serde_json::from_str(&spec).map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(req.pre_approved
        && if to_shop {
            req.pull_doctypes.iter().any(|r| r.ref_doctype == doctype)
        } else {
            req.push_doctypes.iter().any(|d| d == doctype)
        })
}

/// Whether this site asked `user` (a subscriber) to renew its keys.
pub fn renewal_asked(tx: &Transaction, user: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM key_renewals WHERE user = ?1")?
        .query_row([user], |_| Ok(()))
        .optional()?
        .is_some())
}

impl Site {
    /// "Renew keys" for another site (System Manager): its subscriber user
    /// is asked, in the answer to its next pull or push, to renew its keys;
    /// it does so itself, and its old keys work until then — nobody pastes
    /// anything, and a shop that is offline meanwhile loses nothing.
    pub fn ask_key_renewal(&self, actor: &Actor, site_id: &str) -> Result<String> {
        actor.require_system_manager("renew another site's keys")?;
        let user = self.read(|tx| {
            for (doctype, name, field) in [
                (crate::stream::EVENT_CONSUMER, site_id.to_owned(), "user"),
                (
                    crate::stream::EVENT_PRODUCER,
                    format!("push:{site_id}"),
                    "push_user",
                ),
            ] {
                if let Some(doc) = crate::document::store::load(tx, doctype, &name)? {
                    let user = values::text(&doc, field);
                    if !user.is_empty() {
                        return Ok(user);
                    }
                }
            }
            Err(Error::invalid(
                "site_id",
                format!("No site {site_id} pulls from or pushes to this one"),
            ))
        })?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO key_renewals (user, requested) VALUES (?1, ?2)
                 ON CONFLICT (user) DO UPDATE SET requested = excluded.requested",
                (&user, values::now_string()),
            )?;
            Ok(())
        })?;
        Ok(user)
    }

    /// New keys for the calling subscriber (producer side): "Renew keys" on
    /// a shop asks its hub for them, so nobody pastes a secret again.
    pub fn renew_own_keys(&self, actor: &Actor) -> Result<RenewedKeys> {
        if !actor.is_subscriber() {
            return Err(Error::Permission(
                "Only a subscriber's key renews itself; a System Manager generates keys in Users & keys".into(),
            ));
        }
        let keys = self.generate_keys(actor, &actor.user)?;
        self.write(|tx| {
            tx.execute("DELETE FROM key_renewals WHERE user = ?1", [&actor.user])?;
            Ok(())
        })?;
        Ok(RenewedKeys {
            api_key: keys.api_key,
            api_secret: keys.api_secret.expose().to_owned(),
        })
    }

    /// Renews this site's keys on a producer (consumer side, System
    /// Manager): the producer makes new ones and answers them; they replace
    /// the old ones here (the secret in the keyring).
    pub fn renew_keys(&self, actor: &Actor, producer: &str) -> Result<Doc> {
        actor.require_system_manager("renew keys")?;
        self.renew_keys_now(actor, producer)
    }

    /// Renews the keys of `producer` because it asked (in a pull or push
    /// answer), as the system.
    pub(crate) fn renew_keys_now(&self, actor: &Actor, producer: &str) -> Result<Doc> {
        let client = self.client_of(producer)?;
        let keys = client.renew_keys()?;
        self.update(
            actor,
            crate::stream::EVENT_PRODUCER,
            producer,
            json!({"api_key": keys.api_key, "api_secret": keys.api_secret}),
        )
    }

    /// Makes an invitation (hub side, System Manager): checked now, so a shop
    /// never redeems one that cannot work.
    pub fn create_invitation(&self, actor: &Actor, req: InvitationRequest) -> Result<Invitation> {
        actor.require_system_manager("invite a shop")?;
        let info = self.info()?;
        let Some(url) = info.url.clone().filter(|u| !u.trim().is_empty()) else {
            return Err(Error::invalid(
                "url",
                "Set this site's URL in Settings first (the address shops reach it at): the invitation carries it",
            ));
        };
        if req.label.trim().is_empty() {
            return Err(Error::invalid(
                "label",
                "Name the shop the invitation is for",
            ));
        }
        if req.push_doctypes.is_empty() && req.pull_doctypes.is_empty() {
            return Err(Error::invalid(
                "push_doctypes",
                "Choose at least one DocType that flows from the shop or to it",
            ));
        }
        let reg = self.doctypes();
        let names = req
            .push_doctypes
            .iter()
            .map(|d| ("push_doctypes", d))
            .chain(
                req.pull_doctypes
                    .iter()
                    .map(|r| ("pull_doctypes", &r.ref_doctype)),
            );
        for (field, d) in names {
            let dt = reg.get(d).ok_or_else(|| {
                Error::invalid(field, format!("DocType {d} does not exist on this site"))
            })?;
            if dt.istable || dt.security {
                return Err(Error::invalid(
                    field,
                    format!("{d} cannot be synced (a child table or a security DocType)"),
                ));
            }
        }
        for r in &req.pull_doctypes {
            if let Some(c) = crate::condition::Condition::compile(r.condition.as_deref())? {
                self.read(|tx| c.check_target(tx))?;
            }
        }
        let hours = req.expires_in_hours.unwrap_or(DEFAULT_HOURS);
        if !(1..=MAX_HOURS).contains(&hours) {
            return Err(Error::invalid(
                "expires_in_hours",
                format!("An invitation lasts 1 to {MAX_HOURS} hours, not {hours}"),
            ));
        }
        let id = Alphanumeric.sample_string(&mut rand::thread_rng(), 10);
        let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let creation = crate::stream::activity::utc_now();
        let expires = (chrono::Utc::now() + chrono::Duration::hours(i64::from(hours)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let spec = serde_json::to_string(&req).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO invitations (id, token_hash, spec, created_by, creation, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (&id, digest(&token), &spec, &actor.user, &creation, &expires),
            )?;
            Ok(())
        })?;
        Ok(Invitation {
            id: id.clone(),
            label: req.label,
            push_doctypes: req.push_doctypes,
            pull_doctypes: req.pull_doctypes,
            pre_approved: req.pre_approved,
            created_by: actor.user.clone(),
            creation,
            expires,
            redeemed_at: None,
            redeemed_by: None,
            redeemed_by_name: None,
            link: Some(format!("{}{MARK}{id}.{token}", url.trim_end_matches('/'))),
        })
    }

    /// Every invitation, newest first (never a token).
    pub fn invitations(&self, actor: &Actor) -> Result<Vec<Invitation>> {
        actor.require_system_manager("see invitations")?;
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!("{SELECT} ORDER BY creation DESC"))?;
            let rows = stmt.query_map([], invitation_from_row)?;
            Ok(rows
                .map(|r| r.map(|(i, _)| i))
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Redeems an invitation (hub side, for anyone holding the link): makes
    /// the shop's subscriber user and its keys. Refused, creating nothing,
    /// when the token is wrong, the invitation expired, or another site used
    /// it; the same site asking again (its first answer lost) gets new keys.
    pub fn accept_invitation(&self, req: &AcceptRequest) -> Result<Accepted> {
        let not_valid = || {
            refused("This invitation is not valid: check that the whole link was pasted, or ask the hub for a new one".into())
        };
        if req.site_id.trim().is_empty() || req.site_id.len() > 64 {
            return Err(Error::invalid("site_id", "The shop's site id is missing"));
        }
        if req.site_id == self.info()?.site_id {
            return Err(refused("A site cannot join itself".into()));
        }
        let site_name = req.site_name.trim();
        let user = format!("{}@shops.outpost", req.site_id.to_ascii_lowercase());
        let reg = self.doctypes();
        let spec = self.write(|tx| {
            let found = tx
                .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
                .query_row([&req.id], invitation_from_row)
                .optional()?;
            let Some((inv, hash)) = found else {
                return Err(not_valid());
            };
            if hash != digest(&req.token) {
                return Err(not_valid());
            }
            if let Some(by) = &inv.redeemed_by {
                if by != &req.site_id {
                    return Err(refused(format!(
                        "This invitation was already used ({} by {}): ask the hub for a new one",
                        inv.redeemed_at.as_deref().unwrap_or_default(),
                        inv.redeemed_by_name.as_deref().unwrap_or(by)
                    )));
                }
            }
            if inv.expires.as_str() < crate::stream::activity::utc_now().as_str() {
                return Err(refused(format!(
                    "This invitation expired at {} (UTC): ask the hub for a new one",
                    inv.expires
                )));
            }
            if crate::document::store::load(tx, "User", &user)?.is_none() {
                crate::document::insert_in(
                    tx,
                    &reg,
                    &Actor::system(),
                    "User",
                    json!({
                        "email": user,
                        "first_name": if site_name.is_empty() { inv.label.clone() } else { site_name.to_owned() },
                        "enabled": 1,
                        "roles": [{"role": SUBSCRIBER_ROLE}],
                    }),
                    crate::document::WriteOptions::default(),
                )?;
            }
            tx.execute(
                "UPDATE invitations SET redeemed_at = COALESCE(redeemed_at, ?2), redeemed_by = ?3,
                 redeemed_by_name = ?4, redeemed_user = ?5 WHERE id = ?1",
                (&req.id, values::now_string(), &req.site_id, site_name, &user),
            )?;
            Ok(inv)
        })?;
        let keys = self.generate_keys(&Actor::system(), &user)?;
        let info = self.info()?;
        Ok(Accepted {
            hub_site_id: info.site_id,
            hub_name: info.site_name,
            api_key: keys.api_key,
            api_secret: keys.api_secret.expose().to_owned(),
            push_doctypes: spec.push_doctypes,
            pull_doctypes: spec.pull_doctypes,
        })
    }

    /// Redeems a pasted link (shop side, System Manager): the hub answers the
    /// keys once; they go into an Event Producer for the hub (its secret into
    /// this site's keyring), pushing and pulling as the invitation says.
    pub fn redeem_invitation(&self, actor: &Actor, link: &str) -> Result<Doc> {
        actor.require_system_manager("join a hub")?;
        let link = Link::parse(link)?;
        let info = self.info()?;
        let client =
            crate::stream::client::ProducerClient::new(&link.hub_url, "", Secret::new(""))?;
        let accepted = client.accept_invitation(&AcceptRequest {
            id: link.id,
            token: link.token,
            site_id: info.site_id,
            site_name: info.site_name,
        })?;
        let pull: Vec<_> = accepted
            .pull_doctypes
            .iter()
            .map(|r| json!({"ref_doctype": r.ref_doctype, "condition": r.condition, "use_same_name": 1}))
            .collect();
        let push: Vec<_> = accepted
            .push_doctypes
            .iter()
            .map(|d| json!({"ref_doctype": d}))
            .collect();
        // What arrives belongs to a user of this site: the one who pasted the
        // link, or (in the desktop window, which acts as the site itself)
        // its first System Manager — the one the first-run wizard made.
        let owner = self.read(|tx| {
            if crate::document::store::exists(tx, "User", &actor.user)? {
                Ok(actor.user.clone())
            } else {
                crate::stream::consumer::first_system_manager(tx)
            }
        })?;
        let body = json!({
            "producer_url": link.hub_url,
            "user": owner,
            "api_key": accepted.api_key,
            "api_secret": accepted.api_secret,
            "producer_doctypes": pull,
            "push_doctypes": push,
        });
        // The same link pasted again (the first set-up failed here, say):
        // the hub answered new keys, which replace the old ones.
        let known = self.read(|tx| {
            crate::document::store::exists(tx, crate::stream::EVENT_PRODUCER, &link.hub_url)
        })?;
        if known {
            self.update(actor, crate::stream::EVENT_PRODUCER, &link.hub_url, body)
        } else {
            self.insert(actor, crate::stream::EVENT_PRODUCER, body)
        }
    }
}
