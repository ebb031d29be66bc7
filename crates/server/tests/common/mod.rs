//! Test support: start the real `callvault` binary on port 0 and talk to it over raw
//! sockets, as a client would. The catalog is SQLite, or PostgreSQL for the whole run with
//! `CALLVAULT_TEST_BACKEND=postgres` (see `backend.rs`).

#![allow(dead_code)]

pub mod backend;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub http: SocketAddr,
    pub socket: SocketAddr,
    pub events: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: PathBuf,
}

pub struct ServerBuilder {
    data_dir: PathBuf,
    args: Vec<String>,
    config: Option<String>,
}

impl ServerBuilder {
    pub fn new(data_dir: &Path) -> Self {
        ServerBuilder {
            data_dir: data_dir.to_path_buf(),
            args: Vec::new(),
            config: None,
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn capture(self, pcap: &str, speed: &str) -> Self {
        let path = testdata(&format!("pcap/{pcap}"));
        self.arg("--capture-file")
            .arg(path.to_string_lossy().into_owned())
            .arg("--capture-speed")
            .arg(speed)
    }

    /// TOML configuration written to a file in the data directory's parent.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }

    /// Starts the server replaying `pcap` as fast as it can and returns once its capture
    /// source has FINISHED.
    pub fn replay(self, pcap: &str) -> Server {
        let s = self.capture(pcap, "max").start();
        s.wait_capture_finished();
        s
    }

    pub fn start(self) -> Server {
        std::fs::create_dir_all(&self.data_dir).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http")
            .arg("127.0.0.1:0")
            .arg("--socket")
            .arg("127.0.0.1:0")
            .arg("--events")
            .arg("127.0.0.1:0")
            .arg("--admin")
            .arg("127.0.0.1:0");
        // CALLVAULT_TEST_BACKEND=postgres: this data directory's catalog on PostgreSQL.
        if let Some(url) = backend::database_for(&self.data_dir) {
            cmd.arg("--database").arg(url);
        }
        if let Some(toml) = &self.config {
            let file = self.data_dir.with_extension("toml");
            std::fs::write(&file, toml).unwrap();
            cmd.arg("--config").arg(file);
        }
        cmd.args(&self.args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start callvault");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut http, mut socket, mut events, mut admin) = (None, None, None, None);
        while http.is_none() || socket.is_none() || events.is_none() || admin.is_none() {
            let line = lines
                .next()
                .expect("callvault exited before listening")
                .unwrap();
            let mut parts = line.split_whitespace();
            assert_eq!(parts.next(), Some("listening"), "unexpected line {line:?}");
            let kind = parts.next().unwrap().to_string();
            let addr: SocketAddr = parts.next().unwrap().parse().unwrap();
            match kind.as_str() {
                "http" => http = Some(addr),
                "socket" => socket = Some(addr),
                "events" => events = Some(addr),
                "admin" => admin = Some(addr),
                other => panic!("unknown listener {other}"),
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            http: http.unwrap(),
            socket: socket.unwrap(),
            events: events.unwrap(),
            admin: admin.unwrap(),
            data_dir: self.data_dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server (in a new temporary directory) replaying `pcap` as fast as it can, once its
/// capture source has FINISHED.
pub fn replay(pcap: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).replay(pcap);
    (dir, s)
}

/// An HTTP response as bytes.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Server {
    /// Sends a raw HTTP/1.1 request and reads the whole response.
    pub fn http_raw(&self, request: &[u8]) -> HttpResponse {
        exchange(self.http, request)
    }

    /// Sends a raw HTTP/1.1 request to the admin listener and reads the whole response.
    pub fn admin_raw(&self, request: &[u8]) -> HttpResponse {
        exchange(self.admin, request)
    }

    /// GET a path on the admin listener (`/metrics`, `/healthz`).
    pub fn admin_get(&self, path: &str) -> HttpResponse {
        self.admin_raw(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    }

    /// Sends a raw request, then closes the sending side (a client that stops mid-request).
    pub fn http_raw_then_close(&self, request: &[u8]) -> HttpResponse {
        let mut s = TcpStream::connect(self.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(request).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        parse_http(&buf)
    }

    pub fn get(&self, path_and_query: &str) -> HttpResponse {
        self.http_raw(
            format!(
                "GET {path_and_query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    }

    pub fn post(&self, path_and_query: &str, content_type: &str, body: &[u8]) -> HttpResponse {
        let mut req = format!(
            "POST {path_and_query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.http_raw(&req)
    }

    /// GET `/webAPI.aspx?<query>` and return the RESULT document.
    pub fn api(&self, query: &str) -> String {
        let r = self.get(&format!("/webAPI.aspx?{query}"));
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }

    pub fn connect_socket(&self) -> TcpStream {
        let s = TcpStream::connect(self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    /// Waits until the (first) capture source is FINISHED: every captured call applied,
    /// stored and its recordings finalized. Returns its `<SOURCE>` section.
    pub fn wait_capture_finished(&self) -> String {
        self.wait_capture("FINISHED")
    }

    /// Waits until the (first) capture source shows `state` and returns its `<SOURCE>`
    /// section; any state but RUNNING or `state` fails at once.
    pub fn wait_capture(&self, state: &str) -> String {
        wait_for(Duration::from_secs(60), || {
            let doc = self.api("type=systemstatus&requestid=1");
            // The source is listed once the capture has started.
            let source = sections(&doc, "SOURCE").into_iter().next()?;
            let now = field(&source, "STATE");
            assert!(
                now == "RUNNING" || now == state,
                "capture source is {now}, waiting for {state}: {source}"
            );
            (now == state).then_some(source)
        })
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

fn exchange(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse_http(&buf)
}

pub fn parse_http(buf: &[u8]) -> HttpResponse {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("http header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

/// Reads one `<RESULT>…</RESULT>` document followed by CR LF from a socket connection.
pub fn read_result(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = s.read(&mut byte).expect("read result");
        assert!(
            n > 0,
            "connection closed; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
        if buf.ends_with(b"</RESULT>\r\n") {
            buf.truncate(buf.len() - 2);
            return String::from_utf8(buf).unwrap();
        }
    }
}

/// The text of the first `<NAME>` element of a document (entities left as written).
pub fn field(doc: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {doc}"))
        + open.len();
    let end = doc[start..].find(&close).unwrap() + start;
    doc[start..end].to_string()
}

/// Every `<NAME>…</NAME>` section of a document, in order.
pub fn sections(doc: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

/// A query string from pairs, every value percent-encoded as UTF-8.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Runs a WebAPI request given as pairs and checks its result code.
pub fn ok(s: &Server, pairs: &[(&str, &str)], want: u32) -> String {
    let q = query(pairs);
    let doc = s.api(&q);
    assert_eq!(code(&doc), want, "{q} → {doc}");
    doc
}

pub fn code(doc: &str) -> u32 {
    field(doc, "RESULTCODE").parse().unwrap()
}

/// Traffic over the socket API: on each of `connections` connections at once, `pairs`
/// CALLSTART/CALLSTOP pairs for device `h<connection>`, all sent before any result is read;
/// `extra` (XML fields) is added to each CALLSTART. Every result must be code 20.
pub fn call_pairs(s: &Server, connections: usize, pairs: usize, extra: &str) {
    std::thread::scope(|scope| {
        for c in 0..connections {
            scope.spawn(move || {
                let mut sock = s.connect_socket();
                let mut batch = String::new();
                for i in 0..pairs {
                    batch.push_str(&format!(
                        "<REQUEST><TYPE>CALLSTART</TYPE><REQUESTID>{i}</REQUESTID><DEVICEID>h{c}</DEVICEID>{extra}</REQUEST>\r\n\
                         <REQUEST><TYPE>CALLSTOP</TYPE><REQUESTID>{i}</REQUESTID><DEVICEID>h{c}</DEVICEID></REQUEST>\r\n"
                    ));
                }
                sock.write_all(batch.as_bytes()).unwrap();
                for _ in 0..pairs * 2 {
                    let r = read_result(&mut sock);
                    assert_eq!(code(&r), 20, "{r}");
                }
            });
        }
    });
}

/// A CALLSTART on device `end`, answered 20: a test's last call, which a reader of the
/// events port or the live board waits for to know it has seen everything before it.
pub fn end_call(s: &Server) {
    ok(
        s,
        &[
            ("type", "callstart"),
            ("requestid", "1"),
            ("deviceid", "end"),
        ],
        20,
    );
}

/// `callvault export` with these arguments and none from the environment.
pub fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
    cmd.arg("export").env("RUST_LOG", "warn");
    for var in [
        "CALLVAULT_CONFIG",
        "CALLVAULT_DATA_DIR",
        "CALLVAULT_DATABASE",
        "CALLVAULT_EXPORT_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `callvault export` on `data_dir` (and its catalog) with `args`.
pub fn cli_export(data_dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = cli();
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(url) = backend::database_for(data_dir) {
        cmd.arg("--database").arg(url);
    }
    cmd.args(args).output().expect("run callvault export")
}

/// The value of the sample written exactly as `series` (name and labels) in a `/metrics`
/// text, if any.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        if name == series {
            value.parse().ok()
        } else {
            None
        }
    })
}

/// Runs one SQL statement on the catalog of the server that ran on `data_dir` (stopped
/// now, for SQLite), on whichever backend the test run uses.
pub fn catalog_execute(data_dir: &Path, sql: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match backend::database_for(data_dir) {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            None => {
                let url = format!("sqlite://{}", data_dir.join("catalog.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    });
}

/// `path` decoded by an independent decoder, `tool` (`ffmpeg`, or `sox`, which honours a
/// GSM WAV's `fact` chunk), to 16-bit samples at 8 kHz, `channels` interleaved.
pub fn decode(tool: &str, path: &Path, channels: usize) -> Vec<i16> {
    let mut cmd = Command::new(tool);
    if tool == "ffmpeg" {
        cmd.args(["-v", "error", "-i"]).arg(path).args([
            "-f",
            "s16le",
            "-ar",
            "8000",
            "-ac",
            &channels.to_string(),
            "-",
        ]);
    } else {
        cmd.arg(path).args([
            "-t",
            "raw",
            "-e",
            "signed",
            "-b",
            "16",
            "-r",
            "8000",
            "-c",
            &channels.to_string(),
            "-",
        ]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (scripts/setup.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "{tool} failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Polls until `f` returns Some, or panics after `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
}
