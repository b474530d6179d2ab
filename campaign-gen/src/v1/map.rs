//! Star placement and hyperlanes, all in integer geometry.
//!
//! Stars are scattered by shape (spiral, disc or clusters) with a minimum
//! spacing. Hyperlanes start from the Euclidean minimum spanning tree, which
//! makes the map connected and planar with at most six lanes per star, and
//! are then thickened with short Gabriel edges that cross nothing and keep
//! every star's lane count bounded.

use crate::rng::{Stream, TRIG_ONE, cos256, isqrt, sin256};
use crate::world::GalaxyShape;

/// No two stars are closer than this.
pub(crate) const MIN_SPACING: i64 = 100;
/// Map area per star, which sets the galaxy radius.
const AREA_PER_STAR: i64 = 45_000;
/// Lanes added beyond the spanning tree are at most this long.
const MAX_EXTRA_LANE: i64 = 420;
/// Lanes beyond the spanning tree only join stars with fewer lanes than this.
const EXTRA_LANE_DEGREE_CAP: usize = 4;
/// No star has more lanes than this (a Euclidean spanning tree has at most
/// six edges per point, and extra lanes stop at [`EXTRA_LANE_DEGREE_CAP`]).
pub const MAX_LANES_PER_SYSTEM: usize = 6;

/// A placed point.
pub(crate) type Point = (i32, i32);

/// The scattered stars of a galaxy.
pub(crate) struct Layout {
    pub(crate) shape: GalaxyShape,
    pub(crate) radius: i32,
    pub(crate) points: Vec<Point>,
}

/// A bucket grid over points for neighbour look-ups.
struct Grid {
    cell: i64,
    min: i64,
    dim: i64,
    heads: Vec<u32>,
    next: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Grid {
    fn new(extent: i64, cell: i64) -> Self {
        let dim = (2 * extent) / cell + 3;
        Grid {
            cell,
            min: -extent - cell,
            dim,
            heads: vec![NONE; (dim * dim) as usize],
            next: Vec::new(),
        }
    }

    fn cell_of(&self, v: i64) -> i64 {
        ((v - self.min) / self.cell).clamp(0, self.dim - 1)
    }

    fn insert(&mut self, idx: u32, p: Point) {
        let cx = self.cell_of(i64::from(p.0));
        let cy = self.cell_of(i64::from(p.1));
        let slot = (cy * self.dim + cx) as usize;
        if self.next.len() <= idx as usize {
            self.next.resize(idx as usize + 1, NONE);
        }
        self.next[idx as usize] = self.heads[slot];
        self.heads[slot] = idx;
    }

    /// Calls `f` for every stored index whose cell is within `r` of (x, y).
    fn for_each_near(&self, x: i64, y: i64, r: i64, mut f: impl FnMut(u32)) {
        let (x0, x1) = (self.cell_of(x - r), self.cell_of(x + r));
        let (y0, y1) = (self.cell_of(y - r), self.cell_of(y + r));
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                let mut idx = self.heads[(cy * self.dim + cx) as usize];
                while idx != NONE {
                    f(idx);
                    idx = self.next[idx as usize];
                }
            }
        }
    }
}

fn dist2(a: Point, b: Point) -> i64 {
    let dx = i64::from(a.0) - i64::from(b.0);
    let dy = i64::from(a.1) - i64::from(b.1);
    dx * dx + dy * dy
}

/// A uniform point in the disc of radius `r` around (cx, cy).
fn disc_point(rng: &mut Stream, cx: i64, cy: i64, r: i64) -> (i64, i64) {
    let r32 = i32::try_from(r).unwrap_or(i32::MAX);
    for _ in 0..32 {
        let x = i64::from(rng.range(-r32, r32));
        let y = i64::from(rng.range(-r32, r32));
        if x * x + y * y <= r * r {
            return (cx + x, cy + y);
        }
    }
    (cx, cy)
}

