//! Random op programs: a byte string decoded into a short program of ops on random shapes,
//! run forward and backward, with one property checked — every op either runs or stops with
//! a clean panic that names it, and a program whose values stay finite gets finite gradients.
//!
//! The same decoder serves the `op_program` fuzz target (raw bytes from libFuzzer) and the
//! `proptest` in `autograd/tests/op_programs.rs` (bytes from a strategy), so a fuzz finding
//! is reproduced by pasting its bytes into a regression test.
//!
//! ```
//! use ferrograd::autograd::testing::program::run_program;
//!
//! // Any bytes are a program. This one: RNG seed 0, one leaf of rank 1 and size 3 with
//! // values from 200, 40, 90, then op 0 (`relu`) of the latest value.
//! let report = run_program(&[0, 0, 1, 2, 200, 40, 90, 0, 0]).unwrap();
//! assert_eq!((report.ops_run, report.ops_refused), (1, 0));
//! assert!(report.gradients_checked);
//! ```
//!
//! Ops whose true derivative is infinite at a finite point (`sqrt` at 0, `xᵖ` at 0 for
//! `p < 1`) are applied to shifted inputs (`√(x² + ¼)`, `(|x| + ½)ᵖ`), so that "finite
//! values, finite gradients" holds for every program; their edge behaviour is pinned by the
//! golden edge tests instead. Arguments are drawn mostly valid, sometimes out of range and
//! sometimes absurd (`usize::MAX`, 2⁴⁰), to reach the ops' argument checks.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::graph::{Graph, Var};
use crate::ops::{Attention, AttnMask, ConvOptions};
use crate::tensor::Tensor;

/// The most ops one program runs.
pub const MAX_OPS: usize = 12;

/// Values larger than this count as "not finite" for the gradient property: products of
/// finite values that large may overflow in backward without any op being wrong.
const BOUND: f64 = 1e60;

