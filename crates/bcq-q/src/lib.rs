//! bcq-q
