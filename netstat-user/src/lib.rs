//! netstat: sources → one model → renderers.
pub mod agent;
pub mod app;
pub mod cli;
pub mod ebpf;
pub mod groups;
pub mod iface;
pub mod masq;
pub mod model;
pub mod names;
pub mod perror;
pub mod render;
pub mod route;
pub mod source;
pub mod stats;
pub mod stop;
pub mod watch;
