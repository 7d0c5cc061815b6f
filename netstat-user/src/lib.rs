//! netstat: sources → one model → renderers.
pub mod app;
pub mod cli;
pub mod ebpf;
pub mod model;
pub mod names;
pub mod render;
pub mod source;
pub mod watch;
