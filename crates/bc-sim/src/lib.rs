//! bc-sim
pub mod config;
pub mod datagen;
pub mod schema;
pub mod value;
pub mod words;
