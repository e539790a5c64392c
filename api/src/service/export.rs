//! GeoJSON downloads of units: a FeatureCollection written feature by feature, so the HTTP
//! route can stream it and the command line can write it, without holding the whole text;
//! and a plan's proposed grids, for map previews.

use std::collections::HashMap;
use std::sync::Arc;

use entity::unit;
use geodata::crs::Crs;
use geodata::index::Slot;
use geodata::{Index, Level};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{json, Map, Value};

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};

/// The text before the first feature.
pub const HEADER: &str = r#"{"type":"FeatureCollection","features":["#;
/// The text after the last feature.
pub const FOOTER: &str = "]}\n";

/// Which units to export.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub level: Option<Level>,
    /// Only units inside (below) the unit with this code.
    pub within: Option<String>,
    /// The grid system (default: the default one).
    pub system: Option<i64>,
    /// The coordinate system of the output.
    pub crs: Crs,
}

/// A prepared export: which units, with their counts.
#[derive(Debug)]
pub struct Export {
    crs: Crs,
    index: Arc<Index>,
    slots: Vec<Slot>,
    counts: HashMap<i64, (i64, i64)>,
}

/// Selects the units and reads their counts.
///
/// # Errors
/// `NOT_FOUND` when `within` names no unit of the system.
pub async fn prepare_export(
    db: &impl ConnectionTrait,
    catalog: &Catalog,
    filter: &ExportFilter,
) -> ApiResult<Export> {
    let system = filter.system.unwrap_or(catalog.default_system);
    let index = Arc::clone(catalog.index(system)?);
    let within = match &filter.within {
        Some(code) => Some(
            index
                .units()
                .iter()
                .position(|u| &u.code == code)
                .map(|slot| slot as Slot)
                .ok_or_else(|| ApiError::NotFound(format!("no unit has code {code:?}")))?,
        ),
        None => None,
    };
    let slots: Vec<Slot> = (0..index.len() as Slot)
        .filter(|&slot| {
            filter
                .level
                .is_none_or(|level| index.unit(slot).level == level)
        })
        .filter(|&slot| within.is_none_or(|w| index.chain_of_slot(slot).any(|s| s == w)))
        .collect();
    let mut query = unit::Entity::find().select_only().columns([
        unit::Column::Id,
        unit::Column::HouseholdCount,
        unit::Column::PersonCount,
    ]);
    if let Some(level) = filter.level {
        query = query.filter(unit::Column::Level.eq(level.as_str()));
    }
    let rows: Vec<(i64, i64, i64)> = query.into_tuple().all(db).await?;
    let counts = rows.into_iter().map(|(id, h, p)| (id, (h, p))).collect();
    Ok(Export {
        crs: filter.crs,
        index,
        slots,
        counts,
    })
}

impl Export {
    /// How many features.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there is no feature.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Features `range` as text, each preceded by a comma except the very first.
    pub fn write_features(&self, range: std::ops::Range<usize>, out: &mut String) {
        for i in range {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&self.feature(self.slots[i]).to_string());
        }
    }

    fn feature(&self, slot: Slot) -> Value {
        let id = self.index.unit(slot).id;
        let counts = self.counts.get(&id).copied().unwrap_or_default();
        unit_feature(&self.index, slot, counts, self.crs)
    }
}

/// A unit as a GeoJSON Feature: id, properties `id code name level parentCode households
/// persons` (and `kind` for grids), geometry in `crs`.
pub fn unit_feature(
    index: &Index,
    slot: Slot,
    (households, persons): (i64, i64),
    crs: Crs,
) -> Value {
    let unit = index.unit(slot);
    let parent_code = index
        .parent_of_slot(slot)
        .map(|p| index.unit(p).code.clone());
    let mut properties = Map::new();
    properties.insert("id".into(), json!(unit.id.to_string()));
    properties.insert("code".into(), json!(unit.code));
    properties.insert("name".into(), json!(unit.name));
    properties.insert("level".into(), json!(unit.level.as_str()));
    properties.insert("parentCode".into(), json!(parent_code));
    properties.insert("households".into(), json!(households));
    properties.insert("persons".into(), json!(persons));
    if unit.level.is_grid() {
        properties.insert("kind".into(), json!(unit.kind.as_str()));
    }
    let geometry = geodata::crs::geometry_from_wgs84(crs, &unit.geometry);
    geodata::export::feature_json(Some(json!(unit.id.to_string())), properties, &geometry)
}

/// A plan's grids as a GeoJSON FeatureCollection for map previews: properties `code name
/// level kind communityCode households persons status` (`kept`, `changed`, `new`)
/// `polsbyPopper infeasible` (null or the reason code), geometry in `crs`.
pub async fn plan_feature_collection(
    db: &impl ConnectionTrait,
    catalog: &Catalog,
    plan_id: i64,
    crs: Crs,
) -> ApiResult<Value> {
    let plan = entity::plan::Entity::find_by_id(plan_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("plan {plan_id} does not exist")))?;
    // Merge plans name their system only once applied; communities are in every index.
    let index = catalog
        .index(plan.system_id)
        .or_else(|_| catalog.index(catalog.default_system))?;
    let rows = crate::service::rebalance::plan_grids(db, plan_id).await?;
    let mut features = Vec::with_capacity(rows.len());
    for row in rows {
        let geometry = geodata::encoding::from_wkb(&row.geometry)?;
        let community_code = index.get(row.community_id).map(|u| u.code.clone());
        let mut properties = Map::new();
        properties.insert("code".into(), json!(row.code));
        properties.insert("name".into(), json!(row.name));
        properties.insert("level".into(), json!(row.level));
        properties.insert("kind".into(), json!(row.kind));
        properties.insert("communityCode".into(), json!(community_code));
        properties.insert("households".into(), json!(row.households));
        properties.insert("persons".into(), json!(row.persons));
        properties.insert("status".into(), json!(row.status.to_lowercase()));
        properties.insert("polsbyPopper".into(), json!(row.polsby_popper));
        properties.insert("infeasible".into(), json!(row.infeasible));
        if let Some(unit_id) = row.unit_id {
            properties.insert("unitId".into(), json!(unit_id.to_string()));
        }
        let geometry = geodata::crs::geometry_from_wgs84(crs, &geometry);
        features.push(geodata::export::feature_json(
            Some(json!(row.position)),
            properties,
            &geometry,
        ));
    }
    Ok(json!({
        "type": "FeatureCollection",
        "planId": plan_id.to_string(),
        "kind": plan.kind,
        "baseVersion": plan.base_version,
        "features": features,
    }))
}
