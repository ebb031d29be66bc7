//! CTI throughput over the socket API, against the real binary.
//!
//! Baseline: `TEST` requests, which touch neither the engine nor the catalog. Measured:
//! `CALLSTART` + `CALLSTOP` pairs, each answered only once its call, its recording row and its
//! recording file are durable. Both run in the same process against the same server, so the
//! ratio shows what durability costs, and that group commit keeps it far from one fsync per
//! request.
//!
//! `cargo bench -p callvault-server --bench cti_throughput` runs the full measurement;
//! under `cargo test` it runs a few requests only, to prove it still works.

mod common;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use common::{Server, read_result};

const CONNECTIONS: usize = 8;
const BATCH: usize = 50;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let per_connection = if full { 2_000 } else { 20 };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    let socket = server.socket;

    let test = run(socket, per_connection, |_, i| {
        vec![format!(
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>{i}</REQUESTID></REQUEST>\r\n"
        )]
    });
    let calls = run(socket, per_connection / 2, |c, i| {
        vec![
            format!(
                "<REQUEST><TYPE>CALLSTART</TYPE><REQUESTID>{i}</REQUESTID><DEVICEID>bench{c}-{}</DEVICEID></REQUEST>\r\n",
                i % 16
            ),
            format!(
                "<REQUEST><TYPE>CALLSTOP</TYPE><REQUESTID>{i}</REQUESTID><DEVICEID>bench{c}-{}</DEVICEID></REQUEST>\r\n",
                i % 16
            ),
        ]
    });
    drop(server);

    println!(
        "CTI throughput, socket API, {CONNECTIONS} connections, {BATCH} requests pipelined per batch"
    );
    println!("{:<34} {:>10} {:>12}", "requests", "count", "requests/s");
    println!(
        "{:<34} {:>10} {:>12.0}",
        "TEST (baseline, no writes)", test.0, test.1
    );
    println!(
        "{:<34} {:>10} {:>12.0}",
        "CALLSTART+CALLSTOP (durable)", calls.0, calls.1
    );
    println!("ratio durable/baseline: {:.3}", calls.1 / test.1);
}

/// Sends `per_connection` rounds of requests on each connection, pipelined in batches, and
/// returns (requests answered, requests per second).
fn run(
    socket: SocketAddr,
    per_connection: usize,
    make: impl Fn(usize, usize) -> Vec<String> + Sync,
) -> (usize, f64) {
    let started = Instant::now();
    let answered: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let make = &make;
                scope.spawn(move || {
                    let mut stream = TcpStream::connect(socket).expect("connect");
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut done = 0;
                    for first in (0..per_connection).step_by(BATCH) {
                        let mut batch = String::new();
                        let mut expected = 0;
                        for i in first..(first + BATCH).min(per_connection) {
                            for r in make(c, i) {
                                batch.push_str(&r);
                                expected += 1;
                            }
                        }
                        stream.write_all(batch.as_bytes()).expect("write");
                        for _ in 0..expected {
                            let doc = read_result(&mut reader);
                            assert!(
                                doc.contains("<RESULTCODE>20</RESULTCODE>"),
                                "unexpected result {doc}"
                            );
                        }
                        done += expected;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    (answered, answered as f64 / started.elapsed().as_secs_f64())
}
