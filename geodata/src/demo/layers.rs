//! Synthetic department grid layers over the demo city, for the "many grids into one" merge: the
//! layers a public-security bureau, an urban-management bureau and a civil-affairs bureau would
//! each have drawn on their own, with the faults real layers have, and a manifest of the faults
//! injected on purpose so that tests can check the quality report finds them.
//!
//! [`department_layers`] derives three layers from the demo grids of a [`DemoCity`]:
//!
//! - **public security** (综治): some pairs of neighbouring demo grids merged into one (a
//!   coarser layer), and the whole layer shifted by 8-15 m, as a layer digitised on another base map:
//!   it crosses every community boundary a little and leaves thin gaps along the others;
//! - **urban management** (城管): every community re-cut into as many strips of equal area as it
//!   has demo grids, along other lines (north-south or east-west, by community);
//! - **civil affairs** (民政): the demo grids, with faults injected in a few communities each:
//!   overlaps (a grid grown into its neighbour), gaps (a square cut out of a grid), slivers (a
//!   10 m square grid cut out of another) and crossings (a grid grown over the community
//!   boundary); these are listed in [`DepartmentLayer::injected`].
//!
//! [`emergency_layer`] adds a fourth (应急): communities cut east-west into 1.2 times as many
//! strips as demo grids, for benchmarks that want four layers of about 3,000 grids over the
//! large city. Everything is deterministic in the city and the seed.

use std::collections::{BTreeMap, HashSet};

use geo::{
    BooleanOps, BoundingRect, Contains, Coord, InteriorPoint, MultiPolygon, Point, Polygon, Rect,
    Translate,
};

use crate::demo::DemoCity;
use crate::measure::{area_m2, metres_per_degree};
use crate::quality::LayerFaultKind;
use crate::{GridKind, Level, Unit, UnitId};

/// One department's grid layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentLayer {
    /// The layer's name, e.g. `综治网格`.
    pub name: String,
    /// The department, e.g. `public-security`.
    pub department: String,
    /// The grids (level [`Level::Grid`], parent: the community they were drawn for), with ids
    /// unique across the layers of one call.
    pub grids: Vec<Unit>,
    /// The faults injected on purpose (the layer may have others, e.g. from a shift).
    pub injected: Vec<InjectedFault>,
}

/// One fault injected into a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectedFault {
    pub kind: LayerFaultKind,
    /// Overlap: the two grids (grown grid first); gap: the grid cut; sliver: the sliver grid;
    /// crossing: the grid that crosses.
    pub grids: Vec<UnitId>,
    /// Gap: the community of the gap; crossing: the community crossed into; else the grid's.
    pub community: Option<UnitId>,
    /// A point inside the faulty region.
    pub location: Point<f64>,
    /// The faulty region's area, m².
    pub area_m2: f64,
}

/// The share of public-security grids merged from two demo grids.
const COARSENED: f64 = 0.25;

/// How many faults of each kind the civil-affairs layer gets (at most one per community).
const FAULTS_PER_KIND: usize = 4;

/// The three department layers over `city` (public security, urban management, civil affairs),
/// in that order; see the module doc.
///
/// ```
/// use geodata::demo::{demo_city, department_layers, DemoSize, DEFAULT_SEED};
/// use geodata::quality::LayerFaultKind;
/// use geodata::Level;
/// let city = demo_city(DemoSize::Default, DEFAULT_SEED);
/// let layers = department_layers(&city, 7);
/// assert_eq!(layers.len(), 3);
/// let grids = city.count(Level::Grid);
/// for layer in &layers {
///     assert!(layer.grids.len() * 2 > grids && layer.grids.len() < grids * 2);
/// }
/// let civil = &layers[2];
/// assert!(civil.injected.iter().any(|f| f.kind == LayerFaultKind::Overlap));
/// ```
pub fn department_layers(city: &DemoCity, seed: u64) -> Vec<DepartmentLayer> {
    let communities = communities(city);
    vec![
        public_security(&communities, seed),
        strips(
            &communities,
            "城管网格",
            "urban-management",
            2,
            1.0,
            seed,
            None,
        ),
        civil_affairs(&communities, seed),
    ]
}

/// A fourth layer (emergency management): communities cut east-west into 1.2 times as many
/// strips as they have demo grids; ids do not clash with [`department_layers`]'.
pub fn emergency_layer(city: &DemoCity, seed: u64) -> DepartmentLayer {
    strips(
        &communities(city),
        "应急网格",
        "emergency",
        4,
        1.2,
        seed,
        Some(false),
    )
}

