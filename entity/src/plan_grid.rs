//! `plan_grid`: one grid or micro-grid a plan proposes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_grid")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub plan_id: i64,
    /// Order within the plan.
    pub position: i32,
    /// `GRID` or `MICRO_GRID`.
    pub level: String,
    /// A micro-grid's grid, by its position in the same plan.
    pub parent_position: Option<i32>,
    pub community_id: i64,
    /// The existing unit a kept or changed grid is.
    pub unit_id: Option<i64>,
    /// `KEPT`, `CHANGED` or `NEW`.
    pub status: String,
    /// A new grid's code is the one it will be issued when the plan is applied.
    pub code: String,
    pub name: String,
    /// `GENERAL` or `DEDICATED`.
    pub kind: String,
    /// WKB, WGS84 lon/lat.
    #[sea_orm(column_type = "Blob")]
    pub geometry: Vec<u8>,
    pub households: i32,
    pub persons: i32,
    pub polsby_popper: f64,
    /// `UNDER_MIN_INFEASIBLE`, `BUILDING_OVER_MAX`, `NO_FEASIBLE_SPLIT`, or `None`.
    pub infeasible: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::plan::Entity",
        from = "Column::PlanId",
        to = "super::plan::Column::Id"
    )]
    Plan,
}

impl Related<super::plan::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Plan.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
