//! The backward pass: [`Graph::grad`], [`Var::backward`], and what backward rules see.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use ndarray::{Axis, Slice, Zip};
use smallvec::SmallVec;

use super::{Grads, Graph, Hook, Inner, ModeGuard, Node, NodeKey, Var};
use crate::alloc::full_array;
use crate::float::Float;
use crate::tensor::Tensor;

/// A gradient for a slice of an input, which a first-order backward adds into the input's
/// gradient in place ([`BackwardCtx::add_to_slice`]).
struct SliceGrad {
    input: usize,
    axis: usize,
    start: usize,
    grad: NodeKey,
}

/// The gradient a backward pass that covered the tape up to `end` computed for `node`:
/// none for a node recorded after `end`, which no output of the pass depends on, whatever
/// an earlier pass left in it.
fn pass_grad<T: Float>(node: &Node<T>, end: usize) -> Option<NodeKey> {
    node.grad.filter(|_| node.tape_index <= end)
}

impl<T: Float> Graph<T> {
    /// Gradients of `outputs` with respect to `inputs`, as PyTorch's `torch.autograd.grad`.
    ///
    /// Each output is seeded with ones (so a non-scalar output is differentiated as its sum;
    /// [`Graph::grad_with`] takes other seeds). Returns one entry per input: `None` if no
    /// output depends on it. With `create_graph` the gradients are themselves recorded and
    /// can be differentiated again. Unlike [`Var::backward`], parameters' gradients are left
    /// untouched.
    ///
    /// # Panics
    /// If a `Var` is stale or from another graph, naming it: `grad: input 0 belongs to a
    /// different graph`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(2.0));
    /// let y = x * x * x; // y = x³
    /// let dy = g.grad(&[y], &[x], true)[0].unwrap(); // 3x² = 12
    /// let d2y = g.grad(&[dy], &[x], false)[0].unwrap(); // 6x = 12
    /// assert_eq!((dy.item(), d2y.item()), (12.0, 12.0));
    /// ```
    #[track_caller]
    pub fn grad<'g>(
        &'g self,
        outputs: &[Var<'g, T>],
        inputs: &[Var<'g, T>],
        create_graph: bool,
    ) -> Vec<Option<Var<'g, T>>> {
        self.check_grad_args("grad", outputs, inputs);
        let seeds: Vec<_> = outputs
            .iter()
            .map(|y| Tensor::ones(&y.shape_for("grad")))
            .collect();
        self.grad_with(outputs, &seeds, inputs, create_graph)
    }

    /// Panics, naming `op` and the argument, unless every output and input belongs to this
    /// graph.
    #[track_caller]
    pub(crate) fn check_grad_args(&self, op: &str, outputs: &[Var<'_, T>], inputs: &[Var<'_, T>]) {
        for (i, y) in outputs.iter().enumerate() {
            self.check_owns(op, format_args!("output {i}"), *y);
        }
        for (i, x) in inputs.iter().enumerate() {
            self.check_owns(op, format_args!("input {i}"), *x);
        }
    }

    /// [`Graph::grad`] with a seed per output (`grad_outputs` in PyTorch): the result is the
    /// gradient of `Σᵢ ⟨seedᵢ, outputᵢ⟩`, a vector-Jacobian product.
    ///
    /// # Panics
    /// If the seeds and outputs differ in number or shape, or a `Var` is stale or from
    /// another graph (`grad: input 0 belongs to a different graph`).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    /// let y = x.square(); // Jacobian diag(2x)
    /// let seed = Tensor::from_vec(vec![1.0, 10.0], &[2]);
    /// let vjp = g.grad_with(&[y], &[seed], &[x], false)[0].unwrap();
    /// assert_eq!(vjp.value().to_vec(), vec![2.0, 40.0]);
    /// ```
    #[track_caller]
    pub fn grad_with<'g>(
        &'g self,
        outputs: &[Var<'g, T>],
        seeds: &[Tensor<T>],
        inputs: &[Var<'g, T>],
        create_graph: bool,
    ) -> Vec<Option<Var<'g, T>>> {
        self.check_grad_args("grad", outputs, inputs);
        assert!(
            outputs.len() == seeds.len(),
            "grad: {} seeds for {} outputs",
            seeds.len(),
            outputs.len()
        );
        let seeds: Vec<_> = outputs
            .iter()
            .zip(seeds)
            .enumerate()
            .map(|(i, (y, seed))| {
                let shape = y.shape_for("grad");
                assert!(
                    seed.shape() == shape.as_slice(),
                    "grad: seed {i} of shape {:?} does not match output {i} of shape {:?}",
                    seed.shape(),
                    shape.as_slice()
                );
                (*y, seed.clone())
            })
            .collect();
        for x in inputs {
            x.check("grad");
        }
        let end = self.run_backward(&seeds, create_graph, false);
        let inner = self.inner.borrow();
        inputs
            .iter()
            .map(|x| {
                end.and_then(|end| pass_grad(inner.node(x.key, "grad"), end))
                    .map(|key| Var { graph: self, key })
            })
            .collect()
    }

