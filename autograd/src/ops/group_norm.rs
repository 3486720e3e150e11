//! Normalisation over groups of channels: group_norm and instance_norm (a group per
//! channel), composed from mean, variance and element-wise ops as layer normalisation is,
//! so they need no backward code of their own and are differentiable to any order.

use crate::float::Float;
use crate::graph::Var;
use crate::ops::reduce::as_isize;

impl<'g, T: Float> Var<'g, T> {
    /// Group normalisation of `[N, C, *]`, as `torch.nn.functional.group_norm`: the `C`
    /// channels split into `num_groups` groups of consecutive channels, each sample's group
    /// normalised with its mean and biased variance over the group's channels and spatial
    /// positions, `(x − mean) / √(var + eps)`, then scaled by `weight[c]` and shifted by
    /// `bias[c]` (each optional, `[C]`).
    ///
    /// Backward: through the composed ops (mean, variance, division by the square root).
    ///
    /// # Panics
    /// If the input has fewer than 2 dimensions, `num_groups` is 0 or does not divide the
    /// channels, `weight` or `bias` is not `[C]` or belongs to another graph.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// // One sample, 2 channels of 2 positions, in one group: mean 2.5, variance 1.25.
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 2, 2]));
    /// let y = x.group_norm(1, None, None, 0.0);
    /// let s = 1.25f64.sqrt();
    /// assert_eq!(y.value().to_vec(), vec![-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
    /// // Two groups: each channel on its own, with a weight and a bias.
    /// let w = g.var(Tensor::from_vec(vec![2.0, 1.0], &[2]));
    /// let b = g.var(Tensor::from_vec(vec![0.0, 10.0], &[2]));
    /// let y = x.group_norm(2, Some(w), Some(b), 0.0);
    /// assert_eq!(y.value().to_vec(), vec![-2.0, 2.0, 9.0, 11.0]);
    /// ```
    #[track_caller]
    pub fn group_norm(
        self,
        num_groups: usize,
        weight: Option<Var<'g, T>>,
        bias: Option<Var<'g, T>>,
        eps: f64,
    ) -> Var<'g, T> {
        self.group_norm_named("group_norm", num_groups, weight, bias, eps)
    }

    /// Instance normalisation of `[N, C, *]`, as `torch.nn.functional.instance_norm` with
    /// the batch's statistics (no running statistics): each sample's channel normalised over
    /// its spatial positions, then the optional per-channel `weight` and `bias`. The same as
    /// [`Var::group_norm`] with one group per channel.
    ///
    /// # Panics
    /// If the input has fewer than 3 dimensions (a channel needs positions), or `weight` or
    /// `bias` is not `[C]` or belongs to another graph.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[1, 2, 2]));
    /// let y = x.instance_norm(None, None, 0.0);
    /// assert_eq!(y.value().to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn instance_norm(
        self,
        weight: Option<Var<'g, T>>,
        bias: Option<Var<'g, T>>,
        eps: f64,
    ) -> Var<'g, T> {
        let op = "instance_norm";
        let s = self.shape_for(op);
        assert!(
            s.len() >= 3,
            "{op}: the input must be [N, C, *] with at least one spatial dimension, got shape {:?}",
            s.as_slice()
        );
        self.group_norm_named(op, s[1], weight, bias, eps)
    }

    #[track_caller]
    fn group_norm_named(
        self,
        op: &str,
        groups: usize,
        weight: Option<Var<'g, T>>,
        bias: Option<Var<'g, T>>,
        eps: f64,
    ) -> Var<'g, T> {
        let shape = self.shape_for(op).to_vec();
        assert!(
            shape.len() >= 2,
            "{op}: the input must be [N, C, *], got shape {shape:?}"
        );
        let c = shape[1];
        assert!(
            groups > 0 && c.is_multiple_of(groups),
            "{op}: num_groups {groups} must divide the channels {c} (input shape {shape:?})"
        );
        let graph = self.graph();
        let mut per_channel = vec![1isize; shape.len()];
        per_channel[1] = c as isize;
        let affine = |p: Option<Var<'g, T>>, what: &str| {
            p.map(|p| {
                graph.check_owns(op, format_args!("the {what}"), p);
                let ps = p.shape_for(op);
                assert!(
                    ps.as_slice() == [c],
                    "{op}: {what} of shape {:?} must have shape [{c}]",
                    ps.as_slice()
                );
                p.reshape(&per_channel)
            })
        };
        let (weight, bias) = (affine(weight, "weight"), affine(bias, "bias"));
        let per_group = c / groups * shape[2..].iter().product::<usize>();
        let target = as_isize(&shape);
        let x = self.reshape(&[shape[0] as isize, groups as isize, per_group as isize]);
        let mean = x.mean_axes(&[2], true);
        let var = x.variance_axes(&[2], 0, true);
        let y = ((x - mean) / (var + T::from_f64(eps)).sqrt()).reshape(&target);
        let y = match weight {
            Some(w) => y * w,
            None => y,
        };
        match bias {
            Some(b) => y + b,
            None => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn group_norm_grad_and_gradgrad_match_finite_diff(
            (x, w, b, groups) in (1usize..=2, 1usize..=3, 1usize..=2, 2usize..=4)
                .prop_flat_map(|(n, g, per, l)| (
                    tensor_of(vec![n, g * per, l], -1.0..1.0),
                    tensor_of(vec![g * per], -1.0..1.0),
                    tensor_of(vec![g * per], -1.0..1.0),
                    Just(g),
                ))
        ) {
            check_grads(|v| v[0].group_norm(groups, Some(v[1]), Some(v[2]), 1e-5), &[x.clone(), w.clone(), b])?;
            check_gradgrads(|v| v[0].group_norm(groups, Some(v[1]), None, 1e-5), &[x.clone(), w])?;
            check_gradgrads(|v| v[0].instance_norm(None, None, 1e-5), &[x])?;
        }
    }

    #[test]
    fn group_norm_matches_a_direct_computation() {
        // [2, 4, 3] in 2 groups: each group holds 2 channels of 3 positions.
        let xs: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 - 3.0).collect();
        let g = Graph::<f64>::new();
        let y = g
            .var(Tensor::from_vec(xs.clone(), &[2, 4, 3]))
            .group_norm(2, None, None, 1e-5)
            .value()
            .to_vec();
        for group in xs.chunks(6).zip(y.chunks(6)) {
            let (xg, yg) = group;
            let mean = xg.iter().sum::<f64>() / 6.0;
            let var = xg.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0;
            for (a, b) in xg.iter().zip(yg) {
                assert!(((a - mean) / (var + 1e-5).sqrt() - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    #[should_panic(
        expected = "group_norm: num_groups 3 must divide the channels 4 (input shape [2, 4, 5])"
    )]
    fn group_norm_panics_when_the_groups_do_not_divide_the_channels() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2, 4, 5]))
            .group_norm(3, None, None, 1e-5);
    }

    #[test]
    #[should_panic(expected = "group_norm: weight of shape [3] must have shape [4]")]
    fn group_norm_panics_on_a_bad_weight() {
        let g = Graph::<f64>::new();
        let w = g.var(Tensor::ones(&[3]));
        g.var(Tensor::zeros(&[2, 4, 5]))
            .group_norm(2, Some(w), None, 1e-5);
    }

    #[test]
    #[should_panic(
        expected = "instance_norm: the input must be [N, C, *] with at least one spatial dimension, got shape [2, 4]"
    )]
    fn instance_norm_panics_on_2d_input() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2, 4]))
            .instance_norm(None, None, 1e-5);
    }
}