/// A property violation found by [`run_program`].
#[derive(Clone, Debug, PartialEq)]
pub enum Violation {
    /// An op panicked with a message that does not start with its name.
    UncleanPanic {
        /// The op the program called.
        op: &'static str,
        /// The panic message.
        message: String,
        /// The ops run before it, in order.
        history: Vec<&'static str>,
    },
    /// Backward panicked (backward must never fail on user input).
    BackwardPanic {
        /// The panic message.
        message: String,
        /// The ops of the program, in order.
        history: Vec<&'static str>,
    },
    /// Every value of the program was finite, but a gradient was not.
    NonFiniteGradient {
        /// Which leaf (in order of creation) got the non-finite gradient.
        leaf: usize,
        /// The ops of the program, in order.
        history: Vec<&'static str>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::UncleanPanic {
                op,
                message,
                history,
            } => write!(
                f,
                "`{op}` panicked without naming itself: {message:?} (after {history:?})"
            ),
            Violation::BackwardPanic { message, history } => {
                write!(f, "backward panicked: {message:?} (program {history:?})")
            }
            Violation::NonFiniteGradient { leaf, history } => write!(
                f,
                "finite values but a non-finite gradient for leaf {leaf} (program {history:?})"
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// What a program did, when it kept the property.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProgramReport {
    /// Ops that ran.
    pub ops_run: usize,
    /// Ops that stopped with a clean panic naming themselves (bad shapes or arguments).
    pub ops_refused: usize,
    /// Whether backward ran and its gradients were checked (values all finite).
    pub gradients_checked: bool,
}

/// Decodes `bytes` into a program, runs it forward and backward in `f64`, and checks the
/// property described in the [module docs](self).
///
/// # Errors
/// The first [`Violation`] found.
pub fn run_program(bytes: &[u8]) -> Result<ProgramReport, Violation> {
    let graph = Graph::<f64>::new();
    let mut d = Decoder {
        bytes: bytes.to_vec(),
        pos: 0,
    };
    let mut rng = StdRng::seed_from_u64(u64::from(d.byte()));
    let mut vars = Vec::new();
    let mut leaves = Vec::new();
    for _ in 0..1 + d.below(3) {
        let leaf = graph.var(d.tensor());
        vars.push(leaf);
        leaves.push(leaf);
    }
    let mut report = ProgramReport::default();
    let mut history = Vec::new();
    for _ in 0..MAX_OPS {
        if d.exhausted() {
            break;
        }
        let (name, op) = OPS[d.below(OPS.len())];
        history.push(name);
        let mut ctx = Ctx {
            graph: &graph,
            vars: &vars,
            d: &mut d,
            rng: &mut rng,
        };
        match catch_unwind(AssertUnwindSafe(|| op(&mut ctx))) {
            Ok(v) => {
                report.ops_run += 1;
                vars.push(v);
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                if !names_op(&message, name) {
                    return Err(Violation::UncleanPanic {
                        op: name,
                        message,
                        history,
                    });
                }
                report.ops_refused += 1;
            }
        }
    }
    let finite = vars
        .iter()
        .all(|v| v.value().view().iter().all(|a| a.abs() <= BOUND));
    if !finite {
        return Ok(report);
    }
    let out = *vars.last().expect("at least one leaf");
    let weights = Tensor::from_vec(
        (0..out.value().numel())
            .map(|_| d.value())
            .collect::<Vec<_>>(),
        &out.shape(),
    );
    let backward = catch_unwind(AssertUnwindSafe(|| {
        (out * graph.constant(weights)).sum().backward();
    }));
    if let Err(payload) = backward {
        return Err(Violation::BackwardPanic {
            message: panic_message(&*payload),
            history,
        });
    }
    for (i, leaf) in leaves.iter().enumerate() {
        if let Some(grad) = leaf.grad()
            && !grad.view().iter().all(|a| a.is_finite())
        {
            return Err(Violation::NonFiniteGradient { leaf: i, history });
        }
    }
    report.gradients_checked = true;
    Ok(report)
}

/// True if `message` is a clean refusal by `op`: its first word, up to a colon or a space,
/// is the op's name (the `_axes` forms of reductions report under the reduction's name).
fn names_op(message: &str, op: &str) -> bool {
    let head = message.split(':').next().unwrap_or("");
    let head = head.split_whitespace().next().unwrap_or("");
    head == op || op.strip_suffix("_axes") == Some(head)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Reads the program's bytes; past the end every read is 0, so any prefix is a program.
struct Decoder {
    bytes: Vec<u8>,
    pos: usize,
}

impl Decoder {
    fn exhausted(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// A small size, sometimes 0, sometimes absurd: 2⁴⁰ or `usize::MAX`.
    fn size(&mut self, small: usize) -> usize {
        match self.byte() {
            255 => usize::MAX,
            254 => 1 << 40,
            253 => 1 << 62,
            b => usize::from(b) % (small + 1),
        }
    }

    /// An axis in `-rank-1..=rank` (one past either end is out of range).
    fn axis(&mut self, rank: usize) -> isize {
        let span = 2 * rank + 3;
        self.below(span) as isize - rank as isize - 1
    }

    /// Two distinct axes of `rank` dimensions, each negative half the time; one draw in
    /// eight (and any draw for fewer than 2 dimensions) is two [`Decoder::axis`] instead,
    /// which may repeat an axis or be out of range.
    fn two_axes(&mut self, rank: usize) -> (isize, isize) {
        if rank < 2 || self.below(8) == 0 {
            return (self.axis(rank), self.axis(rank));
        }
        let a = self.below(rank);
        let b = (a + 1 + self.below(rank - 1)) % rank;
        let mut signed = |x: usize| x as isize - (rank * self.below(2)) as isize;
        (signed(a), signed(b))
    }

    /// A diagonal offset in `-3..=3`, sometimes absurd (`isize::MIN`, `isize::MAX`, 2⁴⁰).
    fn offset(&mut self) -> isize {
        match self.byte() {
            255 => isize::MIN,
            254 => isize::MAX,
            253 => 1 << 40,
            b => isize::from(b % 7) - 3,
        }
    }

    /// A value in [-4, 4], with exact zeros, ones and repeats (ties) common.
    fn value(&mut self) -> f64 {
        match self.byte() {
            0..=15 => 0.0,
            16..=23 => 1.0,
            24..=31 => -1.0,
            b => (f64::from(b) - 143.5) / 28.0,
        }
    }

    fn shape(&mut self) -> Vec<usize> {
        (0..self.below(4)).map(|_| 1 + self.below(4)).collect()
    }

    fn tensor(&mut self) -> Tensor<f64> {
        let shape = self.shape();
        self.tensor_of(&shape)
    }

    fn tensor_of(&mut self, shape: &[usize]) -> Tensor<f64> {
        let n = shape.iter().product();
        let data = (0..n).map(|_| self.value()).collect();
        Tensor::from_vec(data, shape)
    }

    fn indices(&mut self, n: usize, bound: usize) -> Vec<usize> {
        // One in eight programs draws an index one past the end.
        let over = usize::from(self.below(8) == 0);
        (0..n).map(|_| self.below(bound.max(1) + over)).collect()
    }
}

/// What an op sees: the graph, the values computed so far, the bytes and a seeded RNG.
struct Ctx<'c, 'g> {
    graph: &'g Graph<f64>,
    vars: &'c [Var<'g, f64>],
    d: &'c mut Decoder,
    rng: &'c mut StdRng,
}

impl<'g> Ctx<'_, 'g> {
    /// One of the values so far, the latest most often.
    fn pick(&mut self) -> Var<'g, f64> {
        let n = self.vars.len();
        let back = self.d.below(4).min(n - 1);
        self.vars[n - 1 - back]
    }