    /// The backward pass: seeds the roots, walks the tape in reverse, and (optionally) adds
    /// leaf gradients into their parameters.
    ///
    /// Returns the last tape index the pass covered (`None` without seeds): a node past it
    /// cannot feed the outputs, and its gradient field is a previous pass's.
    fn run_backward(
        &self,
        seeds: &[(Var<'_, T>, Tensor<T>)],
        create_graph: bool,
        to_params: bool,
    ) -> Option<usize> {
        let end = seeds.iter().map(|(y, _)| y.tape_index()).max()?;
        {
            let mut inner = self.inner.borrow_mut();
            let Inner { nodes, tape, .. } = &mut *inner;
            for &key in &tape[..=end] {
                nodes[key].grad = None;
            }
        }
        // Rules record only when asked to; the guards restore the modes even on panic.
        let _record = ModeGuard::set(&self.grad_enabled, create_graph);
        // Anomaly mode checks what each rule returns rather than every op inside it.
        let _in_rule = ModeGuard::set(&self.in_rule, true);
        // The nodes whose gradient is a buffer this pass allocated for them alone: only
        // those are added into in place (a rule's result may be another node's gradient,
        // as `add` passes its gradient to both inputs).
        let mut owned = HashSet::new();
        for (y, seed) in seeds {
            let seed = self.constant(seed.clone());
            self.accumulate(y.key, seed, create_graph, &mut owned);
        }
        for index in (0..=end).rev() {
            let (output, grad) = {
                let inner = self.inner.borrow();
                let key = inner.tape[index];
                let Some(grad) = inner.nodes[key].grad else {
                    continue;
                };
                (key, grad)
            };
            let grad = self.run_hooks(output, grad);
            let (rule, parents, needs) = {
                let inner = self.inner.borrow();
                let node = &inner.nodes[output];
                let Some(rule) = &node.backward else {
                    continue;
                };
                let needs: SmallVec<[bool; 2]> = node
                    .parents
                    .iter()
                    .map(|&p| inner.nodes[p].requires_grad)
                    .collect();
                (rule.clone(), node.parents.clone(), needs)
            };
            let ctx = BackwardCtx {
                graph: self,
                inputs: &parents,
                output,
                needs: &needs,
                slices: RefCell::new(SmallVec::new()),
            };
            let grads = rule(
                &ctx,
                Var {
                    graph: self,
                    key: grad,
                },
            );
            self.check_rule_output(output, &parents, &grads);
            if self.anomaly.get() {
                self.check_backward_anomaly(output, &parents, &grads);
            }
            for ((&parent, grad), &need) in parents.iter().zip(grads).zip(&needs) {
                if let (Some(grad), true) = (grad, need) {
                    self.accumulate(parent, grad, create_graph, &mut owned);
                }
            }
            for slice in ctx.slices.into_inner() {
                if needs[slice.input] {
                    self.accumulate_slice(parents[slice.input], &slice, &mut owned);
                }
            }
        }
        if to_params {
            let inner = self.inner.borrow();
            for (key, param) in inner.params.values() {
                if let Some(grad) = pass_grad(&inner.nodes[*key], end) {
                    param.accumulate_grad(&inner.nodes[grad].value);
                }
            }
        }
        Some(end)
    }

    /// Passes the complete gradient of node `key` through its hooks, in the order they were
    /// registered, and stores the result as the node's gradient.
    fn run_hooks(&self, key: NodeKey, mut grad: NodeKey) -> NodeKey {
        let hooks = {
            let inner = self.inner.borrow();
            // Most graphs have no hooks: skip the hash lookup on every node.
            if inner.hooks.is_empty() {
                return grad;
            }
            match inner.hooks.get(&key) {
                Some(hooks) => hooks.clone(),
                None => return grad,
            }
        };
        for hook in hooks {
            let Some(new) = hook(Var {
                graph: self,
                key: grad,
            }) else {
                continue;
            };
            if !std::ptr::eq(new.graph, self) {
                let inner = self.inner.borrow();
                let node = &inner.nodes[key];
                panic!(
                    "hook on `{}` (recorded at {}) returned a gradient from a different graph",
                    node.op, node.location
                );
            }
            let inner = self.inner.borrow();
            let (node, got) = (&inner.nodes[key], inner.node(new.key, "hook").value.shape());
            assert!(
                got == node.value.shape(),
                "hook on `{}` (recorded at {}) returned a gradient of shape {got:?} for a value of shape {:?}",
                node.op,
                node.location,
                node.value.shape()
            );
            grad = new.key;
        }
        self.inner.borrow_mut().nodes[key].grad = Some(grad);
        grad
    }

    /// Adds `grad` into node `key`'s gradient. Recording (`create_graph`), the sum is an
    /// op of the graph. Otherwise the first sum allocates a buffer this pass owns and later
    /// ones add into it in place, so a value used `k` times costs one buffer, not `k − 1`.
    fn accumulate(
        &self,
        key: NodeKey,
        grad: Var<'_, T>,
        create_graph: bool,
        owned: &mut HashSet<NodeKey>,
    ) {
        let existing = self.inner.borrow().nodes[key].grad;
        let total = match existing {
            None => grad.key,
            Some(prev) if create_graph => {
                (Var {
                    graph: self,
                    key: prev,
                } + grad)
                    .key
            }
            Some(_) => {
                self.add_in_place(key, grad.key, None, owned);
                return;
            }
        };
        self.inner.borrow_mut().nodes[key].grad = Some(total);
    }

    /// Adds a rule's slice gradient ([`BackwardCtx::add_to_slice`]) into node `key`'s
    /// gradient in place: the slices of a `narrow`ed or `chunk`ed value cost one full-size
    /// gradient between them, not one each (what keeps a recurrent layer's backward linear
    /// in the sequence length).
    fn accumulate_slice(&self, key: NodeKey, slice: &SliceGrad, owned: &mut HashSet<NodeKey>) {
        self.add_in_place(key, slice.grad, Some((slice.axis, slice.start)), owned);
    }

    /// Adds the value of node `grad` into node `key`'s gradient, whole (`part` `None`) or at
    /// `start..` along `axis`, in a buffer this pass allocated for `key` alone: the first
    /// time, a whole sum is computed into a new buffer in one pass, a slice lands in zeros
    /// (or in a copy of a gradient `key` already had); after that, in place.
    fn add_in_place(
        &self,
        key: NodeKey,
        grad: NodeKey,
        part: Option<(usize, usize)>,
        owned: &mut HashSet<NodeKey>,
    ) {
        let (existing, add, shape) = {
            let inner = self.inner.borrow();
            let node = &inner.nodes[key];
            (
                node.grad,
                inner.nodes[grad].value.clone(),
                node.value.shape().to_vec(),
            )
        };
        let buffer = match existing {
            Some(prev) if owned.contains(&key) => prev,
            Some(prev) if part.is_none() => {
                let sum = Zip::from(&self.inner.borrow().nodes[prev].value.view())
                    .and(&add.view())
                    .map_collect(|&a, &b| a + b);
                let sum = self.constant_named("grad_accumulate", Tensor::from_array(sum));
                owned.insert(key);
                self.inner.borrow_mut().nodes[key].grad = Some(sum.key);
                return;
            }
            Some(prev) => {
                let copy = self.inner.borrow().nodes[prev].value.view().to_owned();
                self.constant_named("grad_accumulate", Tensor::from_array(copy))
                    .key
            }
            None => {
                let zeros = full_array("backward", &shape, T::zero());
                self.constant_named("grad_accumulate", Tensor::from_array(zeros))
                    .key
            }
        };
        owned.insert(key);
        let mut inner = self.inner.borrow_mut();
        let whole = inner.nodes[buffer].value.view_mut();
        let target = match part {
            None => whole,
            Some((axis, start)) => {
                let len = add.shape()[axis];
                whole.slice_axis_move(Axis(axis), Slice::from(start..start + len))
            }
        };
        Zip::from(target).and(add.view()).for_each(|a, &b| *a += b);
        inner.nodes[key].grad = Some(buffer);
    }

    /// A backward rule is user code: check that it kept its contract, naming the op.
    fn check_rule_output(&self, output: NodeKey, parents: &[NodeKey], grads: &Grads<'_, T>) {
        let inner = self.inner.borrow();
        let node = &inner.nodes[output];
        assert!(
            grads.len() == parents.len(),
            "{}: backward returned {} gradients for {} inputs (op recorded at {})",
            node.op,
            grads.len(),
            parents.len(),
            node.location
        );
        for (i, (grad, &p)) in grads.iter().zip(parents).enumerate() {
            if let Some(grad) = grad {
                assert!(
                    std::ptr::eq(grad.graph, self),
                    "{}: backward returned a gradient for input {i} from a different graph (op recorded at {})",
                    node.op,
                    node.location
                );
                let (got, want) = (
                    inner.nodes[grad.key].value.shape(),
                    inner.nodes[p].value.shape(),
                );
                assert!(
                    got == want,
                    "{}: backward returned a gradient of shape {got:?} for input {i} of shape {want:?} (op recorded at {})",
                    node.op,
                    node.location
                );
            }
        }
    }
}

/// What a backward rule can see: the op's inputs and output, and which inputs need a
/// gradient.
pub struct BackwardCtx<'a, 'g, T: Float> {
    graph: &'g Graph<T>,
    inputs: &'a [NodeKey],
    output: NodeKey,
    needs: &'a [bool],
    slices: RefCell<SmallVec<[SliceGrad; 1]>>,
}

impl<'g, T: Float> BackwardCtx<'_, 'g, T> {
    /// Input `i` of the op, as it was in the forward pass.
    pub fn input(&self, i: usize) -> Var<'g, T> {
        Var {
            graph: self.graph,
            key: self.inputs[i],
        }
    }

