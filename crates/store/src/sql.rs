//! SQL text and the mapping between rows and the model, written once for both backends.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders and `INSERT .. ON CONFLICT .. DO
//! UPDATE`, so the statements are the same text; the functions here are generic over the
//! sqlx database and the backends only differ in which pool runs them.

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};

use crate::StoreError;
use crate::model::{
    CallMeta, CallRow, RecordingFilter, RecordingKind, RecordingRow, RecordingState, TextField,
    TextMatch,
};

/// The `CallMeta` columns, in the order of the struct (USER1..USER15 last).
const META_COLUMNS: [&str; 25] = [
    "device_alias",
    "station_name",
    "agent_id",
    "agent_name",
    "ani",
    "dnis",
    "call_direction",
    "call_id",
    "gate",
    "sgroup",
    "user1",
    "user2",
    "user3",
    "user4",
    "user5",
    "user6",
    "user7",
    "user8",
    "user9",
    "user10",
    "user11",
    "user12",
    "user13",
    "user14",
    "user15",
];

const CALL_HEAD: [&str; 3] = ["call_key", "device_id", "call_instance"];
const CALL_TAIL: [&str; 5] = ["start_us", "end_us", "recorded", "reason", "cti_initiated"];

const RECORDING_HEAD: [&str; 4] = ["record_id", "call_key", "device_id", "call_instance"];
const RECORDING_TAIL: [&str; 14] = [
    "call_start_us",
    "call_end_us",
    "recording_start_us",
    "duration_ms",
    "kind",
    "audio",
    "keep_days",
    "archive_action",
    "cti_initiated",
    "agent_initiated",
    "blackouts",
    "locked",
    "state",
    "media_path",
];

fn columns(head: &[&'static str], tail: &[&'static str]) -> Vec<&'static str> {
    head.iter()
        .chain(META_COLUMNS.iter())
        .chain(tail.iter())
        .copied()
        .collect()
}

/// Insert, or replace every column of the row with the same key: rows are written whole.
fn upsert(table: &str, cols: &[&str]) -> String {
    let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = cols[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        cols.join(", "),
        placeholders.join(", "),
        cols[0],
        updates.join(", ")
    )
}

static CALL_COLUMNS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| columns(&CALL_HEAD, &CALL_TAIL));
static RECORDING_COLUMNS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| columns(&RECORDING_HEAD, &RECORDING_TAIL));

pub(crate) static UPSERT_CALL: LazyLock<String> = LazyLock::new(|| upsert("calls", &CALL_COLUMNS));
pub(crate) static UPSERT_RECORDING: LazyLock<String> =
    LazyLock::new(|| upsert("recordings", &RECORDING_COLUMNS));

pub(crate) static SELECT_CALLS: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM calls", CALL_COLUMNS.join(", ")));
/// Every written column, then the purge mark, which the upsert never writes.
pub(crate) static SELECT_RECORDINGS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, purged_at_us FROM recordings",
        RECORDING_COLUMNS.join(", ")
    )
});

pub(crate) const UPSERT_BLACKOUT_SPAN: &str = "INSERT INTO recording_blackouts \
    (record_id, seq, start_us, end_us) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (record_id, seq) DO UPDATE SET start_us = excluded.start_us, end_us = excluded.end_us";
pub(crate) const UPSERT_OPEN_BLACKOUT: &str = "INSERT INTO open_blackouts (owner, start_us) \
    VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET start_us = excluded.start_us";
pub(crate) const DELETE_OPEN_BLACKOUT: &str = "DELETE FROM open_blackouts WHERE owner = $1";

/// Newest recording first; record_id breaks ties so the order is total and stable.
pub(crate) const NEWEST_FIRST: &str = " ORDER BY recording_start_us DESC, record_id DESC";