/// Scatters `count` stars.
pub(crate) fn layout(count: u32, rng: &mut Stream) -> Layout {
    let count_i = i64::from(count);
    // Area pi * R^2 = count * AREA_PER_STAR, with pi as 22/7.
    let radius = isqrt(count_i * AREA_PER_STAR * 7 / 22).max(400);
    let roll = rng.below(10);
    let shape = if roll < 6 {
        GalaxyShape::Spiral {
            arms: 2 + rng.below(3) as u8,
        }
    } else if roll < 8 || count < 30 {
        GalaxyShape::Disc
    } else {
        GalaxyShape::Clusters {
            count: 3 + rng.below(3) as u8,
        }
    };
    let cluster_centres: Vec<(i64, i64)> = match shape {
        GalaxyShape::Clusters { count } => (0..i64::from(count))
            .map(|k| {
                let angle = k * 256 / i64::from(count) + i64::from(rng.range(-12, 12));
                let d = radius * i64::from(45 + rng.below(25)) / 100;
                (d * cos256(angle) / TRIG_ONE, d * sin256(angle) / TRIG_ONE)
            })
            .collect(),
        _ => Vec::new(),
    };

    let mut bound = radius * 11 / 10;
    let mut points: Vec<Point> = Vec::with_capacity(count as usize);
    let mut grid = Grid::new(bound + radius, MIN_SPACING);
    let mut expansions = 0;
    let mut attempts_left = count_i * 200;
    while (points.len() as u32) < count {
        if attempts_left == 0 {
            // Crowded: widen the galaxy and keep going.
            expansions += 1;
            bound = bound * 11 / 10;
            attempts_left = count_i * 200;
            if expansions > 8 {
                break;
            }
            grid = regrid(&points, bound + radius);
        }
        attempts_left -= 1;
        let scale = bound * 10 / 11;
        let (x, y) = match shape {
            GalaxyShape::Disc => disc_point(rng, 0, 0, scale),
            GalaxyShape::Spiral { arms } => {
                if rng.chance(1, 4) {
                    disc_point(rng, 0, 0, scale / 4)
                } else {
                    let arm = i64::from(rng.below(u32::from(arms)));
                    let t = i64::from(rng.below(1001));
                    let r = scale / 8 + scale * 7 / 8 * t / 1000;
                    let angle =
                        arm * 256 / i64::from(arms) + t * 150 / 1000 + i64::from(rng.range(-5, 5));
                    let (jx, jy) = disc_point(rng, 0, 0, scale / 12 + scale * t / 12_000);
                    (
                        r * cos256(angle) / TRIG_ONE + jx,
                        r * sin256(angle) / TRIG_ONE + jy,
                    )
                }
            }
            GalaxyShape::Clusters { .. } => {
                let k = rng.index(cluster_centres.len());
                let (cx, cy) = cluster_centres.get(k).copied().unwrap_or((0, 0));
                disc_point(rng, cx, cy, scale * 3 / 10)
            }
        };
        if x * x + y * y > bound * bound {
            continue;
        }
        let mut clear = true;
        grid.for_each_near(x, y, MIN_SPACING, |j| {
            let q = points[j as usize];
            let dx = i64::from(q.0) - x;
            let dy = i64::from(q.1) - y;
            if dx * dx + dy * dy < MIN_SPACING * MIN_SPACING {
                clear = false;
            }
        });
        if clear {
            let p = (x as i32, y as i32);
            grid.insert(points.len() as u32, p);
            points.push(p);
        }
    }
    // Only reachable if widening the disc eight times still could not fit
    // the stars; a spaced line of stars keeps the count and the spacing.
    let mut k = 1;
    while (points.len() as u32) < count {
        points.push(((bound + MIN_SPACING * k) as i32, 0));
        k += 1;
    }
    let radius = points
        .iter()
        .map(|&p| isqrt(dist2(p, (0, 0))) + 1)
        .max()
        .unwrap_or(radius);
    Layout {
        shape,
        radius: radius as i32,
        points,
    }
}

fn regrid(points: &[Point], extent: i64) -> Grid {
    let mut grid = Grid::new(extent, MIN_SPACING);
    for (i, &p) in points.iter().enumerate() {
        grid.insert(i as u32, p);
    }
    grid
}

/// Sign of the cross product (b - a) x (c - a).
fn orient(a: Point, b: Point, c: Point) -> i64 {
    let v = (i64::from(b.0) - i64::from(a.0)) * (i64::from(c.1) - i64::from(a.1))
        - (i64::from(b.1) - i64::from(a.1)) * (i64::from(c.0) - i64::from(a.0));
    v.signum()
}

/// Whether `c`, collinear with a-b, lies within the segment's bounding box.
fn on_segment(a: Point, b: Point, c: Point) -> bool {
    c.0 >= a.0.min(b.0) && c.0 <= a.0.max(b.0) && c.1 >= a.1.min(b.1) && c.1 <= a.1.max(b.1)
}

