//! GridMap's schema migrations, run at start-up by every `gridmap` subcommand
//! (`Migrator::up`), on SQLite and PostgreSQL alike. Each migration is dated and has a `down`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_tables;
mod m20261122_000002_create_plans;
mod m20261122_000003_create_access;
mod m20261122_000003_create_history;
mod m20261122_000004_create_crosswalk;

/// All migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_tables::Migration),
            Box::new(m20261122_000002_create_plans::Migration),
            Box::new(m20261122_000003_create_access::Migration),
            Box::new(m20261122_000003_create_history::Migration),
            Box::new(m20261122_000004_create_crosswalk::Migration),
        ]
    }
}
