//! The golden-file harness shared by `autograd/tests/edge_golden.rs` and
//! `nn/tests/loss_edge_golden.rs` (which includes this file by path): reads a JSON file
//! written by `autograd/tests/fixtures/golden.py`, runs every case through ferrograd in
//! `f64`, and compares the value, the vector-Jacobian product and the Hessian-vector product
//! with PyTorch's, reporting every mismatch in one message.
//!
//! Each case records inputs `xᵢ` (differentiated or constant), output weights `w` and one
//! direction `vᵢ` per differentiated input. With `s = Σ w·y`, the VJP is `∂s/∂xᵢ` and the
//! HVP is `∂/∂xᵢ Σⱼ ⟨∂s/∂xⱼ, vⱼ⟩`, both computed here with `Graph::grad_with` exactly as
//! `golden.py` computes them with `torch.autograd.grad`.

#![allow(dead_code)] // each including test uses its own part

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use ferrograd_autograd::{Graph, Tensor, Var};
use serde_json::{Map, Value};

/// Relative and absolute tolerance of every comparison (values are f64 on both sides; the
/// only differences are in the last bits of libm functions and summation order).
pub const RTOL: f64 = 1e-10;
/// See [`RTOL`].
pub const ATOL: f64 = 1e-12;

/// Which result of a case is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The forward value.
    Value,
    /// The first derivative, as a vector-Jacobian product.
    Vjp,
    /// The second derivative, as a Hessian-vector product.
    Hvp,
}

impl Order {
    fn parse(s: &str) -> Self {
        match s {
            "value" => Order::Value,
            "vjp" => Order::Vjp,
            "hvp" => Order::Hvp,
            other => panic!("unknown order {other:?}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Order::Value => "value",
            Order::Vjp => "vjp",
            Order::Hvp => "hvp",
        }
    }
}

/// A deliberate difference from PyTorch, documented where the op is. The harness requires
/// that the listed result of the listed case *differs* from PyTorch's (so a fix that makes it
/// agree shows up as a stale entry), and, when `ours` is given, that ferrograd's result is
/// exactly that (flattened, differentiated inputs in order).
pub struct Deviation {
    /// The case's name, as in the JSON file.
    pub case: &'static str,
    /// The result that differs.
    pub order: Order,
    /// Why ferrograd differs: the text the op's doc comment carries.
    pub why: &'static str,
    /// ferrograd's own expected result, if pinned.
    pub ours: Option<&'static [f64]>,
}

/// The parameters of a case (the JSON object `params`).
pub struct Params(Map<String, Value>);

impl Params {
    fn get(&self, key: &str) -> &Value {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("parameter {key:?} missing from {:?}", self.0))
    }

    /// A float parameter (`"inf"`, `"-inf"` and `"nan"` allowed).
    pub fn f64(&self, key: &str) -> f64 {
        number(self.get(key))
    }

    /// A list of floats.
    pub fn f64s(&self, key: &str) -> Vec<f64> {
        self.get(key)
            .as_array()
            .expect("a list")
            .iter()
            .map(number)
            .collect()
    }

    /// A non-negative integer parameter.
    pub fn usize(&self, key: &str) -> usize {
        self.get(key).as_u64().expect("an integer") as usize
    }

    /// A list of non-negative integers.
    pub fn usizes(&self, key: &str) -> Vec<usize> {
        let list = self.get(key).as_array().expect("a list");
        list.iter()
            .map(|v| v.as_u64().expect("an integer") as usize)
            .collect()
    }

    /// A signed integer parameter (an axis).
    pub fn isize(&self, key: &str) -> isize {
        self.get(key).as_i64().expect("an integer") as isize
    }

    /// A list of signed integers (axes).
    pub fn isizes(&self, key: &str) -> Vec<isize> {
        let list = self.get(key).as_array().expect("a list");
        list.iter()
            .map(|v| v.as_i64().expect("an integer") as isize)
            .collect()
    }

    /// A boolean parameter.
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).as_bool().expect("a boolean")
    }

    /// A string parameter.
    pub fn str(&self, key: &str) -> &str {
        self.get(key).as_str().expect("a string")
    }

    /// Whether the parameter is present and not null.
    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }
}

/// The function of a case: `op` (the JSON key) applied to the inputs, with the parameters.
pub type Build = for<'g> fn(&str, &[Var<'g, f64>], &Params) -> Var<'g, f64>;