/// Whether two lanes conflict: they cross, touch away from a shared end
/// star, or overlap.
pub(crate) fn lanes_conflict(a: (usize, usize), b: (usize, usize), pts: &[Point]) -> bool {
    let (p1, p2, q1, q2) = (pts[a.0], pts[a.1], pts[b.0], pts[b.1]);
    let shared = [a.0 == b.0, a.0 == b.1, a.1 == b.0, a.1 == b.1];
    if shared.iter().filter(|&&s| s).count() >= 2 {
        return true; // the same lane
    }
    if let Some(k) = shared.iter().position(|&s| s) {
        let (s, u, v) = match k {
            0 => (p1, p2, q2),
            1 => (p1, p2, q1),
            2 => (p2, p1, q2),
            _ => (p2, p1, q1),
        };
        // Lanes sharing an end star conflict only when they run along each other.
        let dot = (i64::from(u.0) - i64::from(s.0)) * (i64::from(v.0) - i64::from(s.0))
            + (i64::from(u.1) - i64::from(s.1)) * (i64::from(v.1) - i64::from(s.1));
        return orient(s, u, v) == 0 && dot > 0;
    }
    let d1 = orient(q1, q2, p1);
    let d2 = orient(q1, q2, p2);
    let d3 = orient(p1, p2, q1);
    let d4 = orient(p1, p2, q2);
    if d1 * d2 < 0 && d3 * d4 < 0 {
        return true;
    }
    (d1 == 0 && on_segment(q1, q2, p1))
        || (d2 == 0 && on_segment(q1, q2, p2))
        || (d3 == 0 && on_segment(p1, p2, q1))
        || (d4 == 0 && on_segment(p1, p2, q2))
}

/// Hyperlanes over the points, as sorted `(a, b)` pairs with `a < b`.
pub(crate) fn hyperlanes(points: &[Point], radius: i32, rng: &mut Stream) -> Vec<(usize, usize)> {
    let n = points.len();
    let mut degree = vec![0usize; n];
    let mut adjacent: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut lanes: Vec<(usize, usize)> = Vec::with_capacity(n * 2);

    // Prim's algorithm on the complete graph: exact, O(n^2), ties by index.
    // Nodes outside the tree are kept in a shrinking list so each round
    // updates and scans only those.
    if n > 1 {
        let xs: Vec<i64> = points.iter().map(|p| i64::from(p.0)).collect();
        let ys: Vec<i64> = points.iter().map(|p| i64::from(p.1)).collect();
        let mut best = vec![i64::MAX; n];
        let mut parent = vec![0usize; n];
        let mut outside: Vec<usize> = (1..n).collect();
        let mut u = 0usize;
        while !outside.is_empty() {
            let (ux, uy) = (xs[u], ys[u]);
            let mut pick = 0usize;
            for (k, &v) in outside.iter().enumerate() {
                let (dx, dy) = (xs[v] - ux, ys[v] - uy);
                let d = dx * dx + dy * dy;
                if d < best[v] {
                    best[v] = d;
                    parent[v] = u;
                }
                let w = outside[pick];
                if (best[v], v) < (best[w], w) {
                    pick = k;
                }
            }
            let v = outside.swap_remove(pick);
            let p = parent[v];
            lanes.push((p.min(v), p.max(v)));
            degree[p] += 1;
            degree[v] += 1;
            adjacent[p].push(v);
            adjacent[v].push(p);
            u = v;
        }
    }

    // Candidate extra lanes: short pairs, shortest first.
    let extent = i64::from(radius) + MAX_EXTRA_LANE;
    let mut point_grid = Grid::new(extent, MAX_EXTRA_LANE);
    for (i, &p) in points.iter().enumerate() {
        point_grid.insert(i as u32, p);
    }
    let mut candidates: Vec<(i64, usize, usize)> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        point_grid.for_each_near(i64::from(p.0), i64::from(p.1), MAX_EXTRA_LANE, |j| {
            let j = j as usize;
            if j > i {
                let d = dist2(p, points[j]);
                if d <= MAX_EXTRA_LANE * MAX_EXTRA_LANE {
                    candidates.push((d, i, j));
                }
            }
        });
    }
    candidates.sort_unstable();

    let mut lane_grid = LaneGrid::new(extent);
    for (k, &(a, b)) in lanes.iter().enumerate() {
        lane_grid.insert(k as u32, points[a], points[b]);
    }
    let mut stamp = vec![u32::MAX; n * 8];
    for (check, &(d, i, j)) in candidates.iter().enumerate() {
        if degree[i] >= EXTRA_LANE_DEGREE_CAP || degree[j] >= EXTRA_LANE_DEGREE_CAP {
            continue;
        }
        if adjacent[i].contains(&j) {
            continue;
        }
        // Leave some gaps so maps have chokepoints, not a uniform mesh.
        if rng.chance(1, 5) {
            continue;
        }
        if !is_gabriel(i, j, d, points, &point_grid) {
            continue;
        }
        let (pi, pj) = (points[i], points[j]);
        let mut blocked = false;
        if stamp.len() < lanes.len() {
            stamp.resize(lanes.len() * 2, u32::MAX);
        }
        lane_grid.for_each_overlapping(pi, pj, |k| {
            let k = k as usize;
            if blocked || stamp[k] == check as u32 {
                return;
            }
            stamp[k] = check as u32;
            if lanes_conflict((i, j), lanes[k], points) {
                blocked = true;
            }
        });
        if blocked {
            continue;
        }
        lane_grid.insert(lanes.len() as u32, pi, pj);
        lanes.push((i, j));
        degree[i] += 1;
        degree[j] += 1;
        adjacent[i].push(j);
        adjacent[j].push(i);
    }
    lanes.sort_unstable();
    lanes
}

