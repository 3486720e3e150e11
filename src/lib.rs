//! ferrograd
