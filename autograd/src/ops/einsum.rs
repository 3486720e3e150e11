//! Einstein summation, as `torch.einsum`, by reduction to existing ops.
//!
//! Each operand first takes the diagonal of a letter it repeats ([`Var::diagonal`]) and sums
//! the letters no other operand and not the output uses; then the operands are combined left
//! to right, two at a time: letters both share and a later step needs are batch axes, letters
//! they share that nothing later needs are contracted by one (batched) [`Var::matmul`], and
//! with nothing to contract the two are multiplied by broadcasting. Every step is a
//! differentiable op, so einsum's backward and every higher order come from theirs.

use crate::alloc::OpScope;
use crate::float::Float;
use crate::graph::{Graph, Var};

/// The letters of each operand and of the output.
struct Spec {
    inputs: Vec<Vec<u8>>,
    output: Vec<u8>,
}

/// Parses `spec` for `n` operands, panicking with a message that names einsum and the spec.
#[track_caller]
fn parse(spec: &str, n: usize) -> Spec {
    let clean: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        !clean.contains('.'),
        "einsum: {spec:?} uses an ellipsis (...), which is not supported: name every axis \
         with a letter"
    );
    let (lhs, rhs) = match clean.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (clean.as_str(), None),
    };
    let letters = |part: &str| -> Vec<u8> {
        part.chars()
            .map(|c| {
                assert!(
                    c.is_ascii_alphabetic(),
                    "einsum: {spec:?}: {c:?} is not a subscript letter (a-z, A-Z)"
                );
                c as u8
            })
            .collect()
    };
    let inputs: Vec<Vec<u8>> = lhs.split(',').map(letters).collect();
    assert!(
        inputs.len() == n,
        "einsum: {spec:?} has subscripts for {} operands but {n} were given",
        inputs.len()
    );
    let count = |c: u8| inputs.iter().flatten().filter(|&&l| l == c).count();
    let output = match rhs {
        Some(r) => {
            let out = letters(r);
            for (i, &c) in out.iter().enumerate() {
                assert!(
                    count(c) > 0,
                    "einsum: {spec:?}: output letter '{}' appears in no operand",
                    c as char
                );
                assert!(
                    !out[..i].contains(&c),
                    "einsum: {spec:?}: output letter '{}' appears more than once",
                    c as char
                );
            }
            out
        }
        None => {
            // The letters used once, in ASCII order (upper case first), as PyTorch.
            let mut out: Vec<u8> = inputs
                .iter()
                .flatten()
                .copied()
                .filter(|&c| count(c) == 1)
                .collect();
            out.sort_unstable();
            out
        }
    };
    Spec { inputs, output }
}

/// The size of each letter across the operands (indexed by its byte): equal sizes, or 1,
/// which broadcasts, as PyTorch. Panics naming the letter on a mismatch.
#[track_caller]
fn letter_sizes(
    spec: &str,
    letters: &[Vec<u8>],
    shapes: &[Vec<usize>],
) -> [Option<(usize, usize)>; 128] {
    // (size, operand that set it)
    let mut sizes: [Option<(usize, usize)>; 128] = [None; 128];
    for (i, (ls, shape)) in letters.iter().zip(shapes).enumerate() {
        assert!(
            ls.len() == shape.len(),
            "einsum: {spec:?}: operand {i} of shape {shape:?} has {} subscripts {:?}",
            ls.len(),
            String::from_utf8_lossy(ls)
        );
        for (p, (&c, &d)) in ls.iter().zip(shape).enumerate() {
            if let Some(q) = ls[..p].iter().position(|&l| l == c) {
                assert!(
                    shape[q] == d,
                    "einsum: {spec:?}: letter '{}' is repeated in operand {i} with sizes {} and {d}",
                    c as char,
                    shape[q]
                );
            }
            match sizes[c as usize] {
                Some((s, j)) if s != d && s != 1 && d != 1 => panic!(
                    "einsum: {spec:?}: letter '{}' has size {s} in operand {j} but {d} in operand {i}",
                    c as char
                ),
                Some((s, _)) if s != 1 || d == 1 => {}
                _ => sizes[c as usize] = Some((d, i)),
            }
        }
    }
    sizes
}

/// An operand during evaluation: its value and the letter of each axis.
struct Term<'g, T: Float> {
    var: Var<'g, T>,
    labels: Vec<u8>,
}

