//! Never abort, never wrap: a request for more memory than exists fails with a panic (or an
//! `Err` from a `try_` form) naming the op and the shape, before any memory is touched, and
//! absurd size arguments are checked instead of wrapping in a release build.
//!
//! Requests here are 2^48 f32 elements (1 PiB), beyond any address space, so the allocator
//! refuses them under every overcommit policy; inputs are built with ndarray's calloc-backed
//! zeros so debug builds do not spend time filling them.

use ferrograd_autograd::ndarray::{ArrayD, IxDyn};
use ferrograd_autograd::{Graph, Tensor, Var};

fn zeros<'g>(g: &'g Graph<f32>, shape: &[usize]) -> Var<'g, f32> {
    g.var(Tensor::from_array(ArrayD::zeros(IxDyn(shape))))
}

#[test]
#[should_panic(
    expected = "add: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
)]
fn a_broadcast_too_large_to_allocate_names_the_binary_op() {
    let g = Graph::new();
    let _ = zeros(&g, &[1 << 24, 1]) + zeros(&g, &[1, 1 << 24]);
}

#[test]
#[should_panic(
    expected = "mul: cannot allocate shape [16777216, 2, 16777216] (5.63e14 elements, 2.25 PB of f32)"
)]
fn a_broadcast_of_non_contiguous_operands_names_the_binary_op_too() {
    let g = Graph::new();
    let rows = zeros(&g, &[1 << 24, 2]).transpose(0, 1); // [2, 2^24], column-major
    let _ = rows * zeros(&g, &[1 << 24, 1, 1]);
}

#[test]
#[should_panic(
    expected = "avg_pool2d: padding Size2(2305843009213693952, 2305843009213693952) must be at most half the kernel Size2(3, 3)"
)]
fn avg_pool2d_with_a_huge_padding_panics_naming_itself() {
    let g = Graph::new();
    zeros(&g, &[1, 1, 4, 4]).avg_pool2d(3, 1, 1usize << 61);
}

#[test]
#[should_panic(
    expected = "avg_pool2d: cannot allocate shape [1, 1, 4611686018427387904, 4611686018427387904]"
)]
fn avg_pool2d_with_a_huge_kernel_panics_with_a_size_message() {
    let g = Graph::new();
    zeros(&g, &[1, 1, 4, 4]).avg_pool2d(1usize << 62, 1, 1usize << 61);
}

#[test]
#[should_panic(
    expected = "adaptive_avg_pool2d: cannot allocate shape [1, 1, 1099511627776, 1099511627776]"
)]
fn adaptive_avg_pool2d_with_a_huge_output_panics_with_a_size_message() {
    let g = Graph::new();
    zeros(&g, &[1, 1, 4, 4]).adaptive_avg_pool2d(1usize << 40);
}

#[test]
fn a_failed_request_leaves_the_graph_usable() {
    let g = Graph::<f32>::new();
    let x = zeros(&g, &[1]);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        x.broadcast_to(&[1 << 24, 1 << 24]);
    }));
    assert!(r.is_err());
    let y = (x * 2.0).sum();
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0]);
}

#[test]
#[should_panic(expected = "with_capacity: cannot reserve room for 17592186044416 nodes")]
fn a_graph_with_room_for_too_many_nodes_panics_instead_of_aborting() {
    Graph::<f32>::with_capacity(1 << 44);
}

#[test]
#[should_panic(expected = "with_capacity: cannot reserve room for 18446744073709551615 nodes")]
fn a_graph_capacity_that_overflows_is_named_too() {
    // Before: "capacity overflow", naming nothing.
    Graph::<f32>::with_capacity(usize::MAX);
}