    /// A new leaf of the given shape (a weight), drawn from the bytes.
    fn leaf(&mut self, shape: &[usize]) -> Var<'g, f64> {
        let t = self.d.tensor_of(shape);
        self.graph.var(t)
    }

    /// `x` with leading size-1 axes added up to rank 4 (NCHW), for conv and pooling.
    fn nchw(&mut self) -> Var<'g, f64> {
        let mut x = self.pick();
        while x.ndim() < 4 {
            x = x.unsqueeze(0);
        }
        x
    }

    fn conv_options(&mut self) -> ConvOptions {
        let stride = (self.d.size(1).max(1), self.d.size(1).max(1));
        ConvOptions::new()
            .stride(stride)
            .padding((self.d.size(1), self.d.size(1)))
            .dilation((1 + self.d.below(2), 1 + self.d.below(2)))
    }
}

type Op = for<'c, 'g> fn(&mut Ctx<'c, 'g>) -> Var<'g, f64>;

/// The op table: name (as the op's own messages spell it) and how to call it.
const OPS: &[(&str, Op)] = &[
    ("relu", |c| c.pick().relu()),
    ("leaky_relu", |c| c.pick().leaky_relu(0.1)),
    ("elu", |c| c.pick().elu(1.0)),
    ("gelu", |c| c.pick().gelu()),
    ("sigmoid", |c| c.pick().sigmoid()),
    ("tanh", |c| c.pick().tanh()),
    ("softplus", |c| c.pick().softplus()),
    ("silu", |c| c.pick().silu()),
    ("exp", |c| c.pick().exp()),
    ("ln", |c| c.pick().ln()),
    ("sqrt", |c| c.pick().square().add_scalar(0.25).sqrt()),
    ("square", |c| c.pick().square()),
    ("reciprocal", |c| c.pick().reciprocal()),
    ("abs", |c| c.pick().abs()),
    ("clamp", |c| {
        let (lo, hi) = (c.d.value(), c.d.value());
        c.pick().clamp(lo, hi)
    }),
    ("erf", |c| c.pick().erf()),
    ("powf", |c| {
        let p = [2.0, 3.0, 0.5, 1.5, -1.0][c.d.below(5)];
        c.pick().abs().add_scalar(0.5).powf(p)
    }),
    ("add", |c| c.pick() + c.pick()),
    ("sub", |c| c.pick() - c.pick()),
    ("mul", |c| c.pick() * c.pick()),
    ("div", |c| c.pick() / c.pick()),
    ("maximum", |c| c.pick().maximum(c.pick())),
    ("minimum", |c| c.pick().minimum(c.pick())),
    ("pow", |c| c.pick().abs().add_scalar(0.5).pow(c.pick())),
    ("matmul", |c| c.pick().matmul(c.pick())),
    ("where", |c| {
        let (a, b) = (c.pick(), c.pick());
        let mask = a.gt(c.graph.scalar(c.d.value()));
        a.where_(mask, b)
    }),
    ("sum", |c| c.pick().sum()),
    ("sum_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.sum_axes(&[axis], c.d.below(2) == 0)
    }),
    ("mean_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.mean_axes(&[axis], c.d.below(2) == 0)
    }),
    ("var_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.variance_axes(&[axis], c.d.below(2), c.d.below(2) == 0)
    }),
    ("std_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.std_axes(&[axis], c.d.below(2), c.d.below(2) == 0)
    }),
    ("max", |c| c.pick().max()),
    ("max_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.max_axes(&[axis], c.d.below(2) == 0)
    }),
    ("min_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.min_axes(&[axis], c.d.below(2) == 0)
    }),
    ("logsumexp_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.logsumexp_axes(&[axis], c.d.below(2) == 0)
    }),
    ("softmax", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.softmax(axis)
    }),
    ("log_softmax", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.log_softmax(axis)
    }),
    ("reshape", |c| {
        let x = c.pick();
        let mut shape: Vec<isize> = x.shape().iter().rev().map(|&s| s as isize).collect();
        if c.d.below(4) == 0 {
            shape = vec![-1];
        } else if c.d.below(8) == 0 {
            shape.push(c.d.size(3) as isize);
        }
        x.reshape(&shape)
    }),
    ("squeeze", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.squeeze(axis)
    }),
    ("unsqueeze", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim() + 1);
        x.unsqueeze(axis)
    }),
    ("broadcast_to", |c| {
        let x = c.pick();
        let mut shape = vec![c.d.size(3)];
        shape.extend(x.shape());
        x.broadcast_to(&shape)
    }),
    ("transpose", |c| {
        let x = c.pick();
        let (a, b) = (c.d.axis(x.ndim()), c.d.axis(x.ndim()));
        x.transpose(a, b)
    }),
    ("permute", |c| {
        let x = c.pick();
        let mut axes: Vec<usize> = (0..x.ndim()).collect();
        for i in (1..axes.len()).rev() {
            let j = c.d.below(i + 1);
            axes.swap(i, j);
        }
        x.permute(&axes)
    }),
    ("narrow", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let (start, len) = (c.d.size(2), c.d.size(3));
        x.narrow(axis, start, len)
    }),
    ("slice", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let (start, end, step) = (c.d.size(2), c.d.size(4), c.d.size(2));
        x.slice(axis, start, end, step)
    }),
    ("concat", |c| {
        let (a, b) = (c.pick(), c.pick());
        let axis = c.d.axis(a.ndim());
        c.graph.concat(&[a, b], axis)
    }),
    ("stack", |c| {
        let (a, b) = (c.pick(), c.pick());
        let axis = c.d.axis(a.ndim() + 1);
        c.graph.stack(&[a, b], axis)
    }),
    ("pad", |c| {
        let x = c.pick();
        let pads: Vec<_> = (0..x.ndim()).map(|_| (c.d.size(2), c.d.size(2))).collect();
        x.pad(&pads, c.d.value())
    }),
    ("index_select", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let size = x
            .shape()
            .get(axis.rem_euclid(x.ndim().max(1) as isize) as usize)
            .copied();
        let n = 1 + c.d.below(4);
        let indices = c.d.indices(n, size.unwrap_or(1));
        x.index_select(axis, &indices)
    }),
    ("gather", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let shape = x.shape();
        let size = shape
            .get(axis.rem_euclid(x.ndim().max(1) as isize) as usize)
            .copied();
        let n = shape.iter().product();
        let index = c.d.indices(n, size.unwrap_or(1));
        let index = ArrayD::from_shape_vec(IxDyn(&shape), index).expect("n elements");
        x.gather(axis, &index)
    }),
    ("embedding", |c| {
        let (rows, dim) = (1 + c.d.below(4), 1 + c.d.below(3));
        let weight = c.leaf(&[rows, dim]);
        let n = 1 + c.d.below(4);
        let ids = ArrayD::from_shape_vec(IxDyn(&[n]), c.d.indices(n, rows)).expect("n ids");
        weight.embedding(&ids)
    }),
    ("conv2d", |c| {
        let x = c.nchw();
        let cin = x.shape()[1];
        let (cout, k) = (1 + c.d.below(3), 1 + c.d.below(3));
        let w = c.leaf(&[cout, cin, k, k]);
        let bias = (c.d.below(2) == 0).then(|| c.leaf(&[cout]));
        let opts = c.conv_options();
        x.conv2d(w, bias, opts)
    }),
    ("conv_transpose2d", |c| {
        let x = c.nchw();
        let cin = x.shape()[1];
        let (cout, k) = (1 + c.d.below(3), 1 + c.d.below(3));
        let w = c.leaf(&[cin, cout, k, k]);
        let opts = c.conv_options();
        x.conv_transpose2d(w, None, opts)
    }),
    ("max_pool2d", |c| {
        let x = c.nchw();
        let (k, s, p) = (c.d.size(2).max(1), c.d.size(1).max(1), c.d.size(1));
        x.max_pool2d(k, s, p)
    }),
    ("avg_pool2d", |c| {
        let x = c.nchw();
        let (k, s, p) = (c.d.size(2).max(1), c.d.size(1).max(1), c.d.size(1));
        x.avg_pool2d(k, s, p)
    }),
    ("adaptive_avg_pool2d", |c| {
        let x = c.nchw();
        let out = (c.d.size(3), c.d.size(3));
        x.adaptive_avg_pool2d(out)
    }),
    ("global_max_pool2d", |c| c.nchw().global_max_pool2d()),
    // Issue 14: element-wise.
    ("sin", |c| c.pick().sin()),
    ("cos", |c| c.pick().cos()),
    ("atan", |c| c.pick().atan()),
    ("sinh", |c| c.pick().sinh()),
    ("cosh", |c| c.pick().cosh()),
    ("log1p", |c| c.pick().log1p()),
    ("expm1", |c| c.pick().expm1()),
    ("rsqrt", |c| c.pick().rsqrt()),
    ("atan2", |c| c.pick().atan2(c.pick())),
    ("logaddexp", |c| c.pick().logaddexp(c.pick())),
    ("lerp", |c| {
        let (start, end) = (c.pick(), c.pick());
        start.lerp(end, c.d.value())
    }),
    // Issue 14: activations.
    ("hardtanh", |c| {
        let (lo, hi) = (c.d.value(), c.d.value());
        c.pick().hardtanh(lo, hi)
    }),
    ("relu6", |c| c.pick().relu6()),
    ("selu", |c| c.pick().selu()),
    ("celu", |c| {
        let alpha = [1.0, 0.5, 2.0, -1.0, 0.0][c.d.below(5)];
        c.pick().celu(alpha)
    }),
    ("mish", |c| c.pick().mish()),
    ("hardswish", |c| c.pick().hardswish()),
    ("logsigmoid", |c| c.pick().logsigmoid()),
    ("glu", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.glu(axis)
    }),
    ("softplus_with", |c| {
        let beta = [1.0, 2.0, 0.5, -1.0][c.d.below(4)];
        let threshold = [20.0, 1.0, 0.0, -2.0][c.d.below(4)];
        c.pick().softplus_with(beta, threshold)
    }),
    // Issue 14: reductions, norms and shape.
    ("cumsum", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.cumsum(axis)
    }),
    ("cumprod", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.cumprod(axis)
    }),
    ("prod", |c| c.pick().prod()),
    ("prod_axes", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.prod_axes(&[axis], c.d.below(2) == 0)
    }),
    ("norm", |c| {
        // Orders from 1 up, and sometimes 0.5, which is refused (below 1 it is not a norm,
        // and the derivative at a zero element is infinite).
        let p = [2.0, 1.0, 1.5, 3.0, f64::INFINITY, 0.5][c.d.below(6)];
        let x = c.pick();
        let axes = match c.d.below(3) {
            0 => vec![],
            _ => vec![c.d.axis(x.ndim())],
        };
        x.norm(p, &axes, c.d.below(2) == 0)
    }),
    ("normalize", |c| {
        let p = [2.0, 1.0, 3.0, f64::INFINITY, 0.0][c.d.below(5)];
        let eps = [1e-12, 1e-6, 0.5][c.d.below(3)];
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.normalize(p, axis, eps)
    }),
    ("cosine_similarity", |c| {
        let (a, b) = (c.pick(), c.pick());
        let eps = [1e-8, 1e-3][c.d.below(2)];
        let axis = c.d.axis(a.ndim().max(b.ndim()));
        a.cosine_similarity(b, axis, eps)
    }),
    ("flip", |c| {
        let x = c.pick();
        let axes: Vec<isize> = (0..c.d.below(3)).map(|_| c.d.axis(x.ndim())).collect();
        x.flip(&axes)
    }),
    ("roll", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let shift = match c.d.byte() {
            255 => isize::MIN,
            254 => isize::MAX,
            b => isize::from(b % 9) - 4,
        };
        x.roll(shift, axis)
    }),
    ("tril", |c| {
        let k = c.d.below(7) as isize - 3;
        c.pick().tril(k)
    }),
    ("triu", |c| {
        let k = c.d.below(7) as isize - 3;
        c.pick().triu(k)
    }),
    ("dropout", |c| {
        let p = [0.0, 0.25, 0.5, 1.0, 1.5][c.d.below(5)];
        let x = c.pick();
        x.dropout(p, &mut *c.rng)
    }),
    // Since issue 14: sorting, tiling, diagonals, einsum and attention.
    ("sort", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        x.sort(axis, c.d.below(2) == 0).0
    }),
    ("argsort", |c| {
        // The indices are no `Var`: gathering with them gives the sorted values.
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let indices = x.argsort(axis, c.d.below(2) == 0);
        x.gather(axis, &indices)
    }),
    ("topk", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let k = c.d.size(4);
        let (largest, sorted) = (c.d.below(2) == 0, c.d.below(2) == 0);
        x.topk(k, axis, largest, sorted).0
    }),
    ("repeat", |c| {
        let x = c.pick();
        // One count per dimension and up to two leading ones; sometimes one too few.
        let n = (x.ndim() + c.d.below(3)).saturating_sub(usize::from(c.d.below(8) == 0));
        let mut reps: Vec<usize> = (0..n).map(|_| c.d.size(2)).collect();
        let small = |r: usize| r <= 2;
        let growth: usize = reps.iter().filter(|&&r| small(r)).product();
        if x.value().numel().saturating_mul(growth) > GROWTH_LIMIT {
            reps.iter_mut().filter(|r| small(**r)).for_each(|r| *r = 1);
        }
        x.repeat(&reps)
    }),
    ("repeat_interleave", |c| {
        let x = c.pick();
        let axis = c.d.axis(x.ndim());
        let mut repeats = c.d.size(3);
        if repeats <= 3 && x.value().numel() * repeats > GROWTH_LIMIT {
            repeats = 1;
        }
        x.repeat_interleave(repeats, axis)
    }),
    ("diagonal", |c| {
        let x = c.pick();
        let offset = c.d.offset();
        let (a1, a2) = c.d.two_axes(x.ndim());
        x.diagonal(offset, a1, a2)
    }),
    ("diag_embed", |c| {
        let mut x = c.pick();
        let offset = c.d.offset();
        let (a1, a2) = c.d.two_axes(x.ndim() + 1);
        let n = x.shape().last().copied().unwrap_or(1);
        let m = n.saturating_add(offset.unsigned_abs());
        if offset.unsigned_abs() <= 3 && x.value().numel().saturating_mul(m) > GROWTH_LIMIT {
            x = x.narrow(-1, 0, 1);
        }
        x.diag_embed(offset, a1, a2)
    }),
    ("einsum", einsum),
    ("scaled_dot_product_attention", attention),
];

