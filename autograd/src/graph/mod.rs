//! The tape: [`Graph`], its [`Var`] handles, op recording and backward.
//!
//! A graph records every op applied to its `Var`s, in creation order, in a slotmap arena.
//! Backward walks that order in reverse with a plain loop — no recursion, so a chain of any
//! length works — and calls each op's backward rule. Rules are written with ordinary `Var`
//! ops: for first-order gradients they run with recording off (only values are computed);
//! with `create_graph` they are recorded like any forward op, so gradients can be
//! differentiated again.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use slotmap::{SlotMap, new_key_type};
use smallvec::SmallVec;

use crate::alloc::OpScope;
use crate::float::Float;
use crate::param::Param;
use crate::tensor::Tensor;

mod anomaly;
mod backward;
mod inspect;

pub use backward::{BackwardCtx, BackwardOptions};
pub use inspect::{GraphSummary, OpCount};

new_key_type! {
    /// The arena key of a node; carries a version, so keys from before a `clear` are stale.
    struct NodeKey;
}

/// Gradients returned by a backward rule: one entry per input, `None` for an input that
/// gets no gradient (because it does not need one, or the op is not differentiable in it).
pub type Grads<'g, T> = SmallVec<[Option<Var<'g, T>>; 2]>;

/// Builds a [`Grads`] list: `grads![Some(a), None]`.
#[macro_export]
macro_rules! grads {
    ($($g:expr),* $(,)?) => { $crate::__smallvec::smallvec![$($g),*] };
}

/// A gradient hook: sees the gradient flowing into a `Var`, and may replace it.
type Hook<T> = Rc<dyn for<'g> Fn(Var<'g, T>) -> Option<Var<'g, T>>>;

type BackwardRule<T> = Rc<dyn for<'a, 'g> Fn(&BackwardCtx<'a, 'g, T>, Var<'g, T>) -> Grads<'g, T>>;

struct Node<T: Float> {
    value: Tensor<T>,
    parents: SmallVec<[NodeKey; 2]>,
    backward: Option<BackwardRule<T>>,
    op: &'static str,
    location: &'static Location<'static>,
    requires_grad: bool,
    grad: Option<NodeKey>,
    tape_index: usize,
}

struct Inner<T: Float> {
    nodes: SlotMap<NodeKey, Node<T>>,
    tape: Vec<NodeKey>,
    params: HashMap<u64, (NodeKey, Param<T>)>,
    hooks: HashMap<NodeKey, Vec<Hook<T>>>,
}

/// A recording of operations: the tape that backward replays.
///
/// Create one per training step (or [`clear`](Graph::clear) and reuse one, which keeps its
/// memory), enter data with [`var`](Graph::var), [`constant`](Graph::constant) and
/// [`param`](Graph::param), compute with [`Var`] ops, and call
/// [`backward`](Var::backward) on the result.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// let g = Graph::<f64>::new();
/// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
/// let y = (x * x + 1.0).sum(); // y = Σ (x² + 1)
/// y.backward();
/// assert_eq!(y.item(), 17.0);
/// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0, 6.0]); // dy/dx = 2x
/// ```
pub struct Graph<T: Float = f32> {
    inner: RefCell<Inner<T>>,
    grad_enabled: Cell<bool>,
    anomaly: Cell<bool>,
    /// True while a backward rule runs: its ops are checked through the rule's result.
    in_rule: Cell<bool>,
}

/// A handle to a value in a [`Graph`]: cheap to copy, valid until the graph is cleared.
///
/// Arithmetic operators work on `Var`s and scalars (`x * 2.0 - y`); every other op is a
/// method. Using a `Var` after [`Graph::clear`] panics, naming the op.
pub struct Var<'g, T: Float = f32> {
    graph: &'g Graph<T>,
    key: NodeKey,
}

impl<T: Float> Clone for Var<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Float> Copy for Var<'_, T> {}

