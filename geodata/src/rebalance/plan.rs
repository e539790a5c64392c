//! Planning one community: which grids stay, which are redrawn, and the new grids and
//! micro-grids of the redrawn region (see the module doc of [`super`] for the method).

use std::collections::{HashMap, HashSet};

use geo::{BoundingRect, Intersects, MultiPolygon, Rect};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_shape::int::shape::{IntShape, IntShapes};

use super::cells::{self, Graph};
use super::partition::{part_count, partition, shortfall, Rng};
use super::plane::{self, Plane};
use super::{
    Bounds, CommunityInput, CommunityPlan, ExistingGrid, GridStatus, Infeasibility, Options,
    PlannedGrid, PlannedMicroGrid,
};
use crate::measure::metres_per_degree;
use crate::{GridKind, UnitId};

/// Areas below this (m²) are rounding, not land: overlaps, gaps and slivers smaller than a
/// tenth of a square metre are ignored.
const SLIVER_M2: f64 = 0.1;
/// Two regions sharing less boundary than this (m) only touch.
const TOUCH_M: f64 = 0.01;

/// One part of a division: its nodes, and why it is out of bounds if it is.
pub(crate) struct Part {
    pub(crate) nodes: Vec<usize>,
    /// A building over the maximum, alone.
    pub(crate) dedicated: bool,
    pub(crate) infeasible: Option<Infeasibility>,
}

