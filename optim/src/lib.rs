//! ferrograd-optim
