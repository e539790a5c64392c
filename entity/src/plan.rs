//! `plan`: a planner's dry run (a rebalance), kept so it can be read back and applied.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "plan")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `REBALANCE`.
    pub kind: String,
    pub system_id: i64,
    /// The unit (city to community) whose communities the plan covers.
    pub scope_id: i64,
    /// The system's version the plan was drawn on.
    pub base_version: i32,
    /// Unix seconds.
    pub created_at: i64,
    /// JSON: the bounds and switches asked for.
    #[sea_orm(column_type = "Text")]
    pub options: String,
    /// JSON: metrics and infeasibilities.
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    /// JSON array of the unit ids the plan retires.
    #[sea_orm(column_type = "Text")]
    pub removed_units: String,
    /// The system's version after the plan was applied; `None` until then.
    pub applied_version: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::plan_grid::Entity")]
    PlanGrid,
}

impl Related<super::plan_grid::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlanGrid.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
