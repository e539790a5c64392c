//! Batch assignment of households to their deepest unit, with counts per unit at every level.
//!
//! Point lookups are bound by memory latency, not arithmetic: a lookup in random order misses
//! the cache at almost every R-tree node. So a batch is first ordered along a Hilbert curve,
//! which puts neighbouring households next to each other and lets consecutive lookups reuse the
//! same nodes and polygons from cache; then it is cut into chunks located in parallel (rayon).
//! Answers are exactly those of [`Index::locate`].

use geo::Coord;
use rayon::prelude::*;

use crate::index::Slot;
use crate::{Household, Index, UnitId};

/// Households and persons counted in a unit (including all units below it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitCounts {
    pub households: u64,
    pub persons: u64,
}

/// The outcome of [`assign_households`].
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// For each household, in input order, its deepest unit (`None` outside every unit).
    pub unit_of: Vec<Option<UnitId>>,
    /// For every unit holding at least one household, directly or below it, the counts, by
    /// unit id.
    pub counts: Vec<(UnitId, UnitCounts)>,
    /// Indices of the households that fall in no grid or micro-grid (outside every unit, or in
    /// an area no grid covers).
    pub outside_grids: Vec<usize>,
}

/// Assigns every household to the deepest unit holding it and counts households and persons
/// per unit along each household's chain.
///
/// ```
/// use geo::{polygon, MultiPolygon, Point};
/// use geodata::{assign_households, GridKind, Household, Index, Level, Unit};
/// let index = Index::new(vec![Unit {
///     id: 7, code: "G7".into(), name: "G7".into(), level: Level::Grid, kind: GridKind::General,
///     parent: None,
///     geometry: MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)]]),
/// }]);
/// let home = |id: &str, x: f64| Household { id: id.into(), point: Point::new(x, 0.1), persons: 2, building: None };
/// let assignment = assign_households(&index, &[home("a", 0.2), home("b", 5.0)]);
/// assert_eq!(assignment.unit_of, vec![Some(7), None]);
/// assert_eq!(assignment.counts[0].1.persons, 2);
/// assert_eq!(assignment.outside_grids, vec![1]);
/// ```
///
/// # Performance
/// Linear in the households (a radix sort, then the lookups); parallel over rayon's pool.
pub fn assign_households(index: &Index, households: &[Household]) -> Assignment {
    let slots = locate_each(index, households.len(), |i| households[i].point.0);
    // Per slot, what the tally needs, in small dense tables rather than whole units.
    let ids: Vec<UnitId> = index.units().iter().map(|u| u.id).collect();
    let in_grid: Vec<bool> = index.units().iter().map(|u| u.level.is_grid()).collect();
    let piece = households
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(1);
    let tallies: Vec<(Vec<UnitCounts>, Vec<usize>)> = slots
        .par_chunks(piece)
        .zip(households.par_chunks(piece))
        .enumerate()
        .map(|(k, (slots, households))| {
            let mut direct = vec![UnitCounts::default(); index.len()];
            let mut outside_grids = Vec::new();
            for (i, (slot, household)) in slots.iter().zip(households).enumerate() {
                match slot {
                    Some(slot) => {
                        let tally = &mut direct[*slot as usize];
                        tally.households += 1;
                        tally.persons += u64::from(household.persons);
                        if !in_grid[*slot as usize] {
                            outside_grids.push(k * piece + i);
                        }
                    }
                    None => outside_grids.push(k * piece + i),
                }
            }
            (direct, outside_grids)
        })
        .collect();
    let mut direct = vec![UnitCounts::default(); index.len()];
    let mut outside_grids = Vec::new();
    for (piece_direct, piece_outside) in tallies {
        for (sum, part) in direct.iter_mut().zip(piece_direct) {
            sum.households += part.households;
            sum.persons += part.persons;
        }
        outside_grids.extend(piece_outside);
    }
    Assignment {
        unit_of: slots
            .par_iter()
            .map(|slot| slot.map(|s| ids[s as usize]))
            .collect(),
        counts: roll_up(index, direct),
        outside_grids,
    }
}

/// The deepest unit's slot for each coordinate, in input order: [`Index::deepest_slot`] for a
/// whole batch, in Hilbert order and in parallel. Households of one building usually share its
/// point, and the sort brings them together, so a point equal to the one before it takes that
/// one's answer without a lookup.
pub fn locate_batch(index: &Index, coords: &[Coord<f64>]) -> Vec<Option<Slot>> {
    locate_each(index, coords.len(), |i| coords[i])
}

