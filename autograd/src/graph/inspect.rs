//! Graph inspection: Graphviz DOT export and a textual summary.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write};

use super::Graph;
use crate::float::Float;

/// Counts and memory of a [`Graph`]'s nodes, from [`Graph::summary`]; its `Display` is a
/// table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphSummary {
    /// The number of nodes recorded.
    pub nodes: usize,
    /// Nodes per op name, with the bytes their values hold; sorted by count, largest first.
    pub ops: Vec<OpCount>,
    /// Bytes held by all values in the graph; storage shared between values (a reshape, a
    /// parameter entered twice) is counted once.
    pub value_bytes: usize,
    /// Bytes held by the values that recorded backward rules may read: the inputs and
    /// outputs of ops with a rule.
    pub saved_bytes: usize,
    /// The element type, `"f32"` or `"f64"`.
    pub dtype: &'static str,
}

/// One row of a [`GraphSummary`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCount {
    /// The op name (`"matmul"`, `"param"`, ...).
    pub op: &'static str,
    /// How many nodes it produced.
    pub count: usize,
    /// The bytes of their values (shared storage counted once per op).
    pub bytes: usize,
}

impl fmt::Display for GraphSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Graph: {} nodes, {} bytes of {} values ({} saved for backward)",
            self.nodes, self.value_bytes, self.dtype, self.saved_bytes
        )?;
        writeln!(f, "{:<24} {:>8} {:>14}", "op", "count", "bytes")?;
        for row in &self.ops {
            writeln!(f, "{:<24} {:>8} {:>14}", row.op, row.count, row.bytes)?;
        }
        Ok(())
    }
}

/// Escapes a string for a DOT double-quoted label.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl<T: Float> Graph<T> {
    /// The graph in Graphviz DOT: one node per recorded value, labelled with its op, shape,
    /// dtype and the source line that created it, and an edge from each input to the op
    /// that used it. Inputs (`var`) are green ellipses, parameters orange boxes, constants
    /// grey; ops that recorded no backward rule (no input needed a gradient) have no edges.
    /// Render with `dot -Tsvg graph.dot -o graph.svg`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Param, Tensor};
    /// let w = Param::new(Tensor::<f32>::ones(&[2, 2]));
    /// let g = Graph::new();
    /// let y = g.var(Tensor::ones(&[1, 2])).matmul(g.param(&w)).relu();
    /// let dot = g.to_dot();
    /// assert!(dot.starts_with("digraph ferrograd {"));
    /// assert!(dot.contains("matmul\\n[1, 2] f32"));
    /// assert!(dot.contains("n0 -> n2"));
    /// # let _ = y;
    /// ```
    pub fn to_dot(&self) -> String {
        let inner = self.inner.borrow();
        let mut out = String::from(
            "digraph ferrograd {\n  rankdir=TB;\n  node [shape=box, style=filled, fillcolor=white, fontname=\"monospace\"];\n",
        );
        for (i, &key) in inner.tape.iter().enumerate() {
            let node = &inner.nodes[key];
            let style = match node.op {
                "var" => ", shape=ellipse, fillcolor=\"#c8e6c9\"",
                "param" => ", fillcolor=\"#ffe0b2\"",
                _ if node.parents.is_empty() => ", fillcolor=\"#eeeeee\"",
                _ => "",
            };
            let _ = writeln!(
                out,
                "  n{i} [label=\"{}\\n{:?} {}\\n{}\"{style}];",
                escape(node.op),
                node.value.shape(),
                T::DTYPE,
                escape(&node.location.to_string())
            );
        }
        for (i, &key) in inner.tape.iter().enumerate() {
            for &p in &inner.nodes[key].parents {
                let _ = writeln!(out, "  n{} -> n{i};", inner.nodes[p].tape_index);
            }
        }
        out.push_str("}\n");
        out
    }

    /// Node counts per op and the memory their values hold.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::zeros(&[100]));
    /// let y = (x.exp() + x.exp()).sum();
    /// let s = g.summary();
    /// assert_eq!(s.nodes, 5);
    /// assert_eq!(s.ops[0].op, "exp");
    /// assert_eq!(s.ops[0].count, 2);
    /// assert_eq!(s.value_bytes, (4 * 100 + 1) * 8);
    /// println!("{s}");
    /// # let _ = y;
    /// ```
    pub fn summary(&self) -> GraphSummary {
        let inner = self.inner.borrow();
        let size = std::mem::size_of::<T>();
        let mut ops: BTreeMap<&'static str, (usize, usize, HashSet<*const T>)> = BTreeMap::new();
        let (mut all, mut saved) = (HashSet::new(), HashSet::new());
        let (mut value_bytes, mut saved_bytes) = (0, 0);
        for &key in &inner.tape {
            let node = &inner.nodes[key];
            let ptr = node.value.array().as_ptr();
            let bytes = node.value.numel() * size;
            let entry = ops.entry(node.op).or_default();
            entry.0 += 1;
            if entry.2.insert(ptr) {
                entry.1 += bytes;
            }
            if all.insert(ptr) {
                value_bytes += bytes;
            }
            if node.backward.is_some() {
                let read = node.parents.iter().map(|&p| &inner.nodes[p].value);
                for value in read.chain([&node.value]) {
                    if saved.insert(value.array().as_ptr()) {
                        saved_bytes += value.numel() * size;
                    }
                }
            }
        }
        let mut ops: Vec<OpCount> = ops
            .into_iter()
            .map(|(op, (count, bytes, _))| OpCount { op, count, bytes })
            .collect();
        ops.sort_by(|a, b| b.count.cmp(&a.count).then(a.op.cmp(b.op)));
        GraphSummary {
            nodes: inner.tape.len(),
            ops,
            value_bytes,
            saved_bytes,
            dtype: T::DTYPE,
        }
    }
}
