//! A cell map over one level: a uniform grid of cells, each knowing whether it lies wholly
//! inside one unit, wholly outside every unit, or on a border. Points in the first two kinds
//! are answered with one memory read and no polygon test. A border cell carries, in one
//! contiguous block, everything its points need: the units whose boundary crosses it, only
//! the pieces of their rings that pass through it, and a reference point of the cell whose
//! position in each of those units is known. A point is then decided by counting where the
//! segment from the reference point to it crosses those few edges: a handful of robust
//! orientation tests on data read in one go, instead of whole rings scattered in memory.
//! Random-order lookups are bound by cache misses, and this removes most of them.
//!
//! # Why the local test is exact
//! Let `r` be the reference point (on no boundary) and `p` the query point (checked first to
//! be on no edge of the cell's pieces). A point is inside a unit when a path from outside
//! crosses its rings an odd number of times, so `p` is inside exactly when `r` is and the
//! segment `r → p` crosses the unit's rings an even number of times. That segment lies in the
//! cell, so only edges that touch the cell can cross it, and those are all in the block (cells
//! are built conservatively: every cell a segment comes within a margin of, far above
//! rounding error). Degenerate contacts are resolved by symbolic perturbation: a vertex on the
//! line through `r` and `p` counts as lying on its clockwise side, the same for both its edges,
//! which moves it off the line without changing on which side of any ring `r` or `p` are. An
//! edge whose ends then lie on opposite sides of the line crosses the segment exactly when `r`
//! and `p` lie on opposite sides of the edge's own line; neither can lie on it (that would put
//! `r` or `p` on the edge). Every test is geo's robust `orient2d`, so the answers are those of
//! geo's `coordinate_position`, which the R-tree path uses and the tests compare against.
//!
//! Built a level at a time: non-border cells are resolved a connected region at a time (a
//! flood fill), with one exact lookup per region; border cells in parallel.

use std::collections::VecDeque;
use std::ops::Range;

use geo::algorithm::kernels::RobustKernel;
use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Coord, Kernel, Orientation, Rect};
use rayon::prelude::*;

use super::rings::FlatRings;
use super::Slot;
use crate::Unit;

/// Cells per unit of the level: enough that most lookups land in a cell no border crosses.
const CELLS_PER_UNIT: usize = 64;
/// An upper bound on cells per level (64 MiB of cell entries).
const MAX_CELLS: usize = 1 << 24;
/// Margin around segments, as a share of a cell: far above floating-point error.
const MARGIN: f64 = 1e-6;

const EMPTY: u32 = u32::MAX;
const UNRESOLVED: u32 = u32::MAX - 1;
/// A border cell without a block: its points go to the R-tree (when no reference point off
/// every boundary was found, which takes boundaries through all the points tried).
const UNKNOWN: u32 = u32::MAX - 2;
const BORDER_FLAG: u32 = 1 << 31;
/// Block offsets must stay clear of the sentinels above.
const MAX_OFFSET: usize = (UNKNOWN & !BORDER_FLAG) as usize;

/// Where, as shares of a cell's sides, reference points are tried, in order.
const REFERENCE_TRIES: [(f64, f64); 9] = [
    (0.5, 0.5),
    (0.25, 0.25),
    (0.75, 0.75),
    (0.25, 0.75),
    (0.75, 0.25),
    (0.375, 0.625),
    (0.625, 0.375),
    (0.125, 0.875),
    (0.875, 0.125),
];

/// What a cell says about the points in it.
pub(super) enum Cell {
    /// No unit of the level holds any point of the cell.
    Empty,
    /// The unit's interior holds the whole cell.
    Inside(Slot),
    /// Boundaries cross the cell; its block starts at this offset.
    Border(usize),
    /// Boundaries cross the cell, and only the R-tree can tell.
    Unknown,
}

/// What the cell map answers for a point.
pub(super) enum Found {
    /// No unit of the level holds the point.
    Nothing,
    /// This unit holds it (by the border rule if several do, see the module doc of `index`).
    Unit(Slot),
    /// Ask the R-tree.
    Unknown,
}