/// [`locate_batch`] of the `n` coordinates `coord_of(0..n)`, read once each, in input order.
fn locate_each(
    index: &Index,
    n: usize,
    coord_of: impl Fn(usize) -> Coord<f64> + Sync,
) -> Vec<Option<Slot>> {
    let sorted = hilbert_sorted(n, coord_of);
    let answers: Vec<Option<Slot>> = sorted
        .par_iter()
        .with_min_len(1024)
        .map_init(
            || None,
            |previous: &mut Option<(Coord<f64>, Option<Slot>)>, point| match *previous {
                Some((at, slot)) if at == point.coord => slot,
                _ => {
                    let slot = index.deepest_slot(point.coord);
                    *previous = Some((point.coord, slot));
                    slot
                }
            },
        )
        .collect();
    in_input_order(&sorted, &answers)
}

/// The answers, given in the order of `sorted`, each put back at its point's place in the
/// input. Those writes land at random, the slow part, so each of a few threads owns a range of
/// the output and picks its points out of the whole batch, which it reads in order (every
/// thread reads it all, hence few of them).
fn in_input_order(sorted: &[SortedPoint], answers: &[Option<Slot>]) -> Vec<Option<Slot>> {
    const MOST_THREADS: usize = 4;
    let mut slots = vec![None; sorted.len()];
    let threads = rayon::current_num_threads().min(MOST_THREADS);
    let piece = sorted.len().div_ceil(threads).max(1);
    slots
        .par_chunks_mut(piece)
        .enumerate()
        .for_each(|(k, range)| {
            let first = k * piece;
            for (point, answer) in sorted.iter().zip(answers) {
                if let Some(slot) = range.get_mut((point.input as usize).wrapping_sub(first)) {
                    *slot = *answer;
                }
            }
        });
    slots
}

/// Adds each unit's direct counts to all its ancestors: children before parents, so a
/// deeper level is complete before it is added to the one above.
fn roll_up(index: &Index, mut counts: Vec<UnitCounts>) -> Vec<(UnitId, UnitCounts)> {
    let mut by_depth: Vec<Slot> = (0..index.len() as Slot).collect();
    by_depth.sort_by_key(|&slot| std::cmp::Reverse(index.unit(slot).level));
    for slot in by_depth {
        if let Some(parent) = index.parent_of_slot(slot) {
            let child = counts[slot as usize];
            let tally = &mut counts[parent as usize];
            tally.households += child.households;
            tally.persons += child.persons;
        }
    }
    let mut nonzero: Vec<(UnitId, UnitCounts)> = counts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.households > 0)
        .map(|(slot, c)| (index.unit(slot as Slot).id, c))
        .collect();
    nonzero.sort_by_key(|(id, _)| *id);
    nonzero
}

/// A point on its way through [`hilbert_sorted`].
#[derive(Clone, Copy, Default)]
struct SortedPoint {
    key: u32,
    /// Its place in the input.
    input: u32,
    coord: Coord<f64>,
}