pub(super) fn plan(input: &CommunityInput, options: &Options) -> CommunityPlan {
    let households = &input.households;
    let Some(mut plane) = Plane::new(&input.geometry) else {
        return unchanged(input, options);
    };
    let sliver = SLIVER_M2 * plane.per_metre * plane.per_metre;
    let touch = TOUCH_M * plane.per_metre;
    // The community and its grids on the grid, each vertex on every edge it lies on (see
    // `plane::node`): no needle is left between a grid and the community's edge, or between
    // two grids, where their borders run together.
    let mut polygons: Vec<IntShapes> = std::iter::once(&input.geometry)
        .chain(input.grids.iter().map(|g| &g.geometry))
        .map(|geometry| plane.shapes(geometry))
        .collect();
    plane::node(&mut polygons);
    let grids = polygons.split_off(1);
    let community = polygons.pop().unwrap_or_default();
    let boxes: Vec<Option<Rect<f64>>> = input
        .grids
        .iter()
        .map(|g| g.geometry.bounding_rect())
        .collect();
    let fixed: Vec<bool> = input
        .grids
        .iter()
        .map(|g| g.locked || g.kind == GridKind::Dedicated)
        .collect();

    // Where every household is now, by position (closed polygons; the grid it is recorded in
    // wins on a shared border).
    let located: Vec<Option<usize>> = households
        .iter()
        .zip(&input.current_grid)
        .map(|(household, current)| {
            let holders: Vec<usize> = (0..input.grids.len())
                .filter(|&g| {
                    boxes[g].is_some_and(|b| b.intersects(&household.point))
                        && input.grids[g].geometry.intersects(&household.point)
                })
                .collect();
            holders
                .iter()
                .copied()
                .find(|&g| Some(input.grids[g].id) == *current)
                .or(holders.first().copied())
        })
        .collect();
    let mut count = vec![0u64; input.grids.len()];
    for g in located.iter().flatten() {
        count[*g] += 1;
    }

    // Grids that cannot stay: out of bounds, overlapping another, spilling out of the
    // community, or empty.
    let mut redraw: HashSet<usize> = HashSet::new();
    for g in 0..input.grids.len() {
        if fixed[g] {
            continue;
        }
        let out_of_bounds = !households.is_empty() && !options.grid.holds(count[g] as u32);
        let spills = plane::area(&plane::overlay(
            &grids[g],
            &community,
            OverlayRule::Difference,
        )) > sliver;
        if out_of_bounds || spills || plane::area(&grids[g]) <= sliver {
            redraw.insert(g);
        }
    }
    for g in 0..input.grids.len() {
        for h in g + 1..input.grids.len() {
            let meet = match (boxes[g], boxes[h]) {
                (Some(a), Some(b)) => a.intersects(&b),
                _ => false,
            };
            if meet
                && plane::area(&plane::overlay(
                    &grids[g],
                    &grids[h],
                    OverlayRule::Intersect,
                )) > sliver
            {
                for i in [g, h] {
                    if !fixed[i] {
                        redraw.insert(i);
                    }
                }
            }
        }
    }

    // Grow the redrawn region until each of its pieces can be divided within bounds.
    let (free_region, free_households) = loop {
        let kept: Vec<IntShape> = (0..input.grids.len())
            .filter(|g| !redraw.contains(g))
            .flat_map(|g| grids[g].iter().cloned())
            .collect();
        let region = plane::overlay(&community, &kept, OverlayRule::Difference);
        let free: Vec<usize> = (0..households.len())
            .filter(|&h| located[h].is_none_or(|g| redraw.contains(&g)))
            .collect();
        let mut weight = vec![0u64; region.len()];
        for &h in &free {
            if let Some(c) = nearest_shape(&region, plane.project(households[h].point.0)) {
                weight[c] += 1;
            }
        }
        let region: Vec<(IntShape, u64)> = region
            .into_iter()
            .zip(weight)
            .filter(|(shape, w)| *w > 0 || plane::area(std::slice::from_ref(shape)) > sliver)
            .collect();
        if households.is_empty() {
            // No households: keep the grids if they tile the community, else one grid.
            if !region.is_empty()
                && (0..input.grids.len()).any(|g| !fixed[g] && !redraw.contains(&g))
            {
                redraw.extend((0..input.grids.len()).filter(|&g| !fixed[g]));
                continue;
            }
            break (region, free);
        }
        let infeasible: Vec<usize> = (0..region.len())
            .filter(|&c| {
                let w = region[c].1;
                shortfall(w, part_count(w, options.grid), options.grid) > 0
            })
            .collect();
        let mut best: Option<(u64, f64, usize)> = None;
        for &c in &infeasible {
            let (shape, w) = &region[c];
            let shape = std::slice::from_ref(shape);
            let shape_box = plane::bounds(&shape[0]);
            for g in 0..input.grids.len() {
                if fixed[g] || redraw.contains(&g) || grids[g].is_empty() {
                    continue;
                }
                if !grids[g]
                    .iter()
                    .any(|s| plane::boxes_meet(plane::bounds(s), shape_box))
                {
                    continue;
                }
                let joined = plane::union(&[shape, grids[g].as_slice()].concat());
                let shared = (plane::perimeter(shape) + plane::perimeter(&grids[g])
                    - plane::perimeter(&joined))
                    / 2.0;
                if shared <= touch {
                    continue;
                }
                let after = w + count[g];
                let miss = shortfall(after, part_count(after, options.grid), options.grid);
                if best.is_none_or(|b| (miss, -shared) < (b.0, -b.1)) {
                    best = Some((miss, shared, g));
                }
            }
        }
        match best {
            Some((_, _, g)) => {
                redraw.insert(g);
            }
            None => break (region, free),
        }
    };

    // Divide the redrawn region.
    let mut rng = Rng::new(input.community_id as u64);
    let region: IntShapes = free_region.into_iter().map(|(shape, _)| shape).collect();
    let graph = if region.is_empty() {
        Graph::default()
    } else {
        cells::build(&plane, &region, &free_households, households)
    };
    let all_nodes: Vec<usize> = (0..graph.nodes.len()).collect();
    let parts = divide(&graph, &all_nodes, options.grid, sliver, &mut rng);

    // Identities: each new grid takes the id of the redrawn grid most of its households were in.
    let redrawn_ids: HashMap<UnitId, usize> =
        redraw.iter().map(|&g| (input.grids[g].id, g)).collect();
    let mut overlaps: Vec<(usize, usize, UnitId)> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        if part.dedicated {
            continue;
        }
        let mut by_id: HashMap<UnitId, usize> = HashMap::new();
        for &n in &part.nodes {
            for &h in &graph.nodes[n].households {
                if let Some(id) = input.current_grid[h].filter(|id| redrawn_ids.contains_key(id)) {
                    *by_id.entry(id).or_default() += 1;
                }
            }
        }
        overlaps.extend(by_id.into_iter().map(|(id, c)| (c, p, id)));
    }
    overlaps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut successor: HashMap<usize, UnitId> = HashMap::new();
    let mut taken: HashSet<UnitId> = HashSet::new();
    for (_, p, id) in overlaps {
        if !successor.contains_key(&p) && !taken.contains(&id) {
            successor.insert(p, id);
            taken.insert(id);
        }
    }
    let mut removed: Vec<UnitId> = redraw
        .iter()
        .map(|&g| input.grids[g].id)
        .filter(|id| !taken.contains(id))
        .collect();
    removed.sort_unstable();

    // The plan: kept grids in input order, then the new ones.
    let mut planned = Vec::new();
    let mut kept_households: Vec<Vec<usize>> = vec![Vec::new(); input.grids.len()];
    for (h, g) in located.iter().enumerate() {
        if let Some(g) = g.filter(|g| !redraw.contains(g)) {
            kept_households[g].push(h);
        }
    }
    let placed: usize = kept_households.iter().map(Vec::len).sum::<usize>()
        + parts
            .iter()
            .flat_map(|p| &p.nodes)
            .map(|&n| graph.nodes[n].households.len())
            .sum::<usize>();
    if placed < households.len() {
        // Households outside every polygon (bad input): with the nearest kept grid, if any.
        let mut in_part = vec![false; households.len()];
        for &n in parts.iter().flat_map(|p| &p.nodes) {
            for &h in &graph.nodes[n].households {
                in_part[h] = true;
            }
        }
        for (h, g) in located.iter().enumerate() {
            if g.is_none_or(|g| redraw.contains(&g)) && !in_part[h] {
                let p = households[h].point.0;
                let nearest = (0..input.grids.len())
                    .filter(|g| !redraw.contains(g))
                    .filter_map(|g| {
                        boxes[g].map(|b| (g, (b.center().x - p.x).hypot(b.center().y - p.y)))
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((g, _)) = nearest {
                    kept_households[g].push(h);
                }
            }
        }
    }
    for (g, grid) in input.grids.iter().enumerate() {
        if redraw.contains(&g) {
            continue;
        }
        let members = std::mem::take(&mut kept_households[g]);
        let n = members.len() as u32;
        let infeasible = (!fixed[g] && !options.grid.holds(n)).then_some(if n < options.grid.min {
            Infeasibility::UnderMinInfeasible
        } else {
            Infeasibility::NoFeasibleSplit
        });
        let micro_grids = options.micro_grid.map(|bounds| {
            kept_micro_grids(
                input, grid, &grids[g], &members, &mut plane, bounds, &mut rng,
            )
        });
        planned.push(PlannedGrid {
            status: GridStatus::Kept(grid.id),
            kind: grid.kind,
            polsby_popper: polsby_popper(&grid.geometry),
            persons: persons(input, &members),
            households: members,
            geometry: grid.geometry.clone(),
            infeasible,
            micro_grids,
        });
    }
    for (p, part) in parts.iter().enumerate() {
        let geometry = plane.geometry(&graph.union(&part.nodes));
        let mut members: Vec<usize> = part
            .nodes
            .iter()
            .flat_map(|&n| graph.nodes[n].households.iter().copied())
            .collect();
        members.sort_unstable();
        let micro_grids = options.micro_grid.map(|bounds| {
            divide(&graph, &part.nodes, bounds, sliver, &mut rng)
                .into_iter()
                .map(|micro| micro_grid(input, &graph, &plane, micro))
                .collect()
        });
        planned.push(PlannedGrid {
            status: match successor.get(&p) {
                Some(&id) => GridStatus::Changed(id),
                None => GridStatus::New,
            },
            kind: if part.dedicated {
                GridKind::Dedicated
            } else {
                GridKind::General
            },
            polsby_popper: polsby_popper(&geometry),
            persons: persons(input, &members),
            households: members,
            geometry,
            infeasible: part.infeasible,
            micro_grids,
        });
    }

    let households_moved = moved(input, &planned);
    CommunityPlan {
        community_id: input.community_id,
        grids: planned,
        removed,
        households_moved,
    }
}

/// The plan for a community with no extent: everything stays.
fn unchanged(input: &CommunityInput, options: &Options) -> CommunityPlan {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); input.grids.len()];
    for (h, current) in input.current_grid.iter().enumerate() {
        if let Some(g) = input.grids.iter().position(|g| Some(g.id) == *current) {
            members[g].push(h);
        }
    }
    let grids: Vec<PlannedGrid> = input
        .grids
        .iter()
        .zip(members)
        .map(|(grid, households)| PlannedGrid {
            status: GridStatus::Kept(grid.id),
            kind: grid.kind,
            geometry: grid.geometry.clone(),
            persons: persons(input, &households),
            households,
            polsby_popper: polsby_popper(&grid.geometry),
            infeasible: None,
            micro_grids: options.micro_grid.map(|_| {
                grid.micro_grids
                    .iter()
                    .map(|m| PlannedMicroGrid {
                        kept: Some(m.id),
                        geometry: m.geometry.clone(),
                        households: Vec::new(),
                        persons: 0,
                        infeasible: None,
                    })
                    .collect()
            }),
        })
        .collect();
    let households_moved = moved(input, &grids);
    CommunityPlan {
        community_id: input.community_id,
        grids,
        removed: Vec::new(),
        households_moved,
    }
}

