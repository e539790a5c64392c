//! Plans: a planner's dry run (a rebalance now, a merge later) stored with the grids it
//! proposes, so that it can be inspected, previewed on a map and applied as it was shown.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plan {
    Table,
    Id,
    Kind,
    SystemId,
    ScopeId,
    BaseVersion,
    CreatedAt,
    Options,
    Summary,
    RemovedUnits,
    AppliedVersion,
}

#[derive(DeriveIden)]
enum PlanGrid {
    Table,
    Id,
    PlanId,
    Position,
    Level,
    ParentPosition,
    CommunityId,
    UnitId,
    Status,
    Code,
    Name,
    Kind,
    Geometry,
    Households,
    Persons,
    PolsbyPopper,
    Infeasible,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plan::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Plan::Id))
                    // `REBALANCE` (merges will add theirs).
                    .col(string(Plan::Kind))
                    .col(big_integer(Plan::SystemId))
                    .col(big_integer(Plan::ScopeId))
                    // The system's version the plan was drawn on; applying needs it unchanged.
                    .col(integer(Plan::BaseVersion))
                    // Unix seconds.
                    .col(big_integer(Plan::CreatedAt))
                    // JSON: the bounds and switches the planner asked for.
                    .col(text(Plan::Options))
                    // JSON: the metrics and infeasibilities shown to the planner.
                    .col(text(Plan::Summary))
                    // JSON array of the unit ids the plan retires.
                    .col(text(Plan::RemovedUnits))
                    .col(integer_null(Plan::AppliedVersion))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlanGrid::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PlanGrid::Id))
                    .col(big_integer(PlanGrid::PlanId))
                    // Order within the plan; micro-grids point at their grid's position.
                    .col(integer(PlanGrid::Position))
                    .col(string(PlanGrid::Level))
                    .col(integer_null(PlanGrid::ParentPosition))
                    .col(big_integer(PlanGrid::CommunityId))
                    // The existing unit a kept or changed grid is.
                    .col(big_integer_null(PlanGrid::UnitId))
                    // `KEPT`, `CHANGED` or `NEW`.
                    .col(string(PlanGrid::Status))
                    .col(string(PlanGrid::Code))
                    .col(string(PlanGrid::Name))
                    .col(string(PlanGrid::Kind))
                    .col(blob(PlanGrid::Geometry))
                    .col(integer(PlanGrid::Households))
                    .col(integer(PlanGrid::Persons))
                    .col(double(PlanGrid::PolsbyPopper))
                    .col(string_null(PlanGrid::Infeasible))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PlanGrid::Table, PlanGrid::PlanId)
                            .to(Plan::Table, Plan::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("plan_grid_plan")
                    .table(PlanGrid::Table)
                    .col(PlanGrid::PlanId)
                    .col(PlanGrid::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [PlanGrid::Table.into_iden(), Plan::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
