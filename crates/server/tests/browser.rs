//! The supervisor page in a real browser: headless Chromium (Debian's `chromium`) driven by
//! `tests/browser/supervisor.mjs` (playwright-core) against the real binary. A call started
//! through the WebAPI after the page loaded shows on the board within a second, with the
//! directory's agent name; a replayed recording is found, played to its end and downloaded
//! as MP3, which ffmpeg decodes here. Screenshots of the board and the search go to
//! `target/test-artifacts/`. Needs `scripts/setup.sh` (chromium, node, the npm packages):
//! without them the test fails and says so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{field, ok, sections};
use serde_json::Value;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn require_tools() {
    let missing: Vec<&str> = [
        (Path::new("/usr/bin/chromium").exists(), "/usr/bin/chromium"),
        (
            browser_dir().join("node_modules/playwright-core").is_dir(),
            "crates/server/tests/browser/node_modules",
        ),
        (
            Command::new("node").arg("--version").output().is_ok(),
            "node",
        ),
    ]
    .into_iter()
    .filter(|(present, _)| !present)
    .map(|(_, what)| what)
    .collect();
    assert!(
        missing.is_empty(),
        "missing {}: run scripts/setup.sh to install them",
        missing.join(", ")
    );
}

#[test]
fn supervisor_page_in_headless_chromium() {
    require_tools();
    let (dir, s) = common::replay("sip-over-tcp.pcap");
    let agent = field(
        &ok(
            &s,
            &[
                ("type", "importuser"),
                ("requestid", "1"),
                ("action", "add"),
                ("username", "ghopper"),
                ("password", "secret-1"),
                ("firstname", "Grace"),
                ("lastname", "Hopper"),
            ],
            20,
        ),
        "USER_ID",
    );
    let list = ok(
        &s,
        &[
            ("type", "calllist"),
            ("requestid", "2"),
            ("deviceid", "201"),
        ],
        20,
    );
    let call = &sections(&list, "CALL")[0];
    let record_id = field(call, "RECORDID");
    let duration: f64 = field(call, "DURATION").parse().unwrap();

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    for shot in ["board.png", "search.png"] {
        let _ = std::fs::remove_file(artifacts.join(shot));
    }

    let out = Command::new("node")
        .arg(browser_dir().join("supervisor.mjs"))
        .current_dir(browser_dir())
        .env("CALLVAULT_ADMIN_URL", format!("http://{}/", s.admin))
        .env("CALLVAULT_WEBAPI_URL", format!("http://{}/", s.http))
        .env("AGENT_ID", &agent)
        .env("AGENT_NAME", "Grace Hopper")
        .env("RECORD_ID", &record_id)
        .env("RECORD_DEVICE", "201")
        .env("ARTIFACTS_DIR", &artifacts)
        .env("DOWNLOAD_DIR", &downloads)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "supervisor.mjs failed:\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!("browser: {report}");

    assert!(report["appearMs"].as_u64().unwrap() <= 1000, "{report}");
    assert!(report["stopMs"].as_u64().unwrap() <= 1000, "{report}");
    let refused = s.api("type=calllist&requestid=4&minduration=-3");
    assert_eq!(report["refusalText"], field(&refused, "RESULTMSG"));
    assert_eq!(report["found"], 1, "{report}");
    let played = report["played"]["duration"].as_f64().unwrap();
    assert!(
        (played - duration).abs() < 0.1,
        "played {played} s of {duration} s"
    );
    assert_eq!(report["suggested"], format!("{record_id}.mp3"));

    // The download is EXPORT's MP3, and decodes to the recording's length.
    let mp3 = PathBuf::from(report["mp3"].as_str().unwrap());
    let bytes = std::fs::read(&mp3).unwrap();
    let exported = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=3&uniquefield=recordid&uniqueid={record_id}&media_format=mp3"
    ));
    assert!(
        bytes == exported.body,
        "the download differs from EXPORT's MP3"
    );
    let decoded = common::decode("ffmpeg", &mp3, 1);
    let seconds = decoded.len() as f64 / 8000.0;
    assert!(
        (seconds - duration).abs() < 0.15,
        "the MP3 lasts {seconds} s, the recording {duration} s"
    );
    assert!(decoded.iter().any(|&s| s != 0), "the MP3 is silent");

    for shot in ["board.png", "search.png"] {
        let png = std::fs::read(artifacts.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{shot}");
    }
}
