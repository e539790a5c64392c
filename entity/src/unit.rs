//! `unit`: one polygon of the hierarchy, city to micro-grid.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "unit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 0 for the shared administrative levels, else the grid system's id.
    pub system_id: i64,
    pub code: String,
    pub name: String,
    /// `CITY`, `DISTRICT`, `STREET`, `COMMUNITY`, `GRID` or `MICRO_GRID`.
    pub level: String,
    /// `GENERAL` or `DEDICATED`.
    pub kind: String,
    pub parent_id: Option<i64>,
    /// WKB, WGS84 lon/lat.
    #[sea_orm(column_type = "Blob")]
    pub geometry: Vec<u8>,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
    pub area_m2: f64,
    pub household_count: i64,
    pub person_count: i64,
    pub locked: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "Entity", from = "Column::ParentId", to = "Column::Id")]
    Parent,
}

impl ActiveModelBehavior for ActiveModel {}