/// The most elements the tiling ops (`repeat`, `diag_embed`, `einsum`) are drawn to make
/// from a larger input: repeated, they would otherwise grow a program past any memory.
/// Absurd arguments (2⁴⁰ copies) are kept, to reach the ops' size checks.
const GROWTH_LIMIT: usize = 1 << 12;

/// Subscript letters for einsum specs.
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `Graph::einsum` of one to three operands: the first picked, the others picked (their
/// sizes often do not fit, which einsum refuses) or built to fit the spec. Each axis gets a
/// fresh letter, a letter of an earlier operand (contracted or batched) or, rarely, one of
/// its own operand again (a diagonal); the output is implicit, explicit (any subset in any
/// order), or sometimes a spec einsum must refuse.
fn einsum<'g>(c: &mut Ctx<'_, 'g>) -> Var<'g, f64> {
    let mut operands = vec![c.pick()];
    let n = 1 + c.d.below(3);
    let built = c.d.below(2) == 0;
    let mut specs: Vec<Vec<u8>> = Vec::new();
    let mut sizes = [0usize; 128];
    let mut fresh = 0;
    for i in 0..n {
        if i > 0 && !built {
            operands.push(c.pick());
        }
        let rank = if i > 0 && built {
            c.d.below(4)
        } else {
            operands[i].ndim()
        };
        let earlier: Vec<u8> = specs.concat();
        let mut own: Vec<u8> = Vec::new();
        for _ in 0..rank {
            let b = c.d.below(16);
            let letter = if b == 0 && !own.is_empty() {
                own[c.d.below(own.len())]
            } else if b < 9 && !earlier.is_empty() {
                earlier[c.d.below(earlier.len())]
            } else {
                fresh += 1;
                LETTERS[(fresh - 1) % LETTERS.len()]
            };
            own.push(letter);
        }
        if i > 0 && built {
            let shape: Vec<usize> = own
                .iter()
                .map(|&l| match sizes[l as usize] {
                    0 => 1 + c.d.below(3),
                    // Sometimes 1, which broadcasts.
                    s => [s, s, s, 1][c.d.below(4)],
                })
                .collect();
            operands.push(c.leaf(&shape));
        }
        for (&l, &s) in own.iter().zip(&operands[i].shape()) {
            sizes[l as usize] = sizes[l as usize].max(s);
        }
        specs.push(own);
    }
    // Keep the products small: the letters' sizes multiplied bound every step's size.
    let product = LETTERS
        .iter()
        .map(|&l| sizes[l as usize].max(1))
        .try_fold(1usize, |p, s| p.checked_mul(s));
    if product.is_none_or(|p| p > GROWTH_LIMIT) {
        operands.truncate(1);
        specs.truncate(1);
    }
    let mut distinct: Vec<u8> = Vec::new();
    for l in specs.concat() {
        if !distinct.contains(&l) {
            distinct.push(l);
        }
    }
    let unused = LETTERS.iter().copied().find(|l| !distinct.contains(l));
    let mut spec = specs
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    match c.d.below(8) {
        0 | 1 => {}
        2..=6 => {
            let mut out: Vec<u8> = distinct
                .iter()
                .copied()
                .filter(|_| c.d.below(3) != 0)
                .collect();
            for i in (1..out.len()).rev() {
                let j = c.d.below(i + 1);
                out.swap(i, j);
            }
            spec.push_str("->");
            spec.push_str(&String::from_utf8_lossy(&out));
        }
        _ => match c.d.below(6) {
            0 => spec.insert_str(0, "..."),
            1 => spec.push_str("->#"),
            2 => match distinct.first() {
                Some(&l) => spec.push_str(&format!("->{}{}", l as char, l as char)),
                None => spec.push_str("->-"),
            },
            3 => spec.push_str(&format!("->{}", unused.unwrap_or(b'?') as char)),
            // One subscript too many, or one operand too many.
            4 => spec.insert(0, unused.unwrap_or(b'a') as char),
            _ => spec.push_str(",a"),
        },
    }
    c.graph.einsum(&spec, &operands)
}

/// `scaled_dot_product_attention` of a picked query (given 2 dimensions unless it is one
/// of the few left smaller) and keys and values built to fit it, with its batch dimensions,
/// without them, or with ones that may not broadcast; sometimes a key or value one axis off
/// or picked from the program. Options: a mask (allowed or additive, fitting or not),
/// causal, a scale, dropout (from the program's seeded RNG; p = 1.5 is refused).
fn attention<'g>(c: &mut Ctx<'_, 'g>) -> Var<'g, f64> {
    let mut q = c.pick();
    if c.d.below(8) != 0 {
        while q.ndim() < 2 {
            q = q.unsqueeze(0);
        }
    }
    let qs = q.shape();
    let r = qs.len();
    let (l, e) = if r >= 2 {
        (qs[r - 2], qs[r - 1])
    } else {
        (1, 1)
    };
    let batch = qs[..r.saturating_sub(2)].to_vec();
    let (s, ev) = (1 + c.d.below(3), 1 + c.d.below(3));
    let kv_batch = match c.d.below(4) {
        0 => batch.clone(),
        1 => vec![],
        2 => [&[1], batch.as_slice()].concat(),
        _ => vec![2 + c.d.below(2)],
    };
    let with_batch = |dims: &[usize]| [kv_batch.as_slice(), dims].concat();
    let key = match c.d.below(8) {
        0 => c.pick(),
        1 => c.leaf(&with_batch(&[s, e + 1])),
        _ => c.leaf(&with_batch(&[s, e])),
    };
    let value = match c.d.below(8) {
        0 => c.pick(),
        1 => c.leaf(&with_batch(&[s + 1, ev])),
        _ => c.leaf(&with_batch(&[s, ev])),
    };
    let mask_shape = match c.d.below(4) {
        0 => vec![l, s],
        1 => vec![s],
        2 => [batch.as_slice(), &[l, s]].concat(),
        _ => vec![l + 1, s],
    };
    let mut options = Attention::new();
    match c.d.below(3) {
        0 => {}
        1 => {
            let n = mask_shape.iter().product();
            let allowed = (0..n)
                .map(|_| if c.d.below(4) == 0 { 0.0 } else { 1.0 })
                .collect();
            let mask = c.graph.constant(Tensor::from_vec(allowed, &mask_shape));
            options = options.mask(AttnMask::Allowed(mask));
        }
        _ => options = options.mask(AttnMask::Additive(c.leaf(&mask_shape))),
    }
    if c.d.below(2) == 0 {
        options = options.causal();
    }
    if c.d.below(4) == 0 {
        options = options.scale([0.5, 2.0, 0.0, -1.0][c.d.below(4)]);
    }
    if c.d.below(4) == 0 {
        let p = [0.0, 0.5, 1.0, 1.5][c.d.below(4)];
        options = options.dropout(p, &mut *c.rng);
    }
    q.scaled_dot_product_attention(key, value, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_name_is_unique() {
        let mut names: Vec<_> = OPS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }

    #[test]
    fn empty_bytes_make_a_one_leaf_program() {
        let report = run_program(&[]).unwrap();
        assert_eq!(report.ops_run + report.ops_refused, 0);
        assert!(report.gradients_checked);
    }

    #[test]
    fn a_refused_op_is_counted_not_reported() {
        // Seed 0, one leaf of rank 0 and value 0, then `squeeze` of the latest value
        // (pick byte 0) along axis 1 (axis byte 2), which a scalar does not have.
        let squeeze = OPS.iter().position(|(n, _)| *n == "squeeze").unwrap() as u8;
        let report = run_program(&[0, 0, 0, 0, squeeze, 0, 2]).unwrap();
        assert_eq!((report.ops_run, report.ops_refused), (0, 1));
    }

    #[test]
    fn names_op_accepts_the_op_prefix_only() {
        assert!(names_op("matmul: lhs [2] and rhs [3]", "matmul"));
        assert!(names_op("pad with value", "pad"));
        assert!(names_op("sum: axis 2 is out of range", "sum_axes"));
        assert!(!names_op("max: empty", "max_pool2d"));
        assert!(!names_op("index out of bounds: the len is 3", "gather"));
        assert!(!names_op("capacity overflow", "pad"));
    }
}
