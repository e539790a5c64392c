//! The wire types: `Unit`, `Household`, `GridSystem`, `ImportResult`, the `Level` and
//! `GridKind` enums and the Relay connections, each converted explicitly from a row.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, Json, Object, ResultExt, SimpleObject, ID};
use entity::{grid_system, household, unit};
use serde_json::Value;

use super::args;
use super::loader::UnitLoader;
use crate::access::{Needs, Role};
use crate::catalog::{Catalog, SHARED_LEVELS};
use crate::error::{ApiError, ApiResult};
use crate::service::units::{page_units, Page, UnitFilter};
use crate::state::AppState;

/// A level of the hierarchy.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Level")]
pub enum LevelValue {
    City,
    District,
    Street,
    Community,
    Grid,
    MicroGrid,
}

impl From<LevelValue> for geodata::Level {
    fn from(level: LevelValue) -> Self {
        match level {
            LevelValue::City => geodata::Level::City,
            LevelValue::District => geodata::Level::District,
            LevelValue::Street => geodata::Level::Street,
            LevelValue::Community => geodata::Level::Community,
            LevelValue::Grid => geodata::Level::Grid,
            LevelValue::MicroGrid => geodata::Level::MicroGrid,
        }
    }
}

impl From<geodata::Level> for LevelValue {
    fn from(level: geodata::Level) -> Self {
        match level {
            geodata::Level::City => LevelValue::City,
            geodata::Level::District => LevelValue::District,
            geodata::Level::Street => LevelValue::Street,
            geodata::Level::Community => LevelValue::Community,
            geodata::Level::Grid => LevelValue::Grid,
            geodata::Level::MicroGrid => LevelValue::MicroGrid,
        }
    }
}

/// A coordinate system for positions in and out; storage is WGS84 (CGCS2000 counts as WGS84).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
#[graphql(name = "Crs")]
pub enum CrsValue {
    #[default]
    #[graphql(name = "WGS84")]
    Wgs84,
    /// AMap, Tencent.
    #[graphql(name = "GCJ02")]
    Gcj02,
    /// Baidu.
    #[graphql(name = "BD09")]
    Bd09,
}

impl From<CrsValue> for geodata::crs::Crs {
    fn from(crs: CrsValue) -> Self {
        match crs {
            CrsValue::Wgs84 => geodata::crs::Crs::Wgs84,
            CrsValue::Gcj02 => geodata::crs::Crs::Gcj02,
            CrsValue::Bd09 => geodata::crs::Crs::Bd09,
        }
    }
}

/// General grid (a worker's patch of homes) or dedicated grid (office tower, park, campus).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "GridKind")]
pub enum GridKindValue {
    General,
    Dedicated,
}

/// Extra fields of a connection.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ConnectionTotals {
    /// How many items the whole list holds, over all pages.
    pub total_count: u64,
}

/// `UnitConnection`.
pub type UnitConnection = Connection<String, UnitNode, ConnectionTotals>;
/// `HouseholdConnection`.
pub type HouseholdConnection = Connection<String, HouseholdNode, ConnectionTotals>;

/// Builds a Relay connection from a page, each item's cursor given by `cursor`.
pub fn connection<T, N>(
    page: Page<T>,
    after_given: bool,
    cursor: impl Fn(&T) -> String,
    node: impl Fn(T) -> N,
) -> Connection<String, N, ConnectionTotals>
where
    N: async_graphql::OutputType,
{
    let mut connection = Connection::with_additional_fields(
        after_given,
        page.has_next,
        ConnectionTotals {
            total_count: page.total,
        },
    );
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(cursor(&item), node(item))),
    );
    connection
}

/// A unit of the hierarchy.
#[derive(Clone, Debug)]
pub struct UnitNode(pub unit::Model);

impl UnitNode {
    fn engine_level(&self) -> Option<geodata::Level> {
        self.0.level.parse().ok()
    }

    fn is_grid(&self) -> bool {
        self.engine_level().is_some_and(|l| l.is_grid())
    }
}

