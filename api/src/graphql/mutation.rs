//! `Mutation`: imports (all-or-nothing) and single household changes.

use async_graphql::{Context, Json, Object, ResultExt, ID};
use serde_json::Value;

use super::args;
use super::types::{state, HouseholdNode, ImportResult, LevelValue};
use crate::service::households::{add_household, move_household, remove_household, NewHousehold};
use crate::service::import::{import_households, import_units, ImportOutcome};

/// The root of mutations.
#[derive(Debug, Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Imports a GeoJSON FeatureCollection of polygons as units of `level`. Feature
    /// properties: `name` (required), `code` (optional: issued under the parent when absent),
    /// `parentCode` (optional: found by containment when absent), `kind` (GENERAL or
    /// DEDICATED, grids only). Grids go to `system` (default: the default grid system).
    /// All or nothing: any fault refuses the whole collection.
    async fn import_units(
        &self,
        ctx: &Context<'_>,
        level: LevelValue,
        feature_collection: Json<Value>,
        system: Option<ID>,
    ) -> async_graphql::Result<ImportResult> {
        let state = state(ctx).extend()?;
        let system = args::parse_optional_id(system.as_ref(), "system").extend()?;
        let collection = args::json_document(feature_collection.0, "featureCollection").extend()?;
        let outcome = import_units(state, level.into(), collection, system)
            .await
            .extend()?;
        Ok(result(outcome))
    }

    /// Imports a GeoJSON FeatureCollection of household points: `id` (feature id or
    /// property, unique), `persons` (default 1), `building` (optional key). Each is assigned
    /// to its deepest unit and counted along its chain. All or nothing.
    async fn import_households(
        &self,
        ctx: &Context<'_>,
        feature_collection: Json<Value>,
    ) -> async_graphql::Result<ImportResult> {
        let state = state(ctx).extend()?;
        let collection = args::json_document(feature_collection.0, "featureCollection").extend()?;
        let outcome = import_households(state, &collection).await.extend()?;
        Ok(result(outcome))
    }

    /// Adds one household at a point; it is assigned to its deepest unit and counted along its
    /// chain in every grid system.
    async fn add_household(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lon: f64,
        lat: f64,
        #[graphql(default = 1)] persons: u32,
        building: Option<String>,
    ) -> async_graphql::Result<HouseholdNode> {
        let state = state(ctx).extend()?;
        let new = NewHousehold {
            id: id.0,
            lon,
            lat,
            persons,
            building,
        };
        Ok(HouseholdNode(add_household(state, new).await.extend()?))
    }

    /// Moves one household; counts leave its old chain and join its new one.
    async fn move_household(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lon: f64,
        lat: f64,
    ) -> async_graphql::Result<HouseholdNode> {
        let state = state(ctx).extend()?;
        Ok(HouseholdNode(
            move_household(state, &id, lon, lat).await.extend()?,
        ))
    }

    /// Removes one household and uncounts it; answers the household as it was.
    async fn remove_household(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<HouseholdNode> {
        let state = state(ctx).extend()?;
        Ok(HouseholdNode(remove_household(state, &id).await.extend()?))
    }
}

fn result(outcome: ImportOutcome) -> ImportResult {
    ImportResult {
        imported: (outcome.unit_ids.len() + outcome.households) as u64,
        reassigned_households: outcome.reassigned as u64,
        households_outside_grids: outcome.outside_grids.map(|n| n as u64),
        unit_ids: outcome.unit_ids,
        system: outcome.system,
    }
}