/// The cell map of one level.
pub(super) struct CellMap {
    extent: Rect<f64>,
    cols: usize,
    rows: usize,
    cells_per_degree: (f64, f64),
    /// Per cell: a slot (inside), [`EMPTY`], [`UNKNOWN`], or `BORDER_FLAG | offset` of the
    /// cell's block in `blocks`.
    cells: Vec<u32>,
    /// The border cells' blocks, end to end. One block: the reference point's x and y (as
    /// bits), the number of units; per unit a head word (slot in the low 32 bits, whether the
    /// reference point is inside it in bit 32, the length of the rest in words above), then
    /// its pieces of ring, each a vertex count and the vertices' x and y.
    blocks: Vec<u64>,
}

impl CellMap {
    /// Builds the map of `slots` (units of one level); `locate_exactly` answers a point that
    /// lies on no boundary (used once per region of non-border cells).
    pub(super) fn build(
        units: &[Unit],
        slots: &[Slot],
        rings: &FlatRings,
        locate_exactly: impl Fn(Coord<f64>) -> Option<Slot> + Sync,
    ) -> Option<CellMap> {
        let extent = crate::measure::extent(
            slots
                .iter()
                .filter_map(|&s| units[s as usize].geometry.bounding_rect()),
        )?;
        if rings.coords().len() >= u32::MAX as usize {
            return None;
        }
        let (width, height) = (extent.width().max(1e-9), extent.height().max(1e-9));
        let target = (slots.len() * CELLS_PER_UNIT).clamp(1, MAX_CELLS);
        let cols = ((target as f64 * width / height).sqrt().ceil() as usize).clamp(1, target);
        let rows = target.div_ceil(cols).max(1);
        let mut map = CellMap {
            extent,
            cols,
            rows,
            cells_per_degree: (cols as f64 / width, rows as f64 / height),
            cells: vec![UNRESOLVED; cols * rows],
            blocks: Vec::new(),
        };
        let touches = map.edges_by_cell(slots, rings);
        let runs: Vec<Range<usize>> = touches
            .chunk_by(|a, b| a.cell == b.cell)
            .scan(0, |start, run| {
                let range = *start..*start + run.len();
                *start = range.end;
                Some(range)
            })
            .collect();
        for run in &runs {
            map.cells[touches[run.start].cell as usize] = UNKNOWN;
        }
        map.resolve_regions(locate_exactly);
        // Each block's length is known before its reference point is chosen: lay them out,
        // then fill them in parallel.
        let lengths: Vec<usize> = runs
            .par_iter()
            .map(|run| block_len(&touches[run.clone()]))
            .collect();
        let total: usize = lengths.iter().sum();
        if total > MAX_OFFSET {
            return Some(map);
        }
        let mut blocks = vec![0u64; total];
        let mut rest = blocks.as_mut_slice();
        let mut slices = Vec::with_capacity(runs.len());
        for &len in &lengths {
            let (block, tail) = rest.split_at_mut(len);
            slices.push(block);
            rest = tail;
        }
        let filled: Vec<bool> = slices
            .into_par_iter()
            .zip(&runs)
            .map(|(block, run)| map.fill_block(&touches[run.clone()], rings, block))
            .collect();
        let mut offset = 0;
        for ((run, len), filled) in runs.iter().zip(lengths).zip(filled) {
            map.cells[touches[run.start].cell as usize] = if filled {
                BORDER_FLAG | offset as u32
            } else {
                UNKNOWN
            };
            offset += len;
        }
        map.blocks = blocks;
        Some(map)
    }

    /// The cell holding `coord`.
    pub(super) fn cell_at(&self, coord: Coord<f64>) -> Cell {
        let (min, max) = (self.extent.min(), self.extent.max());
        // Written so that NaN falls outside.
        if !(coord.x >= min.x && coord.x <= max.x && coord.y >= min.y && coord.y <= max.y) {
            return Cell::Empty;
        }
        match self.cells[self.index(self.col(coord.x), self.row(coord.y))] {
            EMPTY => Cell::Empty,
            UNKNOWN => Cell::Unknown,
            entry if entry & BORDER_FLAG != 0 => Cell::Border((entry & !BORDER_FLAG) as usize),
            slot => Cell::Inside(slot),
        }
    }