/// The `n` coordinates `coord_of(0..n)` ordered along a Hilbert curve of order 12 over their
/// bounding box (4096 × 4096 cells; points sharing a cell keep their input order), each with
/// its place in the input. The coordinates travel with their keys, so the lookups that follow
/// read them in order instead of gathering them from the input at random.
///
/// A radix sort on the 24-bit keys, every step on all threads: the high 12 bits first, each
/// thread scattering its share of the points into its own part of each of the 4096 buckets,
/// then each bucket (a 64th of the box a side, which usually fits in cache) by the low 12 bits.
fn hilbert_sorted(n: usize, coord_of: impl Fn(usize) -> Coord<f64> + Sync) -> Vec<SortedPoint> {
    let mut keyed: Vec<SortedPoint> = (0..n)
        .into_par_iter()
        .map(|i| SortedPoint {
            key: 0,
            input: i as u32,
            coord: coord_of(i),
        })
        .collect();
    let Some((min, max)) = keyed
        .par_iter()
        .map(|point| point.coord)
        .filter(|c| c.x.is_finite() && c.y.is_finite())
        .map(|c| (c, c))
        .reduce_with(|(min_a, max_a), (min_b, max_b)| {
            (
                Coord {
                    x: min_a.x.min(min_b.x),
                    y: min_a.y.min(min_b.y),
                },
                Coord {
                    x: max_a.x.max(max_b.x),
                    y: max_a.y.max(max_b.y),
                },
            )
        })
    else {
        return keyed;
    };
    const SIDE: f64 = 4095.0;
    let scale_x = if max.x > min.x {
        SIDE / (max.x - min.x)
    } else {
        0.0
    };
    let scale_y = if max.y > min.y {
        SIDE / (max.y - min.y)
    } else {
        0.0
    };
    let piece = n.div_ceil(rayon::current_num_threads()).max(1);
    // Each thread's count of points per high digit, taken as it computes the keys.
    let counts: Vec<Vec<usize>> = keyed
        .par_chunks_mut(piece)
        .map(|points| {
            let mut counts = vec![0; DIGITS];
            for point in points {
                // Casts saturate, so stray coordinates land on the curve's edge.
                let x = (((point.coord.x - min.x) * scale_x) as u32).min(4095);
                let y = (((point.coord.y - min.y) * scale_y) as u32).min(4095);
                point.key = hilbert_key(x << 4, y << 4) >> 8;
                counts[high_digit(point.key)] += 1;
            }
            counts
        })
        .collect();

    // Within each bucket, the first thread's points, then the second's: a stable scatter.
    let mut by_high = vec![SortedPoint::default(); n];
    let mut targets: Vec<Vec<&mut [SortedPoint]>> =
        counts.iter().map(|_| Vec::with_capacity(DIGITS)).collect();
    let mut rest = by_high.as_mut_slice();
    for digit in 0..DIGITS {
        for (thread_counts, thread_targets) in counts.iter().zip(&mut targets) {
            let (part, after) = std::mem::take(&mut rest).split_at_mut(thread_counts[digit]);
            thread_targets.push(part);
            rest = after;
        }
    }
    keyed
        .par_chunks(piece)
        .zip(targets)
        .for_each(|(points, mut targets)| {
            for point in points {
                let target = &mut targets[high_digit(point.key)];
                let (first, others) = std::mem::take(target)
                    .split_first_mut()
                    .expect("a bucket holds every point counted for it");
                *first = *point;
                *target = others;
            }
        });

    let mut buckets = Vec::with_capacity(DIGITS);
    let (mut from, mut to) = (by_high.as_slice(), keyed.as_mut_slice());
    for digit in 0..DIGITS {
        let len = counts
            .iter()
            .map(|thread_counts| thread_counts[digit])
            .sum();
        let (bucket_from, after_from) = from.split_at(len);
        let (bucket_to, after_to) = std::mem::take(&mut to).split_at_mut(len);
        buckets.push((bucket_from, bucket_to));
        (from, to) = (after_from, after_to);
    }
    buckets
        .into_par_iter()
        .for_each(|(from, to)| sort_by_low_digit(from, to));
    keyed
}

/// Copies `from` into `to` stably ordered by the keys' low digit.
fn sort_by_low_digit(from: &[SortedPoint], to: &mut [SortedPoint]) {
    // Below this, clearing and summing 4096 counters costs more than sorting.
    const SMALL: usize = 128;
    if from.len() <= SMALL {
        to.copy_from_slice(from);
        to.sort_by_key(|point| point.key);
        return;
    }
    let mut starts = [0u32; DIGITS + 1];
    for point in from {
        starts[(point.key & DIGIT_MASK) as usize + 1] += 1;
    }
    for digit in 0..DIGITS {
        starts[digit + 1] += starts[digit];
    }
    for point in from {
        let at = &mut starts[(point.key & DIGIT_MASK) as usize];
        to[*at as usize] = *point;
        *at += 1;
    }
}

fn high_digit(key: u32) -> usize {
    (key >> DIGIT_BITS) as usize
}

/// The radix sort's digits: two of 12 bits make the 24-bit keys.
const DIGIT_BITS: u32 = 12;
const DIGITS: usize = 1 << DIGIT_BITS;
const DIGIT_MASK: u32 = DIGITS as u32 - 1;

/// The distance along a Hilbert curve of order 16 of the cell (x, y), both below 2^16: the
/// same answer as the classic walk down the quadrants (Wikipedia's `xy2d`), found without
/// branches by a prefix scan over the bits (rawrunprotected's "Hilbert curves in O(log(n))
/// time"), ~9x faster, which matters when every household of a city needs a key.
fn hilbert_key(x: u32, y: u32) -> u32 {
    let a = x ^ y;
    let b = 0xFFFF ^ a;
    let c = 0xFFFF ^ (x | y);
    let d = x & (y ^ 0xFFFF);
    let mut big_a = a | (b >> 1);
    let mut big_b = (a >> 1) ^ a;
    let mut big_c = ((c >> 1) ^ (b & (d >> 1))) ^ c;
    let mut big_d = ((a & (c >> 1)) ^ (d >> 1)) ^ d;
    for shift in [2, 4, 8] {
        let (a, b, c, d) = (big_a, big_b, big_c, big_d);
        big_a = (a & (a >> shift)) ^ (b & (b >> shift));
        big_b = (a & (b >> shift)) ^ (b & ((a ^ b) >> shift));
        big_c ^= (a & (c >> shift)) ^ (b & (d >> shift));
        big_d ^= (b & (c >> shift)) ^ ((a ^ b) & (d >> shift));
    }
    let a = big_c ^ (big_c >> 1);
    let b = big_d ^ (big_d >> 1);
    let low_bits = x ^ y;
    let high_bits = b | (0xFFFF ^ (low_bits | a));
    (spread_bits(high_bits) << 1) | spread_bits(low_bits)
}

