//! A producer that lies: a real HTTP server on 127.0.0.1 speaking the
//! streaming protocol (register, pull, ack, fetch), whose answers a test
//! writes. Used to show what a hostile producer cannot make a consumer do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// What the fake producer answers.
pub enum Answer {
    /// 200 with `{"message": value}`.
    Message(Value),
    /// A body of `bytes` bytes of JSON-looking filler, sent in chunks,
    /// with a Content-Length header or (false) none, closing the connection.
    Huge { bytes: usize, declared: bool },
    /// A valid start, then one byte a second for `secs` seconds.
    Trickle { secs: u64 },
}

type Handler = dyn Fn(&str, &Value) -> Answer + Send + Sync;

pub struct FakeProducer {
    pub base: String,
    pub site_id: String,
    handler: Arc<Mutex<Arc<Handler>>>,
}

impl FakeProducer {
    /// Starts it; until [`FakeProducer::answer_with`], registration and
    /// pulls answer as an empty producer that approved everything.
    pub fn start() -> FakeProducer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake producer");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let site_id = "fake-producer-0000".to_owned();
        let handler: Arc<Mutex<Arc<Handler>>> =
            Arc::new(Mutex::new(Arc::new(|_: &str, _: &Value| {
                Answer::Message(Value::Null)
            })));
        let h = handler.clone();
        let id = site_id.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (h, id) = (h.clone(), id.clone());
                std::thread::spawn(move || {
                    let current = h.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let _ = serve(conn, &id, current.as_ref());
                });
            }
        });
        FakeProducer {
            base,
            site_id,
            handler,
        }
    }

    /// From now on, `outpost.event.pull` and `outpost.event.fetch` are
    /// answered by `f(method, body)` (registration keeps its answer).
    pub fn answer_with(&self, f: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static) {
        *self.handler.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(f);
    }
}

/// An empty page: nothing more, cursor where it was.
pub fn page(entries: Value, cursor: i64, has_more: bool) -> Answer {
    Answer::Message(json!({
        "entries": entries, "cursor": cursor, "has_more": has_more,
        "approvals": [{"ref_doctype": "Note", "status": "Approved"}, {"ref_doctype": "ToDo", "status": "Approved"}],
        "last_seq": cursor, "page": 1, "held": []
    }))
}

fn serve(mut conn: TcpStream, site_id: &str, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let path = first
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let args: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = path.trim_start_matches("/api/method/");
    let answer = match method {
        "outpost.event.register" => Answer::Message(json!({
            "producer_site_id": site_id, "producer_name": "Fake", "last_seq": 0,
            "approvals": [{"ref_doctype": "Note", "status": "Approved"}, {"ref_doctype": "ToDo", "status": "Approved"}]
        })),
        "outpost.event.ack" => Answer::Message(json!("Acknowledged")),
        _ if path.starts_with("/api/stream/") => {
            let _ = conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return Ok(());
        }
        m => handler(m, &args),
    };
    match answer {
        Answer::Message(v) => {
            let text = json!({ "message": v }).to_string();
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            )?;
        }
        Answer::Huge { bytes, declared } => {
            let header = if declared {
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                    .to_owned()
            };
            conn.write_all(header.as_bytes())?;
            conn.write_all(b"{\"message\": {\"entries\": [")?;
            let chunk =
                "{\"seq\": 1, \"data\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"},"
                    .repeat(1000);
            let mut sent = 0;
            while sent < bytes {
                if conn.write_all(chunk.as_bytes()).is_err() {
                    break; // the consumer stopped reading: as it should
                }
                sent += chunk.len();
            }
        }
        Answer::Trickle { secs } => {
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n{")?;
            for _ in 0..secs {
                std::thread::sleep(std::time::Duration::from_secs(1));
                if conn.write_all(b" ").and_then(|_| conn.flush()).is_err() {
                    break; // the consumer gave up: as it should
                }
            }
        }
    }
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}
