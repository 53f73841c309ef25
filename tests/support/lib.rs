//! Test support: real `outpostd` processes on 127.0.0.1, each with its own
//! data directory, removed when the test ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub mod fake_producer;
pub mod proxy;
pub mod tripwire;

/// The `outpostd` built in this workspace's target directory.
pub fn outpostd() -> PathBuf {
    // Test binaries live in target/<profile>/deps, tools in target/<profile>;
    // outpostd is in target/<profile>.
    let exe = std::env::current_exe().expect("own binary path");
    let name = format!("outpostd{}", std::env::consts::EXE_SUFFIX);
    let dir = exe.parent().expect("binary directory");
    let candidates = [
        dir.join(&name),
        dir.parent().map(|p| p.join(&name)).unwrap_or_default(),
    ];
    let found = candidates.iter().find(|p| p.is_file()).cloned();
    found.unwrap_or_else(|| {
        panic!(
            "outpostd is missing next to {}: run `cargo build --workspace` first",
            dir.display()
        )
    })
}

/// Runs an `outpostd` subcommand to completion and parses its JSON output.
pub fn cli(args: &[&str]) -> Value {
    let out = Command::new(outpostd())
        .args(args)
        .env("OUTPOST_LOG", "warn")
        .output()
        .expect("run outpostd");
    assert!(
        out.status.success(),
        "outpostd {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("outpostd printed {text:?}: {e}"))
}

pub struct Keys {
    pub user: String,
    pub api_key: String,
    pub api_secret: String,
}

impl Keys {
    fn from_json(v: &Value) -> Keys {
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("no {k} in {v}"))
                .to_owned()
        };
        Keys {
            user: s("user"),
            api_key: s("api_key"),
            api_secret: s("api_secret"),
        }
    }

    pub fn header(&self) -> String {
        format!("token {}:{}", self.api_key, self.api_secret)
    }
}

/// A running site.
pub struct TestSite {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub admin: Keys,
    /// A user with only the role Event Subscriber: the key consumers use.
    pub subscriber: Keys,
    child: Option<Child>,
    listen: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Where the serving process's standard error goes (None: the test's).
    stderr_log: Option<PathBuf>,
    http: reqwest::blocking::Client,
}

/// An HTTP answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The `data` of a 200 answer; panics with the body otherwise.
    pub fn data(&self) -> &Value {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.body
        );
        &self.body["data"]
    }

    /// Asserts an error answer and returns (exc_type, message, field).
    pub fn error(&self, status: u16) -> (String, String, Option<String>) {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.body
        );
        let s = |k: &str| self.body[k].as_str().map(str::to_owned);
        (
            s("exc_type").expect("exc_type"),
            s("message").expect("message"),
            s("field"),
        )
    }
}

impl TestSite {
    /// Creates a site with a System Manager `admin@example.com` and serves it.
    pub fn start() -> TestSite {
        Self::start_with(&[])
    }

    /// Like [`TestSite::start`], with extra `outpostd serve` arguments.
    pub fn start_with(args: &[&str]) -> TestSite {
        Self::start_in(args, &[])
    }

    /// Like [`TestSite::start_with`], with extra environment for `outpostd serve`
    /// (a session bus, say).
    pub fn start_in(args: &[&str], env: &[(&str, &str)]) -> TestSite {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().to_str().expect("utf-8 path").to_owned();
        let admin = Keys::from_json(&cli(&[
            "user",
            "add",
            "--data-dir",
            &data,
            "--email",
            "admin@example.com",
            "--full-name",
            "Admin",
            "--role",
            "System Manager",
            "--generate-keys",
        ]));
        let subscriber = Keys::from_json(&cli(&[
            "user",
            "add",
            "--data-dir",
            &data,
            "--email",
            "subscriber@example.com",
            "--full-name",
            "Subscriber",
            "--role",
            "Event Subscriber",
            "--generate-keys",
        ]));
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .expect("http client");
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if !args.iter().any(|a| a == "--secret-store") {
            // The explicit headless choice; the keyring has its own test.
            args.extend(["--secret-store".into(), "file".into()]);
        }
        let mut site = TestSite {
            dir,
            base: String::new(),
            admin,
            subscriber,
            child: None,
            listen: "127.0.0.1:0".into(),
            args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stderr_log: None,
            http,
        };
        site.serve();
        site
    }

