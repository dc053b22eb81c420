//! bcq-bc
