//! History: every version of every grid system (when, and what changed it), and every state a
//! grid or micro-grid has been in, so that `rollback` can restore an earlier version exactly.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SystemVersion {
    Table,
    SystemId,
    Version,
    At,
    Action,
}

#[derive(DeriveIden)]
enum UnitHistory {
    Table,
    Id,
    SystemId,
    UnitId,
    ValidFrom,
    ValidTo,
    Code,
    Name,
    Level,
    Kind,
    ParentId,
    Geometry,
    Locked,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SystemVersion::Table)
                    .if_not_exists()
                    .col(big_integer(SystemVersion::SystemId))
                    .col(integer(SystemVersion::Version))
                    // Unix seconds.
                    .col(big_integer(SystemVersion::At))
                    // What made the version: `importUnits GRID`, `applyRebalancePlan 7`, ...
                    .col(string(SystemVersion::Action))
                    .primary_key(
                        Index::create()
                            .col(SystemVersion::SystemId)
                            .col(SystemVersion::Version),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnitHistory::Table)
                    .if_not_exists()
                    .col(big_pk_auto(UnitHistory::Id))
                    .col(big_integer(UnitHistory::SystemId))
                    .col(big_integer(UnitHistory::UnitId))
                    // The unit was in this state from version `valid_from` up to, not
                    // including, `valid_to` (null: it still is).
                    .col(integer(UnitHistory::ValidFrom))
                    .col(integer_null(UnitHistory::ValidTo))
                    .col(string(UnitHistory::Code))
                    .col(string(UnitHistory::Name))
                    .col(string(UnitHistory::Level))
                    .col(string(UnitHistory::Kind))
                    .col(big_integer_null(UnitHistory::ParentId))
                    .col(blob(UnitHistory::Geometry))
                    .col(boolean(UnitHistory::Locked))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("unit_history_system")
                    .table(UnitHistory::Table)
                    .col(UnitHistory::SystemId)
                    .col(UnitHistory::ValidFrom)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("unit_history_unit")
                    .table(UnitHistory::Table)
                    .col(UnitHistory::UnitId)
                    .col(UnitHistory::ValidTo)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UnitHistory::Table.into_iden(),
            SystemVersion::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
