//! Sources: where socket data comes from. Sources never print.
pub mod agent;
pub mod conntrack;
pub mod netlink;
pub mod procfd;
pub mod procnet;
