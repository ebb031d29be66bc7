//! Retention end to end: KEEPDAYS and ARCHIVEACTION on calls, the configured defaults, and
//! the purge job deleting expired recordings' media (files really gone, rows kept and
//! marked), as EXPORT, MULTIEXPORT, EMAILEXPORT, SYSTEMSTATUS and `/metrics` show it.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    HttpResponse, Server, ServerBuilder, catalog_execute, cli_export, code, field, ok, sample,
    sections, wait_for,
};

fn media(data_dir: &Path, record_id: &str) -> PathBuf {
    data_dir.join("recordings").join(format!("{record_id}.wav"))
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

fn export(s: &Server, record_id: &str) -> HttpResponse {
    s.get(&format!(
        "/webAPI.aspx?type=export&requestid=5&uniquefield=recordid&uniqueid={record_id}&media_format=wav"
    ))
}

/// A CTI call on `device` with these extra parameters, stopped at once; its RECORDID.
fn cti_call(s: &Server, device: &str, extra: &[(&str, &str)]) -> String {
    let mut start = vec![
        ("type", "callstart"),
        ("requestid", "1"),
        ("deviceid", device),
    ];
    start.extend_from_slice(extra);
    let doc = ok(s, &start, 20);
    let id = field(&doc, "RECORDID");
    ok(
        s,
        &[
            ("type", "callstop"),
            ("requestid", "2"),
            ("deviceid", device),
        ],
        20,
    );
    id
}

fn system(s: &Server) -> String {
    ok(s, &[("type", "systemstatus"), ("requestid", "3")], 20)
}

fn calllist(s: &Server) -> String {
    ok(s, &[("type", "calllist"), ("requestid", "4")], 20)
}

/// The CALL section of CALLLIST for one RECORDID.
fn listed(s: &Server, record_id: &str) -> String {
    let doc = ok(
        s,
        &[
            ("type", "calllist"),
            ("requestid", "6"),
            ("recordid", record_id),
        ],
        20,
    );
    assert_eq!(field(&doc, "COUNT"), "1", "{doc}");
    sections(&doc, "CALL").remove(0)
}

fn metric(s: &Server, series: &str) -> Option<f64> {
    let r = s.admin_get("/metrics");
    assert_eq!(r.status, 200);
    sample(&r.text(), series)
}

/// Checks EXPORT answers 31 saying the recording was purged; returns the message.
fn purged_export(s: &Server, record_id: &str) -> String {
    let r = export(s, record_id);
    assert_eq!(r.status, 200);
    let doc = r.text();
    assert_eq!(code(&doc), 31, "{doc}");
    let msg = field(&doc, "RESULTMSG");
    assert!(
        msg.starts_with(&format!(
            "API_RECORDING_NOT_FOUND: recording {record_id} was purged by retention at "
        )),
        "{msg}"
    );
    msg
}

#[test]
fn expired_recordings_are_purged_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = "[retention]\npurge_interval = \"1h\"\n";
    let mut s = ServerBuilder::new(&data)
        .config(config)
        .replay("sip-rtp-g711.pcap");
    // The start-up run found nothing to purge: nothing had a KEEPDAYS.
    let status = wait_for(Duration::from_secs(30), || {
        let doc = system(&s);
        (!field(&doc, "LASTPURGE").is_empty()).then_some(doc)
    });
    assert_eq!(field(&status, "LASTPURGECOUNT"), "0", "{status}");
    assert_eq!(field(&status, "LASTPURGEBYTES"), "0", "{status}");

    // The two captured calls, with audio; no KEEPDAYS, the default ARCHIVEACTION.
    let list = calllist(&s);
    let rows = sections(&list, "CALL");
    assert_eq!(rows.len(), 2, "{list}");
    for row in &rows {
        assert_eq!(field(row, "AUDIO"), "Y", "{row}");
        assert_eq!(field(row, "KEEPDAYS"), "", "{row}");
        assert_eq!(field(row, "ARCHIVEACTION"), "DELETE", "{row}");
    }
    let (expiring, locked) = (field(&rows[1], "RECORDID"), field(&rows[0], "RECORDID"));
    // KEEPDAYS 0: expired since it ended. The other one is LOCKED as well: never purged.
    let doc = ok(
        &s,
        &[
            ("type", "callupdate"),
            ("requestid", "7"),
            ("recordid", &expiring),
            ("keepdays", "0"),
        ],
        20,
    );
    assert_eq!(field(&doc, "KEEPDAYS"), "0");
    ok(
        &s,
        &[
            ("type", "callupdate"),
            ("requestid", "8"),
            ("recordid", &locked),
            ("keepdays", "0"),
            ("locked", "Y"),
        ],
        20,
    );
    let month = cti_call(&s, "300", &[("keepdays", "30")]);
    let never = cti_call(&s, "301", &[("keepdays", "0"), ("archiveaction", "none")]);
    let deleted = cti_call(&s, "302", &[("keepdays", "0"), ("archiveaction", "Delete")]);
    assert_eq!(field(&listed(&s, &never), "ARCHIVEACTION"), "NONE");
    assert_eq!(field(&listed(&s, &deleted), "ARCHIVEACTION"), "DELETE");

    // A bad ARCHIVEACTION is refused and changes nothing: no call, no device, no update.
    let before = calllist(&s);
    let devices = ok(&s, &[("type", "devicelist"), ("requestid", "9")], 20);
    for (bad, want) in [
        (
            vec![
                ("type", "callstart"),
                ("requestid", "10"),
                ("deviceid", "303"),
                ("keepdays", "0"),
                ("archiveaction", "ARCHIVE"),
            ],
            "API_INVALID_MESSAGE_FORMAT: ARCHIVEACTION must be DELETE, NONE or KEEP, not \"ARCHIVE\"",
        ),
        (
            vec![
                ("type", "callupdate"),
                ("requestid", "11"),
                ("recordid", &month),
                ("keepdays", "0"),
                ("archiveaction", "purge"),
            ],
            "API_INVALID_MESSAGE_FORMAT: ARCHIVEACTION must be DELETE, NONE or KEEP, not \"purge\"",
        ),
    ] {
        let doc = ok(&s, &bad, 17);
        assert_eq!(field(&doc, "RESULTMSG"), want);
    }
    assert_eq!(calllist(&s), before);
    assert_eq!(
        ok(&s, &[("type", "devicelist"), ("requestid", "9")], 20),
        devices
    );

    let freed = size(&media(&data, &expiring)) + size(&media(&data, &deleted));
    assert!(freed > 44 * 2, "{freed} bytes");
    let kept_files: Vec<PathBuf> = [&locked, &month, &never]
        .iter()
        .map(|id| media(&data, id))
        .collect();
    let locked_wav = std::fs::read(&kept_files[0]).unwrap();

    // The purge runs again at start-up.
    assert!(s.terminate().success());
    let s = ServerBuilder::new(&data).config(config).start();
    let status = wait_for(Duration::from_secs(30), || {
        let doc = system(&s);
        (field(&doc, "LASTPURGECOUNT") == "2").then_some(doc)
    });
    assert_eq!(field(&status, "LASTPURGEBYTES"), freed.to_string());
    assert_eq!(field(&status, "LASTPURGEFAILED"), "0");
    let last_purge = field(&status, "LASTPURGE");
    assert!(last_purge.ends_with("+00:00"), "{last_purge}");

    // The media is gone from disk; the rest is untouched.
    assert!(!media(&data, &expiring).exists());
    assert!(!media(&data, &deleted).exists());
    for f in &kept_files {
        assert!(f.exists(), "{}", f.display());
    }
    // The rows stay, with their metadata.
    assert_eq!(field(&calllist(&s), "COUNT"), "5");
    let row = listed(&s, &expiring);
    assert_eq!(field(&row, "KEEPDAYS"), "0");
    assert_eq!(field(&row, "AUDIO"), "Y");
    let purged_time = field(&row, "PURGEDTIME");
    assert!(
        purged_time.ends_with("+00:00") && *purged_time <= *last_purge,
        "{row}"
    );
    assert_eq!(field(&listed(&s, &locked), "PURGEDTIME"), "");

    // EXPORT says why, for a call with audio and for one without.
    let msg = purged_export(&s, &expiring);
    assert!(msg.ends_with(": its media is deleted"), "{msg}");
    purged_export(&s, &deleted);
    let emailed = ok(
        &s,
        &[
            ("type", "emailexport"),
            ("requestid", "12"),
            ("uniquefield", "recordid"),
            ("uniqueid", &expiring),
            ("media_format", "mp3"),
            ("email", "qa@example.com"),
        ],
        31,
    );
    assert!(
        field(&emailed, "RESULTMSG").contains("was purged by retention at"),
        "{emailed}"
    );
    // The locked one exports as it was.
    let r = export(&s, &locked);
    assert_eq!(r.header("content-type"), Some("audio/wav"));
    assert_eq!(r.body, locked_wav);

    // MULTIEXPORT's manifest says purged.
    let r = s.get(&format!(
        "/webAPI.aspx?type=multiexport&requestid=13&ident={expiring},{locked},{deleted}&media_format=wav"
    ));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let zip = dir.path().join("recordings.zip");
    std::fs::write(&zip, &r.body).unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("manifest.csv").unwrap(), &mut manifest)
        .unwrap();
    let lines: Vec<&str> = manifest.split("\r\n").collect();
    assert_eq!(lines[0], "IDENT,FILE,OUTCOME,DETAIL");
    for (line, id) in [(lines[1], &expiring), (lines[3], &deleted)] {
        // The purge time: when the run that purged it started.
        let prefix = format!("{id},,purged,purged by retention at ");
        assert!(line.starts_with(&prefix), "{line}");
        assert!(
            line[prefix.len()..] <= *last_purge,
            "{line} after {last_purge}"
        );
    }
    assert_eq!(lines[2], format!("{locked},{locked}.wav,exported,"));
    assert!(archive.by_name(&format!("{expiring}.wav")).is_err());

    assert_eq!(metric(&s, "callvault_purged_recordings_total"), Some(2.0));
    assert_eq!(
        metric(&s, "callvault_purged_bytes_total"),
        Some(freed as f64)
    );

    // The last purge survives a restart (here on a node that runs no purge itself).
    let mut s = s;
    assert!(s.terminate().success());
    let s = ServerBuilder::new(&data)
        .config("[retention]\npurge = false\n")
        .start();
    let status = system(&s);
    assert_eq!(field(&status, "LASTPURGE"), last_purge);
    assert_eq!(field(&status, "LASTPURGECOUNT"), "2");
    assert_eq!(field(&status, "LASTPURGEBYTES"), freed.to_string());

    // The command line refuses it too, and writes nothing.
    let out_file = dir.path().join("purged.wav");
    let out = cli_export(
        &data,
        &["--recordid", &expiring, "-o", out_file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("recording {expiring} was purged by retention at ")),
        "{err}"
    );
    assert!(!out_file.exists());
}

