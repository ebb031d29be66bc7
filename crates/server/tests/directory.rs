//! The directory through the real binary: IMPORTUSER (IMPORTAGENT), IMPORTAGENTPHONE,
//! IMPORTSTATION, STATIONLIST, TERMINOLOGY, and the device lookups they feed.

mod common;

use common::{Server, ServerBuilder, field, ok, sections};

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    (dir, s)
}

fn list(s: &Server) -> String {
    ok(
        s,
        &[
            ("type", "importuser"),
            ("requestid", "1"),
            ("action", "list"),
        ],
        20,
    )
}

fn stations(s: &Server) -> String {
    ok(s, &[("type", "stationlist"), ("requestid", "1")], 20)
}

/// The document with every ADD_TIME / MOD_TIME value replaced by `T`, after checking each
/// is an ISO 8601 time.
fn without_times(doc: &str) -> String {
    let mut out = Vec::new();
    for line in doc.split('\n') {
        let t = line.trim_start_matches('\t');
        let tag = ["ADD_TIME", "MOD_TIME"]
            .into_iter()
            .find(|n| t.starts_with(&format!("<{n}>")));
        match tag {
            Some(n) => {
                let v = field(t, n);
                assert!(
                    v.len() >= 20 && v.as_bytes()[4] == b'-' && v.as_bytes()[10] == b'T',
                    "{n} {v:?}"
                );
                let indent = &line[..line.len() - t.len()];
                out.push(format!("{indent}<{n}>T</{n}>"));
            }
            None => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

const ANN_FIRST: &str = "<b>A&B</b> \"Ann\" 'Ö'";
const ANN_LAST: &str = "Ünïcödé 日本語 🎙️📞 👩🏽‍💻";
const SECRET: &str = "hunter2-Sécret-🔑";

/// Ann (an agent with two phones, awkward names), Bob (not an agent, a site), Cy (an
/// agent, no phones); stations WS-1 → 300 and WS-2 → 201.
fn set_up(s: &Server) {
    let ann = ok(
        s,
        &[
            ("type", "importuser"),
            ("requestid", "1"),
            ("action", "add"),
            ("username", "ann"),
            ("password", SECRET),
            ("firstname", ANN_FIRST),
            ("lastname", ANN_LAST),
            ("employee_id", "E-1"),
            ("agent", "Y"),
            ("sys_user", "ann.sys"),
            ("sys_domain", "CORP"),
            ("email", "ann@example.com"),
            ("crm_user", "ann.crm"),
            ("userid", "999"),
        ],
        20,
    );
    assert_eq!(field(&ann, "USER_ID"), "1", "USERID is ignored on ADD");
    ok(
        s,
        &[
            ("type", "importuser"),
            ("requestid", "2"),
            ("action", "add"),
            ("username", "bob"),
            ("password", "pw-bob"),
            ("first_name", "Bob"),
            ("last_name", "Baker"),
            ("agent", "N"),
            ("site_id", "4"),
        ],
        20,
    );
    ok(
        s,
        &[
            ("type", "importagent"),
            ("requestid", "3"),
            ("action", "add"),
            ("username", "cy"),
            ("password", "pw-cy"),
            ("firstname", "Cy"),
            ("lastname", "Cole"),
            ("sys_user", "cy.sys"),
        ],
        20,
    );
    for (req, agent, phone, alias) in [
        ("4", ("agentid", "1"), "201", "ann-desk"),
        ("5", ("agentid", "1"), "200", "ann-soft"),
    ] {
        let r = ok(
            s,
            &[
                ("type", "importagentphone"),
                ("requestid", req),
                ("action", "add"),
                agent,
                ("phoneid", phone),
                ("devicealias", alias),
            ],
            20,
        );
        assert_eq!(field(&r, "AGENTID"), "1");
        assert_eq!(field(&r, "PHONEID"), phone);
    }
    for (name, device) in [("WS-1", "300"), ("WS-2", "201")] {
        let r = ok(
            s,
            &[
                ("type", "importstation"),
                ("requestid", "6"),
                ("action", "add"),
                ("stationname", name),
                ("deviceid", device),
            ],
            20,
        );
        assert_eq!(field(&r, "STATIONNAME"), name);
        assert_eq!(field(&r, "DEVICEID"), device);
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn list_is_byte_compatible() {
    let (_d, s) = server();
    set_up(&s);
    let doc = list(&s);
    let user = |fields: &[(&str, &str)], phones: &[&str]| {
        let mut out = String::from("\t\t<USER>\n");
        for (n, v) in fields {
            out.push_str(&format!("\t\t\t<{n}>{}</{n}>\n", escape(v)));
        }
        if phones.is_empty() {
            out.push_str("\t\t\t<PHONES></PHONES>\n");
        } else {
            out.push_str("\t\t\t<PHONES>\n");
            for p in phones {
                out.push_str(&format!("\t\t\t\t<PHONE>{p}</PHONE>\n"));
            }
            out.push_str("\t\t\t</PHONES>\n");
        }
        out.push_str("\t\t</USER>\n");
        out
    };
    let mut want = String::from(
        "<RESULT>\n\t<REQUESTTYPE>IMPORTUSER</REQUESTTYPE>\n\t<REQUESTID>1</REQUESTID>\n\
         \t<RESULTTYPE>API_OK</RESULTTYPE>\n\t<RESULTCODE>20</RESULTCODE>\n\
         \t<RESULTMSG>API_OK</RESULTMSG>\n\t<USERS>\n\t\t<COUNT>3</COUNT>\n",
    );
    want += &user(
        &[
            ("USER_ID", "1"),
            ("USERNAME", "ann"),
            ("EMPLOYEE_ID", "E-1"),
            ("FIRST_NAME", ANN_FIRST),
            ("LAST_NAME", ANN_LAST),
            ("AGENT", "TRUE"),
            ("STATUS", "A"),
            ("ADD_TIME", "T"),
            ("MOD_TIME", "T"),
            ("SYS_USER", "ann.sys"),
            ("SYS_DOMAIN", "CORP"),
            ("EMAIL", "ann@example.com"),
            ("CRM_USER", "ann.crm"),
            ("SITE_ID", "-1"),
        ],
        &["201", "200"],
    );
    want += &user(
        &[
            ("USER_ID", "2"),
            ("USERNAME", "bob"),
            ("EMPLOYEE_ID", ""),
            ("FIRST_NAME", "Bob"),
            ("LAST_NAME", "Baker"),
            ("AGENT", "FALSE"),
            ("STATUS", "A"),
            ("ADD_TIME", "T"),
            ("MOD_TIME", "T"),
            ("SYS_USER", ""),
            ("SYS_DOMAIN", ""),
            ("EMAIL", ""),
            ("CRM_USER", ""),
            ("SITE_ID", "4"),
        ],
        &[],
    );
    want += &user(
        &[
            ("USER_ID", "3"),
            ("USERNAME", "cy"),
            ("EMPLOYEE_ID", ""),
            ("FIRST_NAME", "Cy"),
            ("LAST_NAME", "Cole"),
            ("AGENT", "TRUE"),
            ("STATUS", "A"),
            ("ADD_TIME", "T"),
            ("MOD_TIME", "T"),
            ("SYS_USER", "cy.sys"),
            ("SYS_DOMAIN", ""),
            ("EMAIL", ""),
            ("CRM_USER", ""),
            ("SITE_ID", "-1"),
        ],
        &[],
    );
    want += "\t</USERS>\n</RESULT>";
    assert_eq!(without_times(&doc), want);
    // Names round-trip byte for byte (the document escapes only & < >).
    let users = sections(&doc, "USER");
    assert_eq!(field(&users[0], "FIRST_NAME"), escape(ANN_FIRST));
    assert_eq!(field(&users[0], "LAST_NAME"), ANN_LAST);

    // The alias echoes itself.
    let r = ok(
        &s,
        &[
            ("type", "importagent"),
            ("requestid", "9"),
            ("action", "LIST"),
        ],
        20,
    );
    assert_eq!(field(&r, "REQUESTTYPE"), "IMPORTAGENT");
    assert_eq!(
        without_times(&r)
            .replace("IMPORTAGENT", "IMPORTUSER")
            .replace("<REQUESTID>9<", "<REQUESTID>1<"),
        want
    );
}

#[test]
fn empty_directory_lists() {
    let (_d, s) = server();
    let doc = list(&s);
    assert!(
        doc.ends_with("\t<USERS>\n\t\t<COUNT>0</COUNT>\n\t</USERS>\n</RESULT>"),
        "{doc}"
    );
    let st = stations(&s);
    assert!(
        st.ends_with("<RESULTMSG>API_OK</RESULTMSG>\n\t<COUNT>0</COUNT>\n</RESULT>"),
        "{st}"
    );
}

#[test]
fn refusals_change_nothing() {
    let (_d, s) = server();
    set_up(&s);
    let before = (list(&s), stations(&s));
    let add = |extra: &[(&'static str, &'static str)]| {
        let mut p = vec![
            ("type", "importuser"),
            ("requestid", "7"),
            ("action", "add"),
        ];
        p.extend_from_slice(extra);
        p
    };
    let cases: Vec<(Vec<(&str, &str)>, u32)> = vec![
        // Same first and last name as Ann, another username.
        (
            add(&[
                ("username", "ann2"),
                ("password", "x"),
                ("firstname", ANN_FIRST),
                ("lastname", ANN_LAST),
            ]),
            22,
        ),
        // Same username.
        (
            add(&[
                ("username", "bob"),
                ("password", "x"),
                ("firstname", "B2"),
                ("lastname", "B2"),
            ]),
            22,
        ),
        // Missing or blank required values.
        (
            add(&[("username", "dan"), ("firstname", "Dan"), ("lastname", "D")]),
            26,
        ),
        (
            add(&[
                ("username", "dan"),
                ("password", " "),
                ("firstname", "Dan"),
                ("lastname", "D"),
            ]),
            26,
        ),
        (
            add(&[("username", "dan"), ("password", "x"), ("lastname", "D")]),
            26,
        ),
        (vec![("type", "importuser"), ("requestid", "7")], 26),
        (
            vec![
                ("type", "importuser"),
                ("requestid", "7"),
                ("action", "purge"),
            ],
            21,
        ),
        // MODIFY / DELETE of an unknown user, or with no USERID.
        (
            vec![
                ("type", "importuser"),
                ("requestid", "7"),
                ("action", "modify"),
                ("userid", "99"),
                ("email", "x@example.com"),
            ],
            28,
        ),
        (
            vec![
                ("type", "importuser"),
                ("requestid", "7"),
                ("action", "delete"),
                ("userid", "99"),
            ],
            28,
        ),
        (
            vec![
                ("type", "importuser"),
                ("requestid", "7"),
                ("action", "delete"),
            ],
            26,
        ),
        // MODIFY into another user's names, and a blank name.
        (
            vec![
                ("type", "importuser"),
                ("requestid", "7"),
                ("action", "modify"),
                ("userid", "2"),
                ("username", "ann"),
                ("email", "changed@example.com"),
            ],
            22,
        ),
        (
            vec![
                ("type", "importuser"),
                ("requestid", "7"),
                ("action", "modify"),
                ("userid", "2"),
                ("lastname", ""),
            ],
            26,
        ),
        // Phones: unknown agent (by id, by name), not an agent, held by another agent.
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "add"),
                ("agentid", "99"),
                ("phoneid", "400"),
            ],
            24,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "add"),
                ("firstname", "No"),
                ("lastname", "Body"),
                ("phoneid", "400"),
            ],
            24,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "add"),
                ("firstname", "Bob"),
                ("lastname", "Baker"),
                ("phoneid", "400"),
            ],
            25,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "add"),
                ("agentid", "3"),
                ("phoneid", "201"),
            ],
            22,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "delete"),
                ("agentid", "3"),
                ("phoneid", "201"),
            ],
            22,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "add"),
                ("agentid", "3"),
            ],
            26,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "add"),
                ("phoneid", "400"),
            ],
            26,
        ),
        (
            vec![
                ("type", "importagentphone"),
                ("requestid", "7"),
                ("action", "modify"),
                ("agentid", "3"),
                ("phoneid", "400"),
            ],
            21,
        ),
        // Stations.
        (
            vec![
                ("type", "importstation"),
                ("requestid", "7"),
                ("action", "add"),
                ("stationname", "WS-9"),
            ],
            26,
        ),
        (
            vec![
                ("type", "importstation"),
                ("requestid", "7"),
                ("action", "add"),
                ("deviceid", "300"),
            ],
            26,
        ),
        (
            vec![
                ("type", "importstation"),
                ("requestid", "7"),
                ("action", "list"),
                ("stationname", "WS-1"),
            ],
            21,
        ),
    ];
    for (pairs, want) in &cases {
        ok(&s, pairs, *want);
        assert_eq!(
            (list(&s), stations(&s)),
            before,
            "{pairs:?} changed something"
        );
    }
}

