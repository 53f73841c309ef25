//! A tripwire for outgoing connections: a site started with
//! [`Tripwire::env`] sends every HTTP request it makes through this
//! listener (as its proxy), which answers none and remembers each one. A
//! site that must never reach out (a hub, to its shops) is proven silent by
//! an empty list — and the same test shows the wire is live by making the
//! site reach out once on purpose.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct Tripwire {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Tripwire {
    pub fn start() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind tripwire");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                // The request line names where the site wanted to go.
                let mut line = String::new();
                let _ = BufReader::new(&conn).read_line(&mut line);
                if let Ok(mut l) = log.lock() {
                    l.push(line.trim().to_owned());
                }
            }
        });
        Tripwire { url, seen }
    }

    /// Environment that makes a site's HTTP client go through the tripwire.
    pub fn env(&self) -> Vec<(&str, &str)> {
        let u = self.url.as_str();
        vec![
            ("HTTP_PROXY", u),
            ("http_proxy", u),
            ("HTTPS_PROXY", u),
            ("https_proxy", u),
            ("ALL_PROXY", u),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
        ]
    }

    /// The request lines of every connection made so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