/// Divides a set of nodes into parts within bounds where it can: a building over the maximum
/// alone, every connected rest into as many parts as its weight calls for; land with nobody
/// on it goes with a neighbouring lone building, or stands alone.
pub(crate) fn divide(
    graph: &Graph,
    nodes: &[usize],
    bounds: Bounds,
    sliver: f64,
    rng: &mut Rng,
) -> Vec<Part> {
    let mut parts: Vec<Part> = nodes
        .iter()
        .filter(|&&n| graph.nodes[n].weight > bounds.max)
        .map(|&n| Part {
            nodes: vec![n],
            dedicated: true,
            infeasible: Some(Infeasibility::BuildingOverMax),
        })
        .collect();
    let lone: HashMap<usize, usize> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.nodes[0], i))
        .collect();
    let rest: Vec<usize> = nodes
        .iter()
        .copied()
        .filter(|n| !lone.contains_key(n))
        .collect();
    for component in graph.components(&rest) {
        let weight: u64 = component
            .iter()
            .map(|&n| u64::from(graph.nodes[n].weight))
            .sum();
        if weight == 0 {
            let mut shared: HashMap<usize, f64> = HashMap::new();
            for &n in &component {
                for &(m, length) in &graph.adjacency[n] {
                    if let Some(&p) = lone.get(&m) {
                        *shared.entry(p).or_default() += length;
                    }
                }
            }
            let host = shared
                .into_iter()
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            if let Some((p, _)) = host {
                parts[p].nodes.extend(component);
                continue;
            }
            let area: f64 = component
                .iter()
                .flat_map(|&n| &graph.nodes[n].pieces)
                .map(|&p| plane::area(std::slice::from_ref(&graph.pieces[p])))
                .sum();
            if area <= sliver {
                // A speck left by rounding, cut off from everything: not a grid.
                continue;
            }
        }
        let k = part_count(weight, bounds);
        for nodes in partition(graph, component, k, bounds, rng) {
            let w: u32 = nodes.iter().map(|&n| graph.nodes[n].weight).sum();
            let infeasible = (!bounds.holds(w)).then_some(if weight < u64::from(bounds.min) {
                Infeasibility::UnderMinInfeasible
            } else {
                Infeasibility::NoFeasibleSplit
            });
            parts.push(Part {
                nodes,
                dedicated: false,
                infeasible,
            });
        }
    }
    for part in &mut parts {
        part.nodes.sort_unstable();
    }
    parts.retain(|p| !p.nodes.is_empty());
    parts
}

