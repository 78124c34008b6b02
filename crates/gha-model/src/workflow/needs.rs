//! The job graph formed by `needs`.

use std::collections::HashMap;

use super::job::Job;
use crate::diagnostic::codes;
use crate::reader::Reader;

/// Jobs and their `needs` edges, with file order kept for deterministic scheduling.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  c: {needs: [a, b], runs-on: x, steps: [{run: y}]}\n  a: {runs-on: x, steps: [{run: y}]}\n  b: {needs: a, runs-on: x, steps: [{run: y}]}\n",
/// ).unwrap();
/// let g = wf.needs_graph();
/// assert_eq!(g.topological_order(), vec!["a", "b", "c"]);
/// assert_eq!(g.levels(), vec![vec!["a"], vec!["b"], vec!["c"]]);
/// assert_eq!(g.dependencies("c"), ["a", "b"]);
/// assert_eq!(g.dependents("a"), vec!["c", "b"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeedsGraph {
    ids: Vec<String>,
    needs: Vec<Vec<usize>>,
}

impl NeedsGraph {
    /// Build from jobs (unknown `needs` are ignored; they are reported at load time).
    pub fn new(jobs: &[Job]) -> Self {
        let ids: Vec<String> = jobs.iter().map(|j| j.id.value.clone()).collect();
        let index: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let needs = jobs
            .iter()
            .map(|j| {
                j.needs
                    .iter()
                    .filter_map(|n| index.get(n.value.as_str()).copied())
                    .collect()
            })
            .collect();
        NeedsGraph { ids, needs }
    }

    /// Job ids in file order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The jobs `id` needs.
    pub fn dependencies(&self, id: &str) -> Vec<&str> {
        self.position(id)
            .map(|i| {
                self.needs[i]
                    .iter()
                    .map(|&n| self.ids[n].as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The jobs that need `id`, in file order.
    pub fn dependents(&self, id: &str) -> Vec<&str> {
        let Some(target) = self.position(id) else {
            return Vec::new();
        };
        (0..self.ids.len())
            .filter(|&i| self.needs[i].contains(&target))
            .map(|i| self.ids[i].as_str())
            .collect()
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Jobs grouped in waves: each wave needs only jobs of earlier waves. Jobs in a cycle are
    /// left out.
    pub fn levels(&self) -> Vec<Vec<&str>> {
        let n = self.ids.len();
        let mut level: Vec<Option<usize>> = vec![None; n];
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                if level[i].is_some() {
                    continue;
                }
                let deps: Option<Vec<usize>> = self.needs[i].iter().map(|&d| level[d]).collect();
                if let Some(deps) = deps {
                    level[i] = Some(deps.into_iter().max().map_or(0, |m| m + 1));
                    changed = true;
                }
            }
        }
        let depth = level.iter().flatten().max().map_or(0, |m| m + 1);
        let mut out = vec![Vec::new(); depth];
        for (i, l) in level.iter().enumerate() {
            if let Some(l) = l {
                out[*l].push(self.ids[i].as_str());
            }
        }
        out
    }

    /// All jobs in an order where every job comes after the jobs it needs (file order among
    /// independent jobs). Jobs in a cycle are left out.
    pub fn topological_order(&self) -> Vec<&str> {
        self.levels().into_iter().flatten().collect()
    }

    /// Every cycle edge `(job, needed job)`, each with one cycle through it as a path of ids
    /// starting and ending at `job`.
    pub(crate) fn cycles(&self) -> Vec<(usize, usize, Vec<usize>)> {
        let mut out = Vec::new();
        for (i, deps) in self.needs.iter().enumerate() {
            for (k, &d) in deps.iter().enumerate() {
                if let Some(mut path) = self.path(d, i) {
                    path.insert(0, i);
                    out.push((i, k, path));
                }
            }
        }
        out
    }

    /// Shortest path from `from` to `to` following `needs` edges (BFS).
    fn path(&self, from: usize, to: usize) -> Option<Vec<usize>> {
        let mut prev: Vec<Option<usize>> = vec![None; self.ids.len()];
        let mut seen = vec![false; self.ids.len()];
        let mut queue = std::collections::VecDeque::from([from]);
        seen[from] = true;
        while let Some(x) = queue.pop_front() {
            if x == to {
                let mut path = vec![x];
                let mut cur = x;
                while let Some(p) = prev[cur] {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            for &y in &self.needs[x] {
                if !seen[y] {
                    seen[y] = true;
                    prev[y] = Some(x);
                    queue.push_back(y);
                }
            }
        }
        None
    }
}

pub(crate) fn validate(r: &mut Reader<'_>, jobs: &[Job]) {
    for job in jobs {
        for n in &job.needs {
            if !jobs.iter().any(|j| j.id.value == n.value) {
                let ids: Vec<&str> = jobs.iter().map(|j| j.id.value.as_str()).collect();
                let mut d = crate::Diagnostic::error(
                    n.span,
                    codes::NEEDS,
                    format!(
                        "Job '{}' depends on unknown job '{}'.",
                        job.id.value, n.value
                    ),
                );
                if let Some(s) = crate::reader::did_you_mean(&n.value, &ids) {
                    d = d.with_help(format!("did you mean \"{s}\"?"));
                }
                r.diags.push(d);
            }
        }
    }
    let graph = NeedsGraph::new(jobs);
    let cycles = graph.cycles();
    // One summary per cycle, at the first job (in file order) that is part of one.
    let mut summarized: Vec<usize> = Vec::new();
    for (i, _, path) in &cycles {
        if summarized.contains(i) {
            continue;
        }
        summarized.extend(path.iter().copied());
        let path_text = path
            .iter()
            .map(|&p| format!("\"{}\"", graph.ids[p]))
            .collect::<Vec<_>>()
            .join(" -> ");
        r.error(
            jobs[*i].id.span,
            codes::NEEDS,
            format!(
                "cyclic dependencies in \"needs\" job configurations are detected. detected cycle is {path_text}"
            ),
        );
    }
    for (i, _, path) in cycles {
        let job = &jobs[i];
        let needed = &graph.ids[path[1]];
        let Some(at) = job.needs.iter().find(|n| n.value == *needed) else {
            continue;
        };
        r.error(
            at.span,
            codes::NEEDS,
            format!(
                "Job '{}' depends on job '{needed}' which creates a cycle in the dependency graph.",
                job.id.value
            ),
        );
    }
}
