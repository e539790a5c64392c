//! The crosswalk of a unified grid system: for every source grid, the unified grids that
//! replace it, with the shares of its area and of its households in each.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Crosswalk {
    Table,
    Id,
    UnifiedSystemId,
    FromUnitId,
    ToUnitId,
    AreaShare,
    HouseholdShare,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Crosswalk::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Crosswalk::Id))
                    .col(big_integer(Crosswalk::UnifiedSystemId))
                    // A source grid (of a department's system) and a unified grid; no foreign
                    // keys, so the crosswalk outlives later changes to either system.
                    .col(big_integer(Crosswalk::FromUnitId))
                    .col(big_integer(Crosswalk::ToUnitId))
                    .col(double(Crosswalk::AreaShare))
                    .col(double(Crosswalk::HouseholdShare))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("crosswalk_from", Crosswalk::FromUnitId),
            ("crosswalk_to", Crosswalk::ToUnitId),
            ("crosswalk_system", Crosswalk::UnifiedSystemId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Crosswalk::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Crosswalk::Table).to_owned())
            .await
    }
}