/// A community with its demo grids in code order.
struct Community<'a> {
    unit: &'a Unit,
    grids: Vec<&'a Unit>,
}

fn communities(city: &DemoCity) -> Vec<Community<'_>> {
    let mut grids: BTreeMap<UnitId, Vec<&Unit>> = BTreeMap::new();
    for unit in city.units.iter().filter(|u| u.level == Level::Grid) {
        if let Some(parent) = unit.parent {
            grids.entry(parent).or_default().push(unit);
        }
    }
    city.units
        .iter()
        .filter(|u| u.level == Level::Community)
        .map(|unit| {
            let mut own = grids.remove(&unit.id).unwrap_or_default();
            own.sort_by(|a, b| a.code.cmp(&b.code));
            Community { unit, grids: own }
        })
        .collect()
}

/// Numbers a layer's grids: ids from `layer * 10^7`, codes under their community.
struct Numbering {
    layer: i64,
    next: i64,
    per_community: BTreeMap<UnitId, u32>,
    name: &'static str,
}

impl Numbering {
    fn new(layer: i64, name: &'static str) -> Numbering {
        Numbering {
            layer,
            next: 1,
            per_community: BTreeMap::new(),
            name,
        }
    }

    fn grid(&mut self, community: &Unit, geometry: MultiPolygon<f64>) -> Unit {
        let number = self.per_community.entry(community.id).or_default();
        *number += 1;
        let id = self.layer * 10_000_000 + self.next;
        self.next += 1;
        Unit {
            id,
            code: format!("{}{:03}", community.code, number),
            name: format!("{}{}第{}网格", community.name, self.name, number),
            level: Level::Grid,
            kind: GridKind::General,
            parent: Some(community.id),
            geometry,
        }
    }
}

