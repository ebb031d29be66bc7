//! QA groups, roles and permissions through the real binary, and the agent a call carries:
//! ADDGROUP, ADDGROUPMEMBER, ADDROLE, ADDROLEGROUP, ADDROLEUSER, MODIFYROLEPERMISSION;
//! AGENTID/AGENTNAME on calls; CALLLIST by AGENTID, GROUPID and STATIONNAME; TERMINOLOGY
//! from the configuration.

mod common;

use common::{Server, ServerBuilder, field, ok, sections};

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    (dir, s)
}

/// `type` and `requestid` followed by `pairs`, expecting `want`.
fn req(s: &Server, kind: &str, pairs: &[(&str, &str)], want: u32) -> String {
    let mut p = vec![("type", kind), ("requestid", "1")];
    p.extend_from_slice(pairs);
    ok(s, &p, want)
}

/// Ann Archer (agent 1, phones 201 and 200), Bob Baker (2, not an agent, SYS_USER bob.sys),
/// Cy Cole (agent 3, phone 310); station WS-1 → 201.
fn set_up(s: &Server) {
    for (user, first, last, agent, sys) in [
        ("ann", "Ann", "Archer", "Y", "ann.sys"),
        ("bob", "Bob", "Baker", "N", "bob.sys"),
        ("cy", "Cy", "Cole", "Y", "cy.sys"),
    ] {
        req(
            s,
            "importuser",
            &[
                ("action", "add"),
                ("username", user),
                ("password", "pw"),
                ("firstname", first),
                ("lastname", last),
                ("agent", agent),
                ("sys_user", sys),
            ],
            20,
        );
    }
    for (agent, phone) in [("1", "201"), ("1", "200"), ("3", "310")] {
        req(
            s,
            "importagentphone",
            &[("action", "add"), ("agentid", agent), ("phoneid", phone)],
            20,
        );
    }
    req(
        s,
        "importstation",
        &[
            ("action", "add"),
            ("stationname", "WS-1"),
            ("deviceid", "201"),
        ],
        20,
    );
}

/// The RECORDIDs CALLLIST answers for these filters, newest first.
fn listed(s: &Server, filters: &[(&str, &str)]) -> Vec<String> {
    let doc = req(s, "calllist", filters, 20);
    sections(&doc, "CALL")
        .iter()
        .map(|c| field(c, "RECORDID"))
        .collect()
}

/// One whole call; returns the CALLSTART result.
fn call(s: &Server, start: &[(&str, &str)], device: &str) -> String {
    let c = req(s, "callstart", start, 20);
    req(s, "callstop", &[("deviceid", device)], 20);
    c
}

