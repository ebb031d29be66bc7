//! Chat and screen sessions (CHATSTART, CHATSTOP, CHATUPDATE) through the real binary, on
//! the WebAPI and the socket API, and across restarts.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{Server, ServerBuilder, code, field, ok, read_result, sections};

const CONFIG: &str = "[chat]\nkeep_days = 30\narchive_action = \"keep\"\n";

fn add_user(s: &Server, username: &str, first: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("type", "importuser"),
        ("requestid", "1"),
        ("action", "add"),
        ("username", username),
        ("password", "pw"),
        ("firstname", first),
        ("lastname", "Tester"),
    ];
    pairs.extend_from_slice(extra);
    field(&ok(s, &pairs, 20), "USER_ID")
}

/// Ann (1, the agent), Bob (2, not an agent), Cid (3, inactive), Dan (4, deleted), and Eve
/// and Fay (5, 6) sharing an email address.
fn set_up(s: &Server) {
    let ann = add_user(
        s,
        "ann",
        "Ann",
        &[
            ("employee_id", "E-1"),
            ("sys_user", "ann.sys"),
            ("crm_user", "ann.crm"),
            ("email", "ann@example.com"),
        ],
    );
    assert_eq!(ann, "1");
    add_user(s, "bob", "Bob", &[("agent", "N")]);
    let cid = add_user(s, "cid", "Cid", &[]);
    ok(
        s,
        &[
            ("type", "importuser"),
            ("requestid", "2"),
            ("action", "modify"),
            ("userid", &cid),
            ("status", "I"),
        ],
        20,
    );
    let dan = add_user(s, "dan", "Dan", &[]);
    ok(
        s,
        &[
            ("type", "importuser"),
            ("requestid", "3"),
            ("action", "delete"),
            ("userid", &dan),
        ],
        20,
    );
    add_user(s, "eve", "Eve", &[("email", "shared@example.com")]);
    add_user(s, "fay", "Fay", &[("email", "shared@example.com")]);
}

fn calllist(s: &Server) -> String {
    ok(s, &[("type", "calllist"), ("requestid", "9")], 20)
}

