//! `system_version`: one row per version of a grid system: when it was made, and by what.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "system_version")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub system_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// Unix seconds.
    pub at: i64,
    /// What made the version: `importUnits GRID`, `applyRebalancePlan 7`, `rollback to 3`, ...
    pub action: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
