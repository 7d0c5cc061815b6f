//! TEMPORARY stand-in in the s3-audit worktree: replaced by the full module at merge.
use std::{
    io::{self, Write},
    net::IpAddr,
};

use serde::Serialize;

pub mod events;

/// Writes one record and its newline.
pub fn write_record(out: &mut dyn Write, record: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// An address as the records spell it (see the module documentation).
pub fn ip_text(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => crate::names::ntop6(a),
    }
}