impl<T: Float> Default for Graph<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Graph<T> {
    /// An empty graph with gradient recording on.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty graph with room for `nodes` nodes before it reallocates.
    ///
    /// # Panics
    /// If the room cannot be allocated (`with_capacity: cannot reserve room for 17592186044416
    /// nodes`), rather than aborting the process.
    ///
    /// ```
    /// use ferrograd::autograd::Graph;
    /// assert!(Graph::<f32>::with_capacity(64).capacity() >= 64);
    /// ```
    #[track_caller]
    pub fn with_capacity(nodes: usize) -> Self {
        let mut arena = SlotMap::with_key();
        let mut tape = Vec::new();
        if arena.try_reserve(nodes).is_err() || tape.try_reserve_exact(nodes).is_err() {
            panic!("with_capacity: cannot reserve room for {nodes} nodes");
        }
        Graph {
            inner: RefCell::new(Inner {
                nodes: arena,
                tape,
                params: HashMap::new(),
                hooks: HashMap::new(),
            }),
            grad_enabled: Cell::new(true),
            anomaly: Cell::new(false),
            in_rule: Cell::new(false),
        }
    }

    /// Enters `value` as a leaf that requires a gradient (an input to differentiate).
    #[track_caller]
    pub fn var(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leaf("var", value, true)
    }

    /// Enters `value` as a constant: no gradient flows to it.
    #[track_caller]
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leaf("constant", value, false)
    }

    /// Enters a scalar constant (shape `[]`).
    #[track_caller]
    pub fn scalar(&self, value: T) -> Var<'_, T> {
        self.constant(Tensor::scalar(value))
    }

    /// Enters a parameter as a leaf. Its value is shared, not copied; backward adds the
    /// gradient into [`Param::grad`]. Entering the same parameter twice gives the same `Var`,
    /// unless its value was replaced in between ([`Param::set_value`], a checkpoint load):
    /// then the new value enters as a new leaf.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Param, Tensor};
    /// let w = Param::new(Tensor::from_vec(vec![3.0f32], &[1]));
    /// let g = Graph::new();
    /// let loss = (g.param(&w) * g.param(&w)).sum(); // w², entered twice
    /// loss.backward();
    /// assert_eq!(w.grad().unwrap().to_vec(), vec![6.0]);
    /// ```
    #[track_caller]
    pub fn param(&self, param: &Param<T>) -> Var<'_, T> {
        let value = param.value();
        {
            let inner = self.inner.borrow();
            if let Some(&(key, _)) = inner.params.get(&param.id()) {
                // Reuse the leaf unless the parameter's value was replaced since (a load).
                if inner.nodes[key].value.array().as_ptr() == value.array().as_ptr() {
                    return Var { graph: self, key };
                }
            }
        }
        let var = self.leaf("param", value, param.requires_grad());
        self.inner
            .borrow_mut()
            .params
            .insert(param.id(), (var.key, param.clone()));
        var
    }

    /// A constant leaf recorded under the name of the op that computed it (a mask, a sign).
    #[track_caller]
    pub(crate) fn constant_named(&self, op: &'static str, value: Tensor<T>) -> Var<'_, T> {
        self.leaf(op, value, false)
    }

    #[track_caller]
    fn leaf(&self, op: &'static str, value: Tensor<T>, requires_grad: bool) -> Var<'_, T> {
        if self.anomaly.get() && !self.in_rule.get() {
            anomaly::check_forward(op, Location::caller(), &value, &[]);
        }
        let key = self.push(Node {
            value,
            parents: SmallVec::new(),
            backward: None,
            op,
            location: Location::caller(),
            requires_grad,
            grad: None,
            tape_index: 0,
        });
        Var { graph: self, key }
    }

    fn push(&self, mut node: Node<T>) -> NodeKey {
        let mut inner = self.inner.borrow_mut();
        node.tape_index = inner.tape.len();
        let key = inner.nodes.insert(node);
        inner.tape.push(key);
        key
    }

    /// Records an op: computes its value with `forward` from the inputs' values, and keeps
    /// `backward` for the backward pass if any input requires a gradient and recording is on.
    ///
    /// This is the one way ops enter a graph — ferrograd's own ops use it too — so a custom op
    /// is a function calling it. `backward` receives the gradient of the output and returns
    /// one gradient per input (see [`Grads`]); it is written with `Var` ops, which makes the
    /// op twice differentiable whenever those ops are. It runs only for ops on a path to a
    /// value being differentiated, and must return gradients with the inputs' shapes.
    ///
    /// # Panics
    /// If an input is stale or belongs to another graph (naming `op` and the input).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor, Var, grads};
    ///
    /// /// cube(x) = x³, with d/dx = 3x².
    /// fn cube<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
    ///     x.graph().custom_op(
    ///         "cube",
    ///         &[x],
    ///         |v| v[0].map(|a| a * a * a),
    ///         |ctx, grad| grads![Some(grad * ctx.input(0).square() * 3.0)],
    ///     )
    /// }
    ///
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![2.0], &[1]));
    /// cube(x).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![12.0]);
    /// ```
    #[track_caller]
    pub fn custom_op<'g, F, B>(
        &'g self,
        op: &'static str,
        inputs: &[Var<'g, T>],
        forward: F,
        backward: B,
    ) -> Var<'g, T>
    where
        F: FnOnce(&[Tensor<T>]) -> Tensor<T>,
        B: for<'a, 'h> Fn(&BackwardCtx<'a, 'h, T>, Var<'h, T>) -> Grads<'h, T> + 'static,
    {
        let location = Location::caller();
        let mut parents = SmallVec::<[NodeKey; 2]>::new();
        let mut values = SmallVec::<[Tensor<T>; 2]>::new();
        let mut requires_grad = false;
        {
            let inner = self.inner.borrow();
            for (i, x) in inputs.iter().enumerate() {
                assert!(
                    std::ptr::eq(x.graph, self),
                    "{op}: an input belongs to a different graph (input {i})"
                );
                let node = inner.node(x.key, op);
                requires_grad |= node.requires_grad;
                parents.push(x.key);
                values.push(node.value.clone());
            }
        }
        let value = {
            let _scope = OpScope::enter(op);
            forward(&values)
        };
        if self.anomaly.get() && !self.in_rule.get() {
            anomaly::check_forward(op, location, &value, &values);
        }
        drop(values);
        let record = requires_grad && self.grad_enabled.get();
        let key = self.push(Node {
            value,
            parents: if record { parents } else { SmallVec::new() },
            backward: if record {
                Some(Rc::new(backward))
            } else {
                None
            },
            op,
            location,
            requires_grad: record,
            grad: None,
            tape_index: 0,
        });
        Var { graph: self, key }
    }

    /// Turns gradient recording off until the returned guard is dropped: ops compute values
    /// only, and their results require no gradient (PyTorch's `torch.no_grad()`).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::ones(&[2]));
    /// {
    ///     let _guard = g.no_grad();
    ///     assert!(!(x * 2.0).requires_grad());
    /// }
    /// assert!((x * 2.0).requires_grad());
    /// ```
    pub fn no_grad(&self) -> ModeGuard<'_> {
        ModeGuard::set(&self.grad_enabled, false)
    }

    /// Whether ops are recorded for backward right now.
    pub fn is_grad_enabled(&self) -> bool {
        self.grad_enabled.get()
    }

    /// Removes every node, keeping the arena's memory for the next step. `Var`s from before
    /// become stale: using one panics.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::ones(&[2]));
    /// g.clear();
    /// assert_eq!(g.len(), 0);
    /// let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.exp()));
    /// assert!(r.is_err()); // "exp: stale Var ..."
    /// ```
    pub fn clear(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.nodes.clear();
        inner.tape.clear();
        inner.params.clear();
        inner.hooks.clear();
    }

    /// The number of nodes recorded.
    pub fn len(&self) -> usize {
        self.inner.borrow().tape.len()
    }

    /// True if no node is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many nodes the arena holds before it must grow.
    pub fn capacity(&self) -> usize {
        self.inner.borrow().nodes.capacity()
    }
}