/// A page of units as a Relay connection: the common tail of `units` and `Unit.children`.
pub async fn unit_connection(
    state: &AppState,
    catalog: &Catalog,
    filter: &UnitFilter,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<UnitConnection> {
    catalog.index(filter.system).extend()?;
    let first = args::page_size(first).extend()?;
    let after_id = args::id_cursor(after.as_deref()).extend()?;
    let page = page_units(&state.db, catalog, filter, after_id, first)
        .await
        .extend()?;
    Ok(connection(
        page,
        after.is_some(),
        |u| u.id.to_string(),
        UnitNode,
    ))
}

/// Stored WKB as a GeoJSON geometry (RFC 7946) in `crs`.
pub fn geometry_in(wkb: &[u8], crs: CrsValue) -> async_graphql::Result<Json<Value>> {
    let geometry = geodata::encoding::from_wkb(wkb)
        .map_err(ApiError::from)
        .extend()?;
    let geometry = geodata::crs::geometry_from_wgs84(crs.into(), &geometry);
    Ok(Json(geodata::export::geometry_json(&geometry)))
}

/// Loads units by id, in the order of `ids`.
pub async fn load_units(ctx: &Context<'_>, ids: &[i64]) -> ApiResult<Vec<UnitNode>> {
    let loader = ctx
        .data::<DataLoader<UnitLoader>>()
        .map_err(|e| ApiError::Internal(e.message))?;
    let found = loader
        .load_many(ids.iter().copied())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).cloned().map(UnitNode))
        .collect())
}

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> ApiResult<&'a Arc<AppState>> {
    ctx.data::<Arc<AppState>>()
        .map_err(|e| ApiError::Internal(e.message))
}

#[Object(name = "Unit")]
impl UnitNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The unified hierarchical code, the unit's "ID card".
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn level(&self) -> async_graphql::Result<LevelValue> {
        self.engine_level()
            .map(LevelValue::from)
            .ok_or_else(|| ApiError::Internal(format!("unit {} has no level", self.0.id)))
            .extend()
    }

    /// GENERAL or DEDICATED, for grids and micro-grids only.
    async fn kind(&self) -> Option<GridKindValue> {
        let kind = match self.0.kind.as_str() {
            "DEDICATED" => GridKindValue::Dedicated,
            _ => GridKindValue::General,
        };
        self.is_grid().then_some(kind)
    }

    /// The grid system a grid belongs to (null for the shared administrative levels).
    async fn system_id(&self) -> Option<ID> {
        (self.0.system_id != SHARED_LEVELS).then(|| ID(self.0.system_id.to_string()))
    }

    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(load_units(ctx, &[parent])
            .await
            .extend()?
            .into_iter()
            .next())
    }

    /// The units directly below, by id; for a community, the grids of `system` (default:
    /// the default grid system).
    async fn children(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        system: Option<ID>,
    ) -> async_graphql::Result<UnitConnection> {
        let state = state(ctx).extend()?;
        let catalog = state.catalog().extend()?;
        let system = match args::parse_optional_id(system.as_ref(), "system").extend()? {
            Some(system) => system,
            None if self.0.system_id != SHARED_LEVELS => self.0.system_id,
            None => catalog.default_system,
        };
        let filter = UnitFilter {
            parent_id: Some(self.0.id),
            system,
            ..UnitFilter::default()
        };
        unit_connection(state, &catalog, &filter, first, after).await
    }

    /// Every unit above, nearest first, up to the city.
    async fn ancestors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UnitNode>> {
        let catalog = state(ctx).extend()?.catalog().extend()?;
        let system = if self.0.system_id == SHARED_LEVELS {
            catalog.default_system
        } else {
            self.0.system_id
        };
        let ids = catalog.ancestors(system, self.0.id);
        load_units(ctx, &ids).await.extend()
    }

    /// The outline as a GeoJSON MultiPolygon (RFC 7946: lon/lat, exterior rings
    /// counter-clockwise), in `crs`.
    async fn geometry(
        &self,
        #[graphql(default)] crs: CrsValue,
    ) -> async_graphql::Result<Json<Value>> {
        geometry_in(&self.0.geometry, crs)
    }

    /// Households inside the unit (at any level below it too).
    async fn household_count(&self) -> i64 {
        self.0.household_count
    }

    async fn person_count(&self) -> i64 {
        self.0.person_count
    }

    /// Geodesic area on the WGS84 ellipsoid, in m².
    async fn area_m2(&self) -> f64 {
        self.0.area_m2
    }

    /// Whether planners locked the grid against redrawing (grids only).
    async fn locked(&self) -> Option<bool> {
        self.is_grid().then_some(self.0.locked)
    }
}

