//! A cell map over one level: a uniform grid of cells, each knowing whether it lies wholly
//! inside one unit, wholly outside every unit, or on a border (with the few units whose
//! boundary crosses it). Most points are answered with one memory read and no polygon test;
//! only points in border cells are tested exactly, against a short list instead of after an
//! R-tree descent. Random-order lookups are bound by cache misses, and this removes most of
//! them.
//!
//! Built conservatively: every cell a unit's boundary touches (closed cells, with a margin far
//! above rounding error) is a border cell of that unit, so a non-border cell holds no boundary
//! and its centre decides for all of it. Non-border cells are resolved a connected region at a
//! time (a flood fill), with one exact lookup per region.

use std::collections::VecDeque;

use geo::{BoundingRect, Coord, LineString, Rect};
use rayon::prelude::*;

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
const BORDER_FLAG: u32 = 1 << 31;

/// What a cell says about the points in it.
pub(super) enum Cell<'a> {
    /// No unit of the level holds any point of the cell.
    Empty,
    /// The unit's interior holds the whole cell.
    Inside(Slot),
    /// These units' boundaries cross the cell: test exactly.
    Border(&'a [Slot]),
}

/// The cell map of one level.
pub(super) struct CellMap {
    extent: Rect<f64>,
    cols: usize,
    rows: usize,
    cells_per_degree: (f64, f64),
    /// Per cell: a slot (inside), [`EMPTY`], or `BORDER_FLAG | n` for the n-th border list.
    cells: Vec<u32>,
    border_starts: Vec<u32>,
    border_slots: Vec<Slot>,
}

impl CellMap {
    /// Builds the map of `slots` (units of one level); `locate_exactly` answers a point that
    /// lies on no boundary (used once per region of non-border cells).
    pub(super) fn build(
        units: &[Unit],
        slots: &[Slot],
        locate_exactly: impl Fn(Coord<f64>) -> Option<Slot> + Sync,
    ) -> Option<CellMap> {
        let extent = crate::measure::extent(
            slots
                .iter()
                .filter_map(|&s| units[s as usize].geometry.bounding_rect()),
        )?;
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
            border_starts: vec![0],
            border_slots: Vec::new(),
        };
        map.mark_borders(units, slots);
        map.resolve_regions(locate_exactly);
        Some(map)
    }

    /// The cell holding `coord`.
    pub(super) fn cell_at(&self, coord: Coord<f64>) -> Cell<'_> {
        let (min, max) = (self.extent.min(), self.extent.max());
        // Written so that NaN falls outside.
        if !(coord.x >= min.x && coord.x <= max.x && coord.y >= min.y && coord.y <= max.y) {
            return Cell::Empty;
        }
        match self.cells[self.index(self.col(coord.x), self.row(coord.y))] {
            EMPTY => Cell::Empty,
            entry if entry & BORDER_FLAG != 0 => {
                let list = (entry & !BORDER_FLAG) as usize;
                let (start, end) = (self.border_starts[list], self.border_starts[list + 1]);
                Cell::Border(&self.border_slots[start as usize..end as usize])
            }
            slot => Cell::Inside(slot),
        }
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

    /// Marks every cell each unit's boundary touches, and lists the units per border cell.
    fn mark_borders(&mut self, units: &[Unit], slots: &[Slot]) {
        let this = &*self;
        let mut touches: Vec<(u32, Slot)> = slots
            .par_iter()
            .flat_map_iter(|&slot| {
                let mut cells = Vec::new();
                for polygon in &units[slot as usize].geometry {
                    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                        this.cells_touched_by(ring, &mut cells);
                    }
                }
                cells.sort_unstable();
                cells.dedup();
                cells.into_iter().map(move |cell| (cell, slot))
            })
            .collect();
        touches.par_sort_unstable();
        for run in touches.chunk_by(|a, b| a.0 == b.0) {
            let list = (self.border_starts.len() - 1) as u32;
            self.cells[run[0].0 as usize] = BORDER_FLAG | list;
            self.border_slots.extend(run.iter().map(|(_, slot)| *slot));
            self.border_starts.push(self.border_slots.len() as u32);
        }
    }

    /// Pushes the cells each segment of `ring` passes through or comes within the margin of.
    fn cells_touched_by(&self, ring: &LineString<f64>, cells: &mut Vec<u32>) {
        let margin_x = MARGIN / self.cells_per_degree.0;
        let margin_y = MARGIN / self.cells_per_degree.1;
        for segment in ring.lines() {
            let (p, q) = if segment.start.x <= segment.end.x {
                (segment.start, segment.end)
            } else {
                (segment.end, segment.start)
            };
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
