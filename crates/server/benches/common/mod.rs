//! What the benchmarks share: the release `callvault` binary started on port 0, and
//! reading one `<RESULT>` from the socket API.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The server, listening on free ports; killed when dropped.
pub struct Server {
    child: Child,
    pub socket: SocketAddr,
}

impl Server {
    /// Starts `callvault serve` on `data_dir`, with `extra` options (e.g. `--database`).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_callvault"))
            .args(["serve", "--http", "127.0.0.1:0", "--socket", "127.0.0.1:0"])
            .args(["--events", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start callvault");
        let mut socket = None;
        for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
            let line = line.expect("read stdout");
            if let Some(addr) = line.strip_prefix("listening socket ") {
                socket = Some(addr.parse::<SocketAddr>().expect("address"));
                break;
            }
        }
        let socket = socket.expect("socket listener");
        Server { child, socket }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `<RESULT>` document and its CR LF, read byte by byte so nothing after it is taken.
pub fn read_result(reader: &mut impl Read) -> String {
    let mut doc = Vec::new();
    let mut byte = [0u8; 1];
    while !doc.ends_with(b"</RESULT>\r\n") {
        reader.read_exact(&mut byte).expect("read result");
        doc.push(byte[0]);
    }
    String::from_utf8_lossy(&doc).into_owned()
}
