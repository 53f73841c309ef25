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
use crate::stream::log::{LogEntry, Stored};

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
        decode(&self.base, &self.call_raw(method, body)?)
    }

    /// Calls a method; the answer's bytes when it succeeded.
    fn call_raw<B: Serialize>(&self, method: &str, body: &B) -> Result<Vec<u8>> {
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
        if status.is_success() {
            return Ok(bytes);
        }
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Error::Unreachable(format!(
                "Producer {} answered {status} with something that is not JSON",
                self.base
            ))
        })?;
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
        Err(Error::Remote(format!("Producer refused: {msg}")))
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

    /// Redeems an invitation (no key yet: the token is the credential).
    pub fn accept_invitation(
        &self,
        req: &crate::stream::invite::AcceptRequest,
    ) -> Result<crate::stream::invite::Accepted> {
        self.call("outpost.invite.accept", req)
            .map_err(|e| match e {
                Error::Remote(m) => Error::invalid(
                    "link",
                    m.replacen("Producer refused: ", "The hub refused the invitation: ", 1),
                ),
                e => e,
            })
    }

    /// New keys for this site's user on the producer (the old ones stop
    /// working as it answers).
    pub fn renew_keys(&self) -> Result<crate::stream::invite::RenewedKeys> {
        self.call("outpost.keys.renew", &serde_json::json!({}))
    }

    pub fn register(&self, reg: &Registration) -> Result<RegistrationReply> {
        self.call("outpost.event.register", reg)
    }

    /// A page of the producer's log, read whole into its typed form (on
    /// the fetching thread, beside the one that applies the page before).
    /// Each entry's data comes parsed and as the text it was sent as, and
    /// what `each` found in it as it was read.
    pub fn pull<T>(
        &self,
        req: &PullRequest,
        each: impl FnMut(&LogEntry) -> T,
    ) -> Result<(PullReply, Vec<Stored>, Vec<T>)> {
        let page: PullReply<Stored> = self.call("outpost.event.pull", req)?;
        page.parsed_with(each).map_err(|e| match e {
            Error::Corrupt(why) => Error::Remote(format!(
                "Producer {} sent an entry that is not JSON: {why}",
                self.base
            )),
            e => e,
        })
    }

    pub fn ack(&self, req: &AckRequest) -> Result<()> {
        self.call::<_, Value>("outpost.event.ack", req).map(|_| ())
    }

    /// Sends a page of this site's log to a site that cannot reach it.
    pub fn push<D: Serialize>(
        &self,
        req: &crate::stream::wire::PushRequest<D>,
    ) -> Result<crate::stream::wire::PushReply> {
        self.call("outpost.event.push", req)
    }

    /// Asks for every existing document of `ref_doctype` (a remote doctype)
    /// to be sent again before the log goes on.
    pub fn resnapshot(&self, site_id: &str, ref_doctype: &str) -> Result<()> {
        self.call::<_, Value>(
            "outpost.event.resnapshot",
            &serde_json::json!({ "site_id": site_id, "ref_doctype": ref_doctype }),
        )
        .map(|_| ())
    }

    pub fn fetch(&self, req: &FetchRequest) -> Result<Doc> {
        self.call("outpost.event.fetch", req)
    }

    pub fn find(&self, req: &FindRequest) -> Result<Doc> {
        self.call("outpost.event.find", req)
    }
}

/// The producer sends a keep-alive every 15 s: this long without a byte
/// means the channel is dead (a stalled link, a stopped producer) and it is
/// opened again.
const LIVE_SILENCE: Duration = Duration::from_secs(45);
/// The longest line the live channel may send.
const LIVE_LINE: usize = 64 << 10;

impl ProducerClient {
    /// Holds the producer's live channel open (server-sent events) and calls
    /// `on_update` once when connected (changes made while the channel was
    /// down are pulled then) and for each announcement, until the channel
    /// ends, goes silent for too long or sends something it should not.
    pub fn listen(&self, site_id: &str, on_update: &mut dyn FnMut()) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Unreachable(format!("Cannot start the live channel: {e}")))?;
        runtime.block_on(async {
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(LIVE_SILENCE)
                .build()
                .map_err(|e| Error::Unreachable(format!("Cannot set up HTTP: {e}")))?;
            let closed = |e: reqwest::Error| {
                Error::Unreachable(format!(
                    "Live channel of {} closed: {}",
                    self.base,
                    root_cause(&e)
                ))
            };
            let mut res = http
                .get(format!("{}/api/stream/updates", self.base))
                .query(&[("site_id", site_id)])
                .header("Accept", "text/event-stream")
                .header(
                    "Authorization",
                    format!("token {}:{}", self.api_key, self.api_secret.expose()),
                )
                .send()
                .await
                .map_err(closed)?;
            if !res.status().is_success() {
                return Err(Error::Remote(format!(
                    "Producer refused the live channel ({})",
                    res.status()
                )));
            }
            on_update();
            let mut line: Vec<u8> = Vec::new();
            while let Some(bytes) = res.chunk().await.map_err(closed)? {
                for b in bytes {
                    if b != b'\n' {
                        line.push(b);
                        if line.len() > LIVE_LINE {
                            return Err(Error::Remote(format!(
                                "The live channel of {} sent a line over {} KiB",
                                self.base,
                                LIVE_LINE >> 10
                            )));
                        }
                        continue;
                    }
                    if line.starts_with(b"data:") {
                        on_update();
                    }
                    line.clear();
                }
            }
            Ok(())
        })
    }
}

/// A successful answer's `message`, straight into its typed form (no JSON
/// tree in between).
fn decode<T: DeserializeOwned>(base: &str, bytes: &[u8]) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        message: Option<T>,
    }
    let unexpected =
        |e: serde_json::Error| Error::Remote(format!("Producer sent an unexpected answer: {e}"));
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(Envelope { message: Some(m) }) => Ok(m),
        Ok(Envelope { message: None }) => serde_json::from_value(Value::Null).map_err(unexpected),
        Err(e) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() => {
            Err(Error::Unreachable(format!(
                "Producer {base} answered with something that is not JSON ({e})"
            )))
        }
        Err(e) => Err(unexpected(e)),
    }
}

/// The most bytes an answer of `method` may have: a page of entries, or
/// one document (SPEC §4: bodies and pages are size-limited).
fn answer_limit(method: &str) -> u64 {
    match method {
        "outpost.event.pull" => 2 * crate::MAX_BODY_BYTES as u64,
        _ => crate::MAX_BODY_BYTES as u64,
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