    fn serve(&mut self) {
        let data = self.dir.path().to_str().expect("utf-8 path").to_owned();
        let mut child = Command::new(outpostd())
            .args(["serve", "--data-dir", &data, "--listen", &self.listen])
            .args(&self.args)
            .env("OUTPOST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(match &self.stderr_log {
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("spawn outpostd serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read ready line");
        let ready: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
        let addr = ready["listening"].as_str().expect("listening").to_owned();
        self.base = format!("http://{addr}");
        self.listen = addr;
        self.child = Some(child);
    }

    /// The serving process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the site again on the same data directory and address.
    pub fn restart(&mut self) {
        self.kill9();
        self.serve();
    }

    /// Sets (Some) or removes (None) an environment variable of the
    /// serving process, from its next (re)start on.
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.to_owned(), v.to_owned()));
        }
    }

    /// From the next (re)start on, the serving process's standard error
    /// (its log) goes to `path`.
    pub fn log_to(&mut self, path: &Path) {
        self.stderr_log = Some(path.to_owned());
    }

    /// Waits for the serving process to end by itself (a crash point, say);
    /// its exit status.
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("a running process");
        let status = wait_for("the process to end", secs, || {
            child.try_wait().ok().flatten()
        });
        self.child = None;
        status
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates a user (through the CLI, on the same data directory) and returns its keys.
    pub fn user_with_keys(&self, email: &str, roles: &[&str]) -> Keys {
        let data = self.data_dir().to_str().expect("utf-8 path");
        let mut args = vec![
            "user",
            "add",
            "--data-dir",
            data,
            "--email",
            email,
            "--generate-keys",
        ];
        for r in roles {
            args.extend(["--role", r]);
        }
        Keys::from_json(&cli(&args))
    }

    /// A request with `auth` as the Authorization header (None: no header).
    pub fn call(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        self.try_call(auth, method, path, body)
            .unwrap_or_else(|| panic!("no answer from {} to {method} {path}", self.base))
    }

    /// Like [`TestSite::call`], but None when no answer comes (the process
    /// died, say) instead of a panic.
    pub fn try_call(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Option<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().ok()?;
        let status = res.status().as_u16();
        let text = res.text().ok()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Some(Answer { status, body })
    }

    /// A request as the admin.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(Some(&self.admin.header()), method, path, body)
    }

    pub fn insert(&self, doctype: &str, doc: Value) -> Answer {
        self.admin(
            "POST",
            &format!("/api/resource/{}", enc(doctype)),
            Some(doc),
        )
    }

    pub fn get(&self, doctype: &str, name: &str) -> Answer {
        self.admin(
            "GET",
            &format!("/api/resource/{}/{}", enc(doctype), enc(name)),
            None,
        )
    }

    pub fn update(&self, doctype: &str, name: &str, patch: Value) -> Answer {
        self.admin(
            "PUT",
            &format!("/api/resource/{}/{}", enc(doctype), enc(name)),
            Some(patch),
        )
    }

    pub fn delete(&self, doctype: &str, name: &str) -> Answer {
        self.admin(
            "DELETE",
            &format!("/api/resource/{}/{}", enc(doctype), enc(name)),
            None,
        )
    }

    /// Lists with query parameters given as (name, value) pairs.
    pub fn list(&self, doctype: &str, params: &[(&str, &str)]) -> Answer {
        let q = params
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.admin("GET", &format!("/api/resource/{}?{q}", enc(doctype)), None)
    }

    /// One field of every document of `doctype`, in pages of 1,000.
    pub fn column(&self, doctype: &str, field: &str) -> Vec<String> {
        let fields = serde_json::to_string(&[field]).expect("fields");
        let mut out = Vec::new();
        for start in (0..).step_by(1000) {
            let page = self.list(
                doctype,
                &[
                    ("fields", &fields),
                    ("limit_page_length", "1000"),
                    ("limit_start", &start.to_string()),
                    ("order_by", "name asc"),
                ],
            );
            let rows = page.data().as_array().cloned().unwrap_or_default();
            out.extend(
                rows.iter()
                    .map(|r| r[field].as_str().unwrap_or_default().to_owned()),
            );
            if rows.len() < 1000 {
                break;
            }
        }
        out
    }

    pub fn method(&self, name: &str, args: Value) -> Answer {
        self.admin("POST", &format!("/api/method/{name}"), Some(args))
    }

    /// `count` generated documents (`outpostd seed`: Notes, or Sales Invoices
    /// with their Customer and Items), written beside the running server.
    pub fn seed(&self, doctype: &str, count: i64) {
        let data = self.data_dir().to_str().expect("utf-8 path");
        let made = cli(&[
            "seed",
            "--data-dir",
            data,
            "--doctype",
            doctype,
            "--count",
            &count.to_string(),
            "--batch",
            "2000",
        ]);
        assert_eq!(made["inserted"], count, "{made}");
    }

    /// The sync log, newest first: every line, paging back by id.
    pub fn sync_log_all(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let page = self.method(
                "outpost.event.sync_log",
                json!({"limit": 1000, "before": before}),
            );
            let rows = page.body["message"].as_array().expect("sync log").clone();
            if rows.is_empty() {
                return out;
            }
            before = rows.last().and_then(|r| r["id"].as_i64());
            out.extend(rows);
        }
    }

    /// Seeds a customer and items so invoices can link to them.
    pub fn seed_sales(&self) {
        self.insert("Customer", json!({"customer_name": "Acme"}))
            .data();
        for code in ["PEN", "INK", "PAD"] {
            self.insert("Item", json!({"item_code": code, "standard_rate": 2.5}))
                .data();
        }
    }
}