impl<'g, T: Float> Term<'g, T> {
    /// Takes the diagonal of each repeated letter (moved to the last axis).
    fn take_diagonals(&mut self) {
        while let Some((p, q)) = (0..self.labels.len()).find_map(|q| {
            let p = self.labels[..q].iter().position(|&l| l == self.labels[q])?;
            Some((p, q))
        }) {
            self.var = self.var.diagonal(0, p as isize, q as isize);
            let c = self.labels.remove(q);
            self.labels.remove(p);
            self.labels.push(c);
        }
    }

    /// Sums the axes whose letters are not in `needed`.
    fn sum_unneeded(&mut self, needed: &[u8]) {
        let axes: Vec<isize> = (0..self.labels.len())
            .filter(|&p| !needed.contains(&self.labels[p]))
            .map(|p| p as isize)
            .collect();
        if !axes.is_empty() {
            self.var = self.var.sum_axes(&axes, false);
            self.labels.retain(|c| needed.contains(c));
        }
    }

    /// The value with its axes in the order of `letters`, each a letter of this term, with
    /// a size-1 axis for `None`.
    fn arranged(&self, letters: &[Option<u8>]) -> Var<'g, T> {
        let order: Vec<usize> = letters
            .iter()
            .flatten()
            .map(|c| {
                self.labels
                    .iter()
                    .position(|l| l == c)
                    .expect("a letter of the term")
            })
            .collect();
        let var = if order.iter().enumerate().all(|(i, &a)| i == a) {
            self.var
        } else {
            self.var.permute(&order)
        };
        if letters.iter().all(Option::is_some) {
            return var;
        }
        let shape = var.shape();
        let mut dims = shape.iter();
        let padded: Vec<isize> = letters
            .iter()
            .map(|c| c.map_or(1, |_| *dims.next().expect("one size per letter") as isize))
            .collect();
        var.reshape(&padded)
    }

    /// The sizes of the axes of `letters` (letters of this term), as `reshape` takes them.
    fn dims(&self, letters: &[u8]) -> Vec<isize> {
        let shape = self.var.shape();
        letters
            .iter()
            .map(|c| shape[self.labels.iter().position(|l| l == c).expect("a letter")] as isize)
            .collect()
    }

    /// The letters of this term that satisfy `keep`, in its order.
    fn letters(&self, keep: impl Fn(u8) -> bool) -> Vec<u8> {
        self.labels.iter().copied().filter(|&c| keep(c)).collect()
    }

    /// This term times `other`, summed over the shared letters not in `later`.
    fn contract(mut self, mut other: Term<'g, T>, later: &[u8]) -> Term<'g, T> {
        let (for_self, for_other) = (
            [other.labels.as_slice(), later].concat(),
            [self.labels.as_slice(), later].concat(),
        );
        self.sum_unneeded(&for_self);
        other.sum_unneeded(&for_other);
        let shared = |c: u8| other.labels.contains(&c);
        let batch = self.letters(|c| shared(c) && later.contains(&c));
        let summed = self.letters(|c| shared(c) && !later.contains(&c));
        let left = self.letters(|c| !shared(c));
        let right = other.letters(|c| !self.labels.contains(&c));
        let some =
            |ls: &[&[u8]]| -> Vec<Option<u8>> { ls.concat().into_iter().map(Some).collect() };
        let var = if summed.is_empty() {
            // Nothing to contract: a broadcasting product [batch, left, 1..] · [batch, 1.., right].
            let ones = |n: usize| vec![None; n];
            let a = [some(&[&batch, &left]), ones(right.len())].concat();
            let b = [some(&[&batch]), ones(left.len()), some(&[&right])].concat();
            self.arranged(&a) * other.arranged(&b)
        } else {
            // [nb, m, k] @ [nb, k, n], without the batch axis when there is none.
            let size = |t: &Term<'g, T>, ls: &[u8]| t.dims(ls).iter().product::<isize>();
            let lead = if batch.is_empty() {
                vec![]
            } else {
                vec![size(&self, &batch)]
            };
            let (m, k, n) = (
                size(&self, &left),
                size(&self, &summed),
                size(&other, &right),
            );
            let a = self
                .arranged(&some(&[&batch, &left, &summed]))
                .reshape(&[lead.as_slice(), &[m, k]].concat());
            let b = other
                .arranged(&some(&[&batch, &summed, &right]))
                .reshape(&[lead.as_slice(), &[k, n]].concat());
            let out = [self.dims(&batch), self.dims(&left), other.dims(&right)].concat();
            a.matmul(b).reshape(&out)
        };
        let labels = [batch, left, right].concat();
        Term { var, labels }
    }
}