/// One case of the file.
struct Case {
    name: String,
    op: String,
    params: Params,
    inputs: Vec<Tensor<f64>>,
    requires_grad: Vec<bool>,
    orders: Vec<Order>,
    value: Tensor<f64>,
    w: Option<Tensor<f64>>,
    v: Vec<Option<Tensor<f64>>>,
    vjp: Vec<Option<Tensor<f64>>>,
    hvp: Vec<Option<Tensor<f64>>>,
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("a float"),
        Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other:?}"),
        },
        other => panic!("not a number: {other}"),
    }
}

fn tensor(v: &Value) -> Tensor<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(number)
        .collect();
    Tensor::from_vec(data, &shape)
}

fn tensors(v: &Value) -> Vec<Option<Tensor<f64>>> {
    match v {
        Value::Array(list) => list
            .iter()
            .map(|t| (!t.is_null()).then(|| tensor(t)))
            .collect(),
        _ => Vec::new(),
    }
}

fn parse(case: &Value) -> Case {
    let Value::Object(params) = &case["params"] else {
        panic!("params of {case} is not an object");
    };
    Case {
        name: case["name"].as_str().expect("name").to_string(),
        op: case["op"].as_str().expect("op").to_string(),
        params: Params(params.clone()),
        inputs: tensors(&case["inputs"])
            .into_iter()
            .map(Option::unwrap)
            .collect(),
        requires_grad: case["requires_grad"]
            .as_array()
            .expect("requires_grad")
            .iter()
            .map(|b| b.as_bool().expect("a boolean"))
            .collect(),
        orders: case["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .map(|o| Order::parse(o.as_str().expect("an order")))
            .collect(),
        value: tensor(&case["value"]),
        w: (!case["w"].is_null()).then(|| tensor(&case["w"])),
        v: tensors(&case["v"]),
        vjp: tensors(&case["vjp"]),
        hvp: tensors(&case["hvp"]),
    }
}

/// ferrograd's results for a case: the value, and the VJP and HVP of each differentiated
/// input (zeros where the graph gives no gradient, as the script's `allow_unused`).
struct Ours {
    value: Tensor<f64>,
    vjp: Vec<Tensor<f64>>,
    hvp: Vec<Tensor<f64>>,
}

/// The case's inputs as leaves of `g`, and the differentiated ones among them.
fn leaves<'g>(g: &'g Graph<f64>, case: &Case) -> (Vec<Var<'g, f64>>, Vec<Var<'g, f64>>) {
    let xs: Vec<_> = case
        .inputs
        .iter()
        .zip(&case.requires_grad)
        .map(|(x, &rg)| {
            if rg {
                g.var(x.clone())
            } else {
                g.constant(x.clone())
            }
        })
        .collect();
    let diff = xs
        .iter()
        .zip(&case.requires_grad)
        .filter_map(|(x, &rg)| rg.then_some(*x))
        .collect();
    (xs, diff)
}

/// Gradient values, zeros where the graph gave none.
fn values(grads: Vec<Option<Var<'_, f64>>>, xs: &[Var<'_, f64>]) -> Vec<Tensor<f64>> {
    grads
        .into_iter()
        .zip(xs)
        .map(|(gr, x)| gr.map_or_else(|| Tensor::zeros(&x.shape()), Var::value))
        .collect()
}

fn run(case: &Case, build: Build) -> Ours {
    let g = Graph::new();
    let (xs, diff) = leaves(&g, case);
    let y = build(&case.op, &xs, &case.params);
    let value = y.value();
    let Some(w) = &case.w else {
        return Ours {
            value,
            vjp: Vec::new(),
            hvp: Vec::new(),
        };
    };
    // First order as a user runs it (nothing recorded); second order in a graph of its own.
    let vjp = values(
        g.grad_with(&[y], std::slice::from_ref(w), &diff, false),
        &diff,
    );

    let g = Graph::new();
    let (xs, diff) = leaves(&g, case);
    let y = build(&case.op, &xs, &case.params);
    let grads = g.grad_with(&[y], std::slice::from_ref(w), &diff, true);
    // ⟨∂s/∂xⱼ, vⱼ⟩ summed over the gradients that depend on the inputs at all.
    let (outs, seeds): (Vec<_>, Vec<_>) = grads
        .iter()
        .zip(case.v.iter().flatten())
        .filter_map(|(gr, v)| gr.filter(|gr| gr.requires_grad()).map(|gr| (gr, v.clone())))
        .unzip();
    let hvp = if outs.is_empty() {
        diff.iter().map(|x| Tensor::zeros(&x.shape())).collect()
    } else {
        values(g.grad_with(&outs, &seeds, &diff, false), &diff)
    };
    Ours { value, vjp, hvp }
}

