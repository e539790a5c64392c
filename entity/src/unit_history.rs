//! `unit_history`: every state a grid or micro-grid has been in, with the versions of its
//! system during which it held.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub system_id: i64,
    pub unit_id: i64,
    /// The first version with this state.
    pub valid_from: i32,
    /// The first version without it; `None` while it is current.
    pub valid_to: Option<i32>,
    pub code: String,
    pub name: String,
    pub level: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    /// WKB, WGS84 lon/lat.
    #[sea_orm(column_type = "Blob")]
    pub geometry: Vec<u8>,
    pub locked: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
