//! The agent's query protocol, both sides: the request the agent reads, the answer a
//! client reads (decoded answers re-encode to an answer that decodes the same, and
//! owner labels resolve within bounds), single owner/socket records, and the HTTP request
//! head of the metrics endpoint.
#![no_main]
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use netstat_fuzz::selector;
use netstat_user::{
    agent::{
        metrics,
        proto::{
            self, LABEL_MAX, OWNER_LEN, OwnerEntry, ROW_LEN, SockRow, encode_answer, read_answer,
            read_request,
        },
    },
    model::{Family, InetProto, InetSocket, Timer},
    source::agent::AgentOwners,
};

fuzz_target!(|data: &[u8]| {
    let Some((sel, bytes)) = selector(data) else {
        return;
    };
    match sel % 4 {
        0 => {
            if let Ok(netns) = read_request(&mut &bytes[..]) {
                let mut again = Vec::new();
                let _ = proto::write_request(&mut again, netns);
                assert_eq!(&again[..], &bytes[..8], "a request re-encodes to itself");
            }
        }
        1 => {
            let Ok(answer) = read_answer(&mut &bytes[..]) else {
                return;
            };
            let encoded = encode_answer(&answer);
            match read_answer(&mut &encoded[..]) {
                Ok(again) => assert_eq!(again, answer, "an answer survives a round trip"),
                Err(e) => panic!("a decoded answer does not decode once re-encoded: {e}"),
            }
            let rows = answer.rows.clone();
            let owners = AgentOwners::new(answer);
            for r in &rows {
                if let Some(label) = owners.label(&socket_of(r)) {
                    assert!(label.len() <= LABEL_MAX, "label of {} bytes", label.len());
                }
            }
        }
        2 => {
            if let Some(o) = OwnerEntry::decode(bytes) {
                let mut again = Vec::new();
                o.encode(&mut again);
                assert_eq!(again.len(), OWNER_LEN);
                assert_eq!(OwnerEntry::decode(&again), Some(o), "owner round trip");
            }
            if let Some(r) = SockRow::decode(bytes) {
                let mut again = Vec::new();
                r.encode(&mut again);
                assert_eq!(again.len(), ROW_LEN);
                assert_eq!(SockRow::decode(&again), Some(r), "socket row round trip");
            }
        }
        _ => {
            let _ = metrics::route(bytes);
        }
    }
});

/// The socket-table row the agent's row stands for, as a client would look it up.
fn socket_of(r: &SockRow) -> InetSocket {
    let (family, local, remote) = if r.family == 10 {
        (
            Family::Inet6,
            IpAddr::V6(Ipv6Addr::from(r.saddr)),
            IpAddr::V6(Ipv6Addr::from(r.daddr)),
        )
    } else {
        let v4 = |a: &[u8; 16]| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]));
        (Family::Inet, v4(&r.saddr), v4(&r.daddr))
    };
    InetSocket {
        proto: match r.protocol {
            6 => InetProto::Tcp,
            17 => InetProto::Udp,
            136 => InetProto::UdpLite,
            _ => InetProto::Raw,
        },
        family,
        local,
        local_port: r.sport,
        remote,
        remote_port: r.dport,
        state: r.state,
        rx_queue: 0,
        tx_queue: 0,
        uid: 0,
        inode: r.inode,
        cookie: 0,
        timer: Timer::default(),
    }
}
