//! `crosswalk`: how much of a source grid went to a unified grid.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "crosswalk")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The unified grid system the merge created.
    pub unified_system_id: i64,
    /// The source grid (of a department's system).
    pub from_unit_id: i64,
    /// The unified grid.
    pub to_unit_id: i64,
    /// Share of the source grid's area in the unified grid.
    pub area_share: f64,
    /// Share of the source grid's households in the unified grid.
    pub household_share: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