impl<T: Float> Graph<T> {
    /// Panics unless `var` belongs to this graph, naming the API and the argument:
    /// `grad: input 0 belongs to a different graph`. A `Var`'s key means nothing in another
    /// graph's arena (it may even name an unrelated node there), so every API that takes a
    /// `Var` and a graph checks this first.
    #[track_caller]
    pub(crate) fn check_owns(&self, op: &str, what: fmt::Arguments<'_>, var: Var<'_, T>) {
        assert!(
            std::ptr::eq(var.graph, self),
            "{op}: {what} belongs to a different graph"
        );
    }
}

impl<T: Float> Inner<T> {
    #[track_caller]
    fn node(&self, key: NodeKey, op: &str) -> &Node<T> {
        match self.nodes.get(key) {
            Some(node) => node,
            None => panic!(
                "{op}: stale Var: its graph was cleared after it was created; create Vars anew after Graph::clear"
            ),
        }
    }
}

/// Restores a graph mode (gradient recording, anomaly detection) to its previous setting
/// when dropped; returned by [`Graph::no_grad`] and [`Graph::detect_anomaly`].
#[must_use = "the mode is restored as soon as the guard is dropped"]
pub struct ModeGuard<'g> {
    flag: &'g Cell<bool>,
    prev: bool,
}