#[test]
fn modify_and_delete() {
    let (_d, s) = server();
    set_up(&s);
    let m = ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "1"),
            ("action", "modify"),
            ("userid", "2"),
            ("lastname", "Bäker 🍞"),
            ("agent", "Y"),
            ("status", "I"),
            ("site_id", ""),
        ],
        20,
    );
    let bob = &sections(&m, "USER")[0];
    assert_eq!(field(bob, "LAST_NAME"), "Bäker 🍞");
    assert_eq!(field(bob, "FIRST_NAME"), "Bob", "fields not given are kept");
    assert_eq!(field(bob, "AGENT"), "TRUE");
    assert_eq!(field(bob, "STATUS"), "I");
    assert_eq!(field(bob, "SITE_ID"), "-1");
    // An inactive agent gets no phone.
    ok(
        &s,
        &[
            ("type", "importagentphone"),
            ("requestid", "2"),
            ("action", "add"),
            ("agentid", "2"),
            ("phoneid", "400"),
        ],
        25,
    );

    // DELETE: left out of LIST, phones freed for another agent.
    ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "3"),
            ("action", "delete"),
            ("userid", "1"),
        ],
        20,
    );
    let l = list(&s);
    assert_eq!(field(&l, "COUNT"), "2");
    assert!(!l.contains("ann"), "{l}");
    ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "4"),
            ("action", "delete"),
            ("userid", "1"),
        ],
        28,
    );
    let r = ok(
        &s,
        &[
            ("type", "importagentphone"),
            ("requestid", "5"),
            ("action", "add"),
            ("firstname", "Cy"),
            ("lastname", "Cole"),
            ("agentid", ""),
            ("phoneid", "201"),
        ],
        20,
    );
    assert_eq!(field(&r, "AGENTID"), "3");
    // AGENTID wins over the names.
    let r = ok(
        &s,
        &[
            ("type", "importagentphone"),
            ("requestid", "6"),
            ("action", "add"),
            ("agentid", "3"),
            ("firstname", "Bob"),
            ("lastname", "Baker"),
            ("phoneid", "200"),
        ],
        20,
    );
    assert_eq!(field(&r, "AGENTID"), "3");
    let cy = sections(&list(&s), "USER").pop().unwrap();
    assert_eq!(sections(&cy, "PHONE"), ["201", "200"]);
    // A deleted user's names can be used again; it gets a new USER_ID.
    let again = ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "7"),
            ("action", "add"),
            ("username", "ann"),
            ("password", "pw"),
            ("firstname", ANN_FIRST),
            ("lastname", ANN_LAST),
        ],
        20,
    );
    assert_eq!(field(&again, "USER_ID"), "4");
}