impl Drop for TestSite {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `f` until it returns Some, or panics naming `what`.
/// `to` holds every Note of `from`, by name, and the first, middle and last
/// of them with the same content (large contents arrived whole).
pub fn assert_same_notes(to: &TestSite, from: &TestSite) {
    let theirs = from.column("Note", "name");
    assert_eq!(to.column("Note", "name"), theirs);
    for name in [theirs.first(), theirs.get(theirs.len() / 2), theirs.last()]
        .into_iter()
        .flatten()
    {
        assert_eq!(
            to.get("Note", name).data()["content"],
            from.get("Note", name).data()["content"],
            "Note {name} arrived whole"
        );
    }
}

pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

impl TestSite {
    /// Subscribes `self` (the consumer) to `producer` for `rows`
    /// (`[{"ref_doctype": …, "use_same_name": …}]`) and returns the Event Producer.
    pub fn subscribe_to(&self, producer: &TestSite, rows: Value) -> Value {
        self.subscribe_through(producer, &producer.base, rows)
    }

    /// Like [`TestSite::subscribe_to`], reaching the producer at `url` (a proxy, say).
    pub fn subscribe_through(&self, producer: &TestSite, url: &str, rows: Value) -> Value {
        let doc = json!({
            "producer_url": url,
            "user": "admin@example.com",
            "api_key": producer.subscriber.api_key,
            "api_secret": producer.subscriber.api_secret,
            "producer_doctypes": rows,
        });
        self.insert("Event Producer", doc).data().clone()
    }

    pub fn site_id(&self) -> String {
        self.method("outpost.site.info", json!({})).body["message"]["site_id"]
            .as_str()
            .expect("site_id")
            .to_owned()
    }

    /// On the producer: sets each listed doctype's status for `consumer`.
    pub fn decide(&self, consumer_site_id: &str, decisions: &[(&str, &str)]) {
        let ec = self.get("Event Consumer", consumer_site_id).data().clone();
        let mut rows = ec["consumer_doctypes"].as_array().expect("rows").clone();
        for row in &mut rows {
            if let Some((_, status)) = decisions.iter().find(|(dt, _)| row["ref_doctype"] == *dt) {
                row["status"] = json!(status);
            }
        }
        self.update(
            "Event Consumer",
            consumer_site_id,
            json!({ "consumer_doctypes": rows }),
        )
        .data();
    }

    /// On a shop: an Event Producer that pushes `push_rows`
    /// (`[{"ref_doctype": …}]`) to `hub`, reached at `url` (the hub or a
    /// proxy), with `pull_rows` pulled from it; returns its name.
    pub fn push_to(&self, hub: &TestSite, url: &str, push_rows: Value, pull_rows: Value) -> String {
        let ep = self.insert(
            "Event Producer",
            json!({
                "producer_url": url,
                "user": "admin@example.com",
                "api_key": hub.subscriber.api_key,
                "api_secret": hub.subscriber.api_secret,
                "producer_doctypes": pull_rows,
                "push_doctypes": push_rows,
            }),
        );
        assert_eq!(ep.status, 200, "{ep:?}");
        ep.data()["name"].as_str().unwrap_or_default().to_owned()
    }

    /// On a shop: `doctype` pushed to `hub` and pulled from it, approved on
    /// both sides (the hub's Event Consumer row and its push row); returns
    /// this shop's site id.
    pub fn both_ways_with(&self, hub: &TestSite, doctype: &str) -> String {
        let rows = json!([{ "ref_doctype": doctype }]);
        self.push_to(hub, &hub.base, rows.clone(), rows);
        let id = self.site_id();
        hub.decide(&id, &[(doctype, "Approved")]);
        self.sync_now();
        hub.approve_pushes_of(&id);
        id
    }

    /// On a hub: a System Manager approves every row of the shop that
    /// pushes here (its Event Producer `push:<shop site id>`).
    pub fn approve_pushes_of(&self, shop_site_id: &str) {
        self.approve_pushes_with_condition(shop_site_id, None);
    }

    /// Approves every DocType the shop pushes, under `condition` when one
    /// is given (the hub's condition on what it takes).
    pub fn approve_pushes_with_condition(&self, shop_site_id: &str, condition: Option<&str>) {
        let name = format!("push:{shop_site_id}");
        let ep = self.get("Event Producer", &name);
        assert_eq!(ep.status, 200, "the shop appears on the hub: {ep:?}");
        let mut rows = ep.data()["producer_doctypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for r in &mut rows {
            r["status"] = json!("Approved");
            if let Some(c) = condition {
                r["condition"] = json!(c);
            }
        }
        let a = self.update("Event Producer", &name, json!({"producer_doctypes": rows}));
        assert_eq!(a.status, 200, "{a:?}");
    }

