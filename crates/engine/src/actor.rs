//! Who is acting: a user and their roles, resolved by authentication.

use crate::doctype::{Action, DocType, SYSTEM_MANAGER};
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