#[test]
fn configured_defaults_apply_and_the_purge_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = ServerBuilder::new(&data)
        .config("[retention]\nkeep_days = 0\npurge_interval = \"1s\"\n")
        .start();
    // A call in progress is never purged, whatever its KEEPDAYS.
    let start = ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "1"),
            ("deviceid", "401"),
        ],
        20,
    );
    let live = field(&start, "RECORDID");
    // The configured defaults apply to a call that gives none, and show at once.
    assert_eq!(field(&start, "KEEPDAYS"), "0");
    assert_eq!(field(&start, "ARCHIVEACTION"), "DELETE");
    let month = cti_call(&s, "402", &[("keepdays", "30")]);
    let row = listed(&s, &month);
    assert_eq!(field(&row, "KEEPDAYS"), "30");
    assert_eq!(field(&row, "ARCHIVEACTION"), "DELETE");
    let short = cti_call(&s, "400", &[]);
    let row = listed(&s, &short);
    assert_eq!(field(&row, "KEEPDAYS"), "0");
    assert_eq!(field(&row, "ARCHIVEACTION"), "DELETE");

    // The periodic run purges the ended call (a file still being finalized when its row
    // is marked goes at the next run).
    wait_for(Duration::from_secs(30), || {
        let purged = metric(&s, "callvault_purged_recordings_total") == Some(1.0);
        (purged && !media(&data, &short).exists()).then_some(())
    });
    purged_export(&s, &short);
    assert!(media(&data, &month).exists());
    let row = listed(&s, &live);
    assert_eq!(field(&row, "RECORDING"), "Y");
    assert!(export(&s, &live).text().contains("is still being made"));

    // Once it ends, it goes too.
    ok(
        &s,
        &[
            ("type", "callstop"),
            ("requestid", "2"),
            ("deviceid", "401"),
        ],
        20,
    );
    wait_for(Duration::from_secs(30), || {
        let purged = metric(&s, "callvault_purged_recordings_total") == Some(2.0);
        (purged && !media(&data, &live).exists()).then_some(())
    });
    purged_export(&s, &live);
    assert!(media(&data, &month).exists());
}