/// The column a text filter compares.
pub(crate) fn text_column(field: TextField) -> Result<&'static str, StoreError> {
    Ok(match field {
        TextField::DeviceId => "device_id",
        TextField::AgentId => "agent_id",
        TextField::StationName => "station_name",
        TextField::Ani => "ani",
        TextField::Dnis => "dnis",
        TextField::CallId => "call_id",
        TextField::CallDirection => "call_direction",
        TextField::Gate => "gate",
        TextField::SGroup => "sgroup",
        TextField::RecordingType => "kind",
        TextField::User(n @ 1..=15) => META_COLUMNS[10 + usize::from(n) - 1],
        TextField::User(n) => return Err(StoreError::UnknownUserField(n)),
    })
}

/// The stored form of a text value. PostgreSQL's text cannot hold NUL (which captured
/// signalling may carry), so both backends store it as U+FFFD — the character an XML answer
/// shows in its place anyway — and give the same value back.
pub(crate) fn text(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The stored form of a filter value. Kinds are stored upper case, and RECORDINGTYPE is
/// matched without regard to case as `RecordingKind::parse` reads it.
pub(crate) fn filter_value(field: TextField, value: &str) -> String {
    match field {
        TextField::RecordingType => value.to_ascii_uppercase(),
        _ => text(value).into_owned(),
    }
}

/// The smallest string greater than every string that starts with `prefix`, or `None` when
/// there is none (empty prefix, or only `char::MAX`). A prefix match is then the range
/// `prefix <= col < upper`: it needs no LIKE (so `%` and `_` in the value are literal and
/// nothing needs escaping), is case sensitive like the exact match, and is served by the
/// btree indexes on both backends. It relies on byte order, which is code point order for
/// UTF-8: SQLite's BINARY collation and the "C" collation the PostgreSQL schema uses.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Appends CALLLIST's WHERE clause for `filter` (without ORDER BY or LIMIT).
pub(crate) fn push_filter<'a, DB>(
    qb: &mut QueryBuilder<'a, DB>,
    filter: &RecordingFilter,
) -> Result<(), StoreError>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    let mut first = true;
    let mut and = |qb: &mut QueryBuilder<'a, DB>| {
        qb.push(if first { " WHERE " } else { " AND " });
        first = false;
    };
    if let Some(from) = filter.from {
        and(qb);
        qb.push("call_start_us >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        and(qb);
        qb.push("call_start_us <= ").push_bind(to);
    }
    if let Some(id) = filter.record_id {
        and(qb);
        qb.push("record_id = ").push_bind(id);
    }
    for (field, m) in &filter.text {
        let col = text_column(*field)?;
        match m {
            TextMatch::Exact(v) => {
                and(qb);
                qb.push(col).push(" = ").push_bind(filter_value(*field, v));
            }
            TextMatch::Prefix(p) => {
                let p = filter_value(*field, p);
                if p.is_empty() {
                    // A bare `%`: every value matches.
                    continue;
                }
                let upper = prefix_upper_bound(&p);
                and(qb);
                qb.push(col).push(" >= ").push_bind(p);
                if let Some(upper) = upper {
                    qb.push(" AND ").push(col).push(" < ").push_bind(upper);
                }
            }
        }
    }
    if let Some(min) = filter.min_duration_ms {
        and(qb);
        qb.push("duration_ms >= ").push_bind(min);
    }
    if let Some(max) = filter.max_duration_ms {
        and(qb);
        qb.push("duration_ms <= ").push_bind(max);
    }
    if let Some(group) = filter.group_id {
        // The IN list (the group's agents) is implied by the EXISTS below; it is there for
        // speed. Alone, the EXISTS is checked against every recording in newest-first order
        // by reading all the group's members each time (user_id is compared as text, so no
        // index serves it); the IN list is one small set built once per query.
        and(qb);
        qb.push(
            "recordings.agent_id IN (SELECT CAST(gm.user_id AS TEXT) FROM group_members gm \
             WHERE gm.group_id = ",
        )
        .push_bind(group)
        .push(") AND ");
        qb.push("EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = ")
            .push_bind(group)
            .push(
                " AND CAST(gm.user_id AS TEXT) = recordings.agent_id \
             AND (gm.phone_id = '' OR gm.phone_id = recordings.device_id))",
            );
    }
    Ok(())
}

