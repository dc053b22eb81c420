//! q-sim
