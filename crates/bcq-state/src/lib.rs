//! bcq-state