    /// The unit holding `p`: the one whose interior holds it, else the one with the smallest
    /// `code` among those whose boundary holds it.
    pub(super) fn locate<'a>(&self, p: Coord<f64>, code: impl Fn(Slot) -> &'a str) -> Found {
        match self.cell_at(p) {
            Cell::Empty => Found::Nothing,
            Cell::Inside(slot) => Found::Unit(slot),
            Cell::Unknown => Found::Unknown,
            Cell::Border(offset) => match self.test_block(offset, p, code) {
                Some(slot) => Found::Unit(slot),
                None => Found::Nothing,
            },
        }
    }

    /// Decides `p` against the block at `offset` (see the module doc).
    fn test_block<'a>(
        &self,
        offset: usize,
        p: Coord<f64>,
        code: impl Fn(Slot) -> &'a str,
    ) -> Option<Slot> {
        let r = Coord {
            x: f64::from_bits(self.blocks[offset]),
            y: f64::from_bits(self.blocks[offset + 1]),
        };
        let units = self.blocks[offset + 2] as usize;
        let mut at = offset + 3;
        let mut on_boundary: Option<Slot> = None;
        for _ in 0..units {
            let head = self.blocks[at];
            let slot = head as u32;
            let words = (head >> 33) as usize;
            let body = &self.blocks[at + 1..at + 1 + words];
            at += 1 + words;
            match position(body, r, head & (1 << 32) != 0, p) {
                CoordPos::Inside => return Some(slot),
                CoordPos::OnBoundary => {
                    if on_boundary.is_none_or(|other| code(slot) < code(other)) {
                        on_boundary = Some(slot);
                    }
                }
                CoordPos::Outside => {}
            }
        }
        on_boundary
    }

    fn col(&self, x: f64) -> usize {
        let f = (x - self.extent.min().x) * self.cells_per_degree.0;
        (f.max(0.0) as usize).min(self.cols - 1)
    }

    fn row(&self, y: f64) -> usize {
        let f = (y - self.extent.min().y) * self.cells_per_degree.1;
        (f.max(0.0) as usize).min(self.rows - 1)
    }

    fn index(&self, col: usize, row: usize) -> usize {
        row * self.cols + col
    }

    /// Every edge of every unit with each cell it touches, sorted by cell, unit and edge.
    fn edges_by_cell(&self, slots: &[Slot], rings: &FlatRings) -> Vec<Touch> {
        let coords = rings.coords();
        // In slot order, and within a slot in edge order: a stable sort by cell is enough.
        let mut slots = slots.to_vec();
        slots.sort_unstable();
        let unsorted: Vec<Touch> = slots
            .par_iter()
            .flat_map_iter(|&slot| {
                let mut touches = Vec::new();
                let mut cells = Vec::new();
                for ring in rings.rings_of(slot) {
                    for first in ring.start..ring.end.saturating_sub(1) {
                        cells.clear();
                        self.cells_touched_by(coords[first], coords[first + 1], &mut cells);
                        cells.sort_unstable();
                        cells.dedup();
                        touches.extend(cells.iter().map(|&cell| Touch {
                            cell,
                            slot,
                            first: first as u32,
                        }));
                    }
                }
                touches
            })
            .collect();
        // A counting sort: the keys are dense, and it keeps the order within a cell.
        let mut starts = vec![0u32; self.cells.len() + 1];
        for touch in &unsorted {
            starts[touch.cell as usize + 1] += 1;
        }
        for cell in 0..self.cells.len() {
            starts[cell + 1] += starts[cell];
        }
        let mut sorted = vec![
            Touch {
                cell: 0,
                slot: 0,
                first: 0
            };
            unsorted.len()
        ];
        for touch in unsorted {
            let at = &mut starts[touch.cell as usize];
            sorted[*at as usize] = touch;
            *at += 1;
        }
        sorted
    }

    /// Pushes the cells the segment from `a` to `b` passes through or comes within the margin
    /// of.
    fn cells_touched_by(&self, a: Coord<f64>, b: Coord<f64>, cells: &mut Vec<u32>) {
        let margin_x = MARGIN / self.cells_per_degree.0;
        let margin_y = MARGIN / self.cells_per_degree.1;
        let (p, q) = if a.x <= b.x { (a, b) } else { (b, a) };
        let slope = if q.x > p.x {
            (q.y - p.y) / (q.x - p.x)
        } else {
            0.0
        };
        let y_at = |x: f64| {
            if q.x > p.x {
                p.y + (x - p.x) * slope
            } else {
                p.y
            }
        };
        let (first, last) = (self.col(p.x - margin_x), self.col(q.x + margin_x));
        for col in first..=last {
            let left = self.extent.min().x + col as f64 / self.cells_per_degree.0;
            let right = self.extent.min().x + (col + 1) as f64 / self.cells_per_degree.0;
            let (x0, x1) = (left.clamp(p.x, q.x), right.clamp(p.x, q.x));
            let (mut y0, mut y1) = if q.x > p.x {
                (y_at(x0), y_at(x1))
            } else {
                (p.y, q.y)
            };
            if y0 > y1 {
                std::mem::swap(&mut y0, &mut y1);
            }
            for row in self.row(y0 - margin_y)..=self.row(y1 + margin_y) {
                cells.push(self.index(col, row) as u32);
            }
        }
    }

    /// Fills `block` (of [`block_len`] words) for one border cell from its touches (one
    /// cell's run, sorted by unit and edge); false when no reference point off every boundary
    /// was found, or too many units cross the cell to keep their positions in one word.
    fn fill_block(&self, touches: &[Touch], rings: &FlatRings, block: &mut [u64]) -> bool {
        let cell = touches[0].cell as usize;
        let (col, row) = (cell % self.cols, cell / self.cols);
        let units = || touches.chunk_by(|a, b| a.slot == b.slot);
        let count = units().count();
        if count > 64 {
            return false;
        }
        let reference = REFERENCE_TRIES.iter().find_map(|&(fx, fy)| {
            let r = Coord {
                x: self.extent.min().x + (col as f64 + fx) / self.cells_per_degree.0,
                y: self.extent.min().y + (row as f64 + fy) / self.cells_per_degree.1,
            };
            let mut inside = 0u64;
            for (i, unit) in units().enumerate() {
                match rings.position(unit[0].slot, r) {
                    CoordPos::OnBoundary => return None,
                    CoordPos::Inside => inside |= 1 << i,
                    CoordPos::Outside => {}
                }
            }
            Some((r, inside))
        });
        let Some((r, inside)) = reference else {
            return false;
        };
        block[..3].copy_from_slice(&[r.x.to_bits(), r.y.to_bits(), count as u64]);
        let coords = rings.coords();
        let mut at = 3;
        // The units holding the reference point first: the likeliest answer ends the search.
        for holds_reference in [true, false] {
            for (i, unit) in units().enumerate() {
                if (inside >> i & 1 == 1) != holds_reference {
                    continue;
                }
                let head_at = at;
                at += 1;
                // Runs of consecutive edges make one piece of ring each.
                for piece in unit.chunk_by(|a, b| b.first == a.first + 1) {
                    let vertices =
                        piece[0].first as usize..piece[piece.len() - 1].first as usize + 2;
                    block[at] = vertices.len() as u64;
                    at += 1;
                    for c in &coords[vertices] {
                        block[at] = c.x.to_bits();
                        block[at + 1] = c.y.to_bits();
                        at += 2;
                    }
                }
                let words = (at - head_at - 1) as u64;
                block[head_at] =
                    u64::from(unit[0].slot) | u64::from(holds_reference) << 32 | words << 33;
            }
        }
        true
    }

    /// Gives every non-border cell its unit (or none): cells of one 4-connected region of
    /// non-border cells share it, as no boundary passes between them.
    fn resolve_regions(&mut self, locate_exactly: impl Fn(Coord<f64>) -> Option<Slot>) {
        let mut queue = VecDeque::new();
        for start in 0..self.cells.len() {
            if self.cells[start] != UNRESOLVED {
                continue;
            }
            let (col, row) = (start % self.cols, start / self.cols);
            let centre = Coord {
                x: self.extent.min().x + (col as f64 + 0.5) / self.cells_per_degree.0,
                y: self.extent.min().y + (row as f64 + 0.5) / self.cells_per_degree.1,
            };
            let value = locate_exactly(centre).unwrap_or(EMPTY);
            self.cells[start] = value;
            queue.push_back(start);
            while let Some(cell) = queue.pop_front() {
                let (col, row) = (cell % self.cols, cell / self.cols);
                let neighbours = [
                    (col > 0).then(|| cell - 1),
                    (col + 1 < self.cols).then(|| cell + 1),
                    (row > 0).then(|| cell - self.cols),
                    (row + 1 < self.rows).then(|| cell + self.cols),
                ];
                for next in neighbours.into_iter().flatten() {
                    if self.cells[next] == UNRESOLVED {
                        self.cells[next] = value;
                        queue.push_back(next);
                    }
                }
            }
        }
    }
}