#[test]
fn a_run_finishes_what_an_earlier_one_left_and_counts_failures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No purge on this first run: the one after the restart is the only one.
    let mut s = ServerBuilder::new(&data)
        .config("[retention]\npurge = false\n")
        .start();
    // Kept forever by their settings; the catalog below says two were purged.
    let left = cti_call(&s, "500", &[]);
    let stuck = cti_call(&s, "501", &[]);
    let untouched = cti_call(&s, "502", &[]);
    assert!(s.terminate().success());

    // As a crash between marking and deleting leaves them: purged, files still there.
    catalog_execute(
        &data,
        &format!(
            "UPDATE recordings SET purged_at_us = 1000000 WHERE record_id IN ({left}, {stuck})"
        ),
    );
    let bytes = size(&media(&data, &left));
    // A file the purge cannot delete: a directory in its place.
    std::fs::remove_file(media(&data, &stuck)).unwrap();
    std::fs::create_dir(media(&data, &stuck)).unwrap();
    std::fs::write(media(&data, &stuck).join("x"), b"x").unwrap();
    // A file no row says is purged.
    let stray = data.join("recordings").join("999.wav");
    std::fs::write(&stray, b"not a recording of ours").unwrap();

    let s = ServerBuilder::new(&data).start();
    let status = wait_for(Duration::from_secs(30), || {
        let doc = system(&s);
        (!field(&doc, "LASTPURGE").is_empty()).then_some(doc)
    });
    assert_eq!(field(&status, "LASTPURGECOUNT"), "0", "{status}");
    assert_eq!(field(&status, "LASTPURGEBYTES"), bytes.to_string());
    assert_eq!(field(&status, "LASTPURGEFAILED"), "1");
    assert!(!media(&data, &left).exists());
    assert!(media(&data, &stuck).is_dir(), "left for the next run");
    assert!(media(&data, &untouched).exists());
    assert!(stray.exists());
    assert_eq!(metric(&s, "callvault_purge_failures_total"), Some(1.0));
    let msg = purged_export(&s, &left);
    assert!(msg.contains("at 1970-01-01T00:00:01+00:00"), "{msg}");
}