type Q<'q, DB> = Query<'q, DB, <DB as Database>::Arguments<'q>>;

fn bind_meta<'q, DB>(mut q: Q<'q, DB>, m: &'q CallMeta) -> Q<'q, DB>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Cow<'q, str>: Encode<'q, DB> + Type<DB>,
{
    for v in [
        &m.device_alias,
        &m.station_name,
        &m.agent_id,
        &m.agent_name,
        &m.ani,
        &m.dnis,
        &m.call_direction,
        &m.call_id,
        &m.gate,
        &m.sgroup,
    ]
    .into_iter()
    .chain(m.user.iter())
    {
        q = q.bind(text(v));
    }
    q
}

/// The call's upsert with its values bound, in `CALL_COLUMNS` order.
pub(crate) fn bind_call<'q, DB>(c: &'q CallRow) -> Q<'q, DB>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Cow<'q, str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
{
    let q = sqlx::query::<DB>(UPSERT_CALL.as_str())
        .bind(c.call_key)
        .bind(text(&c.device_id))
        .bind(text(&c.call_instance));
    bind_meta(q, &c.meta)
        .bind(c.start)
        .bind(c.end)
        .bind(c.recorded)
        .bind(text(&c.reason))
        .bind(c.cti_initiated)
}

/// The recording's upsert with its values bound, in `RECORDING_COLUMNS` order.
pub(crate) fn bind_recording<'q, DB>(r: &'q RecordingRow) -> Q<'q, DB>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Cow<'q, str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
{
    let q = sqlx::query::<DB>(UPSERT_RECORDING.as_str())
        .bind(r.record_id)
        .bind(r.call_key)
        .bind(text(&r.device_id))
        .bind(text(&r.call_instance));
    bind_meta(q, &r.meta)
        .bind(r.call_start)
        .bind(r.call_end)
        .bind(r.recording_start)
        .bind(r.duration_ms)
        .bind(r.kind.as_str())
        .bind(r.audio)
        .bind(r.keep_days)
        .bind(text(&r.archive_action))
        .bind(r.cti_initiated)
        .bind(r.agent_initiated)
        .bind(r.blackouts)
        .bind(r.locked)
        .bind(r.state.as_str())
        .bind(text(&r.media_path))
}

/// Reads a row's columns in select order, so decoding follows the column lists above.
struct Columns<'r, R> {
    row: &'r R,
    next: usize,
}

impl<'r, R> Columns<'r, R>
where
    R: Row,
    usize: ColumnIndex<R>,
{
    fn get<T>(&mut self) -> Result<T, sqlx::Error>
    where
        T: Decode<'r, R::Database> + Type<R::Database>,
    {
        let v = self.row.try_get(self.next);
        self.next += 1;
        v
    }

    fn meta(&mut self) -> Result<CallMeta, sqlx::Error>
    where
        String: Decode<'r, R::Database> + Type<R::Database>,
    {
        let mut m = CallMeta {
            device_alias: self.get()?,
            station_name: self.get()?,
            agent_id: self.get()?,
            agent_name: self.get()?,
            ani: self.get()?,
            dnis: self.get()?,
            call_direction: self.get()?,
            call_id: self.get()?,
            gate: self.get()?,
            sgroup: self.get()?,
            user: Default::default(),
        };
        for u in &mut m.user {
            *u = self.get()?;
        }
        Ok(m)
    }
}

pub(crate) fn call_from_row<'r, R>(row: &'r R) -> Result<CallRow, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut c = Columns { row, next: 0 };
    Ok(CallRow {
        call_key: c.get()?,
        device_id: c.get()?,
        call_instance: c.get()?,
        meta: c.meta()?,
        start: c.get()?,
        end: c.get()?,
        recorded: c.get()?,
        reason: c.get()?,
        cti_initiated: c.get()?,
    })
}