impl<T: Float> Graph<T> {
    /// Einstein summation over `operands`, as `torch.einsum(spec, *operands)`: `spec` gives
    /// each operand's axes a letter (`a-z`, `A-Z`), comma-separated, and after `->` the
    /// output's letters; letters missing from the output are summed over. Without `->` the
    /// output is the letters used exactly once, in ASCII order (upper case first), as
    /// PyTorch. A letter repeated within one operand takes its diagonal (`"ii->i"`,
    /// `"ii"` the trace). A size-1 axis broadcasts against the letter's size in the other
    /// operands, as PyTorch. Spaces are ignored; the ellipsis `...` is not supported.
    ///
    /// Common forms: `"ij->ji"` transpose, `"ij->"` sum, `"ii->i"` diagonal, `"i,j->ij"`
    /// outer product, `"ij,jk->ik"` matmul, `"bij,bjk->bik"` batched matmul,
    /// `"bn,anm,bm->ba"` bilinear.
    ///
    /// Evaluated by composition (diagonal, sum, permute, reshape, and one matmul, or a
    /// broadcasting multiply, per pair of operands, left to right), so the backward and
    /// every higher order are those ops'. Three or more operands are combined left to right
    /// without searching for a cheaper order, as PyTorch does by default without opt_einsum.
    ///
    /// # Panics
    /// If the spec is malformed (a character other than a letter, `,` and one `->`; the
    /// ellipsis), names a different number of operands than given, has an output letter
    /// that is in no operand or given twice, gives an operand a different number of letters
    /// than it has dimensions, or a letter two sizes (other than 1); or if an operand
    /// belongs to another graph. Each message names einsum and the spec.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// let b = g.var(Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]));
    /// let c = g.einsum("ij,jk->ik", &[a, b]);
    /// assert_eq!(c.value().to_vec(), a.matmul(b).value().to_vec());
    /// assert_eq!(g.einsum("ii", &[a]).item(), 5.0); // the trace
    /// assert_eq!(g.einsum("ij->ji", &[a]).value().to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    /// g.einsum("ij,ij->", &[a, b]).backward();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![5.0, 6.0, 7.0, 8.0]);
    /// ```
    #[track_caller]
    pub fn einsum<'g>(&'g self, spec: &str, operands: &[Var<'g, T>]) -> Var<'g, T> {
        for (i, v) in operands.iter().enumerate() {
            self.check_owns("einsum", format_args!("operand {i} of {spec:?}"), *v);
        }
        let parsed = parse(spec, operands.len());
        let shapes: Vec<Vec<usize>> = operands
            .iter()
            .map(|v| v.shape_for("einsum").to_vec())
            .collect();
        let sizes = letter_sizes(spec, &parsed.inputs, &shapes);
        let _scope = OpScope::enter("einsum");
        let mut terms: Vec<Term<'g, T>> = operands
            .iter()
            .zip(parsed.inputs)
            .zip(&shapes)
            .map(|((&var, labels), shape)| {
                let full: Vec<usize> = labels
                    .iter()
                    .map(|&c| sizes[c as usize].expect("sized").0)
                    .collect();
                let var = if &full == shape {
                    var
                } else {
                    var.broadcast_to(&full)
                };
                Term { var, labels }
            })
            .collect();
        // The letters that operand i's neighbours or the output use.
        let used_beyond = |terms: &[Term<'g, T>], i: usize| -> Vec<u8> {
            let mut out = parsed.output.clone();
            for (j, t) in terms.iter().enumerate() {
                if j != i {
                    out.extend(&t.labels);
                }
            }
            out
        };
        for i in 0..terms.len() {
            terms[i].take_diagonals();
            let needed = used_beyond(&terms, i);
            terms[i].sum_unneeded(&needed);
        }
        // What each pairwise step must keep: the output's letters and the later operands'.
        let laters: Vec<Vec<u8>> = (1..terms.len())
            .map(|j| {
                let mut later = parsed.output.clone();
                for t in &terms[j + 1..] {
                    later.extend(&t.labels);
                }
                later
            })
            .collect();
        let mut rest = terms.into_iter();
        let mut acc = rest.next().expect("at least one operand");
        for (t, later) in rest.zip(&laters) {
            acc = acc.contract(t, later);
        }
        acc.sum_unneeded(&parsed.output);
        let out: Vec<Option<u8>> = parsed.output.iter().copied().map(Some).collect();
        acc.arranged(&out)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    /// Values of `shape` counting up from 1 (exact products in f64).
    fn counting(shape: &[usize]) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        Tensor::from_vec((1..=n).map(|v| v as f64).collect(), shape)
    }

    /// `einsum(spec)` against the same computation written with other ops.
    fn same(
        spec: &str,
        shapes: &[&[usize]],
        reference: impl for<'g> Fn(&[crate::Var<'g, f64>]) -> crate::Var<'g, f64>,
    ) {
        let g = Graph::<f64>::new();
        let xs: Vec<_> = shapes.iter().map(|s| g.var(counting(s))).collect();
        let ours = g.einsum(spec, &xs);
        let want = reference(&xs);
        assert_eq!(ours.shape(), want.shape(), "{spec}");
        assert_eq!(ours.value().to_vec(), want.value().to_vec(), "{spec}");
    }

    #[test]
    fn einsum_matches_the_ops_it_stands_for() {
        same("ij,jk->ik", &[&[2, 3], &[3, 4]], |v| v[0].matmul(v[1]));
        same("ij,jk", &[&[2, 3], &[3, 4]], |v| v[0].matmul(v[1]));
        same("bij,bjk->bik", &[&[2, 2, 3], &[2, 3, 4]], |v| {
            v[0].matmul(v[1])
        });
        same("i,j->ij", &[&[3], &[4]], |v| {
            v[0].unsqueeze(1) * v[1].unsqueeze(0)
        });
        same("ij->ji", &[&[2, 3]], |v| v[0].transpose(0, 1));
        same("ij->", &[&[2, 3]], |v| v[0].sum());
        same("ii->i", &[&[3, 3]], |v| v[0].diagonal(0, 0, 1));
        same("ii", &[&[3, 3]], |v| v[0].diagonal(0, 0, 1).sum());
        same("i,i->i", &[&[3], &[3]], |v| v[0] * v[1]);
        same("i,i", &[&[3], &[3]], |v| (v[0] * v[1]).sum());
        same("ij,j->i", &[&[2, 3], &[3]], |v| {
            v[0].matmul(v[1].unsqueeze(1)).squeeze(1)
        });
        same("ba", &[&[2, 3]], |v| v[0].transpose(0, 1));
        same("Ba,c", &[&[2, 3], &[4]], |v| v[0].unsqueeze(2) * v[1]);
        same("bij->j", &[&[2, 3, 4]], |v| v[0].sum_axes(&[0, 1], false));
        same("iij->ji", &[&[3, 3, 2]], |v| v[0].diagonal(0, 0, 1));
        same(" i j , j k -> k i ", &[&[2, 3], &[3, 4]], |v| {
            v[0].matmul(v[1]).transpose(0, 1)
        });
        same("i,i->i", &[&[1], &[3]], |v| v[0] * v[1]);
        same("bn,anm,bm->ba", &[&[2, 3], &[4, 3, 5], &[2, 5]], |v| {
            // y[b, a] = Σ x1[b, n] W[a, n, m] x2[b, m], as torch.nn.functional.bilinear.
            (v[0].unsqueeze(1).unsqueeze(3) * v[1].unsqueeze(0) * v[2].unsqueeze(1).unsqueeze(2))
                .sum_axes(&[2, 3], false)
        });
    }

    #[test]
    fn einsum_keeps_a_letter_later_operands_need_and_handles_empty_axes() {
        same("bi,bi,bi->b", &[&[2, 3], &[2, 3], &[2, 3]], |v| {
            (v[0] * v[1] * v[2]).sum_axes(&[1], false)
        });
        same("ij,jk,il->kl", &[&[2, 3], &[3, 2], &[2, 4]], |v| {
            v[0].matmul(v[1]).transpose(0, 1).matmul(v[2])
        });
        same("ij,jk->ik", &[&[2, 0], &[0, 3]], |v| {
            v[0].graph().constant(Tensor::zeros(&[2, 3]))
        });
        same("i,j->ij", &[&[0], &[3]], |v| v[0].unsqueeze(1) * v[1]);
    }

    /// Shapes for the specs of the property test, from three drawn sizes.
    const SPECS: [(&str, &[usize]); 8] = [
        ("ij,jk->ik", &[0, 1, 1, 2]),
        ("bij,bjk->bik", &[2, 0, 1, 2, 1, 0]),
        ("i,j->ij", &[0, 1]),
        ("ii->i", &[0, 0]),
        ("ij,ij->", &[0, 1, 0, 1]),
        ("bn,anm,bm->ba", &[0, 1, 2, 1, 0, 0, 0]),
        ("ijk->kj", &[0, 1, 2]),
        ("iij,jk", &[0, 0, 1, 1, 2]),
    ];

    fn case() -> impl Strategy<Value = (usize, Vec<Tensor<f64>>)> {
        (0..SPECS.len(), prop::array::uniform3(testing::DIMS)).prop_flat_map(|(s, sizes)| {
            let (spec, dims) = SPECS[s];
            let mut shapes = Vec::new();
            let mut at = 0;
            for part in spec.split("->").next().unwrap().split(',') {
                shapes.push(
                    dims[at..at + part.len()]
                        .iter()
                        .map(|&d| sizes[d])
                        .collect::<Vec<_>>(),
                );
                at += part.len();
            }
            let tensors: Vec<_> = shapes
                .into_iter()
                .map(|s| tensor_of::<f64>(s, -2.0..2.0))
                .collect();
            (Just(s), tensors)
        })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn einsum_grads_match_finite_diff((s, xs) in case()) {
            let spec = SPECS[s].0;
            check_grads(|v| v[0].graph().einsum(spec, v), &xs)?;
            check_gradgrads(|v| v[0].graph().einsum(spec, v).square(), &xs)?;
        }
    }

    fn zeros(shapes: &[&[usize]]) -> (Graph<f32>, Vec<Tensor<f32>>) {
        (
            Graph::new(),
            shapes.iter().map(|s| Tensor::zeros(s)).collect(),
        )
    }

    fn run(spec: &str, shapes: &[&[usize]]) {
        let (g, ts) = zeros(shapes);
        let xs: Vec<_> = ts.into_iter().map(|t| g.var(t)).collect();
        g.einsum(spec, &xs);
    }

    #[test]
    #[should_panic(
        expected = "einsum: \"i...j->ij\" uses an ellipsis (...), which is not supported"
    )]
    fn einsum_panics_on_an_ellipsis() {
        run("i...j->ij", &[&[2, 3]]);
    }

    #[test]
    #[should_panic(
        expected = "einsum: \"ij,jk->ik\" has subscripts for 2 operands but 1 were given"
    )]
    fn einsum_panics_on_an_operand_count_mismatch() {
        run("ij,jk->ik", &[&[2, 3]]);
    }

    #[test]
    #[should_panic(expected = "einsum: \"ij->ik\": output letter 'k' appears in no operand")]
    fn einsum_panics_on_an_unknown_output_letter() {
        run("ij->ik", &[&[2, 3]]);
    }

    #[test]
    #[should_panic(expected = "einsum: \"ij->ii\": output letter 'i' appears more than once")]
    fn einsum_panics_on_a_repeated_output_letter() {
        run("ij->ii", &[&[2, 3]]);
    }

    #[test]
    #[should_panic(
        expected = "einsum: \"ij,jk->ik\": letter 'j' has size 3 in operand 0 but 4 in operand 1"
    )]
    fn einsum_panics_on_a_size_mismatch() {
        run("ij,jk->ik", &[&[2, 3], &[4, 5]]);
    }

    #[test]
    #[should_panic(
        expected = "einsum: \"ii\": letter 'i' is repeated in operand 0 with sizes 2 and 3"
    )]
    fn einsum_panics_on_a_non_square_diagonal() {
        run("ii", &[&[2, 3]]);
    }

    #[test]
    #[should_panic(
        expected = "einsum: \"ijk\": operand 0 of shape [2, 3] has 3 subscripts \"ijk\""
    )]
    fn einsum_panics_on_a_rank_mismatch() {
        run("ijk", &[&[2, 3]]);
    }

    #[test]
    #[should_panic(expected = "einsum: \"i2->i\": '2' is not a subscript letter (a-z, A-Z)")]
    fn einsum_panics_on_a_character_that_is_not_a_letter() {
        run("i2->i", &[&[2, 3]]);
    }
}
