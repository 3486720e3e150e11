//! Classification losses on class labels or class distributions: cross-entropy, NLL, soft
//! targets and distillation.

use super::{Reduction, check_class_weights, kl_div, same_shape};
use ferrograd_autograd::{Float, Tensor, Var};

/// Options of [`cross_entropy`] and [`nll_loss`]: class weights, label smoothing and the
/// reduction, as the keyword arguments of `F.cross_entropy`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossEntropy {
    weight: Option<Vec<f64>>,
    label_smoothing: f64,
    reduction: Reduction,
    ignore_index: Option<usize>,
}

impl CrossEntropy {
    /// No class weights, no smoothing, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// A weight per class; the mean is then taken over the weights of the targets.
    pub fn weight(mut self, weight: Vec<f64>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Label smoothing `ε` in `[0, 1]`: the target is `(1 − ε)` on the label plus `ε / C`
    /// spread over all classes.
    pub fn label_smoothing(mut self, epsilon: f64) -> Self {
        self.label_smoothing = epsilon;
        self
    }

    /// The reduction (per-sample losses for [`Reduction::None`]).
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// A label that contributes nothing, as PyTorch's `ignore_index` (whose default −100
    /// a `usize` cannot hold; here there is none by default). Its rows get loss 0 under
    /// [`Reduction::None`], and the mean is over the other rows (their class weights): if
    /// every label is ignored the mean is `0 / 0`, NaN, as PyTorch's. It may be any
    /// `usize`, inside `0..C` or not; a label equal to it is never out of range.
    pub fn ignore_index(mut self, index: usize) -> Self {
        self.ignore_index = Some(index);
        self
    }
}

/// Checks `[N, C]` or `[N, C, d1, …]` scores against `N·d1·…` labels and returns `C`.
#[track_caller]
fn check_labels<T: Float>(
    op: &str,
    scores: Var<'_, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> usize {
    let s = scores.shape();
    assert!(
        s.len() >= 2,
        "{op}: input must be [N, C] or [N, C, d1, ...], got shape {s:?}"
    );
    let c = s[1];
    let rows: usize = s[0] * s[2..].iter().product::<usize>();
    if s.len() == 2 {
        assert!(
            labels.len() == rows,
            "{op}: {} labels for {rows} rows of input {s:?}",
            labels.len()
        );
    } else {
        assert!(
            labels.len() == rows,
            "{op}: {} labels for input {s:?}, which needs N·d1·… = {rows}",
            labels.len()
        );
    }
    let ignored = |l: usize| options.ignore_index == Some(l);
    if let Some(&bad) = labels.iter().find(|&&l| l >= c && !ignored(l)) {
        panic!("{op}: label {bad} is out of range for {c} classes");
    }
    if let Some(w) = options.weight.as_ref() {
        assert!(
            w.len() == c,
            "{op}: {} class weights for {c} classes",
            w.len()
        );
        check_class_weights(op, "class weight", w);
    }
    c
}

/// `[N, C, d1, …]` as `[N·d1·…, C]`, rows in row-major order of `(n, d1, …)`.
fn classes_last<T: Float>(x: Var<'_, T>) -> Var<'_, T> {
    let s = x.shape();
    if s.len() == 2 {
        return x;
    }
    let mut axes = vec![0];
    axes.extend(2..s.len());
    axes.push(1);
    x.permute(&axes).reshape(&[-1, s[1] as isize])
}

/// Negative log-likelihood of log-probabilities `[N, C]` at integer `labels`, as
/// `F.nll_loss`: `−w[yᵢ]·log_probs[i, yᵢ]`, the mean divided by `Σ w[yᵢ]` over the labels
/// that are not [`CrossEntropy::ignore_index`].
///
/// Extra dimensions are accepted as PyTorch's: log-probabilities `[N, C, d1, …]` take
/// `N·d1·…` labels, flattened in row-major order of `(n, d1, …)` (label `[n, i, j]` of a
/// `[N, d1, d2]` label tensor is `labels[(n·d1 + i)·d2 + j]`), and [`Reduction::None`]
/// returns `[N, d1, …]`.
///
/// A log-probability of −∞ off the label (a masked class) contributes nothing, as in
/// PyTorch.
///
/// # Panics
/// If the input has fewer than 2 dimensions, the label count is not `N·d1·…`, a label
/// other than the ignored one is `C` or more, the class weights are not `C`, or a class
/// weight is negative or not finite.
#[track_caller]
pub fn nll_loss<'g, T: Float>(
    log_probs: Var<'g, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> Var<'g, T> {
    cross_entropy_from_log_probs(
        "nll_loss",
        log_probs,
        labels,
        &options.clone().label_smoothing(0.0),
    )
}

/// Cross-entropy of logits `[N, C]` against integer labels (the "sparse categorical
/// cross-entropy" of the tutorials), as `F.cross_entropy`: `log_softmax` over the class
/// axis 1 then [`nll_loss`], with optional class weights, label smoothing and
/// [`CrossEntropy::ignore_index`]. Stable for any logits.
///
/// Logits `[N, C, d1, …]` (e.g. per-pixel classes `[N, C, H, W]`) take `N·d1·…` labels in
/// row-major order of `(n, d1, …)`, as [`nll_loss`].
///
/// # Panics
/// As [`nll_loss`], and if the label smoothing is outside `[0, 1]`.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{CrossEntropy, Reduction, cross_entropy};
/// let g = Graph::<f64>::new();
/// let logits = g.var(Tensor::from_vec(vec![1e4, -1e4, 0.0, 0.0], &[2, 2]));
/// let l = cross_entropy(logits, &[1, 0], &CrossEntropy::new());
/// assert_eq!(l.item(), (2e4 + 2f64.ln()) / 2.0);
/// // An ignored label drops its row from the mean.
/// let l = cross_entropy(logits, &[1, 7], &CrossEntropy::new().ignore_index(7));
/// assert_eq!(l.item(), 2e4);
/// // [N, C, d1] logits: N = 1, C = 2, d1 = 2 positions, one label per position.
/// let x = g.var(Tensor::from_vec(vec![0.0, 1e4, 0.0, -1e4], &[1, 2, 2]));
/// let l = cross_entropy(x, &[0, 0], &CrossEntropy::new().reduction(Reduction::None));
/// assert_eq!(l.shape(), vec![1, 2]);
/// assert_eq!(l.value().to_vec(), vec![2f64.ln(), 0.0]);
/// ```
#[track_caller]
pub fn cross_entropy<'g, T: Float>(
    logits: Var<'g, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> Var<'g, T> {
    let op = "cross_entropy";
    check_labels(op, logits, labels, options);
    cross_entropy_from_log_probs(op, logits.log_softmax(1), labels, options)
}

#[track_caller]
fn cross_entropy_from_log_probs<'g, T: Float>(
    op: &str,
    log_probs: Var<'g, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> Var<'g, T> {
    let c = check_labels(op, log_probs, labels, options);
    let shape = log_probs.shape();
    let log_probs = classes_last(log_probs);
    let eps = options.label_smoothing;
    assert!(
        (0.0..=1.0).contains(&eps),
        "{op}: label_smoothing must be in [0, 1], got {eps}"
    );
    let g = log_probs.graph();
    let n = labels.len();
    let class_w = |c_: usize| options.weight.as_ref().map_or(1.0, |w| w[c_]);
    let kept = |y: usize| options.ignore_index != Some(y);
    // Per-row target weights: (1 − ε)·w[y] on the label, ε/C·w[c] on every class; an
    // ignored row's stay 0.
    let mut target = vec![T::zero(); n * c];
    for (i, &y) in labels.iter().enumerate().filter(|&(_, &y)| kept(y)) {
        for k in 0..c {
            target[i * c + k] = T::from_f64(eps / c as f64 * class_w(k));
        }
        target[i * c + y] += T::from_f64((1.0 - eps) * class_w(y));
    }
    let target = g.constant(Tensor::from_vec(target, &[n, c]));
    // Selected, not multiplied: a −∞ log-probability with target weight 0 contributes 0
    // (0·−∞ would be NaN).
    let zero = g.scalar(T::zero());
    let terms = (log_probs * target).where_(target.ne(zero), zero);
    let per_sample = -terms.sum_axes(&[1], false);
    match options.reduction {
        Reduction::Mean => {
            // 0 / 0 = NaN when every label is ignored, as PyTorch.
            let total: f64 = labels
                .iter()
                .filter(|&&y| kept(y))
                .map(|&y| class_w(y))
                .sum();
            per_sample.sum() / g.scalar(T::from_f64(total))
        }
        Reduction::Sum => per_sample.sum(),
        Reduction::None if shape.len() > 2 => {
            let mut out: Vec<isize> = vec![shape[0] as isize];
            out.extend(shape[2..].iter().map(|&d| d as isize));
            per_sample.reshape(&out)
        }
        Reduction::None => per_sample,
    }
}

/// Cross-entropy of logits `[N, C]` against probability targets `[N, C]` (soft labels), as
/// `F.cross_entropy` with a float target: `−Σ_c target·log_softmax(logits)` per row.
///
/// # Panics
/// If the shapes differ or are not 2-D.
#[track_caller]
pub fn cross_entropy_soft<'g, T: Float>(
    logits: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("cross_entropy_soft", logits, target);
    assert!(
        logits.ndim() == 2,
        "cross_entropy_soft: input must be [N, C], got shape {:?}",
        logits.shape()
    );
    reduction.apply(-(logits.log_softmax(-1) * target).sum_axes(&[1], false))
}

/// Knowledge-distillation loss (Hinton et al.): the KL divergence of the student's
/// temperature-softened distribution from the teacher's, times `T²` so its gradients keep
/// their scale: `T²·KL(softmax(teacher/T) ‖ softmax(student/T))`, averaged over the batch.
/// The teacher gets no gradient.
///
/// # Panics
/// If the shapes differ or are not 2-D, or the temperature is not positive.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::distillation_loss;
/// let g = Graph::<f64>::new();
/// let teacher = g.constant(Tensor::from_vec(vec![3.0, 1.0, 0.0], &[1, 3]));
/// // A student that matches the teacher has zero loss.
/// assert!(distillation_loss(teacher, teacher, 4.0).item().abs() < 1e-12);
/// ```
#[track_caller]
pub fn distillation_loss<'g, T: Float>(
    student_logits: Var<'g, T>,
    teacher_logits: Var<'g, T>,
    temperature: f64,
) -> Var<'g, T> {
    same_shape("distillation_loss", student_logits, teacher_logits);
    assert!(
        student_logits.ndim() == 2,
        "distillation_loss: logits must be [N, C], got shape {:?}",
        student_logits.shape()
    );
    assert!(
        temperature > 0.0,
        "distillation_loss: temperature must be positive, got {temperature}"
    );
    let t = T::from_f64(temperature);
    let teacher = (teacher_logits.detach() / student_logits.graph().scalar(t)).softmax(-1);
    let student = (student_logits / student_logits.graph().scalar(t)).log_softmax(-1);
    kl_div(student, teacher, Reduction::Mean) * (t * t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{binary_cross_entropy, binary_cross_entropy_with_logits};
    use ferrograd_autograd::testing::{self, check_gradgrads, check_grads, tensor_of};
    use ferrograd_autograd::{GradcheckOptions, Graph, gradcheck};
    use proptest::prelude::*;

    fn logits_and_labels() -> impl Strategy<Value = (Tensor<f64>, Vec<usize>)> {
        (1usize..=4, 2usize..=5).prop_flat_map(|(n, c)| {
            (
                tensor_of(vec![n, c], -3.0..3.0),
                prop::collection::vec(0..c, n),
            )
        })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn classification_loss_grads_match_finite_diff((x, labels) in logits_and_labels()) {
            let c = x.shape()[1];
            let w: Vec<f64> = (0..c).map(|k| 0.5 + k as f64 * 0.3).collect();
            let opts = CrossEntropy::new().weight(w).label_smoothing(0.1);
            check_grads(|v| cross_entropy(v[0], &labels, &opts), std::slice::from_ref(&x))?;
            check_grads(|v| cross_entropy(v[0], &labels, &CrossEntropy::new().reduction(Reduction::None)), std::slice::from_ref(&x))?;
            let probs = x.map(|v| 1.0 / (1.0 + (-v).exp()));
            let targets = x.map(|v| if v > 0.0 { 1.0 } else { 0.2 });
            check_grads(|v| binary_cross_entropy_with_logits(v[0], v[0].graph().constant(targets.clone()), Reduction::Mean), std::slice::from_ref(&x))?;
            check_grads(|v| binary_cross_entropy(v[0], v[0].graph().constant(targets.clone()), Reduction::Sum), &[probs])?;
            let soft = x.map(|v| v.abs() + 0.1);
            check_grads(|v| cross_entropy_soft(v[0], v[0].graph().constant(soft.clone()), Reduction::Mean), std::slice::from_ref(&x))?;
            check_grads(|v| distillation_loss(v[0], v[0].graph().constant(soft.clone()), 2.0), &[x])?;
        }
    }

    /// Cross-entropy computed directly in f64 from the formula, for comparison.
    fn reference_ce(logits: &[f64], c: usize, labels: &[usize], w: &[f64], eps: f64) -> f64 {
        let mut total = 0.0;
        let mut wsum = 0.0;
        for (i, &y) in labels.iter().enumerate() {
            let row = &logits[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let nll = -(row[y] - lse);
            let smooth: f64 = (0..c).map(|k| w[k] * -(row[k] - lse)).sum::<f64>() / c as f64;
            total += (1.0 - eps) * w[y] * nll + eps * smooth;
            wsum += w[y];
        }
        total / wsum
    }

    #[test]
    fn cross_entropy_matches_the_formula_with_weights_and_smoothing() {
        let logits = vec![0.2, -1.0, 2.5, 0.0, 1.0, -0.5];
        let w = vec![1.0, 2.0, 0.5];
        let g = Graph::<f64>::new();
        let x = g.constant(Tensor::from_vec(logits.clone(), &[2, 3]));
        let got = cross_entropy(
            x,
            &[2, 1],
            &CrossEntropy::new().weight(w.clone()).label_smoothing(0.2),
        )
        .item();
        let want = reference_ce(&logits, 3, &[2, 1], &w, 0.2);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn losses_are_finite_for_extreme_logits() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(vec![1e4, -1e4, -1e4, 1e4], &[2, 2]));
        let ce = cross_entropy(x, &[1, 1], &CrossEntropy::new().label_smoothing(0.1));
        let bce = binary_cross_entropy_with_logits(
            x,
            g.constant(Tensor::from_vec(vec![0.0, 1.0, 1.0, 1.0], &[2, 2])),
            Reduction::Mean,
        );
        let kd = distillation_loss(
            x,
            g.constant(Tensor::from_vec(vec![-1e4, 1e4, 1e4, -1e4], &[2, 2])),
            2.0,
        );
        for l in [ce, bce, kd] {
            assert!(l.item().is_finite(), "{l:?} = {}", l.item());
            g.grad(&[l], &[x], false)[0]
                .unwrap()
                .value()
                .to_vec()
                .iter()
                .for_each(|v| assert!(v.is_finite()));
        }
        // Three of the four logits are 1e4 on the wrong side (loss 1e4 each), one is right.
        assert_eq!(bce.item(), 7500.0);
    }

    #[test]
    fn nll_loss_reads_the_label_column() {
        gradcheck(
            |v| {
                nll_loss(
                    v[0].log_softmax(-1),
                    &[1, 0],
                    &CrossEntropy::new().reduction(Reduction::Sum),
                )
            },
            &[Tensor::from_vec(vec![0.3, -0.2, 1.0, 0.4], &[2, 2])],
            &GradcheckOptions::default(),
        )
        .unwrap();
        let g = Graph::<f64>::new();
        let lp = g.constant(Tensor::from_vec(vec![-0.1, -2.0, -3.0, -0.05], &[2, 2]));
        assert_eq!(nll_loss(lp, &[1, 0], &CrossEntropy::new()).item(), 2.5);
    }

    #[test]
    #[should_panic(
        expected = "cross_entropy: class weight -1 of class 2 must be finite and non-negative"
    )]
    fn cross_entropy_panics_on_a_negative_class_weight() {
        let g = Graph::<f32>::new();
        let opts = CrossEntropy::new().weight(vec![1.0, 0.5, -1.0]);
        cross_entropy(g.var(Tensor::zeros(&[2, 3])), &[0, 2], &opts);
    }

    #[test]
    #[should_panic(
        expected = "nll_loss: class weight inf of class 0 must be finite and non-negative"
    )]
    fn nll_loss_panics_on_an_infinite_class_weight() {
        let g = Graph::<f64>::new();
        let opts = CrossEntropy::new().weight(vec![f64::INFINITY, 1.0]);
        nll_loss(g.var(Tensor::zeros(&[1, 2])), &[1], &opts);
    }

    #[test]
    fn cross_entropy_ignores_a_minus_infinity_logit_off_the_label() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![f64::NEG_INFINITY, 0.0, 0.0], &[1, 3]));
        let l = cross_entropy(x, &[1], &CrossEntropy::new());
        assert_eq!(l.item(), 2f64.ln());
        l.backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, -0.5, 0.5]);
    }

    #[test]
    fn cross_entropy_ignore_index_drops_rows_from_the_mean_and_all_ignored_is_nan() {
        let logits = vec![0.2, -1.0, 2.5, 0.0, 1.0, -0.5, 0.3, 0.3, -2.0];
        let w = vec![1.0, 2.0, 0.5];
        let g = Graph::<f64>::new();
        let x = g.constant(Tensor::from_vec(logits.clone(), &[3, 3]));
        let opts = CrossEntropy::new().weight(w.clone()).ignore_index(1);
        let got = cross_entropy(x, &[2, 1, 0], &opts).item();
        let kept: Vec<f64> = [&logits[..3], &logits[6..]].concat();
        let want = reference_ce(&kept, 3, &[2, 0], &w, 0.0);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        let none = cross_entropy(x, &[2, 1, 0], &opts.clone().reduction(Reduction::None));
        assert_eq!(none.value().to_vec()[1], 0.0);
        let all = CrossEntropy::new().ignore_index(1);
        assert!(cross_entropy(x, &[1, 1, 1], &all).item().is_nan());
        assert_eq!(
            cross_entropy(x, &[1, 1, 1], &all.reduction(Reduction::Sum)).item(),
            0.0
        );
        // An ignore_index outside 0..C is no out-of-range label.
        let outside = CrossEntropy::new().ignore_index(usize::MAX);
        assert!(
            cross_entropy(x, &[0, usize::MAX, 2], &outside)
                .item()
                .is_finite()
        );
    }

    #[test]
    fn cross_entropy_on_spatial_logits_equals_it_on_the_flattened_rows() {
        // [N=2, C=3, d1=2]: position (n, i) has logits x[n, :, i] and label labels[n·2 + i].
        let data: Vec<f64> = (0..12).map(|k| ((k * 7 % 5) as f64 - 2.0) * 0.6).collect();
        let labels = [2, 0, 1, 1];
        let g = Graph::<f64>::new();
        let x = g.constant(Tensor::from_vec(data.clone(), &[2, 3, 2]));
        let mut rows = vec![];
        for n in 0..2 {
            for i in 0..2 {
                rows.extend((0..3).map(|c| data[n * 6 + c * 2 + i]));
            }
        }
        let flat = g.constant(Tensor::from_vec(rows, &[4, 3]));
        let opts = CrossEntropy::new().label_smoothing(0.1).ignore_index(0);
        let a = cross_entropy(x, &labels, &opts).item();
        let b = cross_entropy(flat, &labels, &opts).item();
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let none = opts.reduction(Reduction::None);
        let per = cross_entropy(x, &labels, &none);
        assert_eq!(per.shape(), vec![2, 2]);
        let per_flat = cross_entropy(flat, &labels, &none).value().to_vec();
        for (u, v) in per.value().to_vec().iter().zip(per_flat) {
            assert!((u - v).abs() < 1e-12);
        }
    }

    #[test]
    fn cross_entropy_spatial_and_ignore_index_grads_and_gradgrads_match_finite_diff() {
        let x = Tensor::from_vec(
            (0..24).map(|k| ((k * 5 % 7) as f64 - 3.0) * 0.4).collect(),
            &[2, 3, 2, 2],
        );
        let labels = [0, 2, 1, 1, 2, 0, 1, 2];
        let opts = CrossEntropy::new()
            .weight(vec![0.5, 1.5, 1.0])
            .label_smoothing(0.1)
            .ignore_index(1);
        let o = GradcheckOptions::default();
        gradcheck(
            |v| cross_entropy(v[0], &labels, &opts),
            std::slice::from_ref(&x),
            &o,
        )
        .unwrap();
        ferrograd_autograd::gradgradcheck(|v| cross_entropy(v[0], &labels, &opts), &[x], &o)
            .unwrap();
    }

    #[test]
    #[should_panic(
        expected = "cross_entropy: 3 labels for input [2, 3, 2], which needs N·d1·… = 4"
    )]
    fn cross_entropy_panics_on_a_spatial_label_count_mismatch() {
        let g = Graph::<f32>::new();
        cross_entropy(
            g.var(Tensor::zeros(&[2, 3, 2])),
            &[0, 1, 2],
            &CrossEntropy::new(),
        );
    }

    #[test]
    #[should_panic(expected = "nll_loss: input must be [N, C] or [N, C, d1, ...], got shape [3]")]
    fn nll_loss_panics_on_a_1d_input() {
        let g = Graph::<f32>::new();
        nll_loss(g.var(Tensor::zeros(&[3])), &[0, 1, 2], &CrossEntropy::new());
    }

    #[test]
    #[should_panic(expected = "cross_entropy: label 3 is out of range for 3 classes")]
    fn cross_entropy_panics_on_a_bad_label() {
        let g = Graph::<f32>::new();
        cross_entropy(g.var(Tensor::zeros(&[2, 3])), &[0, 3], &CrossEntropy::new());
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn spatial_cross_entropy_with_ignore_index_grads_match_finite_diff_anywhere(
            (x, labels) in (1usize..=2, 2usize..=4, 1usize..=3).prop_flat_map(|(n, c, d)| (
                tensor_of(vec![n, c, d], -3.0..3.0),
                prop::collection::vec(0..c, n * d),
            )),
        ) {
            // Class 0 ignored; a batch whose every label is 0 gives NaN (0/0), as PyTorch.
            prop_assume!(labels.iter().any(|&k| k != 0));
            let c = x.shape()[1];
            let w: Vec<f64> = (0..c).map(|k| 0.5 + k as f64 * 0.3).collect();
            let opts = CrossEntropy::new().weight(w).label_smoothing(0.1).ignore_index(0);
            check_grads(|v| cross_entropy(v[0], &labels, &opts), std::slice::from_ref(&x))?;
            check_gradgrads(|v| cross_entropy(v[0], &labels, &opts), &[x])?;
        }
    }
}
