//! Household and person counts kept along chains: when a household appears, moves or goes,
//! every unit on its old chain loses it and every unit on its new chain gains it, in every
//! grid system, without a recount. In the default system the chain starts at the household's
//! stored unit; in the others at its deepest unit there, and only their grids are counted (the
//! shared levels are counted once, through the default system).

use geo::Point;
use geodata::{Index, UnitId};

use crate::catalog::Catalog;
use crate::service::writes::CountDeltas;

/// Adds `sign` households of `persons` each to every unit on the chain of `deepest` in
/// `index` for which `counted` holds.
pub fn add_along_chain(
    deltas: &mut CountDeltas,
    index: &Index,
    deepest: Option<UnitId>,
    counted: impl Fn(&geodata::Unit) -> bool,
    sign: i64,
    persons: i64,
) {
    let Some(slot) = deepest.and_then(|id| index.slot(id)) else {
        return;
    };
    for s in index.chain_of_slot(slot) {
        let unit = index.unit(s);
        if counted(unit) {
            let delta = deltas.entry(unit.id).or_default();
            delta.0 += sign;
            delta.1 += sign * persons;
        }
    }
}

/// Counts (`sign` = 1) or uncounts (-1) one household at `point` in every grid system;
/// `default_unit` is its deepest unit in the default system.
pub fn count_household(
    deltas: &mut CountDeltas,
    catalog: &Catalog,
    point: Point<f64>,
    default_unit: Option<UnitId>,
    persons: i64,
    sign: i64,
) {
    for system in catalog.systems() {
        let Ok(index) = catalog.index(system) else {
            continue;
        };
        if system == catalog.default_system {
            add_along_chain(deltas, index, default_unit, |_| true, sign, persons);
        } else {
            let deepest = index.deepest(point).map(|u| u.id);
            add_along_chain(deltas, index, deepest, |u| u.level.is_grid(), sign, persons);
        }
    }
}
