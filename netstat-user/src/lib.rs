//! netstat: sources → one model → renderers.
// Everything here reads outside input (/proc, netlink, the ring buffer, the agent's
// socket, argv): an unwrap, expect or explicit panic is a crash waiting for odd data.
// Tests may. (Indexing is left to the fuzz targets: 200 sites, nearly all after a length
// check clippy cannot follow.)
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]
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
pub mod system;
pub mod watch;