fn micro_grid(
    input: &CommunityInput,
    graph: &Graph,
    plane: &Plane,
    part: Part,
) -> PlannedMicroGrid {
    let mut members: Vec<usize> = part
        .nodes
        .iter()
        .flat_map(|&n| graph.nodes[n].households.iter().copied())
        .collect();
    members.sort_unstable();
    PlannedMicroGrid {
        kept: None,
        geometry: plane.geometry(&graph.union(&part.nodes)),
        persons: persons(input, &members),
        households: members,
        infeasible: part.infeasible,
    }
}

/// A kept grid's micro-grids: as they are if they tile it within bounds, else redrawn.
fn kept_micro_grids(
    input: &CommunityInput,
    grid: &ExistingGrid,
    shapes: &IntShapes,
    members: &[usize],
    plane: &mut Plane,
    bounds: Bounds,
    rng: &mut Rng,
) -> Vec<PlannedMicroGrid> {
    let micro_shapes: Vec<IntShapes> = grid
        .micro_grids
        .iter()
        .map(|m| plane.shapes(&m.geometry))
        .collect();
    let mut micro_members: Vec<Vec<usize>> = vec![Vec::new(); grid.micro_grids.len()];
    let mut all_placed = true;
    for &h in members {
        let point = input.households[h].point;
        match grid
            .micro_grids
            .iter()
            .position(|m| m.geometry.intersects(&point))
        {
            Some(m) => micro_members[m].push(h),
            None => all_placed = false,
        }
    }
    let sliver = SLIVER_M2 * plane.per_metre * plane.per_metre;
    let tiles = || {
        let flat: Vec<IntShape> = micro_shapes.iter().flatten().cloned().collect();
        let sum: f64 = micro_shapes.iter().map(|s| plane::area(s)).sum();
        let union = plane::area(&plane::union(&flat));
        let grid_area = plane::area(shapes);
        let uncovered = plane::area(&plane::overlay(shapes, &flat, OverlayRule::Difference));
        let outside = plane::area(&plane::overlay(&flat, shapes, OverlayRule::Difference));
        (sum - union).abs() <= sliver
            && (union - grid_area).abs() <= sliver
            && uncovered <= sliver
            && outside <= sliver
    };
    if !grid.micro_grids.is_empty()
        && all_placed
        && micro_members.iter().all(|m| bounds.holds(m.len() as u32))
        && tiles()
    {
        return grid
            .micro_grids
            .iter()
            .zip(micro_members)
            .map(|(m, households)| PlannedMicroGrid {
                kept: Some(m.id),
                geometry: m.geometry.clone(),
                persons: persons(input, &households),
                households,
                infeasible: None,
            })
            .collect();
    }
    let graph = cells::build(plane, shapes, members, &input.households);
    let nodes: Vec<usize> = (0..graph.nodes.len()).collect();
    divide(&graph, &nodes, bounds, sliver, rng)
        .into_iter()
        .map(|part| micro_grid(input, &graph, plane, part))
        .collect()
}

