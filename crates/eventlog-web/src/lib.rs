//! web

pub mod api;
pub mod filter_params;