/// The 16 low bits of `v` moved to the even bits of the result.
fn spread_bits(mut v: u32) -> u32 {
    v = (v | (v << 8)) & 0x00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F;
    v = (v | (v << 2)) & 0x3333_3333;
    (v | (v << 1)) & 0x5555_5555
}

#[cfg(test)]
mod tests {
    use geo::{polygon, MultiPolygon};
    use proptest::prelude::*;

    use super::*;
    use crate::{GridKind, Level, Unit};

    /// Four unit squares side by side: points on their shared edges have a defined answer.
    fn squares() -> Index {
        Index::new(
            (0..4)
                .map(|i| {
                    let x = f64::from(i);
                    Unit {
                        id: 10 + UnitId::from(i),
                        code: format!("G{i}"),
                        name: format!("G{i}"),
                        level: Level::Grid,
                        kind: GridKind::General,
                        parent: None,
                        geometry: MultiPolygon::new(vec![polygon![
                            (x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0),
                        ]]),
                    }
                })
                .collect(),
        )
    }

    proptest! {
        #[test]
        fn a_batch_answers_each_point_as_a_single_lookup_does(
            pool in prop::collection::vec(
                (prop::sample::select(vec![-0.5, 0.0, 0.25, 1.0, 1.5, 2.0, 3.999, 4.0, 4.5]), -0.2f64..1.2),
                1..12,
            ),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..3000),
        ) {
            // Points repeat, as households of one building do, in any order.
            let index = squares();
            let coords: Vec<Coord<f64>> = picks
                .iter()
                .map(|pick| {
                    let (x, y) = pool[pick.index(pool.len())];
                    Coord { x, y }
                })
                .collect();
            let batch = locate_batch(&index, &coords);
            for (coord, slot) in coords.iter().zip(batch) {
                prop_assert_eq!(slot, index.deepest_slot(*coord), "at {:?}", coord);
            }
        }
    }

    /// The classic walk down the quadrants (Wikipedia's `xy2d`), which [`hilbert_key`] must
    /// agree with.
    fn hilbert_key_by_quadrants(mut x: u32, mut y: u32) -> u32 {
        let mut key = 0u32;
        let mut side = 1u32 << 15;
        while side > 0 {
            let rx = u32::from(x & side > 0);
            let ry = u32::from(y & side > 0);
            key += side * side * ((3 * rx) ^ ry);
            if ry == 0 {
                if rx == 1 {
                    x = 0xFFFF - x;
                    y = 0xFFFF - y;
                }
                std::mem::swap(&mut x, &mut y);
            }
            side /= 2;
        }
        key
    }

    proptest! {
        #[test]
        fn hilbert_keys_are_those_of_the_walk_down_the_quadrants(x in 0u32..1 << 16, y in 0u32..1 << 16) {
            prop_assert_eq!(hilbert_key(x, y), hilbert_key_by_quadrants(x, y));
        }
    }

    #[test]
    fn a_sorted_batch_follows_the_curve_and_keeps_input_order_within_a_cell() {
        // A far corner stretches the box, so most points share a few cells (a bucket large
        // enough to be counted) while a sparse diagonal fills small buckets.
        let coords: Vec<Coord<f64>> = (0..20_000u32)
            .map(|i| match i % 50 {
                0 => Coord {
                    x: f64::from(i) * 50.0,
                    y: f64::from(i) * 50.0,
                },
                _ => Coord {
                    x: f64::from(i * 7919 % 613),
                    y: f64::from(i * 104_729 % 389),
                },
            })
            .collect();
        let sorted = hilbert_sorted(coords.len(), |i| coords[i]);
        let mut inputs: Vec<u32> = sorted.iter().map(|p| p.input).collect();
        for pair in sorted.windows(2) {
            assert!((pair[0].key, pair[0].input) < (pair[1].key, pair[1].input));
        }
        for point in &sorted {
            assert_eq!(point.coord, coords[point.input as usize]);
        }
        inputs.sort_unstable();
        assert!(inputs.iter().copied().eq(0..coords.len() as u32));
    }

    #[test]
    fn hilbert_keys_visit_every_cell_of_a_small_curve_once() {
        // On a 4×4 corner of the order-16 curve, consecutive keys are neighbouring cells.
        let mut cells: Vec<(u32, u32, u32)> = (0..4)
            .flat_map(|x| (0..4).map(move |y| (hilbert_key(x, y), x, y)))
            .collect();
        cells.sort();
        for pair in cells.windows(2) {
            let (_, x0, y0) = pair[0];
            let (_, x1, y1) = pair[1];
            assert_eq!(x0.abs_diff(x1) + y0.abs_diff(y1), 1, "{pair:?}");
        }
    }
}
