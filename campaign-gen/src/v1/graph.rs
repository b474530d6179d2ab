//! The hyperlane graph in compact form, with breadth-first searches that
//! reuse their buffers (the generator runs hundreds of them per world).

use crate::world::SystemId;

/// Marks a system no search reached.
pub(crate) const UNREACHED: u32 = u32::MAX;

/// Adjacency in compressed rows: the neighbours of `v` are
/// `targets[offsets[v]..offsets[v + 1]]`, sorted by id.
pub(crate) struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    queue: Vec<u32>,
}

impl Graph {
    /// Builds the graph from per-system neighbour lists.
    pub(crate) fn new(adjacency: &[Vec<SystemId>]) -> Self {
        let mut offsets = Vec::with_capacity(adjacency.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for neighbours in adjacency {
            targets.extend(neighbours.iter().map(|n| n.0));
            offsets.push(targets.len() as u32);
        }
        Graph {
            offsets,
            targets,
            queue: Vec::with_capacity(adjacency.len()),
        }
    }

    /// Number of systems.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The neighbours of `v`, sorted by id.
    pub(crate) fn neighbours(&self, v: usize) -> &[u32] {
        match (self.offsets.get(v), self.offsets.get(v + 1)) {
            (Some(&a), Some(&b)) => &self.targets[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Hop counts from `from` to every system ([`UNREACHED`] where none).
    pub(crate) fn hops(&mut self, from: usize) -> Vec<u32> {
        let mut dist = vec![UNREACHED; self.len()];
        self.relax_from(from, &mut dist);
        dist
    }

    /// The systems within `radius` hops of `from` (itself included), sorted.
    pub(crate) fn within(&self, from: usize, radius: u32) -> Vec<usize> {
        let mut found: Vec<(usize, u32)> = vec![(from, 0)];
        let mut head = 0;
        while let Some(&(v, d)) = found.get(head) {
            head += 1;
            if d == radius {
                continue;
            }
            for &w in self.neighbours(v) {
                if !found.iter().any(|&(x, _)| x == w as usize) {
                    found.push((w as usize, d + 1));
                }
            }
        }
        let mut out: Vec<usize> = found.into_iter().map(|(v, _)| v).collect();
        out.sort_unstable();
        out
    }

    /// Lowers each `dist[v]` to the hop count from `from` where that is
    /// smaller. `dist` must already be a minimum of hop counts (or all
    /// [`UNREACHED`]), so the search stops wherever it cannot improve.
    pub(crate) fn relax_from(&mut self, from: usize, dist: &mut [u32]) {
        if from >= dist.len() || dist[from] == 0 {
            return;
        }
        self.queue.clear();
        dist[from] = 0;
        self.queue.push(from as u32);
        let mut head = 0;
        while let Some(&v) = self.queue.get(head) {
            head += 1;
            let next = dist[v as usize] + 1;
            let (a, b) = (self.offsets[v as usize], self.offsets[v as usize + 1]);
            for &w in &self.targets[a as usize..b as usize] {
                if next < dist[w as usize] {
                    dist[w as usize] = next;
                    self.queue.push(w);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(n: u32) -> Graph {
        let adj: Vec<Vec<SystemId>> = (0..n)
            .map(|i| {
                let mut v = Vec::new();
                if i > 0 {
                    v.push(SystemId(i - 1));
                }
                if i + 1 < n {
                    v.push(SystemId(i + 1));
                }
                v
            })
            .collect();
        Graph::new(&adj)
    }

    #[test]
    fn hops_along_a_path_count_up() {
        let mut g = path(5);
        assert_eq!(g.hops(0), vec![0, 1, 2, 3, 4]);
        assert_eq!(g.hops(2), vec![2, 1, 0, 1, 2]);
        assert_eq!(g.neighbours(2), &[1, 3]);
        assert_eq!(g.neighbours(9), &[] as &[u32]);
    }

    #[test]
    fn within_a_radius_includes_the_centre_and_stops_at_the_edge() {
        let g = path(6);
        assert_eq!(g.within(2, 1), vec![1, 2, 3]);
        assert_eq!(g.within(0, 2), vec![0, 1, 2]);
        assert_eq!(g.within(3, 0), vec![3]);
    }

    #[test]
    fn relaxing_keeps_the_minimum_over_several_sources() {
        let mut g = path(7);
        let mut d = g.hops(0);
        g.relax_from(6, &mut d);
        assert_eq!(d, vec![0, 1, 2, 3, 2, 1, 0]);
    }
}