    /// The op's output.
    pub fn output(&self) -> Var<'g, T> {
        Var {
            graph: self.graph,
            key: self.output,
        }
    }

    /// Whether input `i` needs a gradient; a rule may skip the work for one that does not.
    pub fn needs_grad(&self, i: usize) -> bool {
        self.needs[i]
    }

    /// The graph being differentiated.
    pub fn graph(&self) -> &'g Graph<T> {
        self.graph
    }

    /// Whether the rule's own ops are recorded (`create_graph`: the gradient will be
    /// differentiated again). When they are not, a rule may compute its gradients in a
    /// fused kernel and return them as constants; when they are, it must build them from
    /// `Var` ops so they can be differentiated.
    ///
    /// ```
    /// use ferrograd::autograd::ndarray::Zip;
    /// use ferrograd::autograd::{Graph, Tensor, Var, grads};
    ///
    /// /// cube(x) = x³, with a fused first-order backward.
    /// fn cube<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
    ///     x.graph().custom_op("cube", &[x], |v| v[0].map(|a| a * a * a), |ctx, grad| {
    ///         let x = ctx.input(0);
    ///         if ctx.is_recording() {
    ///             return grads![Some(grad * x.square() * 3.0)];
    ///         }
    ///         let (x, grad) = (x.value(), grad.value());
    ///         let fused = Zip::from(&x.view()).and(&grad.view()).map_collect(|&a, &g| 3.0 * a * a * g);
    ///         grads![Some(ctx.graph().constant(Tensor::from_array(fused)))]
    ///     })
    /// }
    ///
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(2.0));
    /// let dx = g.grad(&[cube(x)], &[x], true)[0].unwrap(); // recorded: 3x² = 12
    /// let d2x = g.grad(&[dx], &[x], false)[0].unwrap(); // 6x = 12
    /// assert_eq!((dx.item(), d2x.item()), (12.0, 12.0));
    /// ```
    pub fn is_recording(&self) -> bool {
        self.graph.is_grad_enabled()
    }

    /// Adds `grad` into input `i`'s gradient at `start..start + len` along `axis` (`len`
    /// is `grad`'s length there), in place: the first-order backward of an op that reads a
    /// slice (`narrow`). The rule then returns `None` for input `i`. Only for a rule that is
    /// not recording ([`BackwardCtx::is_recording`]): a recorded gradient must be a `Var`
    /// expression of its own.
    pub(crate) fn add_to_slice(&self, i: usize, axis: usize, start: usize, grad: Var<'g, T>) {
        debug_assert!(!self.is_recording(), "add_to_slice while recording");
        self.slices.borrow_mut().push(SliceGrad {
            input: i,
            axis,
            start,
            grad: grad.key,
        });
    }
}

