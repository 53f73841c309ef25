//! The consumer's HTTP client for one producer (reqwest, rustls). Network
//! failures are `Unreachable` (retry later); a producer's error answer is
//! `Remote`, with the producer's own message.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::wire::{
    AckRequest, FetchRequest, FindRequest, PullReply, PullRequest, Registration, RegistrationReply,
};
use crate::document::Doc;
use crate::error::{Error, Result};
use crate::secret::Secret;

pub struct ProducerClient {
    base: String,
    api_key: String,
    api_secret: Secret,
    http: reqwest::blocking::Client,
}

impl ProducerClient {
    pub fn new(base: &str, api_key: &str, api_secret: Secret) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Unreachable(format!("Cannot set up HTTP: {e}")))?;
        Ok(ProducerClient {
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            api_secret,
            http,
        })
    }

    /// Calls a method; an answer over `limit` bytes is refused as it
    /// streams in (a producer decides what it sends, not how much we hold).
    fn call<B: Serialize, T: DeserializeOwned>(&self, method: &str, body: &B) -> Result<T> {
        use std::io::Read;
        let limit = answer_limit(method);
        let url = format!("{}/api/method/{method}", self.base);
        let res = self.send(self.http.post(&url).json(body))?;
        let status = res.status();
        if res.content_length().is_some_and(|n| n > limit) {
            return Err(Error::Remote(format!(
                "Producer {} sent a {method} answer over the limit of {} MiB",
                self.base,
                limit >> 20
            )));
        }
        let mut bytes = Vec::new();
        res.take(limit + 1).read_to_end(&mut bytes).map_err(|e| {
            Error::Unreachable(format!(
                "Producer {} broke off its answer: {}",
                self.base,
                root_cause(&e)
            ))
        })?;
        if bytes.len() as u64 > limit {
            return Err(Error::Remote(format!(
                "Producer {} sent a {method} answer over the limit of {} MiB",
                self.base,
                limit >> 20
            )));
        }
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Error::Unreachable(format!(
                "Producer {} answered {status} with something that is not JSON",
                self.base
            ))
        })?;
        if !status.is_success() {
            let msg = json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            if status.is_server_error() {
                return Err(Error::Unreachable(format!(
                    "Producer {} failed ({status}): {msg}",
                    self.base
                )));
            }
            return Err(Error::Remote(format!("Producer refused: {msg}")));
        }
        let message = json.get("message").cloned().unwrap_or(Value::Null);
        serde_json::from_value(message)
            .map_err(|e| Error::Remote(format!("Producer sent an unexpected answer: {e}")))
    }

    /// Sends a request with this site's token; a network failure is `Unreachable`.
    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<reqwest::blocking::Response> {
        req.header(
            "Authorization",
            format!("token {}:{}", self.api_key, self.api_secret.expose()),
        )
        .send()
        .map_err(|e| {
            Error::Unreachable(format!(
                "Producer {} is unreachable: {}",
                self.base,
                root_cause(&e)
            ))
        })
    }

    pub fn register(&self, reg: &Registration) -> Result<RegistrationReply> {
        self.call("outpost.event.register", reg)
    }

    pub fn pull(&self, req: &PullRequest) -> Result<PullReply> {
        self.call("outpost.event.pull", req)
    }

    pub fn ack(&self, req: &AckRequest) -> Result<()> {
        self.call::<_, Value>("outpost.event.ack", req).map(|_| ())
    }

    pub fn fetch(&self, req: &FetchRequest) -> Result<Doc> {
        self.call("outpost.event.fetch", req)
    }

    pub fn find(&self, req: &FindRequest) -> Result<Doc> {
        self.call("outpost.event.find", req)
    }
}

impl ProducerClient {
    /// Holds the producer's live channel open (server-sent events) and calls
    /// `on_update` for each announcement, until the connection ends.
    pub fn listen(&self, site_id: &str, on_update: &mut dyn FnMut()) -> Result<()> {
        use std::io::{BufRead, BufReader};
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(None::<Duration>)
            .build()
            .map_err(|e| Error::Unreachable(format!("Cannot set up HTTP: {e}")))?;
        let res = self.send(
            http.get(format!("{}/api/stream/updates", self.base))
                .query(&[("site_id", site_id)])
                .header("Accept", "text/event-stream"),
        )?;
        if !res.status().is_success() {
            return Err(Error::Remote(format!(
                "Producer refused the live channel ({})",
                res.status()
            )));
        }
        for line in BufReader::new(res).lines() {
            let line = line.map_err(|e| Error::Unreachable(format!("Live channel closed: {e}")))?;
            if line.starts_with("data:") {
                on_update();
            }
        }
        Ok(())
    }
}

/// The most bytes an answer of `method` may have: a page of entries, or
/// one document (SPEC §4: bodies and pages are size-limited).
fn answer_limit(method: &str) -> u64 {
    match method {
        "outpost.event.pull" => 16 << 20,
        _ => 8 << 20,
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