#[test]
fn sessions_over_the_webapi() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config(CONFIG)
        .start();
    set_up(&s);

    let a = ok(
        &s,
        &[
            ("type", "chatstart"),
            ("requestid", "10"),
            ("sessionid", "s-1"),
            ("agentid", "1"),
            ("stationname", "WS1"),
            ("user1", "first"),
        ],
        0,
    );
    assert_eq!(field(&a, "RESULTTYPE"), "API_RECORDING_STARTED");
    assert_eq!(field(&a, "RECORDINGTYPE"), "SCREEN");
    assert_eq!(field(&a, "AUDIO"), "N");
    assert_eq!(field(&a, "RECORDING"), "Y");
    assert_eq!(field(&a, "AGENTID"), "1");
    assert_eq!(field(&a, "AGENTNAME"), "Ann Tester");
    assert_eq!(field(&a, "STATIONNAME"), "WS1");
    assert_eq!(field(&a, "CALLINSTANCE"), "s-1");
    assert_eq!(field(&a, "DEVICEID"), "");
    assert_eq!(field(&a, "USER1"), "first");
    assert_eq!(field(&a, "KEEPDAYS"), "30", "from the configuration");
    assert_eq!(field(&a, "ARCHIVEACTION"), "KEEP");
    let id_a = field(&a, "RECORDID");
    assert!(!id_a.is_empty());

    // A second session of the same agent, found by KEYNAME; KEEPDAYS and ARCHIVEACTION given.
    let b = ok(
        &s,
        &[
            ("type", "chatstart"),
            ("requestid", "11"),
            ("sessionid", "s-2"),
            ("keyname", "email"),
            ("keyvalue", "ann@example.com"),
            ("keepdays", "5"),
            ("archiveaction", "delete"),
        ],
        0,
    );
    let id_b = field(&b, "RECORDID");
    assert_ne!(id_a, id_b);
    assert_eq!(field(&b, "AGENTID"), "1");
    assert_eq!(field(&b, "KEEPDAYS"), "5");
    assert_eq!(field(&b, "ARCHIVEACTION"), "DELETE");

    // Sessions hold no audio channel.
    let sys = ok(&s, &[("type", "systemstatus"), ("requestid", "12")], 20);
    assert_eq!(field(&sys, "CHANNELSINUSE"), "0", "{sys}");

    // Every refusal answers its code and changes nothing.
    let before = calllist(&s);
    assert_eq!(field(&before, "COUNT"), "2", "{before}");
    let refused: &[(&[(&str, &str)], u32)] = &[
        (&[("sessionid", "s-1"), ("agentid", "1"), ("user1", "x")], 1),
        (&[("agentid", "1")], 26),
        (&[("sessionid", ""), ("agentid", "1")], 26),
        (&[("sessionid", "s-3")], 26),
        (&[("sessionid", "s-3"), ("agentid", "999")], 24),
        (&[("sessionid", "s-3"), ("agentid", "4")], 24),
        (&[("sessionid", "s-3"), ("agentid", "2")], 24),
        (&[("sessionid", "s-3"), ("agentid", "3")], 25),
        (&[("sessionid", "s-3"), ("agentid", "one")], 17),
        (
            &[
                ("sessionid", "s-3"),
                ("keyname", "USERNAME"),
                ("keyvalue", "nobody"),
            ],
            24,
        ),
        (
            &[
                ("sessionid", "s-3"),
                ("keyname", "USERNAME"),
                ("keyvalue", "dan"),
            ],
            24,
        ),
        (
            &[
                ("sessionid", "s-3"),
                ("keyname", "PHONE"),
                ("keyvalue", "200"),
            ],
            17,
        ),
        (&[("sessionid", "s-3"), ("keyname", "EMAIL")], 26),
        (
            &[
                ("sessionid", "s-3"),
                ("keyname", "EMAIL"),
                ("keyvalue", "shared@example.com"),
            ],
            22,
        ),
        (
            &[("sessionid", "s-3"), ("agentid", "1"), ("keepdays", "-1")],
            17,
        ),
        (
            &[("sessionid", "s-3"), ("agentid", "1"), ("keepdays", "x")],
            17,
        ),
    ];
    for (params, want) in refused {
        let mut pairs = vec![("type", "chatstart"), ("requestid", "13")];
        pairs.extend_from_slice(params);
        let doc = ok(&s, &pairs, *want);
        assert_eq!(field(&doc, "RESULTTYPE"), "ERROR", "{doc}");
    }
    let others: &[(&[(&str, &str)], u32)] = &[
        (&[("type", "chatstop")], 26),
        (&[("type", "chatstop"), ("sessionid", "s-9")], 35),
        (&[("type", "chatupdate"), ("user1", "x")], 26),
        (
            &[("type", "chatupdate"), ("sessionid", "s-9"), ("user1", "x")],
            35,
        ),
        (
            &[
                ("type", "chatupdate"),
                ("sessionid", "s-1"),
                ("user1", "x"),
                ("keepdays", "soon"),
            ],
            17,
        ),
    ];
    for (params, want) in others {
        let mut pairs = vec![("requestid", "14")];
        pairs.extend_from_slice(params);
        ok(&s, &pairs, *want);
    }
    assert_eq!(calllist(&s), before, "refused requests changed nothing");

    // CHATUPDATE changes only what it names.
    let u = ok(
        &s,
        &[
            ("type", "chatupdate"),
            ("requestid", "15"),
            ("sessionid", "s-1"),
            ("user1", "second"),
            ("user15", "last"),
            ("keepdays", "7"),
        ],
        20,
    );
    assert_eq!(field(&u, "RECORDID"), id_a);
    assert_eq!(field(&u, "USER1"), "second");
    assert_eq!(field(&u, "USER15"), "last");
    assert_eq!(field(&u, "KEEPDAYS"), "7");
    assert_eq!(field(&u, "ARCHIVEACTION"), "KEEP");
    assert_eq!(field(&u, "STATIONNAME"), "WS1");
    assert_eq!(field(&u, "RECORDING"), "Y");

    // CALLUPDATE by RECORDID reaches a live session too, and CHATSTOP keeps it.
    ok(
        &s,
        &[
            ("type", "callupdate"),
            ("requestid", "16"),
            ("recordid", &id_b),
            ("user2", "via callupdate"),
        ],
        20,
    );

    let stop_a = ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "17"),
            ("sessionid", "s-1"),
        ],
        13,
    );
    assert_eq!(field(&stop_a, "RESULTTYPE"), "API_RECORDING_STOPPED");
    assert_eq!(field(&stop_a, "RECORDID"), id_a);
    assert_eq!(field(&stop_a, "RECORDING"), "N");
    assert_eq!(field(&stop_a, "USER1"), "second");
    assert!(!field(&stop_a, "CALLENDTIME").is_empty());
    assert!(!field(&stop_a, "DURATION").is_empty());
    ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "18"),
            ("sessionid", "s-1"),
        ],
        35,
    );
    ok(
        &s,
        &[
            ("type", "chatupdate"),
            ("requestid", "19"),
            ("sessionid", "s-1"),
            ("user1", "late"),
        ],
        35,
    );
    let stop_b = ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "20"),
            ("sessionid", "s-2"),
        ],
        13,
    );
    assert_eq!(field(&stop_b, "USER2"), "via callupdate");

    let list = ok(
        &s,
        &[("type", "calllist"), ("requestid", "21"), ("agentid", "1")],
        20,
    );
    assert_eq!(field(&list, "COUNT"), "2", "{list}");
    let rows = sections(&list, "CALL");
    assert_eq!(field(&rows[0], "RECORDID"), id_b, "newest first");
    assert_eq!(field(&rows[1], "RECORDID"), id_a);
    for row in &rows {
        assert_eq!(field(row, "RECORDINGTYPE"), "SCREEN");
        assert_eq!(field(row, "AUDIO"), "N");
        assert_eq!(field(row, "RECORDING"), "N");
        assert_eq!(field(row, "AGENTNAME"), "Ann Tester");
        assert!(!field(row, "DURATION").is_empty());
    }
    assert_eq!(field(&rows[1], "USER1"), "second");
    assert_eq!(field(&rows[1], "KEEPDAYS"), "7");
    let screens = ok(
        &s,
        &[
            ("type", "calllist"),
            ("requestid", "22"),
            ("recordingtype", "screen"),
        ],
        20,
    );
    assert_eq!(field(&screens, "COUNT"), "2");

    // No audio to export.
    let export = ok(
        &s,
        &[
            ("type", "export"),
            ("requestid", "23"),
            ("uniquefield", "recordid"),
            ("uniqueid", &id_a),
            ("media_format", "wav"),
        ],
        31,
    );
    assert!(field(&export, "RESULTMSG").contains("no audio"), "{export}");

    // A stopped SESSIONID may start again: a new recording.
    let again = ok(
        &s,
        &[
            ("type", "chatstart"),
            ("requestid", "24"),
            ("sessionid", "s-1"),
            ("keyname", "username"),
            ("keyvalue", "ann"),
        ],
        0,
    );
    assert_ne!(field(&again, "RECORDID"), id_a);
    for (keyname, value) in [
        ("SYS_USER", "ann.sys"),
        ("CRM_USER", "ann.crm"),
        ("EMPLOYEE_ID", "E-1"),
    ] {
        let doc = ok(
            &s,
            &[
                ("type", "chatstart"),
                ("requestid", "25"),
                ("sessionid", keyname),
                ("keyname", keyname),
                ("keyvalue", value),
            ],
            0,
        );
        assert_eq!(field(&doc, "AGENTID"), "1");
    }
}

