//! A fault-injecting HTTP proxy between a consumer and a producer, on
//! 127.0.0.1: every request is forwarded to the real producer, and the
//! answer of a chosen method can be dropped (the connection closed after
//! the producer answered) or cut in the middle of its body, and a request
//! can be held back (a slow link) so that a later one overtakes it. The live
//! channel (server-sent events) is piped through, and can be cut (a dropped
//! link) or stalled (the connection stays open, nothing more gets through).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What happens to the next answers of one method.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The producer answers; the consumer never sees it.
    DropAnswer,
    /// The consumer gets the status line, headers and half the body.
    CutBody,
    /// The request reaches the producer this much later (a slow link):
    /// a request sent after it may overtake it.
    HoldRequest(std::time::Duration),
}

#[derive(Default)]
struct Plan {
    /// (method path fragment, fault, requests to let through first, how many more times)
    faults: Vec<(String, Fault, usize, usize)>,
    /// Methods seen, in order, with the fault applied if any.
    seen: Vec<(String, Option<Fault>)>,
    /// Live channels open through the proxy (the consumer's side), each
    /// with its switch that stops forwarding.
    live: Vec<(TcpStream, Arc<AtomicBool>)>,
    /// Live channels opened through the proxy since it started.
    live_opened: usize,
}

pub struct Proxy {
    pub base: String,
    plan: Arc<Mutex<Plan>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        let target = upstream
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let base = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let plan = Arc::new(Mutex::new(Plan::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (plan.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (p, target) = (p.clone(), target.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &target, &p);
                });
            }
        });
        Proxy { base, plan, stop }
    }

    /// The next `times` answers of `method` (e.g. "outpost.event.pull") suffer `fault`.
    pub fn inject(&self, method: &str, fault: Fault, times: usize) {
        self.inject_after(method, fault, 0, times);
    }

    /// Like [`Proxy::inject`], after letting `skip` requests of `method` through.
    pub fn inject_after(&self, method: &str, fault: Fault, skip: usize, times: usize) {
        self.lock()
            .faults
            .push((method.to_owned(), fault, skip, times));
    }

    /// How many requests for `method` had `fault` applied so far.
    pub fn applied(&self, method: &str, fault: &Fault) -> usize {
        self.lock()
            .seen
            .iter()
            .filter(|(m, f)| m.contains(method) && f.as_ref() == Some(fault))
            .count()
    }

    /// Cuts every live channel open through the proxy (as a dropped link
    /// would); how many there were.
    pub fn sever_live(&self) -> usize {
        let live = std::mem::take(&mut self.lock().live);
        for (c, _) in &live {
            let _ = c.shutdown(Shutdown::Both);
        }
        live.len()
    }

    /// Stalls every live channel open through the proxy: the connection
    /// stays open but no byte (announcement or keep-alive) reaches the
    /// consumer any more, as on a link that hangs; how many there were.
    pub fn stall_live(&self) -> usize {
        let plan = self.lock();
        for (_, stalled) in &plan.live {
            stalled.store(true, Ordering::Relaxed);
        }
        plan.live.len()
    }

    /// How many requests (other than live channels) went through so far.
    pub fn requests(&self) -> usize {
        self.lock().seen.len()
    }

    /// Waits until no request has gone through for `quiet` (at most
    /// `limit`): a pull the consumer started earlier is over, none is queued.
    pub fn wait_quiet(&self, quiet: std::time::Duration, limit: std::time::Duration) {
        let started = std::time::Instant::now();
        let (mut seen, mut since) = (self.requests(), std::time::Instant::now());
        while since.elapsed() < quiet {
            assert!(started.elapsed() < limit, "the consumer never went quiet");
            std::thread::sleep(std::time::Duration::from_millis(100));
            let now = self.requests();
            if now != seen {
                (seen, since) = (now, std::time::Instant::now());
            }
        }
    }

    /// How many live channels were opened through the proxy so far.
    pub fn live_opened(&self) -> usize {
        self.lock().live_opened
    }

    /// How many live channels are open through the proxy now.
    pub fn live_channels(&self) -> usize {
        self.lock().live.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

/// One client connection: one request, forwarded with `Connection: close`.
fn handle(mut client: TcpStream, target: &str, plan: &Mutex<Plan>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut content_length = 0usize;
    let mut request_line = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if request_line.is_empty() {
            request_line = line.clone();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    // Chosen as the request arrives (requests of a client that has two
    // on their way count in the order they were sent).
    let fault = if path.starts_with("/api/stream/") {
        None
    } else {
        let mut plan = plan.lock().unwrap_or_else(|e| e.into_inner());
        let fault = plan
            .faults
            .iter_mut()
            .find(|(m, _, _, n)| *n > 0 && path.contains(m.as_str()))
            .and_then(|(_, f, skip, n)| {
                if *skip > 0 {
                    *skip -= 1;
                    return None;
                }
                *n -= 1;
                Some(f.clone())
            });
        plan.seen.push((path.clone(), fault.clone()));
        fault
    };
    if let Some(Fault::HoldRequest(hold)) = fault {
        std::thread::sleep(hold);
    }
    let mut upstream = TcpStream::connect(target)?;
    upstream.write_all(&head)?;
    upstream.write_all(&body)?;
    if path.starts_with("/api/stream/") {
        // The live channel: pipe the answer as it comes, until stalled.
        let stalled = Arc::new(AtomicBool::new(false));
        {
            let mut plan = plan.lock().unwrap_or_else(|e| e.into_inner());
            plan.live.push((client.try_clone()?, stalled.clone()));
            plan.live_opened += 1;
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = match upstream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stalled.load(Ordering::Relaxed) {
                continue;
            }
            if client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        plan.lock()
            .unwrap_or_else(|e| e.into_inner())
            .live
            .retain(|(_, s)| !Arc::ptr_eq(s, &stalled));
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
        return Ok(());
    }
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    match fault {
        None | Some(Fault::HoldRequest(_)) => client.write_all(&answer)?,
        Some(Fault::DropAnswer) => {}
        Some(Fault::CutBody) => {
            let body_at = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |i| i + 4);
            let cut = body_at + (answer.len() - body_at) / 2;
            client.write_all(&answer[..cut])?;
        }
    }
    client.flush()?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}
