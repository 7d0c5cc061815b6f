//! Sources: where socket data comes from. Sources never print.
pub mod procnet;