/// Options for [`Var::backward_with`].
#[derive(Clone, Debug, Default)]
pub struct BackwardOptions<T: Float> {
    seed: Option<Tensor<T>>,
    create_graph: bool,
}

impl<T: Float> BackwardOptions<T> {
    /// Default options: seed with ones, do not record the backward pass.
    pub fn new() -> Self {
        Self {
            seed: None,
            create_graph: false,
        }
    }

    /// The gradient of the final value with respect to the output (`gradient=` in PyTorch);
    /// it must have the output's shape.
    pub fn seed(mut self, seed: Tensor<T>) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Records the backward pass, so the gradients can be differentiated again.
    pub fn create_graph(mut self, yes: bool) -> Self {
        self.create_graph = yes;
        self
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// The gradient computed for this `Var` by the latest backward pass through it, if any.
    ///
    /// Each backward pass replaces the gradients of the graph's `Var`s; only
    /// [`Param`](crate::Param) gradients accumulate across passes.
    #[track_caller]
    pub fn grad(self) -> Option<Tensor<T>> {
        self.grad_var().map(Var::value)
    }

    /// The gradient as a `Var` (differentiable if the pass ran with `create_graph`).
    #[track_caller]
    pub fn grad_var(self) -> Option<Var<'g, T>> {
        let grad = self.graph.inner.borrow().node(self.key, "grad").grad;
        grad.map(|key| Var {
            graph: self.graph,
            key,
        })
    }