/// Sends one socket request: `body` inside `<REQUEST>` when it starts with `<TYPE>`, else
/// as written (a root named after the type), and reads its result.
fn sock(c: &mut TcpStream, body: &str) -> String {
    let doc = if body.starts_with("<TYPE>") {
        format!("<REQUEST>{body}</REQUEST>\r\n")
    } else {
        format!("{body}\r\n")
    };
    c.write_all(doc.as_bytes()).unwrap();
    read_result(c)
}

#[test]
fn sessions_over_the_socket_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config(CONFIG)
        .start();
    set_up(&s);
    let mut c = s.connect_socket();

    let a = sock(
        &mut c,
        "<TYPE>CHATSTART</TYPE><REQUESTID>1</REQUESTID><SESSIONID>chat-a</SESSIONID>\
         <KEYNAME>USERNAME</KEYNAME><KEYVALUE>ann</KEYVALUE><USER3>x &amp; y</USER3>",
    );
    assert_eq!(code(&a), 0, "{a}");
    assert_eq!(field(&a, "RECORDINGTYPE"), "SCREEN");
    assert_eq!(field(&a, "AUDIO"), "N");
    assert_eq!(field(&a, "USER3"), "x &amp; y");
    let b = sock(
        &mut c,
        "<CHATSTART><REQUESTID>2</REQUESTID><SESSIONID>chat-b</SESSIONID>\
         <AGENTID>1</AGENTID></CHATSTART>",
    );
    assert_eq!(code(&b), 0, "{b}");

    let before = calllist(&s);
    for (body, want) in [
        (
            "<TYPE>CHATSTART</TYPE><REQUESTID>3</REQUESTID><SESSIONID>chat-a</SESSIONID><AGENTID>1</AGENTID>",
            1,
        ),
        (
            "<TYPE>CHATSTART</TYPE><REQUESTID>4</REQUESTID><AGENTID>1</AGENTID>",
            26,
        ),
        (
            "<TYPE>CHATSTART</TYPE><REQUESTID>5</REQUESTID><SESSIONID>chat-c</SESSIONID><AGENTID>77</AGENTID>",
            24,
        ),
        (
            "<TYPE>CHATSTART</TYPE><REQUESTID>6</REQUESTID><SESSIONID>chat-c</SESSIONID><KEYNAME>NICK</KEYNAME><KEYVALUE>a</KEYVALUE>",
            17,
        ),
        (
            "<TYPE>CHATSTART</TYPE><REQUESTID>6</REQUESTID><SESSIONID>chat-c</SESSIONID><AGENTID>1</AGENTID><ARCHIVEACTION>ARCHIVE</ARCHIVEACTION>",
            17,
        ),
        (
            "<TYPE>CHATUPDATE</TYPE><REQUESTID>7</REQUESTID><SESSIONID>chat-b</SESSIONID><USER1>z</USER1><ARCHIVEACTION>PURGE</ARCHIVEACTION>",
            17,
        ),
        (
            "<TYPE>CHATUPDATE</TYPE><REQUESTID>7</REQUESTID><SESSIONID>nope</SESSIONID><USER1>z</USER1>",
            35,
        ),
        (
            "<TYPE>CHATSTOP</TYPE><REQUESTID>8</REQUESTID><SESSIONID>nope</SESSIONID>",
            35,
        ),
        ("<TYPE>CHATSTOP</TYPE><REQUESTID>9</REQUESTID>", 26),
    ] {
        let doc = sock(&mut c, body);
        assert_eq!(code(&doc), want, "{body} → {doc}");
    }
    assert_eq!(calllist(&s), before, "refused requests changed nothing");

    let u = sock(
        &mut c,
        "<TYPE>CHATUPDATE</TYPE><REQUESTID>10</REQUESTID><SESSIONID>chat-b</SESSIONID>\
         <USER1>updated</USER1><ARCHIVEACTION>KEEP</ARCHIVEACTION>",
    );
    assert_eq!(code(&u), 20, "{u}");
    assert_eq!(field(&u, "USER1"), "updated");
    assert_eq!(field(&u, "ARCHIVEACTION"), "KEEP");
    for (i, id) in ["chat-a", "chat-b"].iter().enumerate() {
        let doc = sock(
            &mut c,
            &format!(
                "<TYPE>CHATSTOP</TYPE><REQUESTID>{}</REQUESTID><SESSIONID>{id}</SESSIONID>",
                11 + i
            ),
        );
        assert_eq!(code(&doc), 13, "{doc}");
        assert_eq!(field(&doc, "RECORDING"), "N");
    }
    let list = sock(
        &mut c,
        "<TYPE>CALLLIST</TYPE><REQUESTID>13</REQUESTID><AGENTID>1</AGENTID>",
    );
    assert_eq!(field(&list, "COUNT"), "2", "{list}");
    let rows = sections(&list, "CALL");
    assert_eq!(field(&rows[0], "CALLINSTANCE"), "chat-b");
    assert_eq!(field(&rows[0], "USER1"), "updated");
    assert_eq!(field(&rows[1], "CALLINSTANCE"), "chat-a");
    for row in &rows {
        assert_eq!(field(row, "RECORDINGTYPE"), "SCREEN");
        assert_eq!(field(row, "AUDIO"), "N");
        assert_eq!(field(row, "RECORDING"), "N");
    }
}