impl<'g> ModeGuard<'g> {
    fn set(flag: &'g Cell<bool>, on: bool) -> Self {
        ModeGuard {
            flag,
            prev: flag.replace(on),
        }
    }
}

impl Drop for ModeGuard<'_> {
    fn drop(&mut self) {
        self.flag.set(self.prev);
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// The graph this `Var` lives in.
    pub fn graph(self) -> &'g Graph<T> {
        self.graph
    }

    #[track_caller]
    fn check(self, op: &str) {
        self.graph.inner.borrow().node(self.key, op);
    }

    #[track_caller]
    fn tape_index(self) -> usize {
        self.graph
            .inner
            .borrow()
            .node(self.key, "backward")
            .tape_index
    }

    #[track_caller]
    pub(crate) fn shape_for(self, op: &str) -> SmallVec<[usize; 4]> {
        SmallVec::from_slice(self.graph.inner.borrow().node(self.key, op).value.shape())
    }

    /// The value (a cheap shared handle, not a copy).
    ///
    /// # Panics
    /// If the `Var` is stale.
    #[track_caller]
    pub fn value(self) -> Tensor<T> {
        self.graph
            .inner
            .borrow()
            .node(self.key, "value")
            .value
            .clone()
    }

    /// The shape of the value.
    #[track_caller]
    pub fn shape(self) -> Vec<usize> {
        self.shape_for("shape").to_vec()
    }

    /// The number of dimensions of the value.
    #[track_caller]
    pub fn ndim(self) -> usize {
        self.shape_for("ndim").len()
    }

    /// The single value of a one-element `Var`, e.g. a loss.
    ///
    /// # Panics
    /// If the value does not hold exactly one element, or the `Var` is stale.
    #[track_caller]
    pub fn item(self) -> T {
        self.value().item()
    }

    /// Whether a gradient flows to this `Var` (it is, or depends on, a leaf that requires one
    /// and was computed with recording on).
    #[track_caller]
    pub fn requires_grad(self) -> bool {
        self.graph
            .inner
            .borrow()
            .node(self.key, "requires_grad")
            .requires_grad
    }

    /// The name of the op that produced this `Var` (`"var"`, `"param"` or `"constant"` for
    /// leaves).
    #[track_caller]
    pub fn op_name(self) -> &'static str {
        self.graph.inner.borrow().node(self.key, "op_name").op
    }

    /// Where in the source this `Var`'s op was called.
    #[track_caller]
    pub fn location(self) -> &'static Location<'static> {
        self.graph
            .inner
            .borrow()
            .node(self.key, "location")
            .location
    }

    /// A `Var` with the same value and no history: no gradient flows through it.
    #[track_caller]
    pub fn detach(self) -> Var<'g, T> {
        let value = self
            .graph
            .inner
            .borrow()
            .node(self.key, "detach")
            .value
            .clone();
        self.graph.leaf("detach", value, false)
    }

    /// Records a unary element-wise op computing `f` per element.
    #[track_caller]
    pub(crate) fn unary<B>(
        self,
        op: &'static str,
        f: impl Fn(T) -> T + Sync,
        backward: B,
    ) -> Var<'g, T>
    where
        B: for<'a, 'h> Fn(&BackwardCtx<'a, 'h, T>, Var<'h, T>) -> Grads<'h, T> + 'static,
    {
        self.graph.custom_op(op, &[self], |v| v[0].map(f), backward)
    }
}

impl<T: Float> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.graph.inner.borrow().nodes.get(self.key) {
            Some(node) => write!(
                f,
                "Var({} {:?} {}, from {})",
                node.op,
                node.value.shape(),
                T::DTYPE,
                node.location
            ),
            None => write!(f, "Var(stale)"),
        }
    }
}

impl<T: Float> fmt::Debug for Graph<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Graph {{ nodes: {}, grad_enabled: {} }}",
            self.len(),
            self.is_grad_enabled()
        )
    }
}