/// The words of the block of one border cell, from its touches.
fn block_len(touches: &[Touch]) -> usize {
    let mut len = 3;
    for unit in touches.chunk_by(|a, b| a.slot == b.slot) {
        len += 1;
        for piece in unit.chunk_by(|a, b| b.first == a.first + 1) {
            len += 1 + 2 * (piece.len() + 1);
        }
    }
    len
}

/// One edge of a unit touching one cell.
#[derive(Clone, Copy)]
struct Touch {
    cell: u32,
    slot: Slot,
    /// The edge's first vertex, in [`FlatRings::coords`].
    first: u32,
}

/// Where `p` lies relative to one unit of a block, from the unit's pieces of ring in `body`,
/// the reference point `r` and whether `r` is inside the unit (see the module doc).
fn position(body: &[u64], r: Coord<f64>, r_inside: bool, p: Coord<f64>) -> CoordPos {
    let vertex = |i: usize| Coord {
        x: f64::from_bits(body[i]),
        y: f64::from_bits(body[i + 1]),
    };
    // Only edges meeting the box of `r` and `p` can cross the segment or hold `p` (closed
    // boxes, so a perturbed vertex on the box's side is kept too).
    let (min_x, max_x) = (r.x.min(p.x), r.x.max(p.x));
    let (min_y, max_y) = (r.y.min(p.y), r.y.max(p.y));
    let mut inside = r_inside;
    let mut at = 0;
    while at < body.len() {
        let count = body[at] as usize;
        let mut a = vertex(at + 1);
        // The side of `a`, when already known from the previous edge.
        let mut side_a = None;
        for i in 1..count {
            let b = vertex(at + 1 + 2 * i);
            if a.x.max(b.x) < min_x
                || a.x.min(b.x) > max_x
                || a.y.max(b.y) < min_y
                || a.y.min(b.y) > max_y
            {
                (a, side_a) = (b, None);
                continue;
            }
            let side_of_a = side_a.unwrap_or_else(|| RobustKernel::orient2d(r, p, a));
            let side_b = RobustKernel::orient2d(r, p, b);
            // Perturbed off the line: a vertex on it counts as clockwise of it.
            let straddles = (side_of_a == Orientation::CounterClockwise)
                != (side_b == Orientation::CounterClockwise);
            if straddles || side_of_a == Orientation::Collinear || side_b == Orientation::Collinear
            {
                let p_side = RobustKernel::orient2d(a, b, p);
                if p_side == Orientation::Collinear
                    && p.x >= a.x.min(b.x)
                    && p.x <= a.x.max(b.x)
                    && p.y >= a.y.min(b.y)
                    && p.y <= a.y.max(b.y)
                {
                    return CoordPos::OnBoundary;
                }
                if straddles && p_side != RobustKernel::orient2d(a, b, r) {
                    inside = !inside;
                }
            }
            (a, side_a) = (b, Some(side_b));
        }
        at += 1 + 2 * count;
    }
    if inside {
        CoordPos::Inside
    } else {
        CoordPos::Outside
    }
}
