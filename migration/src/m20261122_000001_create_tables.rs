//! The first schema: grid systems, units (WKB geometry with envelope columns for bbox
//! queries), households, and the code counters that keep retired codes from being reused.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GridSystem {
    Table,
    Id,
    Name,
    Department,
    Version,
    IsDefault,
}

#[derive(DeriveIden)]
enum Unit {
    Table,
    Id,
    SystemId,
    Code,
    Name,
    Level,
    Kind,
    ParentId,
    Geometry,
    MinLon,
    MinLat,
    MaxLon,
    MaxLat,
    AreaM2,
    HouseholdCount,
    PersonCount,
    Locked,
}

#[derive(DeriveIden)]
enum Household {
    Table,
    Id,
    Lon,
    Lat,
    Persons,
    Building,
    UnitId,
}

#[derive(DeriveIden)]
enum CodeCounter {
    Table,
    SystemId,
    ParentCode,
    Level,
    LastIssued,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GridSystem::Table)
                    .if_not_exists()
                    .col(big_pk_auto(GridSystem::Id))
                    .col(string_uniq(GridSystem::Name))
                    .col(string_null(GridSystem::Department))
                    .col(integer(GridSystem::Version).default(1))
                    .col(boolean(GridSystem::IsDefault).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Unit::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Unit::Id))
                    // 0 for the administrative levels (city to community), which every grid
                    // system shares; a grid system's id for its grids and micro-grids.
                    .col(big_integer(Unit::SystemId).default(0))
                    .col(string(Unit::Code))
                    .col(string(Unit::Name))
                    .col(string(Unit::Level))
                    .col(string(Unit::Kind))
                    .col(big_integer_null(Unit::ParentId))
                    .col(blob(Unit::Geometry))
                    .col(double(Unit::MinLon))
                    .col(double(Unit::MinLat))
                    .col(double(Unit::MaxLon))
                    .col(double(Unit::MaxLat))
                    .col(double(Unit::AreaM2))
                    .col(big_integer(Unit::HouseholdCount).default(0))
                    .col(big_integer(Unit::PersonCount).default(0))
                    .col(boolean(Unit::Locked).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Unit::Table, Unit::ParentId)
                            .to(Unit::Table, Unit::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("unit_system_code")
                    .table(Unit::Table)
                    .col(Unit::SystemId)
                    .col(Unit::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("unit_parent")
                    .table(Unit::Table)
                    .col(Unit::ParentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("unit_level")
                    .table(Unit::Table)
                    .col(Unit::Level)
                    .col(Unit::SystemId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Household::Table)
                    .if_not_exists()
                    .col(string(Household::Id).primary_key())
                    .col(double(Household::Lon))
                    .col(double(Household::Lat))
                    .col(integer(Household::Persons))
                    .col(string_null(Household::Building))
                    // The deepest unit of the default grid system holding the household.
                    .col(big_integer_null(Household::UnitId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Household::Table, Household::UnitId)
                            .to(Unit::Table, Unit::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("household_unit")
                    .table(Household::Table)
                    .col(Household::UnitId)
                    .col(Household::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("household_position")
                    .table(Household::Table)
                    .col(Household::Lon)
                    .col(Household::Lat)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CodeCounter::Table)
                    .if_not_exists()
                    .col(big_integer(CodeCounter::SystemId))
                    .col(string(CodeCounter::ParentCode))
                    .col(string(CodeCounter::Level))
                    .col(integer(CodeCounter::LastIssued))
                    .primary_key(
                        Index::create()
                            .col(CodeCounter::SystemId)
                            .col(CodeCounter::ParentCode)
                            .col(CodeCounter::Level),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CodeCounter::Table.into_iden(),
            Household::Table.into_iden(),
            Unit::Table.into_iden(),
            GridSystem::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
