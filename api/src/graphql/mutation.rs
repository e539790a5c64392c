//! `Mutation`: imports, all-or-nothing.

use async_graphql::{Context, Json, Object, ResultExt, ID};
use serde_json::Value;

use super::args;
use super::types::{state, ImportResult, LevelValue};
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
        let outcome = import_units(state, level.into(), &feature_collection.0, system)
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
        let outcome = import_households(state, &feature_collection.0)
            .await
            .extend()?;
        Ok(result(outcome))
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
