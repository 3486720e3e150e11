//! ferrograd-nn