#[test]
fn an_active_session_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = |s: &Server, session: &str| {
        field(
            &ok(
                s,
                &[
                    ("type", "chatstart"),
                    ("requestid", "1"),
                    ("sessionid", session),
                    ("agentid", "1"),
                    ("user1", session),
                ],
                0,
            ),
            "RECORDID",
        )
    };
    let mut s = ServerBuilder::new(&data).config(CONFIG).start();
    set_up(&s);
    let graceful = start(&s, "graceful");
    let crashed = start(&s, "crashed");
    let stopped = start(&s, "stopped");
    ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "2"),
            ("sessionid", "stopped"),
        ],
        13,
    );

    // A clean stop leaves sessions active.
    assert!(s.terminate().success());
    let mut s = ServerBuilder::new(&data).config(CONFIG).start();
    ok(
        &s,
        &[
            ("type", "chatstart"),
            ("requestid", "3"),
            ("sessionid", "graceful"),
            ("agentid", "1"),
        ],
        1,
    );
    ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "4"),
            ("sessionid", "stopped"),
        ],
        35,
    );
    let stop = ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "5"),
            ("sessionid", "graceful"),
        ],
        13,
    );
    assert_eq!(field(&stop, "RECORDID"), graceful);
    assert_eq!(field(&stop, "USER1"), "graceful");

    // So does a crash; new ids do not clash with the sessions' ids.
    s.kill9();
    let s = ServerBuilder::new(&data).config(CONFIG).start();
    let list = calllist(&s);
    let rows = sections(&list, "CALL");
    let row = rows
        .iter()
        .find(|r| field(r, "RECORDID") == crashed)
        .expect("the crashed session is listed");
    assert_eq!(field(row, "RECORDING"), "Y", "still active: {row}");
    let update = ok(
        &s,
        &[
            ("type", "chatupdate"),
            ("requestid", "6"),
            ("sessionid", "crashed"),
            ("user2", "after restart"),
        ],
        20,
    );
    assert_eq!(field(&update, "RECORDID"), crashed);
    let fresh = start(&s, "fresh");
    assert!(![&graceful, &crashed, &stopped].contains(&&fresh));
    let stop = ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "7"),
            ("sessionid", "crashed"),
        ],
        13,
    );
    assert_eq!(field(&stop, "RECORDID"), crashed);
    assert_eq!(field(&stop, "USER2"), "after restart");
    let list = calllist(&s);
    assert_eq!(field(&list, "COUNT"), "4", "{list}");
}
