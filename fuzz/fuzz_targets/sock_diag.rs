//! NETLINK_SOCK_DIAG (inet_diag) dump replies: netlink framing (netlink-packet-core) →
//! our inet_diag_msg/attribute conversion → the socket table rows.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::selector;
use netstat_user::{
    fuzzing::sock_diag_dump,
    model::{Family, InetProto},
    render::sockets::{NoNames, SocketView, write_inet_row},
    source::netlink::DumpRequest,
};

const PROTOS: [InetProto; 4] = [
    InetProto::Tcp,
    InetProto::Udp,
    InetProto::UdpLite,
    InetProto::Raw,
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, bytes)) = selector(data) else {
        return;
    };
    let req = DumpRequest {
        proto: PROTOS[usize::from(sel & 3)],
        family: if sel & 4 == 0 {
            Family::Inet
        } else {
            Family::Inet6
        },
        want_timers: sel & 8 != 0,
    };
    // Bit 4: the input is two datagrams, split at the first message's length.
    let (rows, _end) = if sel & 0x10 != 0 && bytes.len() >= 4 {
        let len = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let at = len.next_multiple_of(4).min(bytes.len());
        sock_diag_dump(req, &[&bytes[..at], &bytes[at..]])
    } else {
        sock_diag_dump(req, &[bytes])
    };
    let view = SocketView {
        all: true,
        numeric_hosts: true,
        numeric_ports: true,
        numeric_users: true,
        extend: true,
        timers: req.want_timers,
        wide: sel & 0x20 != 0,
        ..SocketView::default()
    };
    let mut line = Vec::new();
    for s in &rows {
        assert_eq!(s.proto, req.proto, "a row of another protocol");
        assert_eq!(s.family, req.family, "a row of another family");
        line.clear();
        let _ = write_inet_row(&mut line, &view, &mut NoNames, s, None);
        assert!(
            line.ends_with(b"\n") && line.iter().filter(|&&b| b == b'\n').count() == 1,
            "a row rendered as {:?}",
            String::from_utf8_lossy(&line)
        );
    }
});