#[test]
fn groups_and_roles_and_their_refusals() {
    let (_d, s) = server();
    set_up(&s);

    let g = req(&s, "addgroup", &[("groupname", "Sales")], 20);
    assert!(
        g.ends_with(
            "<RESULTMSG>API_OK</RESULTMSG>\n\t<GROUPNAME>Sales</GROUPNAME>\n\
             \t<GROUPID>1</GROUPID>\n</RESULT>"
        ),
        "{g}"
    );
    // An existing name answers the existing group.
    let again = req(&s, "ADDGROUP", &[("GROUPNAME", "Sales")], 20);
    assert_eq!(field(&again, "GROUPID"), "1");
    let g2 = req(&s, "addgroup", &[("groupname", "Support <QA> & 🎧")], 20);
    assert_eq!(field(&g2, "GROUPID"), "2");
    assert_eq!(field(&g2, "GROUPNAME"), "Support &lt;QA&gt; &amp; 🎧");
    req(&s, "addgroup", &[("groupname", " ")], 26);

    // Members: one phone of Ann's; all of Cy's phones.
    let m = req(
        &s,
        "addgroupmember",
        &[
            ("action", "add"),
            ("groupname", "Sales"),
            ("agentid", "1"),
            ("deviceid", "201"),
        ],
        20,
    );
    assert!(
        m.ends_with(
            "\t<GROUPID>1</GROUPID>\n\t<GROUPNAME>Sales</GROUPNAME>\n\
             \t<AGENTID>1</AGENTID>\n\t<DEVICEID>201</DEVICEID>\n</RESULT>"
        ),
        "{m}"
    );
    let m = req(
        &s,
        "addgroupmember",
        &[
            ("action", "add"),
            ("groupid", "2"),
            ("firstname", "Cy"),
            ("lastname", "Cole"),
        ],
        20,
    );
    assert_eq!(field(&m, "AGENTID"), "3");
    assert_eq!(field(&m, "DEVICEID"), "");
    let member = |pairs: &[(&str, &str)], want: u32| {
        let mut p = vec![("action", "add")];
        p.extend_from_slice(pairs);
        req(&s, "addgroupmember", &p, want)
    };
    member(&[("groupid", "9"), ("agentid", "1")], 27);
    member(&[("groupname", "Nope"), ("agentid", "1")], 27);
    member(&[("groupid", "1"), ("agentid", "99")], 24);
    member(
        &[("groupid", "1"), ("firstname", "No"), ("lastname", "One")],
        24,
    );
    // Bob is a user but not an agent.
    member(&[("groupid", "1"), ("agentid", "2")], 24);
    // 310 is Cy's phone, not Ann's; 999 is nobody's.
    member(
        &[("groupid", "1"), ("agentid", "1"), ("deviceid", "310")],
        8,
    );
    member(
        &[("groupid", "1"), ("agentid", "1"), ("deviceid", "999")],
        8,
    );
    member(&[("agentid", "1")], 26);
    member(&[("groupid", "one"), ("agentid", "1")], 17);
    req(
        &s,
        "addgroupmember",
        &[("action", "move"), ("groupid", "1"), ("agentid", "1")],
        21,
    );
    req(
        &s,
        "addgroupmember",
        &[("groupid", "1"), ("agentid", "1")],
        26,
    );
    // None of that made a group.
    assert_eq!(
        field(
            &req(&s, "addgroup", &[("groupname", "Third")], 20),
            "GROUPID"
        ),
        "3"
    );

    // Roles.
    let r = req(&s, "addrole", &[("action", "add"), ("rolename", "QA")], 20);
    assert!(
        r.ends_with("\t<ROLENAME>QA</ROLENAME>\n\t<ROLEID>1</ROLEID>\n</RESULT>"),
        "{r}"
    );
    let r = req(&s, "addrole", &[("action", "ADD"), ("rolename", "QA")], 20);
    assert_eq!(field(&r, "ROLEID"), "1");
    req(
        &s,
        "addrole",
        &[("action", "delete"), ("rolename", "Nope")],
        32,
    );
    req(&s, "addrole", &[("action", "add")], 26);
    req(
        &s,
        "addrole",
        &[("action", "rename"), ("rolename", "QA")],
        21,
    );

    let rg = req(
        &s,
        "addrolegroup",
        &[("action", "add"), ("roleid", "1"), ("groupname", "Sales")],
        20,
    );
    assert!(
        rg.ends_with(
            "\t<ROLEID>1</ROLEID>\n\t<ROLENAME>QA</ROLENAME>\n\
             \t<GROUPID>1</GROUPID>\n\t<GROUPNAME>Sales</GROUPNAME>\n</RESULT>"
        ),
        "{rg}"
    );
    req(
        &s,
        "addrolegroup",
        &[("action", "add"), ("rolename", "Nope"), ("groupid", "1")],
        32,
    );
    req(
        &s,
        "addrolegroup",
        &[("action", "add"), ("roleid", "1"), ("groupid", "9")],
        27,
    );

    // ADDROLEUSER names the user four ways.
    for key in [
        vec![("userid", "2")],
        vec![("username", "bob")],
        vec![("systemusername", "bob.sys")],
        vec![("firstname", "Bob"), ("lastname", "Baker")],
    ] {
        let mut p = vec![("action", "add"), ("rolename", "QA")];
        p.extend(key);
        let u = req(&s, "addroleuser", &p, 20);
        assert!(
            u.ends_with(
                "\t<ROLEID>1</ROLEID>\n\t<ROLENAME>QA</ROLENAME>\n\t<USERID>2</USERID>\n</RESULT>"
            ),
            "{u}"
        );
    }
    req(
        &s,
        "addroleuser",
        &[("action", "add"), ("roleid", "1"), ("userid", "99")],
        28,
    );
    req(
        &s,
        "addroleuser",
        &[("action", "add"), ("roleid", "1"), ("username", "nobody")],
        28,
    );
    req(
        &s,
        "addroleuser",
        &[("action", "add"), ("roleid", "7"), ("userid", "2")],
        32,
    );
    req(&s, "addroleuser", &[("action", "add"), ("roleid", "1")], 26);
    req(
        &s,
        "addroleuser",
        &[("action", "delete"), ("roleid", "1"), ("username", "bob")],
        20,
    );

    // Permissions.
    let p = req(
        &s,
        "modifyrolepermission",
        &[
            ("rolename", "QA"),
            ("permissionname", "allowExport"),
            ("value", "yes"),
        ],
        20,
    );
    assert!(
        p.ends_with(
            "\t<ROLEID>1</ROLEID>\n\t<PERMISSIONNAME>ALLOWEXPORT</PERMISSIONNAME>\n\
             \t<VALUE>Y</VALUE>\n</RESULT>"
        ),
        "{p}"
    );
    let perm = |pairs: &[(&str, &str)], want: u32| req(&s, "modifyrolepermission", pairs, want);
    let p = perm(
        &[
            ("roleid", "1"),
            ("permissionname", "ALLOWEXPORT"),
            ("value", "N"),
        ],
        20,
    );
    assert_eq!(field(&p, "VALUE"), "N");
    perm(
        &[
            ("roleid", "1"),
            ("permissionname", "ALLOWFLYING"),
            ("value", "Y"),
        ],
        33,
    );
    perm(
        &[
            ("roleid", "5"),
            ("permissionname", "ALLOWAPI"),
            ("value", "Y"),
        ],
        32,
    );
    perm(
        &[
            ("roleid", "1"),
            ("permissionname", "ALLOWAPI"),
            ("value", "maybe"),
        ],
        17,
    );
    perm(&[("roleid", "1"), ("permissionname", "ALLOWAPI")], 26);
    perm(&[("roleid", "1"), ("value", "Y")], 26);

    // None of the refusals made a role; deleting one takes its links with it.
    let r = req(
        &s,
        "addrole",
        &[("action", "add"), ("rolename", "Admins")],
        20,
    );
    assert_eq!(field(&r, "ROLEID"), "2");
    let d = req(&s, "addrole", &[("action", "delete"), ("roleid", "1")], 20);
    assert_eq!(field(&d, "ROLENAME"), "QA");
    req(&s, "addrole", &[("action", "delete"), ("roleid", "1")], 32);
    perm(
        &[
            ("roleid", "1"),
            ("permissionname", "ALLOWAPI"),
            ("value", "Y"),
        ],
        32,
    );
    req(
        &s,
        "addrolegroup",
        &[("action", "delete"), ("roleid", "1"), ("groupid", "1")],
        32,
    );
    // A new role of the old name is a new role.
    let r = req(&s, "addrole", &[("action", "add"), ("rolename", "QA")], 20);
    assert_eq!(field(&r, "ROLEID"), "3");
}

