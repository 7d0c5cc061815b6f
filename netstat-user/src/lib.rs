//! netstat: sources → one model → renderers.
// Everything here reads outside input (/proc, netlink, the ring buffer, the agent's
// socket, argv): an unwrap or expect is a panic waiting for odd data. Tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
pub mod agent;
pub mod app;
pub mod audit;
pub mod caps;
pub mod cli;
pub mod ebpf;
// Used by the fuzz targets in fuzz/ only.
#[doc(hidden)]
pub mod fuzzing;
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
pub mod stream;
pub mod watch;
