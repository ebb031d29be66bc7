//! The store's errors. Messages name what failed, never a file path or a connection string,
//! because they end up in API answers and logs that users see.

use std::sync::Arc;

/// Why a store operation failed.
///
/// `Clone` because one failed group commit is reported to every caller in the batch.
#[derive(thiserror::Error, Debug, Clone)]
pub enum StoreError {
    /// `database` was neither a file path, a `sqlite:` URL nor a `postgres://` URL.
    #[error(
        "unsupported database location: expected a file path, a sqlite: URL or a postgres:// URL"
    )]
    UnsupportedDatabase,
    /// The database answered with an error, or could not be reached. The message holds
    /// its causes already, so the error gives no source (a report of the whole chain would
    /// say each cause again).
    #[error("{}", database_message(.0))]
    Database(Arc<sqlx::Error>),
    /// The database server did not answer in time.
    #[error("database error: the database server did not answer within 10 s")]
    Unreachable,
    /// The schema could not be brought up to date.
    /// No source, as `Database`.
    #[error("database migration failed: {0}")]
    Migrate(Arc<sqlx::migrate::MigrateError>),
    /// A row holds a value the model has no name for (written by something other than callvault).
    #[error("corrupt row in {table}: {detail}")]
    CorruptRow { table: &'static str, detail: String },
    /// `TextField::User(n)` with `n` outside 1..=15.
    #[error("there is no USER{0} field (USER1 to USER15)")]
    UnknownUserField(u8),
    /// A password could not be hashed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The store was closed (or its writer stopped) before the write could be made durable.
    #[error("the store is closed")]
    Closed,
}

/// What the database server said for an error it answered with (`database "x" does not
/// exist`), without sqlx's prefix; sqlx's message for any other error.
fn database_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(Arc::new(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(Arc::new(e))
    }
}