pub(crate) fn recording_from_row<'r, R>(row: &'r R) -> Result<RecordingRow, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut c = Columns { row, next: 0 };
    let record_id: i64 = c.get()?;
    let corrupt = |detail: String| StoreError::CorruptRow {
        table: "recordings",
        detail: format!("record {record_id}: {detail}"),
    };
    Ok(RecordingRow {
        record_id,
        call_key: c.get()?,
        device_id: c.get()?,
        call_instance: c.get()?,
        meta: c.meta()?,
        call_start: c.get()?,
        call_end: c.get()?,
        recording_start: c.get()?,
        duration_ms: c.get()?,
        kind: {
            let s: String = c.get()?;
            RecordingKind::parse(&s).ok_or_else(|| corrupt(format!("unknown kind {s:?}")))?
        },
        audio: c.get()?,
        keep_days: c.get()?,
        archive_action: c.get()?,
        cti_initiated: c.get()?,
        agent_initiated: c.get()?,
        blackouts: c.get()?,
        locked: c.get()?,
        state: {
            let s: String = c.get()?;
            RecordingState::parse(&s).ok_or_else(|| corrupt(format!("unknown state {s:?}")))?
        },
        media_path: c.get()?,
        purged: c.get()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bound_increments_the_last_character() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_upper_bound("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
    }

    #[test]
    fn nul_is_stored_as_the_replacement_character() {
        assert!(matches!(text("plain"), Cow::Borrowed("plain")));
        assert_eq!(text("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(filter_value(TextField::Ani, "5\0"), "5\u{FFFD}");
    }

    #[test]
    fn user_fields_map_to_their_columns() {
        assert_eq!(text_column(TextField::User(1)).ok(), Some("user1"));
        assert_eq!(text_column(TextField::User(15)).ok(), Some("user15"));
        assert!(text_column(TextField::User(0)).is_err());
        assert!(text_column(TextField::User(16)).is_err());
    }

    #[test]
    fn statements_list_every_column() {
        assert_eq!(CALL_COLUMNS.len(), 33);
        assert_eq!(RECORDING_COLUMNS.len(), 43);
        assert!(UPSERT_RECORDING.contains("$43)"));
    }
}

/// SQLite's plans for the CALLLIST queries: the usual filters must be served by an index,
/// never a scan of the whole table. (PostgreSQL plans depend on table statistics, so they
/// are not pinned here.)
#[cfg(test)]
mod plans {
    use super::*;
    use crate::UserKey;
    use crate::directory::users_with_query;
    use sqlx::sqlite::SqlitePoolOptions;
    use sqlx::{Sqlite, SqlitePool};

    async fn catalog() -> SqlitePool {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        crate::SQLITE_MIGRATIONS.run(&pool).await.expect("migrate");
        pool
    }

    async fn plan(pool: &SqlitePool, filter: &RecordingFilter) -> Vec<String> {
        let mut qb = QueryBuilder::<Sqlite>::new("EXPLAIN QUERY PLAN ");
        qb.push(SELECT_RECORDINGS.as_str());
        push_filter(&mut qb, filter).expect("filter");
        qb.push(NEWEST_FIRST).push(" LIMIT ").push_bind(100_i64);
        let rows = qb.build().fetch_all(pool).await.expect("explain");
        rows.iter().map(|r| r.get::<String, _>(3)).collect()
    }

    fn text(field: TextField, m: TextMatch) -> RecordingFilter {
        RecordingFilter {
            text: vec![(field, m)],
            limit: 100,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn calllist_queries_use_indexes() {
        let pool = catalog().await;
        let newest = plan(&pool, &RecordingFilter::default()).await;
        assert_eq!(newest, ["SCAN recordings USING INDEX recordings_newest"]);

        for (field, index) in [
            (TextField::DeviceId, "recordings_device"),
            (TextField::AgentId, "recordings_agent"),
            (TextField::Ani, "recordings_ani"),
            (TextField::Dnis, "recordings_dnis"),
            (TextField::CallId, "recordings_call_id"),
            (TextField::User(1), "recordings_user1"),
        ] {
            // Exact: the index gives the rows already in newest-first order.
            let p = plan(&pool, &text(field, TextMatch::Exact("x".into()))).await;
            assert_eq!(p.len(), 1, "{field:?}: {p:?}");
            assert!(
                p[0].starts_with(&format!("SEARCH recordings USING INDEX {index} (")),
                "{p:?}"
            );
            // Prefix: a range on the same index, then a sort of what matched.
            let p = plan(&pool, &text(field, TextMatch::Prefix("x".into()))).await;
            assert!(
                p[0].starts_with(&format!("SEARCH recordings USING INDEX {index} (")),
                "{p:?}"
            );
        }

        let dates = RecordingFilter {
            from: Some(1),
            to: Some(2),
            limit: 100,
            ..Default::default()
        };
        let p = plan(&pool, &dates).await;
        assert!(
            p[0].starts_with("SEARCH recordings USING INDEX recordings_call_start ("),
            "{p:?}"
        );

        // GROUPID: the group's agents are found through group_members' key, once.
        let group = RecordingFilter {
            group_id: Some(1),
            limit: 100,
            ..Default::default()
        };
        let p = plan(&pool, &group).await;
        assert!(p.iter().any(|s| s.starts_with("LIST SUBQUERY")), "{p:?}");
    }

    /// The purge's look-ups read the expired or pending recordings off their partial
    /// indexes, never the whole table.
    #[tokio::test]
    async fn purge_queries_use_indexes() {
        let pool = catalog().await;
        for (query, index) in [
            (crate::retention::MARK_EXPIRED, "recordings_expiry"),
            (crate::retention::PENDING, "recordings_purge_pending"),
        ] {
            let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {query}"))
                .bind(1_i64)
                .bind(100_i64)
                .fetch_all(&pool)
                .await
                .expect("explain");
            let p: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
            assert!(
                p.iter().any(|s| s.contains(&format!("INDEX {index} ("))),
                "{query}: {p:?}"
            );
            assert!(!p.iter().any(|s| s == "SCAN recordings"), "{query}: {p:?}");
        }
    }

    /// The directory's look-ups say `NOT deleted`; the partial indexes must say the same,
    /// or SQLite cannot use them and reads every user.
    #[tokio::test]
    async fn directory_lookups_use_indexes() {
        let pool = catalog().await;
        for (query, index) in [
            (
                "SELECT user_id FROM users WHERE NOT deleted AND username = $1 \
                 AND user_id <> $2 ORDER BY user_id LIMIT 1",
                "users_username",
            ),
            (
                "SELECT user_id FROM users WHERE NOT deleted AND first_name = $1 \
                 AND last_name = $2 AND user_id <> $3 ORDER BY user_id LIMIT 1",
                "users_name",
            ),
            (
                "SELECT COUNT(*) FROM users WHERE NOT deleted AND sys_user = $1",
                "users_sys_user",
            ),
            (
                "SELECT COUNT(*) FROM users WHERE NOT deleted AND crm_user = $1",
                "users_crm_user",
            ),
            (&users_with_query(UserKey::Username), "users_username"),
            (&users_with_query(UserKey::SysUser), "users_sys_user"),
            (&users_with_query(UserKey::CrmUser), "users_crm_user"),
            (&users_with_query(UserKey::EmployeeId), "users_employee_id"),
            (&users_with_query(UserKey::Email), "users_email"),
        ] {
            let sql = format!("EXPLAIN QUERY PLAN {query}");
            let mut q = sqlx::query(&sql);
            for _ in 0..query.matches('$').count() {
                q = q.bind("x");
            }
            let rows = q.fetch_all(&pool).await.expect("explain");
            let p: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
            assert!(
                p.iter().any(|s| s.contains(&format!("INDEX {index} ("))),
                "{query}: {p:?}"
            );
        }
    }
}