/// A dwelling or business. Its position, persons and building are personal data: admins
/// only (planners who add, move or remove one see its id and unit).
#[derive(Clone, Debug)]
pub struct HouseholdNode(pub household::Model);

#[Object(name = "Household")]
impl HouseholdNode {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    #[graphql(guard = "Needs(Role::Admin)")]
    async fn lon(&self) -> f64 {
        self.0.lon
    }

    #[graphql(guard = "Needs(Role::Admin)")]
    async fn lat(&self) -> f64 {
        self.0.lat
    }

    #[graphql(guard = "Needs(Role::Admin)")]
    async fn persons(&self) -> i32 {
        self.0.persons
    }

    /// The building key households share.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn building(&self) -> Option<&str> {
        self.0.building.as_deref()
    }

    /// The deepest unit of the default grid system holding the household.
    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        let Some(unit) = self.0.unit_id else {
            return Ok(None);
        };
        Ok(load_units(ctx, &[unit]).await.extend()?.into_iter().next())
    }
}

/// A layer of grids.
#[derive(Clone, Debug)]
pub struct GridSystemNode(pub grid_system::Model);

#[Object(name = "GridSystem")]
impl GridSystemNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The department that drew the layer, if any.
    async fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }

    /// Goes up by one with every change to the system's grids.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Whether `locate` and the other queries use this system when none is named.
    async fn is_default(&self) -> bool {
        self.0.is_default
    }

    /// Every version on record, oldest first: when it was made and by what. `rollback`
    /// restores any of them.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GridSystemVersion>> {
        let state = state(ctx).extend()?;
        let versions = crate::service::history::versions(&state.db, self.0.id)
            .await
            .extend()?;
        Ok(versions
            .into_iter()
            .map(|v| GridSystemVersion {
                version: v.version,
                at: rfc3339(v.at),
                action: v.action,
            })
            .collect())
    }
}

/// One version of a grid system.
#[derive(SimpleObject, Debug, Clone)]
pub struct GridSystemVersion {
    pub version: i32,
    /// When it was made (RFC 3339, UTC).
    pub at: String,
    /// What made it: `importUnits GRID`, `applyRebalancePlan 7`, `rollback to 3`, ...
    pub action: String,
}

/// Unix seconds as RFC 3339 UTC (`2026-11-22T04:30:00Z`), by the civil-from-days algorithm
/// (H. Hinnant), to spare a date crate for one format.
pub fn rfc3339(unix_seconds: i64) -> String {
    let (days, seconds) = (
        unix_seconds.div_euclid(86_400),
        unix_seconds.rem_euclid(86_400),
    );
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3_600,
        seconds % 3_600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_321_845), "2026-11-22T04:30:45Z");
    }
}

/// What an import did.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct ImportResult {
    /// Units or households imported.
    pub imported: u64,
    /// Households whose deepest unit changed because of the import.
    pub reassigned_households: u64,
    /// Imported households that fall in no grid (household imports only).
    pub households_outside_grids: Option<u64>,
    #[graphql(skip)]
    pub unit_ids: Vec<i64>,
    #[graphql(skip)]
    pub system: grid_system::Model,
}

#[ComplexObject]
impl ImportResult {
    /// The imported units, in the order of the features.
    async fn units(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UnitNode>> {
        load_units(ctx, &self.unit_ids).await.extend()
    }

    /// The grid system as it is after the import.
    async fn system(&self) -> GridSystemNode {
        GridSystemNode(self.system.clone())
    }
}