#[test]
fn calls_carry_their_agent_and_calllist_filters_by_agent_group_and_station() {
    let (_d, s) = server();
    set_up(&s);
    req(&s, "addgroup", &[("groupname", "Sales")], 20);
    req(&s, "addgroup", &[("groupname", "Support")], 20);
    req(
        &s,
        "addgroupmember",
        &[
            ("action", "add"),
            ("groupid", "1"),
            ("agentid", "1"),
            ("deviceid", "201"),
        ],
        20,
    );
    req(
        &s,
        "addgroupmember",
        &[("action", "add"), ("groupid", "2"), ("agentid", "3")],
        20,
    );

    // The agent is the phone's agent at call start.
    let c = call(&s, &[("deviceid", "201")], "201");
    assert_eq!(field(&c, "AGENTID"), "1");
    assert_eq!(field(&c, "AGENTNAME"), "Ann Archer");
    let r1 = field(&c, "RECORDID");
    let r2 = field(&call(&s, &[("deviceid", "200")], "200"), "RECORDID");
    let c = call(&s, &[("deviceid", "310")], "310");
    assert_eq!(field(&c, "AGENTNAME"), "Cy Cole");
    let r3 = field(&c, "RECORDID");
    // A device nobody holds has no agent.
    let c = call(&s, &[("deviceid", "999")], "999");
    assert_eq!(field(&c, "AGENTID"), "");
    assert_eq!(field(&c, "AGENTNAME"), "");
    // AGENTID overrides the phone's agent; an id of another system keeps no name.
    let c = req(
        &s,
        "callstart",
        &[("deviceid", "201"), ("agentid", "3")],
        20,
    );
    assert_eq!(field(&c, "AGENTNAME"), "Cy Cole");
    let st = req(&s, "devicestatus", &[("deviceid", "201")], 20);
    assert_eq!(field(&st, "AGENTID"), "3");
    assert_eq!(field(&st, "AGENTNAME"), "Cy Cole");
    let r5 = field(&c, "RECORDID");
    req(&s, "callstop", &[("deviceid", "201")], 20);
    let c = req(
        &s,
        "callstart",
        &[("deviceid", "200"), ("agentid", "EXT-7")],
        20,
    );
    assert_eq!(field(&c, "AGENTID"), "EXT-7");
    assert_eq!(field(&c, "AGENTNAME"), "");
    // CALLUPDATE with AGENTID brings that agent's name along.
    let u = req(
        &s,
        "callupdate",
        &[("deviceid", "200"), ("agentid", "1")],
        20,
    );
    assert_eq!(field(&u, "AGENTNAME"), "Ann Archer");
    let r6 = field(&c, "RECORDID");
    req(&s, "callstop", &[("deviceid", "200")], 20);
    // A call found through the station carries it.
    let c = call(&s, &[("stationname", "WS-1")], "201");
    assert_eq!(field(&c, "AGENTID"), "1");
    let r7 = field(&c, "RECORDID");

    assert_eq!(
        listed(&s, &[("agentid", "1")]),
        [r7.as_str(), r6.as_str(), r2.as_str(), r1.as_str()]
    );
    assert_eq!(listed(&s, &[("agentid", "3")]), [r5.as_str(), r3.as_str()]);
    // Sales: Ann on 201 only. Support: Cy on any phone.
    assert_eq!(listed(&s, &[("groupid", "1")]), [r7.as_str(), r1.as_str()]);
    assert_eq!(listed(&s, &[("groupid", "2")]), [r5.as_str(), r3.as_str()]);
    assert_eq!(
        listed(&s, &[("groupid", "1"), ("stationname", "WS-1")]),
        [r7.as_str()]
    );
    assert_eq!(listed(&s, &[("stationname", "WS-%")]), [r7.as_str()]);
    req(&s, "calllist", &[("groupid", "9")], 27);
    req(&s, "calllist", &[("groupid", "sales")], 17);

    // Leaving the group takes its calls out of the group's list.
    req(
        &s,
        "addgroupmember",
        &[
            ("action", "delete"),
            ("groupid", "1"),
            ("agentid", "1"),
            ("deviceid", "201"),
        ],
        20,
    );
    assert!(listed(&s, &[("groupid", "1")]).is_empty());

    // A deleted agent's old calls keep the agent and the name.
    req(
        &s,
        "importuser",
        &[("action", "delete"), ("userid", "1")],
        20,
    );
    let doc = req(&s, "calllist", &[("agentid", "1")], 20);
    assert_eq!(field(&doc, "COUNT"), "4");
    assert!(
        sections(&doc, "CALL")
            .iter()
            .all(|c| field(c, "AGENTNAME") == "Ann Archer"),
        "{doc}"
    );
    // Its phone has no agent any more.
    let c = call(&s, &[("deviceid", "201")], "201");
    assert_eq!(field(&c, "AGENTID"), "");
}

#[test]
fn terminology_comes_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[terminology]\nAGENT = \"Associate\"\nuser3 = \"Account <№>\"\n")
        .start();
    let t = req(&s, "terminology", &[], 20);
    assert_eq!(field(&t, "COUNT"), "22");
    let terms: Vec<(String, String)> = sections(&t, "TERMINOLOGY")
        .iter()
        .map(|x| (field(x, "TERM"), field(x, "VALUE")))
        .collect();
    assert_eq!(terms[0], ("AGENT".into(), "Associate".into()));
    assert_eq!(terms[1], ("SUPERVISOR".into(), "Supervisor".into()));
    assert_eq!(terms[9], ("USER3".into(), "Account &lt;№&gt;".into()));

    // A term the protocol does not have stops start-up, naming it.
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[terminology]\nAGNET = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callvault"))
        .args(["serve", "--http", "127.0.0.1:0", "--socket", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("other"))
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AGNET"), "{err}");
}
