//! Who is acting: a user and their roles, resolved by authentication.

use crate::doctype::{Action, DocType, EVENT_SUBSCRIBER, SYSTEM_MANAGER};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Actor {
    pub user: String,
    /// Includes the implicit role `All` every signed-in user has.
    pub roles: Vec<String>,
}

impl Actor {
    /// The site itself (CLI, start-up, sync internals).
    pub fn system() -> Actor {
        Actor {
            user: "Administrator".to_owned(),
            roles: vec![SYSTEM_MANAGER.to_owned(), "All".to_owned()],
        }
    }

    pub fn is_system_manager(&self) -> bool {
        self.roles.iter().any(|r| r == SYSTEM_MANAGER)
    }

    pub fn require(&self, dt: &DocType, action: Action) -> Result<()> {
        if dt.permits(self.roles.iter().map(String::as_str), action) {
            Ok(())
        } else {
            Err(Error::Permission(format!(
                "User {} has no permission to {} {}",
                self.user,
                action.word(),
                dt.name
            )))
        }
    }

    /// A key that speaks for a consumer site (SPEC F8): it holds the role
    /// Event Subscriber, and only that.
    pub fn is_subscriber(&self) -> bool {
        self.roles.iter().any(|r| r == EVENT_SUBSCRIBER) && !self.is_system_manager()
    }

    /// Registering a consumer takes a subscriber key, never an administrator's.
    pub fn require_subscriber(&self) -> Result<()> {
        if self.is_system_manager() {
            return Err(Error::Permission(format!(
                "{} is a {SYSTEM_MANAGER}: a consumer must not hold an administrator's key. On this producer, create a user with only the role {EVENT_SUBSCRIBER}, generate its keys and paste those",
                self.user
            )));
        }
        if !self.is_subscriber() {
            return Err(Error::Permission(format!(
                "{} does not have the role {EVENT_SUBSCRIBER}: on this producer, give the user the role {EVENT_SUBSCRIBER} (and no other), or use one that has it",
                self.user
            )));
        }
        Ok(())
    }

    /// A person working at this site (a clerk, a manager): any role beyond
    /// the implicit ones, and not a key that speaks for another site.
    pub fn is_desk_user(&self) -> bool {
        !self.is_subscriber()
            && self
                .roles
                .iter()
                .any(|r| r != "All" && r != "Guest" && r != EVENT_SUBSCRIBER)
    }

    /// What every person at the site may do — press Sync now and see how
    /// syncing goes — but not a subscriber key or a user without a role.
    pub fn require_desk_user(&self, what: &str) -> Result<()> {
        if self.is_desk_user() {
            Ok(())
        } else {
            Err(Error::Permission(format!(
                "{} holds no role at this site, so it may not {what}: give the user a role such as Sales User",
                self.user
            )))
        }
    }

    pub fn require_system_manager(&self, what: &str) -> Result<()> {
        if self.is_system_manager() {
            Ok(())
        } else {
            Err(Error::Permission(format!(
                "Only a {SYSTEM_MANAGER} may {what}; {} is not one",
                self.user
            )))
        }
    }
}