/// The shape holding a point, or else the one nearest to it.
fn nearest_shape(shapes: &[IntShape], point: (f64, f64)) -> Option<usize> {
    shapes
        .iter()
        .position(|s| plane::contains(s, point))
        .or_else(|| {
            (0..shapes.len()).min_by(|&a, &b| {
                plane::distance_to_boundary(&shapes[a], point)
                    .total_cmp(&plane::distance_to_boundary(&shapes[b], point))
            })
        })
}

fn persons(input: &CommunityInput, members: &[usize]) -> u32 {
    members.iter().map(|&h| input.households[h].persons).sum()
}

/// Households whose grid in the plan differs from the one they are recorded in.
fn moved(input: &CommunityInput, grids: &[PlannedGrid]) -> usize {
    let mut planned: Vec<Option<Option<UnitId>>> = vec![None; input.households.len()];
    for grid in grids {
        let id = match grid.status {
            GridStatus::Kept(id) | GridStatus::Changed(id) => Some(id),
            GridStatus::New => None,
        };
        for &h in &grid.households {
            planned[h] = Some(id);
        }
    }
    planned
        .iter()
        .zip(&input.current_grid)
        .filter(|(planned, current)| match planned {
            Some(Some(id)) => Some(*id) != **current,
            Some(None) => true,
            None => current.is_some(),
        })
        .count()
}

/// 4πA/P² in a local metric projection: 1 for a disc, near 0 for a thread.
pub(super) fn polsby_popper(geometry: &MultiPolygon<f64>) -> f64 {
    let Some(bounds) = geometry.bounding_rect() else {
        return 0.0;
    };
    let (mx, my) = metres_per_degree(bounds.center().y);
    let origin = bounds.min();
    let (mut area, mut perimeter) = (0.0, 0.0);
    for polygon in geometry {
        for (i, ring) in std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .enumerate()
        {
            let points: Vec<(f64, f64)> = ring
                .coords()
                .map(|c| ((c.x - origin.x) * mx, (c.y - origin.y) * my))
                .collect();
            let twice: f64 = points
                .windows(2)
                .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
                .sum();
            let length: f64 = points
                .windows(2)
                .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
                .sum();
            area += if i == 0 {
                twice.abs() / 2.0
            } else {
                -twice.abs() / 2.0
            };
            perimeter += length;
        }
    }
    if perimeter > 0.0 {
        (4.0 * std::f64::consts::PI * area / (perimeter * perimeter)).clamp(0.0, 1.0)
    } else {
        0.0
    }
}