/// SplitMix64, keyed by the seed and a label.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, label: &str) -> Rng {
        let mut state = seed ^ 0xD1B5_4A32_D192_ED03;
        for byte in label.bytes() {
            state = (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
        }
        Rng(state)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn public_security(communities: &[Community<'_>], seed: u64) -> DepartmentLayer {
    let mut rng = Rng::new(seed, "public security");
    let angle = std::f64::consts::TAU * rng.unit();
    let metres = 8.0 + 7.0 * rng.unit();
    let mut numbering = Numbering::new(1, "综治");
    let mut grids = Vec::new();
    for community in communities {
        let mut i = 0;
        while i < community.grids.len() {
            let first = &community.grids[i].geometry;
            // One grid in four or so is merged with the next one.
            let merged = community
                .grids
                .get(i + 1)
                .filter(|_| rng.unit() < COARSENED)
                .map(|next| first.union(&next.geometry))
                .filter(|union| union.0.len() == 1);
            let geometry = match merged {
                Some(union) => {
                    i += 2;
                    union
                }
                None => {
                    i += 1;
                    first.clone()
                }
            };
            let lat = geometry.bounding_rect().map_or(30.6, |b| b.center().y);
            let (mx, my) = metres_per_degree(lat);
            let shifted = geometry.translate(metres * angle.cos() / mx, metres * angle.sin() / my);
            grids.push(numbering.grid(community.unit, shifted));
        }
    }
    DepartmentLayer {
        name: "综治网格".into(),
        department: "public-security".into(),
        grids,
        injected: Vec::new(),
    }
}

/// Communities cut into strips of equal area: `per_grid` strips per demo grid, north-south
/// (`Some(true)`), east-west (`Some(false)`) or alternating by community (`None`).
fn strips(
    communities: &[Community<'_>],
    name: &'static str,
    department: &str,
    layer: i64,
    per_grid: f64,
    seed: u64,
    north_south: Option<bool>,
) -> DepartmentLayer {
    let mut numbering = Numbering::new(layer, name.trim_end_matches("网格"));
    let mut rng = Rng::new(seed, department);
    let mut grids = Vec::new();
    for community in communities {
        let count = ((community.grids.len().max(1) as f64) * per_grid)
            .round()
            .max(1.0) as usize;
        let vertical = north_south.unwrap_or_else(|| rng.below(2) == 0);
        for piece in cut_strips(&community.unit.geometry, count, vertical) {
            grids.push(numbering.grid(community.unit, piece));
        }
    }
    DepartmentLayer {
        name: name.into(),
        department: department.into(),
        grids,
        injected: Vec::new(),
    }
}

/// `count` strips of about equal area (by bisection of each cut line).
fn cut_strips(area: &MultiPolygon<f64>, count: usize, vertical: bool) -> Vec<MultiPolygon<f64>> {
    let Some(b) = area.bounding_rect() else {
        return Vec::new();
    };
    let (low, high) = if vertical {
        (b.min().x, b.max().x)
    } else {
        (b.min().y, b.max().y)
    };
    let band = |from: f64, to: f64| -> MultiPolygon<f64> {
        let rect = if vertical {
            Rect::new(
                Coord {
                    x: from,
                    y: b.min().y - 1.0,
                },
                Coord {
                    x: to,
                    y: b.max().y + 1.0,
                },
            )
        } else {
            Rect::new(
                Coord {
                    x: b.min().x - 1.0,
                    y: from,
                },
                Coord {
                    x: b.max().x + 1.0,
                    y: to,
                },
            )
        };
        area.intersection(&MultiPolygon::new(vec![rect.to_polygon()]))
    };
    let total = area_m2(area);
    let mut cuts = vec![low - 1.0];
    for k in 1..count {
        let target = total * k as f64 / count as f64;
        let (mut lo, mut hi) = (low, high);
        for _ in 0..24 {
            let mid = (lo + hi) / 2.0;
            if area_m2(&band(low - 1.0, mid)) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        cuts.push((lo + hi) / 2.0);
    }
    cuts.push(high + 1.0);
    cuts.windows(2)
        .map(|w| band(w[0], w[1]))
        .filter(|piece| !piece.0.is_empty())
        .collect()
}

fn civil_affairs(communities: &[Community<'_>], seed: u64) -> DepartmentLayer {
    let mut numbering = Numbering::new(3, "民政");
    let mut rng = Rng::new(seed, "civil affairs");
    // One grid per demo grid, community by community.
    let mut grids: Vec<Unit> = Vec::new();
    let mut of_community: Vec<Vec<usize>> = Vec::new();
    for community in communities {
        let mut own = Vec::new();
        for grid in &community.grids {
            own.push(grids.len());
            grids.push(numbering.grid(community.unit, grid.geometry.clone()));
        }
        of_community.push(own);
    }
    // Communities to spoil, each at most once, in a seeded order.
    let mut order: Vec<usize> = (0..communities.len())
        .filter(|&c| of_community[c].len() >= 2)
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut injected = Vec::new();
    let mut done = [0usize; 4];
    let kinds = [
        LayerFaultKind::Overlap,
        LayerFaultKind::Gap,
        LayerFaultKind::Sliver,
        LayerFaultKind::Crossing,
    ];
    let mut used: HashSet<usize> = HashSet::new();
    for c in order {
        let Some(k) = (0..4)
            .min_by_key(|&k| done[k])
            .filter(|&k| done[k] < FAULTS_PER_KIND)
        else {
            break;
        };
        // Neighbours of a crossing must not be spoilt too, so that faults stay apart.
        if used.contains(&c) {
            continue;
        }
        let fault = match kinds[k] {
            LayerFaultKind::Overlap => overlap(&mut grids, &of_community[c], &mut rng),
            LayerFaultKind::Gap => {
                gap(&mut grids, &of_community[c], &mut rng, 50.0).map(|(fault, _)| fault)
            }
            LayerFaultKind::Sliver => {
                let fault = gap(&mut grids, &of_community[c], &mut rng, 10.0);
                fault.map(|(mut fault, square)| {
                    let sliver = numbering.grid(communities[c].unit, square);
                    fault.kind = LayerFaultKind::Sliver;
                    fault.grids = vec![sliver.id];
                    grids.push(sliver);
                    fault
                })
            }
            LayerFaultKind::Crossing => {
                crossing(&mut grids, &of_community[c], communities, c, &mut rng)
            }
        };
        if let Some(fault) = fault {
            used.insert(c);
            if let Some(other) = communities
                .iter()
                .position(|o| Some(o.unit.id) == fault.community)
            {
                used.insert(other);
            }
            injected.push(fault);
            done[k] += 1;
        }
    }
    DepartmentLayer {
        name: "民政网格".into(),
        department: "civil-affairs".into(),
        grids,
        injected,
    }
}

/// A square of `side` metres centred on `centre`.
fn square(centre: Coord<f64>, side: f64) -> MultiPolygon<f64> {
    let (mx, my) = metres_per_degree(centre.y);
    let (hx, hy) = (side / 2.0 / mx, side / 2.0 / my);
    MultiPolygon::new(vec![Rect::new(
        Coord {
            x: centre.x - hx,
            y: centre.y - hy,
        },
        Coord {
            x: centre.x + hx,
            y: centre.y + hy,
        },
    )
    .to_polygon()])
}

fn vertices(geometry: &MultiPolygon<f64>) -> Vec<Coord<f64>> {
    geometry
        .iter()
        .flat_map(|p: &Polygon<f64>| p.exterior().0.iter().copied())
        .collect()
}

/// Grows a grid into a neighbour around a vertex they share.
fn overlap(grids: &mut [Unit], own: &[usize], rng: &mut Rng) -> Option<InjectedFault> {
    let a = own[rng.below(own.len())];
    for &b in own {
        if b == a {
            continue;
        }
        let theirs: HashSet<(u64, u64)> = vertices(&grids[b].geometry)
            .iter()
            .map(|c| (c.x.to_bits(), c.y.to_bits()))
            .collect();
        let shared: Vec<Coord<f64>> = vertices(&grids[a].geometry)
            .into_iter()
            .filter(|c| theirs.contains(&(c.x.to_bits(), c.y.to_bits())))
            .collect();
        for centre in shared {
            let region = grids[b].geometry.intersection(&square(centre, 60.0));
            let area = area_m2(&region);
            if area < 300.0 {
                continue;
            }
            let location = region.interior_point()?;
            grids[a].geometry = grids[a].geometry.union(&region);
            let fault = InjectedFault {
                kind: LayerFaultKind::Overlap,
                grids: vec![grids[a].id, grids[b].id],
                community: grids[a].parent,
                location,
                area_m2: area,
            };
            return Some(fault);
        }
    }
    None
}

/// Cuts a square of `side` metres out of a grid, inside it; answers the square.
fn gap(
    grids: &mut [Unit],
    own: &[usize],
    rng: &mut Rng,
    side: f64,
) -> Option<(InjectedFault, MultiPolygon<f64>)> {
    let a = own[rng.below(own.len())];
    let centre = grids[a].geometry.interior_point()?;
    let hole = square(centre.0, side);
    if !grids[a].geometry.contains(&hole) {
        return None;
    }
    grids[a].geometry = grids[a].geometry.difference(&hole);
    let fault = InjectedFault {
        kind: LayerFaultKind::Gap,
        grids: vec![grids[a].id],
        community: grids[a].parent,
        location: centre,
        area_m2: area_m2(&hole),
    };
    Some((fault, hole))
}

/// Grows a grid over its community's boundary into the neighbouring community.
fn crossing(
    grids: &mut [Unit],
    own: &[usize],
    communities: &[Community<'_>],
    c: usize,
    rng: &mut Rng,
) -> Option<InjectedFault> {
    let start = rng.below(own.len());
    for i in 0..own.len() {
        let a = own[(start + i) % own.len()];
        let mine: Vec<Coord<f64>> = vertices(&grids[a].geometry);
        for (d, other) in communities.iter().enumerate() {
            if d == c {
                continue;
            }
            let (Some(ba), Some(bd)) = (
                grids[a].geometry.bounding_rect(),
                other.unit.geometry.bounding_rect(),
            ) else {
                continue;
            };
            if ba.max().x < bd.min().x
                || bd.max().x < ba.min().x
                || ba.max().y < bd.min().y
                || bd.max().y < ba.min().y
            {
                continue;
            }
            let theirs: HashSet<(u64, u64)> = vertices(&other.unit.geometry)
                .iter()
                .map(|c| (c.x.to_bits(), c.y.to_bits()))
                .collect();
            for centre in mine
                .iter()
                .filter(|c| theirs.contains(&(c.x.to_bits(), c.y.to_bits())))
            {
                let region = other.unit.geometry.intersection(&square(*centre, 80.0));
                let area = area_m2(&region);
                if area < 500.0 {
                    continue;
                }
                let location = region.interior_point()?;
                grids[a].geometry = grids[a].geometry.union(&region);
                let fault = InjectedFault {
                    kind: LayerFaultKind::Crossing,
                    grids: vec![grids[a].id],
                    community: Some(other.unit.id),
                    location,
                    area_m2: area,
                };
                return Some(fault);
            }
        }
    }
    None
}
