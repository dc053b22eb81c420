//! bc-sim
