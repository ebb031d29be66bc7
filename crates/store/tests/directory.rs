//! The directory (users, phones, stations), run on SQLite and (when reachable) PostgreSQL.

mod common;

use common::{T0, TestDb, call};
use sqlx::Connection;
use store::{AgentKey, DirectoryError, Lookup, NewUser, Refusal, User, UserChange, UserKey, Write};

on_both_backends!(
    users_round_trip_and_list_leaves_out_deleted,
    duplicates_are_refused_and_change_nothing,
    modify_changes_only_what_is_given,
    passwords_are_stored_as_argon2_hashes,
    phones_follow_their_agent,
    stations_replace_by_name_or_device,
    lookups_resolve_only_through_active_agents,
    key_lookups_match_exactly_and_leave_out_deleted,
    key_lookups_use_indexes,
    concurrent_adds_of_one_name_admit_one,
);

fn new_user(username: &str, first: &str, last: &str) -> NewUser {
    NewUser {
        username: username.into(),
        password: format!("secret-of-{username}"),
        first_name: first.into(),
        last_name: last.into(),
        agent: true,
        ..NewUser::default()
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<T, DirectoryError>) -> Refusal {
    match r {
        Err(DirectoryError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

const AWKWARD: [&str; 4] = [
    "Ünïcödé 日本語 🎙️📞 👩🏽‍💻",
    "<b>A&B</b>",
    "\"double\" 'single'",
    "  padded  ",
];

async fn users_round_trip_and_list_leaves_out_deleted(db: &TestDb) {
    let s = db.open().await;
    let mut u = new_user(AWKWARD[0], AWKWARD[1], AWKWARD[2]);
    u.employee_id = AWKWARD[3].into();
    u.sys_user = "dom\\ann".into();
    u.sys_domain = "DOM".into();
    u.email = "ann@example.com".into();
    u.crm_user = "crm-ann".into();
    u.site_id = Some(7);
    let a = s.add_user(&u, T0).await.unwrap();
    assert_eq!(a.username, AWKWARD[0]);
    assert_eq!(a.first_name, AWKWARD[1]);
    assert_eq!(a.last_name, AWKWARD[2]);
    assert_eq!(a.employee_id, AWKWARD[3]);
    assert_eq!((a.add_time, a.mod_time), (T0, T0));
    assert!(a.agent && a.active && !a.deleted);
    assert_eq!(a.site_id, Some(7));
    let b = s
        .add_user(&new_user("bob", "Bob", "B"), T0 + 1)
        .await
        .unwrap();
    assert!(b.user_id > a.user_id);
    let listed = s.users().await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone()]);

    let gone = s.delete_user(a.user_id, T0 + 2).await.unwrap();
    assert_eq!(gone.user_id, a.user_id);
    assert_eq!(s.users().await.unwrap(), vec![b.clone()]);
    // The row stays, marked.
    let kept = s.user(a.user_id).await.unwrap().unwrap();
    assert!(kept.deleted);
    assert_eq!(kept.mod_time, T0 + 2);
    // Deleting again, or modifying a deleted user: not found.
    assert_eq!(
        refusal(s.delete_user(a.user_id, T0).await),
        Refusal::UserNotFound
    );
    assert_eq!(
        refusal(s.modify_user(a.user_id, &UserChange::default(), T0).await),
        Refusal::UserNotFound
    );
    // A deleted user's names are free again; ids are never reused.
    let again = s.add_user(&u, T0 + 3).await.unwrap();
    assert!(again.user_id > b.user_id);
}

async fn duplicates_are_refused_and_change_nothing(db: &TestDb) {
    let s = db.open().await;
    let a = s.add_user(&new_user("ann", "Ann", "A"), T0).await.unwrap();
    let before = s.users().await.unwrap();
    let r = refusal(s.add_user(&new_user("ann", "Other", "Name"), T0).await);
    assert_eq!(
        r,
        Refusal::DuplicateUser {
            user_id: a.user_id,
            what: "username"
        }
    );
    let r = refusal(s.add_user(&new_user("ann2", "Ann", "A"), T0).await);
    assert_eq!(
        r,
        Refusal::DuplicateUser {
            user_id: a.user_id,
            what: "first and last name"
        }
    );
    // Names compare byte for byte.
    s.add_user(&new_user("ann3", "ann", "A"), T0).await.unwrap();
    let b = s.add_user(&new_user("bob", "Bob", "B"), T0).await.unwrap();
    let mid = s.users().await.unwrap();
    assert_eq!(mid.len(), before.len() + 2);
    // MODIFY into another user's names: refused, nothing changed.
    let to_ann = UserChange {
        first_name: Some("Ann".into()),
        last_name: Some("A".into()),
        email: Some("changed@example.com".into()),
        ..UserChange::default()
    };
    assert!(matches!(
        refusal(s.modify_user(b.user_id, &to_ann, T0 + 5).await),
        Refusal::DuplicateUser { .. }
    ));
    assert_eq!(s.users().await.unwrap(), mid);
    // Keeping one's own names is not a duplicate.
    let same = UserChange {
        username: Some("bob".into()),
        first_name: Some("Bob".into()),
        ..UserChange::default()
    };
    s.modify_user(b.user_id, &same, T0 + 6).await.unwrap();
    assert_eq!(
        refusal(s.modify_user(999_999, &same, T0).await),
        Refusal::UserNotFound
    );
}

async fn modify_changes_only_what_is_given(db: &TestDb) {
    let s = db.open().await;
    let mut u = new_user("ann", "Ann", "A");
    u.email = "ann@example.com".into();
    u.site_id = Some(3);
    let a = s.add_user(&u, T0).await.unwrap();
    let m = s
        .modify_user(
            a.user_id,
            &UserChange {
                last_name: Some("Archer".into()),
                active: Some(false),
                agent: Some(false),
                site_id: Some(None),
                ..UserChange::default()
            },
            T0 + 9,
        )
        .await
        .unwrap();
    assert_eq!(
        m,
        User {
            last_name: "Archer".into(),
            active: false,
            agent: false,
            site_id: None,
            mod_time: T0 + 9,
            ..a
        }
    );
}

async fn passwords_are_stored_as_argon2_hashes(db: &TestDb) {
    let s = db.open().await;
    let a = s.add_user(&new_user("ann", "Ann", "A"), T0).await.unwrap();
    let hash = stored_hash(db, a.user_id).await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("secret-of-ann"));
    let change = UserChange {
        password: Some("new secret".into()),
        ..UserChange::default()
    };
    s.modify_user(a.user_id, &change, T0).await.unwrap();
    let changed = stored_hash(db, a.user_id).await;
    assert!(changed.starts_with("$argon2id$") && changed != hash);
    // A MODIFY without a password keeps the hash.
    s.modify_user(a.user_id, &UserChange::default(), T0)
        .await
        .unwrap();
    assert_eq!(stored_hash(db, a.user_id).await, changed);
    assert!(!format!("{:?}", s.users().await.unwrap()).contains("argon2"));
}

async fn stored_hash(db: &TestDb, user_id: i64) -> String {
    use sqlx::Connection;
    let q = "SELECT password_hash FROM users WHERE user_id = $1";
    if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let (h,): (String,) = sqlx::query_as(q)
            .bind(user_id)
            .fetch_one(&mut c)
            .await
            .unwrap();
        h
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let (h,): (String,) = sqlx::query_as(q)
            .bind(user_id)
            .fetch_one(&mut c)
            .await
            .unwrap();
        h
    }
}

