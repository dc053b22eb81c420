//! bcq-core