#[test]
fn the_password_never_appears() {
    let (d, s) = server();
    set_up(&s);
    let mut outputs = vec![list(&s)];
    outputs.push(ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "1"),
            ("action", "modify"),
            ("userid", "1"),
            ("password", SECRET),
        ],
        20,
    ));
    outputs.push(ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "2"),
            ("action", "add"),
            ("username", "eve"),
            ("password", SECRET),
            ("firstname", "Eve"),
            ("lastname", "E"),
        ],
        20,
    ));
    // A refused ADD that carries it.
    outputs.push(ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "3"),
            ("action", "add"),
            ("username", "eve"),
            ("password", SECRET),
            ("firstname", "Eve"),
            ("lastname", "E"),
        ],
        22,
    ));
    outputs.push(list(&s));
    for o in &outputs {
        assert!(!o.contains("hunter2") && !o.contains("PASSWORD"), "{o}");
        assert!(!o.contains("argon2"), "{o}");
    }
    // Nor in the catalog's files (SQLite, the default backend here).
    let mut stack = vec![d.path().to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(7).any(|w| w == b"hunter2"),
                "{} holds the password",
                p.display()
            );
        }
    }
}

#[test]
fn stations_and_terminology() {
    let (_d, s) = server();
    set_up(&s);
    // A station moved to a device that another station had: both old entries go.
    let r = ok(
        &s,
        &[
            ("type", "importstation"),
            ("requestid", "1"),
            ("action", "add"),
            ("stationname", "WS-1"),
            ("deviceid", "201"),
        ],
        20,
    );
    assert_eq!(field(&r, "DEVICEID"), "201");
    ok(
        &s,
        &[
            ("type", "importstation"),
            ("requestid", "2"),
            ("action", "add"),
            ("stationname", "<b>A&B</b> 🖥️"),
            ("deviceid", "202"),
        ],
        20,
    );
    let st = stations(&s);
    assert!(
        st.ends_with(
            "<RESULTMSG>API_OK</RESULTMSG>\n\t<COUNT>2</COUNT>\n\
             \t<STATIONS>\n\t\t<STATIONNAME>&lt;b&gt;A&amp;B&lt;/b&gt; 🖥️</STATIONNAME>\n\
             \t\t<DEVICEID>202</DEVICEID>\n\t</STATIONS>\n\
             \t<STATIONS>\n\t\t<STATIONNAME>WS-1</STATIONNAME>\n\
             \t\t<DEVICEID>201</DEVICEID>\n\t</STATIONS>\n</RESULT>"
        ),
        "{st}"
    );
    let r = ok(
        &s,
        &[
            ("type", "importstation"),
            ("requestid", "3"),
            ("action", "delete"),
            ("stationname", "WS-1"),
        ],
        20,
    );
    assert_eq!(field(&r, "DEVICEID"), "201");
    assert_eq!(field(&stations(&s), "COUNT"), "1");

    let t = ok(&s, &[("type", "terminology"), ("requestid", "4")], 20);
    assert_eq!(field(&t, "COUNT"), "22");
    let terms: Vec<(String, String)> = sections(&t, "TERMINOLOGY")
        .iter()
        .map(|x| (field(x, "TERM"), field(x, "VALUE")))
        .collect();
    assert_eq!(terms[0], ("AGENT".into(), "Agent".into()));
    assert_eq!(terms[6], ("CUSTOMER".into(), "Customer".into()));
    assert_eq!(terms[7], ("USER1".into(), "User 1".into()));
    assert_eq!(terms[21], ("USER15".into(), "User 15".into()));
}