async fn phones_follow_their_agent(db: &TestDb) {
    let s = db.open().await;
    let a = s.add_user(&new_user("ann", "Ann", "A"), T0).await.unwrap();
    let b = s.add_user(&new_user("bob", "Bob", "B"), T0).await.unwrap();
    let mut c = new_user("cat", "Cat", "C");
    c.agent = false;
    let c = s.add_user(&c, T0).await.unwrap();
    let ann = AgentKey::Id(a.user_id);
    let bob_by_name = AgentKey::Name {
        first: "Bob".into(),
        last: "B".into(),
    };

    assert_eq!(
        s.add_phone(&ann, "201", Some("desk")).await.unwrap(),
        a.user_id
    );
    assert_eq!(s.add_phone(&ann, "200", None).await.unwrap(), a.user_id);
    assert_eq!(
        s.add_phone(&bob_by_name, "300", Some("bob-desk"))
            .await
            .unwrap(),
        b.user_id
    );
    let before = s.users().await.unwrap();
    let phones: Vec<_> = before[0]
        .phones
        .iter()
        .map(|p| p.phone_id.as_str())
        .collect();
    assert_eq!(phones, ["201", "200"], "in assignment order");
    assert_eq!(before[0].phones[0].device_alias, "desk");

    assert_eq!(
        refusal(s.add_phone(&bob_by_name, "201", None).await),
        Refusal::PhoneHeld { user_id: a.user_id }
    );
    assert_eq!(
        refusal(s.delete_phone(&bob_by_name, "201").await),
        Refusal::PhoneHeld { user_id: a.user_id }
    );
    assert_eq!(
        refusal(s.add_phone(&AgentKey::Id(999_999), "9", None).await),
        Refusal::AgentNotFound
    );
    let nobody = AgentKey::Name {
        first: "No".into(),
        last: "Body".into(),
    };
    assert_eq!(
        refusal(s.add_phone(&nobody, "9", None).await),
        Refusal::AgentNotFound
    );
    assert_eq!(
        refusal(s.add_phone(&AgentKey::Id(c.user_id), "9", None).await),
        Refusal::AgentNotActive { user_id: c.user_id }
    );
    assert_eq!(s.users().await.unwrap(), before);

    // Again by the holder: the alias is updated, the order kept.
    s.add_phone(&ann, "201", Some("front desk")).await.unwrap();
    assert_eq!(
        s.users().await.unwrap()[0].phones[0].device_alias,
        "front desk"
    );
    s.delete_phone(&ann, "201").await.unwrap();
    s.delete_phone(&ann, "201").await.unwrap(); // nothing held: nothing to do
    let phones: Vec<_> = s.users().await.unwrap()[0]
        .phones
        .iter()
        .map(|p| p.phone_id.clone())
        .collect();
    assert_eq!(phones, ["200"]);

    // Deleting the agent frees its phones for someone else.
    s.delete_user(a.user_id, T0).await.unwrap();
    s.add_phone(&bob_by_name, "200", None).await.unwrap();
    assert_eq!(s.users().await.unwrap()[0].phones.len(), 2);
}

