//! Connecting to SQLite or PostgreSQL and bringing the schema up to date.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

/// Connects to `url` and runs every pending migration. SQLite files are put in WAL mode so
/// that readers do not wait for a writer.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite && !url.contains(":memory:") {
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// After a bulk write, folds SQLite's write-ahead log back into the database file: a log as
/// large as the import (1.7 GB after the full city's households) is otherwise read through
/// at the next start-up, which then took 6.5-7.7 s instead of 4.6-5.3 s. Nothing to do on
/// PostgreSQL. The write has committed already, so a failure here is only logged.
pub async fn checkpoint(db: &DatabaseConnection) {
    if db.get_database_backend() == DbBackend::Sqlite {
        if let Err(error) = db
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
        {
            tracing::warn!(%error, "the write-ahead log was not checkpointed");
        }
    }
}
