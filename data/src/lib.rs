//! ferrograd-data
