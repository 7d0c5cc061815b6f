//! `netstat --watch`: TCP state changes as they happen, from the eBPF tracepoint.
//!
//! This first version prints every transition the kernel reports, with its network
//! namespace, addresses and states. Owners, filters, TIME_WAIT tracking and JSON come
//! with the owner map and stream work; the line format below is kept stable then.
use std::{
    io::{self, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use netstat_common::{AF_INET6, TcpState, TcpStateEvent};

use crate::{
    ebpf::{ProbeOptions, StateProbe},
    names::ntop6,
};

/// Kernel state names as ss and the bcc tools print them.
pub fn state_name(n: u8) -> &'static str {
    TcpState::from_kernel(n).map_or("UNKNOWN", TcpState::name)
}

fn endpoint(family: u16, addr: &[u8; 16], port: u16) -> String {
    if family == AF_INET6 {
        let a = Ipv6Addr::from(*addr);
        format!("[{}]:{port}", ntop6(a))
    } else {
        let a = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
        format!("{}:{port}", IpAddr::V4(a))
    }
}

/// One output line (without the newline):
/// `<ns since boot> netns=<inode> tcp|tcp6 <local> <remote> <OLD> -> <NEW>`.
pub fn format_event(e: &TcpStateEvent) -> String {
    let proto = if e.family == AF_INET6 { "tcp6" } else { "tcp" };
    format!(
        "{}.{:09} netns={} {proto} {} {} {} -> {}",
        e.ts_ns / 1_000_000_000,
        e.ts_ns % 1_000_000_000,
        e.netns,
        endpoint(e.family, &e.saddr, e.sport),
        endpoint(e.family, &e.daddr, e.dport),
        state_name(e.oldstate),
        state_name(e.newstate),
    )
}

/// Runs until SIGINT/SIGTERM or a closed stdout. Returns the exit code.
pub fn run(out: &mut dyn Write, err: &mut dyn Write) -> io::Result<i32> {
    let mut probe = match StateProbe::load(ProbeOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            writeln!(
                err,
                "netstat: --watch needs the eBPF programs, which did not load: {e}"
            )?;
            return Ok(1);
        }
    };
    crate::stop::install();
    writeln!(
        err,
        "netstat: watching TCP state changes ({}); ready",
        probe.method
    )?;
    if let Some(why) = &probe.offsets_error {
        writeln!(err, "netstat: network namespaces are not tagged: {why}")?;
    }
    let mut lost_reported = crate::ebpf::Lost::default();
    let mut undecodable_total = 0;
    while !crate::stop::requested() {
        let (events, undecodable) = probe.poll(Duration::from_millis(250))?;
        for e in &events {
            writeln!(out, "{}", format_event(e))?;
        }
        out.flush()?;
        undecodable_total += undecodable;
        let lost = probe.lost()?;
        if lost != lost_reported || undecodable > 0 {
            writeln!(
                err,
                "netstat: LOST {} events (ring buffer full), {} unreadable in the kernel, {} undecodable so far",
                lost.ring_full - lost_reported.ring_full,
                lost.read_failed - lost_reported.read_failed,
                undecodable_total
            )?;
            lost_reported = lost;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_states_and_brackets_v6() {
        let mut e = TcpStateEvent {
            ts_ns: 12_000_000_345,
            skaddr: 1,
            netns: 4026531840,
            current_tgid: 0,
            family: netstat_common::AF_INET,
            protocol: 6,
            sport: 40000,
            dport: 80,
            oldstate: 5,
            newstate: 7,
            _pad: [0; 6],
            saddr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            daddr: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        assert_eq!(
            format_event(&e),
            "12.000000345 netns=4026531840 tcp 10.0.0.1:40000 10.0.0.2:80 FIN_WAIT2 -> CLOSE"
        );
        e.family = AF_INET6;
        e.saddr = Ipv6Addr::LOCALHOST.octets();
        e.daddr = Ipv6Addr::LOCALHOST.octets();
        e.newstate = 99;
        assert!(format_event(&e).ends_with("tcp6 [::1]:40000 [::1]:80 FIN_WAIT2 -> UNKNOWN"));
    }
}