    /// Backpropagates from this scalar: afterwards every `Var` it depends on holds its
    /// gradient ([`Var::grad`]) and every [`Param`](crate::Param) it depends on has the gradient added to
    /// [`Param::grad`](crate::Param::grad).
    ///
    /// # Panics
    /// If the value has more than one element (use [`Var::backward_with`] and a seed), or the
    /// `Var` is stale.
    #[track_caller]
    pub fn backward(self) {
        self.backward_with(BackwardOptions::new());
    }

    /// Backpropagates with options: a seed gradient for a non-scalar output, and
    /// `create_graph` for higher-order gradients.
    ///
    /// # Panics
    /// If no seed is given and the value is not a one-element tensor, if the seed's shape
    /// differs from the value's, or if the `Var` is stale.
    ///
    /// ```
    /// use ferrograd::autograd::{BackwardOptions, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    /// let y = x * 3.0;
    /// y.backward_with(BackwardOptions::new().seed(Tensor::from_vec(vec![1.0, 10.0], &[2])));
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 30.0]);
    /// ```
    #[track_caller]
    pub fn backward_with(self, options: BackwardOptions<T>) {
        let shape = self.shape_for("backward");
        let seed = match options.seed {
            Some(seed) => {
                assert!(
                    seed.shape() == shape.as_slice(),
                    "backward: seed of shape {:?} does not match output of shape {:?}",
                    seed.shape(),
                    shape.as_slice()
                );
                seed
            }
            None => {
                assert!(
                    shape.iter().product::<usize>() == 1,
                    "backward: output of shape {:?} is not a scalar; pass a seed gradient with backward_with",
                    shape.as_slice()
                );
                Tensor::ones(&shape)
            }
        };
        self.graph
            .run_backward(&[(self, seed)], options.create_graph, true);
    }

    /// Registers a hook on the gradient flowing into this `Var`, as PyTorch's
    /// `Tensor.register_hook`: during every later backward pass that reaches it, once its
    /// gradient is complete, `hook` receives it and may return a replacement (`Some`) or
    /// only observe it (`None`). The replacement is what flows on to the inputs, what
    /// [`Var::grad`] returns, and what a parameter accumulates. Hooks run in the order they
    /// were registered, are recorded under `create_graph` like any op, and are removed by
    /// [`Graph::clear`].
    ///
    /// # Panics
    /// If the `Var` is stale; during backward, if a hook returns a gradient of another shape.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, -2.0], &[2]));
    /// let h = x * 3.0;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = seen.clone();
    /// h.register_hook(move |grad| {
    ///     log.borrow_mut().push(grad.value().to_vec()); // observe ...
    ///     Some(grad.clamp(-0.5, 0.5)) // ... and clip
    /// });
    /// (h * h).sum().backward();
    /// assert_eq!(seen.borrow()[0], vec![6.0, -12.0]); // 2h
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![1.5, -1.5]); // 3 · clip(2h)
    /// ```
    #[track_caller]
    pub fn register_hook<F>(self, hook: F)
    where
        F: for<'h> Fn(Var<'h, T>) -> Option<Var<'h, T>> + 'static,
    {
        self.check("register_hook");
        let hook: Hook<T> = Rc::new(hook);
        self.graph
            .inner
            .borrow_mut()
            .hooks
            .entry(self.key)
            .or_default()
            .push(hook);
    }
}
