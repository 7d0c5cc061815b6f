//! One multicast membership of `-g`, as `/proc/net/igmp` and `/proc/net/igmp6` give it:
//! what the text table (groups.rs) and the JSON records (render/json/groups.rs) read.
use std::net::{Ipv4Addr, Ipv6Addr};

/// A multicast group address as the files give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The device name bytes as net-tools' `device` buffer holds them (up to its NUL).
    pub device: Vec<u8>,
    /// The "Users" column of the file (a C `int`, like net-tools' `refcnt`).
    pub refcnt: i32,
    pub group: Group,
}
