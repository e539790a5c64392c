//! Unified hierarchical codes, a unit's "ID card".
//!
//! The shape follows the national standards (GB/T 2260 division codes, the NBS 12-digit community
//! codes, CJ/T 349-2010 and Beijing's DB11 15-digit unit-grid code): a 4-digit city, then
//! 2 digits for the district, 3 for the street, 3 for the community, 3 for the grid and 2 for the
//! micro-grid, each appended to the parent's code (see [`Level::code_digits`]).
//!
//! New siblings are numbered in reading order: west to east along a row, rows north to south.
//! Codes are stable: a code, once issued, never changes when siblings are added or redrawn, and
//! a retired code is never reused. That is why numbering continues after the highest number ever
//! issued under a parent, which the caller keeps (see [`issue_codes`]).

use geo::{BoundingRect, InteriorPoint, MultiPolygon};

use crate::Level;

/// Why a code could not be issued or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Every number the level's digits allow under this parent was issued already.
    #[error("no {level} code left under {parent_code}: all {capacity} numbers were issued")]
    Exhausted {
        parent_code: String,
        level: Level,
        capacity: u32,
    },
    /// A code given by the user is empty, too long, or holds other characters than
    /// ASCII letters, digits, `-`, `_` and `.`.
    #[error("code {0:?} is not a valid code: use 1-64 ASCII letters, digits, '-', '_' or '.'")]
    Malformed(String),
}

/// Checks a code given by the user. Codes need not follow the hierarchical shape (departments'
/// own layers have codes of their own), but they are identifiers: short, printable, no spaces.
///
/// ```
/// assert!(geodata::codes::check_code("510107001004").is_ok());
/// assert!(geodata::codes::check_code("GA-0012").is_ok());
/// assert!(geodata::codes::check_code("two words").is_err());
/// ```
pub fn check_code(code: &str) -> Result<(), CodeError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if code.is_empty() || code.len() > 64 || !code.chars().all(allowed) {
        return Err(CodeError::Malformed(code.to_owned()));
    }
    Ok(())
}

/// The code of the `number`th child at `level` under `parent_code`, zero-padded to the level's
/// width.
///
/// ```
/// use geodata::{codes::child_code, Level};
/// assert_eq!(child_code("510107001004", Level::Grid, 7).unwrap(), "510107001004007");
/// assert_eq!(child_code("510107001004007", Level::MicroGrid, 12).unwrap(), "51010700100400712");
/// assert!(child_code("510107001004", Level::Grid, 1000).is_err());
/// ```
pub fn child_code(parent_code: &str, level: Level, number: u32) -> Result<String, CodeError> {
    let width = level.code_digits();
    let capacity = 10u32.pow(width as u32) - 1;
    if number == 0 || number > capacity {
        return Err(CodeError::Exhausted {
            parent_code: parent_code.to_owned(),
            level,
            capacity,
        });
    }
    Ok(format!("{parent_code}{number:0width$}"))
}

/// Orders siblings for numbering: west to east along a row, rows from north to south.
///
/// A sibling's place is its interior point; rows are bands as tall as the siblings' median
/// height, counted from the northernmost sibling, so that a grid of blocks reads like text.
/// Ties (same row, same longitude) keep their input order. Returns indices into `siblings`.
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// let square = |x: f64, y: f64| MultiPolygon::new(vec![polygon![
///     (x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0),
/// ]]);
/// // Two rows of two: north-west, north-east, then south-west, south-east.
/// let siblings = [square(1.0, 0.0), square(0.0, 1.0), square(0.0, 0.0), square(1.0, 1.0)];
/// assert_eq!(geodata::codes::reading_order(&siblings), vec![1, 3, 2, 0]);
/// ```
pub fn reading_order(siblings: &[MultiPolygon<f64>]) -> Vec<usize> {
    let places: Vec<(f64, f64)> = siblings
        .iter()
        .map(|g| {
            g.interior_point()
                .map(|p| (p.x(), p.y()))
                .unwrap_or((f64::INFINITY, f64::NEG_INFINITY))
        })
        .collect();
    let mut heights: Vec<f64> = siblings
        .iter()
        .filter_map(|g| g.bounding_rect().map(|r| r.height()))
        .filter(|h| *h > 0.0)
        .collect();
    heights.sort_by(f64::total_cmp);
    let row_height = heights.get(heights.len() / 2).copied().unwrap_or(1.0);
    let north = places
        .iter()
        .map(|p| p.1)
        .filter(|y| y.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let row = |y: f64| ((north - y) / row_height).floor();
    let mut order: Vec<usize> = (0..siblings.len()).collect();
    order.sort_by(|&a, &b| {
        let (xa, ya) = places[a];
        let (xb, yb) = places[b];
        row(ya).total_cmp(&row(yb)).then(xa.total_cmp(&xb))
    });
    order
}

/// Issues codes for new siblings under `parent_code`, in [`reading_order`], continuing after
/// `last_issued` (the highest number ever issued under this parent at this level; 0 if none).
/// Returns the codes, in the order of `new_siblings`, and the new highest number, which the
/// caller must keep so that retired codes are never reused.
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// use geodata::{codes::issue_codes, Level};
/// let square = |x: f64| MultiPolygon::new(vec![polygon![
///     (x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0),
/// ]]);
/// // Numbers 1-3 were issued before (one since retired): the east square gets 5, the west 4.
/// let (codes, last) = issue_codes("510107001004", Level::Grid, 3, &[square(5.0), square(2.0)]).unwrap();
/// assert_eq!(codes, vec!["510107001004005", "510107001004004"]);
/// assert_eq!(last, 5);
/// ```
///
/// # Errors
/// [`CodeError::Exhausted`] when the level's digits run out under this parent.
pub fn issue_codes(
    parent_code: &str,
    level: Level,
    last_issued: u32,
    new_siblings: &[MultiPolygon<f64>],
) -> Result<(Vec<String>, u32), CodeError> {
    let mut codes = vec![String::new(); new_siblings.len()];
    let mut last = last_issued;
    for index in reading_order(new_siblings) {
        last += 1;
        codes[index] = child_code(parent_code, level, last)?;
    }
    Ok((codes, last))
}