/// Gabriel test: no other star lies in or on the circle whose diameter is
/// the lane, so lanes never brush past stars.
fn is_gabriel(i: usize, j: usize, d2: i64, points: &[Point], grid: &Grid) -> bool {
    let (pi, pj) = (points[i], points[j]);
    let mx = (i64::from(pi.0) + i64::from(pj.0)) / 2;
    let my = (i64::from(pi.1) + i64::from(pj.1)) / 2;
    let r = isqrt(d2) / 2 + 2;
    let mut ok = true;
    grid.for_each_near(mx, my, r, |k| {
        let k = k as usize;
        if !ok || k == i || k == j {
            return;
        }
        let pk = points[k];
        let dot = (i64::from(pi.0) - i64::from(pk.0)) * (i64::from(pj.0) - i64::from(pk.0))
            + (i64::from(pi.1) - i64::from(pk.1)) * (i64::from(pj.1) - i64::from(pk.1));
        if dot <= 0 {
            ok = false;
        }
    });
    ok
}

/// Lanes bucketed by the grid cells their bounding boxes cover.
struct LaneGrid {
    cell: i64,
    min: i64,
    dim: i64,
    cells: Vec<Vec<u32>>,
}

impl LaneGrid {
    fn new(extent: i64) -> Self {
        let cell = MAX_EXTRA_LANE;
        let dim = (2 * extent) / cell + 3;
        LaneGrid {
            cell,
            min: -extent - cell,
            dim,
            cells: vec![Vec::new(); (dim * dim) as usize],
        }
    }

    fn span(&self, a: Point, b: Point) -> (i64, i64, i64, i64) {
        let c = |v: i32| ((i64::from(v) - self.min) / self.cell).clamp(0, self.dim - 1);
        (
            c(a.0.min(b.0)),
            c(a.0.max(b.0)),
            c(a.1.min(b.1)),
            c(a.1.max(b.1)),
        )
    }

    fn insert(&mut self, lane: u32, a: Point, b: Point) {
        let (x0, x1, y0, y1) = self.span(a, b);
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                self.cells[(cy * self.dim + cx) as usize].push(lane);
            }
        }
    }

    fn for_each_overlapping(&self, a: Point, b: Point, mut f: impl FnMut(u32)) {
        let (x0, x1, y0, y1) = self.span(a, b);
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                for &lane in &self.cells[(cy * self.dim + cx) as usize] {
                    f(lane);
                }
            }
        }
    }
}

/// Euclidean length of a lane, rounded down.
pub(crate) fn lane_length(a: Point, b: Point) -> u32 {
    u32::try_from(isqrt(dist2(a, b))).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Concern;

    #[test]
    fn crossing_lanes_conflict_and_fans_do_not() {
        let pts = vec![(0, 0), (10, 10), (0, 10), (10, 0), (20, 20), (5, 5)];
        assert!(lanes_conflict((0, 1), (2, 3), &pts)); // an X
        assert!(!lanes_conflict((0, 1), (1, 4), &pts)); // end to end, straight on
        assert!(!lanes_conflict((0, 2), (0, 3), &pts)); // a fan at star 0
        assert!(lanes_conflict((0, 4), (0, 1), &pts)); // overlapping from a shared star
        assert!(lanes_conflict((0, 1), (5, 2), &pts)); // a lane ending on another
        assert!(!lanes_conflict((0, 2), (3, 1), &pts)); // parallel
    }

    #[test]
    fn stars_keep_their_spacing() {
        let mut rng = Stream::new(5, "v1", Concern::Map);
        let layout = layout(300, &mut rng);
        assert_eq!(layout.points.len(), 300);
        for (i, &a) in layout.points.iter().enumerate() {
            for &b in &layout.points[i + 1..] {
                assert!(dist2(a, b) >= MIN_SPACING * MIN_SPACING);
            }
        }
    }
}
