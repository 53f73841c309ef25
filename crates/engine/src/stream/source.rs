//! Where the documents a page depends on come from (SPEC F14): fetched
//! from the producer over HTTP when it pulls, or taken from the bundle a
//! producer sends with a pushed page (SPEC F20) — it cannot be reached.

use std::collections::HashMap;

use crate::document::{values, Doc};
use crate::error::{Error, Result};
use crate::stream::client::ProducerClient;
use crate::stream::wire::{FetchRequest, FindRequest};

pub trait Source: Sync {
    /// One document, scoped to what the consumer may receive.
    fn fetch(&self, req: &FetchRequest) -> Result<Doc>;
    /// The first document matching filters (mapping "Document" rows).
    fn find(&self, req: &FindRequest) -> Result<Doc>;
}

impl Source for ProducerClient {
    fn fetch(&self, req: &FetchRequest) -> Result<Doc> {
        ProducerClient::fetch(self, req)
    }

    fn find(&self, req: &FindRequest) -> Result<Doc> {
        ProducerClient::find(self, req)
    }
}

/// The documents bundled with a pushed page.
#[derive(Default)]
pub struct Bundle {
    docs: HashMap<(String, String), Doc>,
}

impl Bundle {
    pub fn new(docs: Vec<Doc>) -> Bundle {
        let docs = docs
            .into_iter()
            .map(|d| ((values::text(&d, "doctype"), values::text(&d, "name")), d))
            .collect();
        Bundle { docs }
    }
}

impl Source for Bundle {
    fn fetch(&self, req: &FetchRequest) -> Result<Doc> {
        self.docs
            .get(&(req.doctype.clone(), req.name.clone()))
            .cloned()
            .ok_or_else(|| Error::NotFound {
                doctype: req.doctype.clone(),
                name: format!("{} (not sent with the pushed page)", req.name),
            })
    }

    fn find(&self, req: &FindRequest) -> Result<Doc> {
        Err(Error::invalid(
            "mapping",
            format!(
                "A pushed page cannot look {} up by value on its producer: map it by name, or pull from that producer",
                req.doctype
            ),
        ))
    }
}