fn close(ours: f64, torch: f64) -> bool {
    if torch.is_nan() || ours.is_nan() {
        return torch.is_nan() && ours.is_nan();
    }
    if torch.is_infinite() || ours.is_infinite() {
        return ours == torch;
    }
    (ours - torch).abs() <= ATOL + RTOL * torch.abs()
}

/// `[i, j, ..]`, the position of flat index `k` in `shape`.
fn position(shape: &[usize], mut k: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        idx[i] = k % d.max(1);
        k /= d.max(1);
    }
    format!("{idx:?}")
}

/// The mismatches of one result (all differentiated inputs), as report lines.
fn compare(label: &str, ours: &[Tensor<f64>], torch: &[Tensor<f64>]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (a, b)) in ours.iter().zip(torch).enumerate() {
        let which = if torch.len() > 1 {
            format!("{label} of input {i}")
        } else {
            label.to_string()
        };
        if a.shape() != b.shape() {
            out.push(format!(
                "{which}: shape {:?} vs torch {:?}",
                a.shape(),
                b.shape()
            ));
            continue;
        }
        for (k, (&p, &q)) in a.to_vec().iter().zip(&b.to_vec()).enumerate() {
            if !close(p, q) {
                out.push(format!(
                    "{which}{}: ours {p:e} vs torch {q:e}",
                    position(b.shape(), k)
                ));
            }
        }
    }
    out
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast_ref::<&str>()
            .map_or("(no message)".into(), |s| s.to_string()),
    }
}

/// Runs every case of `file` (relative to the including crate's directory) through `build`
/// and panics with the full list of mismatches against PyTorch, less the listed
/// deviations; a deviation that no longer differs, or names no case, is reported too.
pub fn check(manifest_dir: &str, file: &str, build: Build, deviations: &[Deviation]) {
    let path = format!("{manifest_dir}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let root: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let cases: Vec<Case> = root["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(parse)
        .collect();
    for d in deviations {
        assert!(
            cases.iter().any(|c| c.name == d.case),
            "deviation names no case of {file}: {:?}",
            d.case
        );
    }
    let mut report = String::new();
    let mut failing = 0;
    for case in &cases {
        let mut lines = Vec::new();
        match catch_unwind(AssertUnwindSafe(|| run(case, build))) {
            Err(e) => lines.push(format!("panicked: {}", panic_text(e))),
            Ok(ours) => {
                for &order in &case.orders {
                    let (o, t): (&[Tensor<f64>], Vec<Tensor<f64>>) = match order {
                        Order::Value => {
                            (std::slice::from_ref(&ours.value), vec![case.value.clone()])
                        }
                        Order::Vjp => (&ours.vjp, case.vjp.iter().flatten().cloned().collect()),
                        Order::Hvp => (&ours.hvp, case.hvp.iter().flatten().cloned().collect()),
                    };
                    let diffs = compare(order.name(), o, &t);
                    let listed = deviations
                        .iter()
                        .find(|d| d.case == case.name && d.order == order);
                    match listed {
                        None => lines.extend(diffs),
                        Some(_) if diffs.is_empty() => lines.push(format!(
                            "{}: listed as a deliberate difference but agrees with PyTorch now \
                             (remove the entry)",
                            order.name()
                        )),
                        Some(d) => {
                            if let Some(want) = d.ours {
                                let got: Vec<f64> = o.iter().flat_map(Tensor::to_vec).collect();
                                let same = got.len() == want.len()
                                    && got.iter().zip(want).all(|(&a, &b)| close(a, b));
                                if !same {
                                    lines.push(format!(
                                        "{}: deliberate difference pinned as {want:?}, got {got:?}",
                                        order.name()
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        if !lines.is_empty() {
            failing += 1;
            let _ = writeln!(report, "  {} [{}]", case.name, case.op);
            for l in lines {
                let _ = writeln!(report, "      {l}");
            }
        }
    }
    assert!(
        failing == 0,
        "{failing} of {} cases of {file} disagree with PyTorch (rtol {RTOL:e}, atol {ATOL:e}):\n{report}",
        cases.len()
    );
}