#[test]
fn call_handling_resolves_devices_through_the_directory() {
    let (_d, s) = server();
    set_up(&s);
    let start = |pairs: &[(&str, &str)], want: u32| {
        let mut p = vec![("type", "callstart"), ("requestid", "1")];
        p.extend_from_slice(pairs);
        ok(&s, &p, want)
    };
    let stop = |pairs: &[(&str, &str)], want: u32| {
        let mut p = vec![("type", "callstop"), ("requestid", "2")];
        p.extend_from_slice(pairs);
        ok(&s, &p, want)
    };

    // DEVICEALIAS → the phone with that alias.
    let c = start(&[("devicealias", "ann-soft"), ("ani", "1")], 20);
    assert_eq!(field(&c, "DEVICEID"), "200");
    assert_eq!(
        field(&stop(&[("devicealias", "ann-soft")], 20), "DEVICEID"),
        "200"
    );
    // STATIONNAME / COMPUTERNAME → the station table (no agent needed).
    let c = start(&[("stationname", "WS-1"), ("ani", "2")], 20);
    assert_eq!(field(&c, "DEVICEID"), "300");
    assert_eq!(field(&c, "STATIONNAME"), "WS-1");
    assert_eq!(
        field(&stop(&[("computername", "WS-1")], 20), "DEVICEID"),
        "300"
    );
    // SYS_USER / CRM_USER → the agent's phone with the most recent call: 200 just had one.
    let c = start(&[("sys_user", "ann.sys"), ("ani", "3")], 20);
    assert_eq!(field(&c, "DEVICEID"), "200");
    stop(&[("deviceid", "200")], 20);
    // A newer call on 201 makes it the one.
    start(&[("stationname", "WS-2"), ("ani", "4")], 20);
    let c = stop(&[("crm_user", "ann.crm")], 20);
    assert_eq!(field(&c, "DEVICEID"), "201");
    assert_eq!(field(&c, "ANI"), "4");
    // DEVICEID comes first.
    let c = start(&[("deviceid", "555"), ("devicealias", "ann-soft")], 20);
    assert_eq!(field(&c, "DEVICEID"), "555");
    // DEVICESTATUS and RECORDSTART use the same lookups.
    let st = ok(
        &s,
        &[
            ("type", "devicestatus"),
            ("requestid", "3"),
            ("devicealias", "ann-desk"),
        ],
        20,
    );
    assert_eq!(field(&st, "DEVICEID"), "201");

    // Unknown keys: 5 for an alias no phone has, 8 otherwise.
    start(&[("devicealias", "nobody")], 5);
    start(&[("stationname", "WS-9")], 8);
    start(&[("sys_user", "nobody")], 8);
    // Cy is an agent without phones: nothing to resolve.
    start(&[("sys_user", "cy.sys")], 8);
    // The `+` rule: a phone whose agent is inactive does not resolve.
    ok(
        &s,
        &[
            ("type", "importagentphone"),
            ("requestid", "4"),
            ("action", "add"),
            ("agentid", "3"),
            ("phoneid", "310"),
            ("devicealias", "cy-desk"),
        ],
        20,
    );
    let c = start(&[("sys_user", "cy.sys")], 20);
    assert_eq!(field(&c, "DEVICEID"), "310");
    stop(&[("devicealias", "cy-desk")], 20);
    ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "5"),
            ("action", "modify"),
            ("userid", "3"),
            ("status", "I"),
        ],
        20,
    );
    start(&[("devicealias", "cy-desk")], 8);
    start(&[("sys_user", "cy.sys")], 8);
    // A deleted agent's phones are freed: the alias names nothing any more.
    ok(
        &s,
        &[
            ("type", "importuser"),
            ("requestid", "6"),
            ("action", "delete"),
            ("userid", "1"),
        ],
        20,
    );
    start(&[("devicealias", "ann-soft")], 5);
    start(&[("sys_user", "ann.sys")], 8);
}