async fn stations_replace_by_name_or_device(db: &TestDb) {
    let s = db.open().await;
    assert_eq!(s.add_station("WS-1", "200").await.unwrap(), "200");
    s.add_station("WS-2", "201").await.unwrap();
    s.add_station(AWKWARD[1], "202").await.unwrap();
    // Same device under a new name: the old name goes.
    s.add_station("WS-3", "200").await.unwrap();
    // Same name on a new device: the old entry goes.
    s.add_station("WS-2", "205").await.unwrap();
    let list = s.stations().await.unwrap();
    let want = [(AWKWARD[1], "202"), ("WS-2", "205"), ("WS-3", "200")];
    assert_eq!(
        list,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    assert_eq!(
        s.station_device("WS-3").await.unwrap().as_deref(),
        Some("200")
    );
    assert_eq!(s.station_device("WS-1").await.unwrap(), None);
    assert_eq!(
        s.delete_station("WS-3").await.unwrap().as_deref(),
        Some("200")
    );
    assert_eq!(s.delete_station("WS-3").await.unwrap(), None);
    assert_eq!(s.stations().await.unwrap().len(), 2);
}

async fn lookups_resolve_only_through_active_agents(db: &TestDb) {
    let s = db.open().await;
    let mut a = new_user("ann", "Ann", "A");
    a.sys_user = "DOM\\ann".into();
    a.crm_user = "crm-ann".into();
    let a = s.add_user(&a, T0).await.unwrap();
    let mut c = new_user("cat", "Cat", "C");
    c.sys_user = "DOM\\cat".into();
    let c = s.add_user(&c, T0).await.unwrap();
    let ann = AgentKey::Id(a.user_id);
    s.add_phone(&ann, "201", Some("ann-desk")).await.unwrap();
    s.add_phone(&ann, "200", Some("ann-soft")).await.unwrap();
    s.add_phone(&AgentKey::Id(c.user_id), "300", Some("cat-desk"))
        .await
        .unwrap();

    let found = |d: &str| Lookup::Found(d.to_string());
    assert_eq!(s.phone_by_alias("ann-soft").await.unwrap(), found("200"));
    assert_eq!(s.phone_by_alias("nobody").await.unwrap(), Lookup::NotFound);
    // No call yet: the first assigned phone.
    assert_eq!(
        s.phone_of_user(UserKey::SysUser, "DOM\\ann").await.unwrap(),
        found("201")
    );
    assert_eq!(
        s.phone_of_user(UserKey::CrmUser, "crm-ann").await.unwrap(),
        found("201")
    );
    assert_eq!(
        s.phone_of_user(UserKey::SysUser, "dom\\ann").await.unwrap(),
        Lookup::NotFound
    );
    // The phone with the most recent call wins.
    let mut old = call(1, "201");
    old.start = T0;
    let mut new = call(2, "200");
    new.start = T0 + 1;
    s.commit(vec![Write::Call(old), Write::Call(new)])
        .await
        .unwrap();
    assert_eq!(
        s.phone_of_user(UserKey::SysUser, "DOM\\ann").await.unwrap(),
        found("200")
    );

    // An inactive agent, or a user who is no agent, resolves nothing (the `+` rule).
    s.modify_user(
        c.user_id,
        &UserChange {
            active: Some(false),
            ..UserChange::default()
        },
        T0,
    )
    .await
    .unwrap();
    assert_eq!(
        s.phone_by_alias("cat-desk").await.unwrap(),
        Lookup::NoAgentPhone
    );
    assert_eq!(
        s.phone_of_user(UserKey::SysUser, "DOM\\cat").await.unwrap(),
        Lookup::NoAgentPhone
    );
    // A user without phones.
    let mut d = new_user("dan", "Dan", "D");
    d.crm_user = "crm-dan".into();
    s.add_user(&d, T0).await.unwrap();
    assert_eq!(
        s.phone_of_user(UserKey::CrmUser, "crm-dan").await.unwrap(),
        Lookup::NoAgentPhone
    );
    // A deleted user's phones are gone.
    s.delete_user(a.user_id, T0).await.unwrap();
    assert_eq!(
        s.phone_by_alias("ann-soft").await.unwrap(),
        Lookup::NotFound
    );
    assert_eq!(
        s.phone_of_user(UserKey::SysUser, "DOM\\ann").await.unwrap(),
        Lookup::NotFound
    );
}

const KEYS: [UserKey; 5] = [
    UserKey::Username,
    UserKey::SysUser,
    UserKey::CrmUser,
    UserKey::EmployeeId,
    UserKey::Email,
];

async fn key_lookups_match_exactly_and_leave_out_deleted(db: &TestDb) {
    let s = db.open().await;
    let mut a = new_user("ann", "Ann", "A");
    a.sys_user = "DOM\\ann".into();
    a.crm_user = "crm-ann".into();
    a.employee_id = "e-1".into();
    a.email = "ann@example.com".into();
    let a = s.add_user(&a, T0).await.unwrap();
    s.add_phone(&AgentKey::Id(a.user_id), "200", Some("ann-desk"))
        .await
        .unwrap();
    let a = s.user(a.user_id).await.unwrap().unwrap();
    let ids = |users: Vec<User>| users.iter().map(|u| u.user_id).collect::<Vec<_>>();
    for (key, value) in
        KEYS.into_iter()
            .zip(["ann", "DOM\\ann", "crm-ann", "e-1", "ann@example.com"])
    {
        // The user whole, phones and all.
        assert_eq!(
            s.users_with(key, value).await.unwrap(),
            std::slice::from_ref(&a),
            "{key:?}"
        );
        // Exact: another case, or spaces around it, is another value.
        for other in [value.to_uppercase(), format!(" {value}"), String::new()] {
            assert!(
                s.users_with(key, &other).await.unwrap().is_empty(),
                "{key:?} {other:?}"
            );
        }
    }

    // Two live users with one EMAIL: both, lowest USER_ID first.
    let mut b = new_user("bob", "Bob", "B");
    b.email = "desk@example.com".into();
    let b = s.add_user(&b, T0).await.unwrap();
    let mut c = new_user("cat", "Cat", "C");
    c.email = "desk@example.com".into();
    c.agent = false;
    let c = s.add_user(&c, T0).await.unwrap();
    assert_eq!(
        ids(s
            .users_with(UserKey::Email, "desk@example.com")
            .await
            .unwrap()),
        [b.user_id, c.user_id]
    );
    // A deleted user is not found; a new one with the same values is.
    s.delete_user(b.user_id, T0).await.unwrap();
    assert_eq!(
        ids(s
            .users_with(UserKey::Email, "desk@example.com")
            .await
            .unwrap()),
        [c.user_id]
    );
    s.delete_user(a.user_id, T0).await.unwrap();
    for key in KEYS {
        let value = match key {
            UserKey::Username => "ann",
            UserKey::Email => "ann@example.com",
            _ => continue,
        };
        assert!(s.users_with(key, value).await.unwrap().is_empty());
    }
    let again = s.add_user(&new_user("ann", "Ann", "A"), T0).await.unwrap();
    assert_eq!(
        ids(s.users_with(UserKey::Username, "ann").await.unwrap()),
        [again.user_id]
    );
}

/// Every KEYNAME look-up reads the live users through an index (migrations 0002, 0004,
/// 0007), on either backend. PostgreSQL is told not to scan, so that it shows the index
/// it would use even on a table this small.
async fn key_lookups_use_indexes(db: &TestDb) {
    drop(db.open().await);
    let plan = |column: &str| {
        let query = format!(
            "SELECT user_id FROM users WHERE NOT deleted AND {column} = $1 ORDER BY user_id"
        );
        async move {
            let lines: Vec<String> = if db.is_postgres() {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::query("SET enable_seqscan = off")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let rows: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {query}"))
                    .bind("x")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                rows.into_iter().map(|(l,)| l).collect()
            } else {
                let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(&format!("EXPLAIN QUERY PLAN {query}"))
                        .bind("x")
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                rows.into_iter().map(|(_, _, _, l)| l).collect()
            };
            lines
        }
    };
    for column in ["username", "sys_user", "crm_user", "employee_id", "email"] {
        let lines = plan(column).await;
        let index = format!("users_{column}");
        assert!(
            lines.iter().any(|l| l.contains(&index)),
            "{column}: {lines:?}"
        );
    }
}

async fn concurrent_adds_of_one_name_admit_one(db: &TestDb) {
    let s = db.open().await;
    // Different usernames, one first and last name: the check and the insert must not
    // interleave, or two would get in.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.add_user(&new_user(&format!("u{i}"), "Same", "Name"), T0)
                    .await
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(DirectoryError::Refused(Refusal::DuplicateUser { .. })) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(admitted, 1);
    assert_eq!(s.users().await.unwrap().len(), 1);
    // Phones too: one phone, many agents.
    let mut agents = Vec::new();
    for i in 0..6 {
        let u = s
            .add_user(&new_user(&format!("a{i}"), "A", &i.to_string()), T0)
            .await
            .unwrap();
        agents.push(u.user_id);
    }
    let tasks: Vec<_> = agents
        .iter()
        .map(|&id| {
            let s = s.clone();
            tokio::spawn(async move { s.add_phone(&AgentKey::Id(id), "777", None).await })
        })
        .collect();
    let mut held = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => held += 1,
            Err(DirectoryError::Refused(Refusal::PhoneHeld { .. })) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(held, 1);
}