    /// Restarts this site so that it aborts at crash point `spec`
    /// (`point[@N]`), presses Sync now on `trigger` (this site or another),
    /// asserts that this one aborted, and restarts it without the point.
    pub fn crash_during_sync(&mut self, spec: &str, trigger: Option<&TestSite>) {
        self.set_env("OUTPOST_CRASH_AT", Some(spec));
        self.restart();
        let on = trigger.unwrap_or(self);
        let answer = on.try_call(
            Some(&on.admin.header()),
            "POST",
            "/api/method/outpost.event.sync_now",
            Some(json!({})),
        );
        let status = self.wait_exit(60);
        assert!(
            !status.success(),
            "aborted at {spec} ({status}); Sync now said {answer:?}"
        );
        self.set_env("OUTPOST_CRASH_AT", None);
        self.restart();
    }

    /// Sync now; returns the summaries.
    pub fn sync_now(&self) -> Value {
        let a = self.method("outpost.event.sync_now", json!({}));
        assert_eq!(a.status, 200, "{a:?}");
        a.body["message"].clone()
    }

    pub fn count(&self, doctype: &str, filters: Value) -> i64 {
        let a = self.method(
            "frappe.client.get_count",
            json!({"doctype": doctype, "filters": filters}),
        );
        assert_eq!(a.status, 200, "{a:?}");
        a.body["message"].as_i64().expect("count")
    }
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A private D-Bus session bus (and what runs on it) for one test; every
/// process it started is killed when it is dropped.
pub struct SessionBus {
    pub address: String,
    pub home: tempfile::TempDir,
    pub display: Option<String>,
    children: Vec<Child>,
}

impl SessionBus {
    pub fn start() -> SessionBus {
        let home = tempfile::tempdir().expect("temp home");
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon (package dbus) must be installed");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("bus address");
        SessionBus {
            address: line.trim().to_owned(),
            home,
            display: None,
            children: vec![daemon],
        }
    }

    /// The environment a process needs to use this bus (and display).
    pub fn env(&self) -> Vec<(&str, &str)> {
        let mut v = vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.address.as_str()),
            ("HOME", self.home.path().to_str().expect("utf-8 home")),
            (
                "XDG_DATA_HOME",
                self.home.path().to_str().expect("utf-8 home"),
            ),
        ];
        if let Some(d) = &self.display {
            v.push(("DISPLAY", d.as_str()));
        }
        v
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_remove("DISPLAY").envs(self.env());
        c
    }

    /// Starts `program` on this bus and waits until it owns `name`.
    fn service(&mut self, mut cmd: Command, name: &str, input: Option<&str>) {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting the owner of {name}: {e}"));
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        }
        self.children.push(child);
        wait_for(&format!("{name} on the session bus"), 30, || {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    &format!("string:{name}"),
                ])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("boolean true")
                .then_some(())
        });
    }

    /// A real Secret Service: gnome-keyring, its login keyring unlocked.
    pub fn with_keyring(mut self) -> SessionBus {
        let mut cmd = self.command("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"]);
        self.service(
            cmd,
            "org.freedesktop.secrets",
            Some("test-keyring-password"),
        );
        self
    }

    /// A real notification daemon (dunst) on its own Xvfb display.
    pub fn with_notifications(mut self) -> SessionBus {
        // One display per bus, also between tests of one process.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let start = (std::process::id() % 100) * 8
            + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 8;
        // A display no X server holds, and none left its files on (a server
        // killed by an earlier run keeps its lock and socket, and a new one
        // on that number never starts).
        let n = (0..800)
            .map(|i| 200 + (start + i) % 800)
            .find(|n| {
                !Path::new(&format!("/tmp/.X{n}-lock")).exists()
                    && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            })
            .expect("a free X display between :200 and :999");
        let display = format!(":{n}");
        let xvfb = Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "800x600x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (package xvfb) must be installed");
        self.children.push(xvfb);
        wait_for("Xvfb", 20, || {
            Path::new(&format!("/tmp/.X11-unix/X{n}"))
                .exists()
                .then_some(())
        });
        self.display = Some(display);
        let cmd = self.command("dunst");
        self.service(cmd, "org.freedesktop.Notifications", None);
        self
    }

    /// Runs a command on this bus; its standard output.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The files of a data directory (database, WAL, config…) that hold
/// `needle`, searched byte for byte.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("data dir")
        .flatten()
        .filter(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .map(|e| e.path().display().to_string())
        .collect()
}
