//! NETLINK_NETFILTER source for `-M`: the conntrack table (an `IPCTNL_MSG_CT_GET` dump of
//! `NFNL_SUBSYS_CTNETLINK`), as net-tools' masquerade entries ([`MasqEntry`]).
//!
//! net-tools reads `/proc/net/ip_masquerade`, which went away with Linux 2.6. Linux 2.4 still
//! wrote it from conntrack (`ip_fw_compat_masq.c`), and that compatibility layer fixes how a
//! conntrack entry maps onto the old columns; we follow it:
//!
//! | column | from the conntrack entry |
//! | --- | --- |
//! | `prot` | protocol of the original tuple: `tcp`, `udp`, `icmp`, `gre`, `esp` (net-tools' names); any other protocol is `ip`, net-tools' name for a generic IP entry |
//! | `expire` | `CTA_TIMEOUT` (whole seconds) as hundredths: `M:SS.00` |
//! | `source`, `destination` | source and destination address of the original tuple |
//! | `ports` | `sport -> dport (mport)`: original source and destination port, then the masquerading port: the reply tuple's destination port, the port the outside talks to |
//! | `initseq delta prevd` (`-e`) | `CTA_SEQ_ADJ_ORIG`: correction position, offset after, offset before (what 2.2's `ip_masq_seq` held: `init_seq`, `delta`, `previous_delta`); 0 when the entry has no sequence adjustment (only NAT helpers such as FTP's make one), as 2.4 always printed |
//!
//! ICMP has no ports: as in 2.4, `sport` is the echo id and `dport` is `type << 8 | code`
//! (8.0, an echo request, shows as 2048). The masquerading "port" of an ICMP entry is the id
//! the outside sees (the reply tuple's id, what 2.2 allocated as the masq port); 2.4 printed
//! the reply's type/code there, which says nothing.
//!
//! Only entries that are NATed (`IPS_SRC_NAT` or `IPS_DST_NAT`: the kernel sets them only when
//! a rule really changed the tuple) and IPv4 (net-tools' `-M` is `inet` only) are listed, in
//! the kernel's dump order.
//!
//! The request is built with netlink-packet-netfilter (0.4 knows conntrack), but the replies
//! are read by hand with netlink-packet-core's zero-copy `NetlinkBuffer`/`NlasIterator`, as
//! source/netlink.rs does for inet_diag: that crate's parser has no ICMP id/type/code and no
//! `CTA_SEQ_ADJ_*` (both come out as `DefaultNla`, whose bytes are private), allocates a
//! `Vec` per nested attribute, and fails a whole dump on one odd attribute.
use std::{io, net::Ipv4Addr};

use netlink_packet_core::{
    NLA_TYPE_MASK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterProtoFamily, conntrack::ConntrackMessage,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::{model::MasqEntry, perror::strerror};

/// Why the table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No conntrack in this kernel, or no netlink interface to it (`socket()` or the dump
    /// fails with EPROTONOSUPPORT, EINVAL for a missing nfnetlink subsystem, ENOENT…).
    #[error("conntrack: not available in this kernel: {}", strerror(.0))]
    Unavailable(io::Error),
    /// nfnetlink wants CAP_NET_ADMIN in the network namespace's user namespace.
    #[error("conntrack: reading the table needs CAP_NET_ADMIN: {}", strerror(.0))]
    NotPermitted(io::Error),
    #[error("conntrack: {}", strerror(.0))]
    Io(io::Error),
    #[error("conntrack: malformed reply: {0}")]
    Malformed(String),
}

impl Error {
    /// Classifies a failure of `socket()` or an errno the kernel sent back.
    pub fn from_io(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(
                libc::EPROTONOSUPPORT
                | libc::EAFNOSUPPORT
                | libc::EINVAL
                | libc::ENOENT
                | libc::EOPNOTSUPP,
            ) => Error::Unavailable(e),
            Some(libc::EPERM | libc::EACCES) => Error::NotPermitted(e),
            _ => Error::Io(e),
        }
    }
}

/// `NFNL_SUBSYS_CTNETLINK`.
const SUBSYS_CTNETLINK: u16 = 1;
/// `IPCTNL_MSG_CT_NEW`, `IPCTNL_MSG_CT_GET`: a dump answers with the request's type
/// (`ctnetlink_dump_table()`); older kernels used NEW.
const MSG_CT_NEW: u16 = 0;
const MSG_CT_GET: u16 = 1;
/// `sizeof(struct nfgenmsg)`.
const NFGENMSG_LEN: usize = 4;
/// `NFNETLINK_V0`.
const NFNETLINK_V0: u8 = 0;

// enum ctattr_type
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_TIMEOUT: u16 = 7;
const CTA_SEQ_ADJ_ORIG: u16 = 15;
// enum ctattr_tuple
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
// enum ctattr_ip
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
// enum ctattr_l4proto
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_PROTO_ICMP_ID: u16 = 4;
const CTA_PROTO_ICMP_TYPE: u16 = 5;
const CTA_PROTO_ICMP_CODE: u16 = 6;
// enum ctattr_seqadj
const CTA_SEQADJ_CORRECTION_POS: u16 = 1;
const CTA_SEQADJ_OFFSET_BEFORE: u16 = 2;
const CTA_SEQADJ_OFFSET_AFTER: u16 = 3;
/// `IPS_SRC_NAT | IPS_DST_NAT` (`nf_conntrack_common.h`).
pub const IPS_NAT_MASK: u32 = (1 << 4) | (1 << 5);

/// See source/netlink.rs: the kernel fills each dump datagram up to this.
const RECV_BUF_BYTES: usize = 32 * 1024;
/// The socket is private to one dump, so any constant works.
const DUMP_SEQ: u32 = 0x6d61_7371;

/// Every NATed IPv4 conntrack entry of the caller's network namespace, in dump order.
pub fn dump() -> Result<Vec<MasqEntry>, Error> {
    let socket = Socket::new(NETLINK_NETFILTER).map_err(Error::from_io)?;
    let request = encode_request(DUMP_SEQ);
    let kernel = SocketAddr::new(0, 0);
    loop {
        match socket.send_to(&request, &kernel, 0) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(e)),
        }
    }
    let mut decoder = Decoder::new(DUMP_SEQ);
    let mut buf = vec![0u8; RECV_BUF_BYTES];
    loop {
        // MSG_TRUNC makes recv return the datagram's real length, so truncation shows.
        let n = match socket.recv(&mut &mut buf[..], libc::MSG_TRUNC) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(e)),
        };
        if n > buf.len() {
            return Err(Error::Malformed(format!(
                "a {n}-byte datagram does not fit the {}-byte receive buffer",
                buf.len()
            )));
        }
        if n == 0 {
            return Err(Error::Malformed("the dump ended without NLMSG_DONE".into()));
        }
        if decoder.feed(&buf[..n])? == Progress::Done {
            return Ok(decoder.entries);
        }
    }
}

/// The dump request: nlmsghdr + nfgenmsg for IPv4, no attributes.
pub fn encode_request(seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(
        header,
        NetlinkPayload::from(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::IPv4, NFNETLINK_V0, 0),
            ConntrackMessage::Get(vec![]),
        )),
    );
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    More,
    Done,
}

/// Turns the datagrams of one dump into entries.
#[derive(Debug)]
pub struct Decoder {
    seq: u32,
    pub entries: Vec<MasqEntry>,
}

impl Decoder {
    pub fn new(seq: u32) -> Self {
        Self {
            seq,
            entries: Vec::new(),
        }
    }

    /// Decodes one datagram (one or more netlink messages).
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Progress, Error> {
        while !data.is_empty() {
            let msg =
                NetlinkBuffer::new_checked(data).map_err(|e| Error::Malformed(e.to_string()))?;
            let len = msg.length() as usize;
            if msg.sequence_number() == self.seq {
                let kind = msg.message_type();
                match kind {
                    NLMSG_DONE => {
                        // A dump's NLMSG_DONE carries the dump's return code.
                        return match read_errno(msg.payload()) {
                            Some(e) if e < 0 => Err(errno_error(e)),
                            _ => Ok(Progress::Done),
                        };
                    }
                    NLMSG_ERROR => match read_errno(msg.payload()) {
                        Some(0) => {} // an acknowledgement
                        Some(e) => return Err(errno_error(e)),
                        None => return Err(Error::Malformed("short NLMSG_ERROR".into())),
                    },
                    NLMSG_OVERRUN => return Err(Error::Malformed("NLMSG_OVERRUN".into())),
                    _ if kind >> 8 == SUBSYS_CTNETLINK
                        && matches!(kind & 0xff, MSG_CT_NEW | MSG_CT_GET) =>
                    {
                        if let Some(entry) = parse_entry(msg.payload())? {
                            self.entries.push(entry);
                        }
                    }
                    _ => {} // NLMSG_NOOP, or a type we do not know: skip it.
                }
            }
            // Messages are 4-byte aligned; the last one of a datagram may lack its padding.
            let next = len.next_multiple_of(4).min(data.len());
            data = &data[next..];
        }
        Ok(Progress::More)
    }
}

fn errno_error(negative_errno: i32) -> Error {
    Error::from_io(io::Error::from_raw_os_error(
        negative_errno.saturating_neg(),
    ))
}

/// The `int error` that starts NLMSG_ERROR and a dump's NLMSG_DONE.
fn read_errno(payload: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(i32::from_ne_bytes(bytes))
}

/// One direction of a connection (`struct nf_conntrack_tuple`), as ctnetlink dumps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tuple {
    /// `None` for IPv6 (or missing addresses).
    pub src: Option<Ipv4Addr>,
    pub dst: Option<Ipv4Addr>,
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub icmp_id: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub v6: bool,
}

impl Tuple {
    /// The kernel's `src.u.all` and `dst.u.all` (host order): the ports, or for ICMP the
    /// id and `type << 8 | code` (`dst.u.icmp` is `{ u8 type, code }`).
    pub fn ports(&self) -> (u16, u16) {
        if self.proto == libc::IPPROTO_ICMP as u8 {
            (
                self.icmp_id,
                u16::from_be_bytes([self.icmp_type, self.icmp_code]),
            )
        } else {
            (self.src_port, self.dst_port)
        }
    }

    /// The id or port that packets towards the original source carry: for the reply
    /// tuple of a masqueraded entry, the masquerading port.
    pub fn masq_port(&self) -> u16 {
        if self.proto == libc::IPPROTO_ICMP as u8 {
            self.icmp_id
        } else {
            self.dst_port
        }
    }
}

/// The parts of one conntrack message we use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conn {
    pub orig: Option<Tuple>,
    pub reply: Option<Tuple>,
    pub status: Option<u32>,
    /// Seconds.
    pub timeout: Option<u32>,
    /// `(correction_pos, offset_before, offset_after)` of the original direction.
    pub seq_adj: Option<(u32, i32, i32)>,
}

/// One `IPCTNL_MSG_CT_*` payload (nfgenmsg + attributes) → an entry, or `None` when it is
/// not an IPv4 NAT entry.
pub fn parse_entry(payload: &[u8]) -> Result<Option<MasqEntry>, Error> {
    let conn = parse_conn(payload)?;
    Ok(entry_of(&conn))
}

/// The attributes of one conntrack message.
pub fn parse_conn(payload: &[u8]) -> Result<Conn, Error> {
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or_else(|| Error::Malformed(format!("conntrack message of {} bytes", payload.len())))?;
    let mut conn = Conn::default();
    for nla in NlasIterator::new(attrs) {
        let nla = nla.map_err(|e| Error::Malformed(e.to_string()))?;
        let value = nla.value();
        match nla.kind() & NLA_TYPE_MASK {
            CTA_TUPLE_ORIG => conn.orig = Some(parse_tuple(value)?),
            CTA_TUPLE_REPLY => conn.reply = Some(parse_tuple(value)?),
            CTA_STATUS => conn.status = Some(be32(value, "CTA_STATUS")?),
            CTA_TIMEOUT => conn.timeout = Some(be32(value, "CTA_TIMEOUT")?),
            CTA_SEQ_ADJ_ORIG => conn.seq_adj = Some(parse_seq_adj(value)?),
            _ => {}
        }
    }
    Ok(conn)
}

/// The masquerade entry of a NATed IPv4 connection.
pub fn entry_of(conn: &Conn) -> Option<MasqEntry> {
    if conn.status? & IPS_NAT_MASK == 0 {
        return None;
    }
    let (orig, reply) = (conn.orig?, conn.reply?);
    if orig.v6 {
        return None;
    }
    let (sport, dport) = orig.ports();
    let (initseq, before, after) = conn.seq_adj.unwrap_or_default();
    Some(MasqEntry {
        proto: proto_name(orig.proto),
        expires: u64::from(conn.timeout.unwrap_or(0)) * 100,
        src: orig.src?,
        dst: orig.dst?,
        sport,
        dport,
        mport: reply.masq_port(),
        initseq: u64::from(initseq),
        // net-tools keeps the deltas in C shorts: the kernel's s32 offsets are cut alike.
        delta: after as i16,
        pdelta: Some(before as i16),
    })
}

/// net-tools' protocol names (`read_masqinfo()`); `ip` for every other protocol.
pub fn proto_name(proto: u8) -> &'static str {
    match i32::from(proto) {
        libc::IPPROTO_TCP => "tcp",
        libc::IPPROTO_UDP => "udp",
        libc::IPPROTO_ICMP => "icmp",
        libc::IPPROTO_GRE => "gre",
        libc::IPPROTO_ESP => "esp",
        _ => "ip",
    }
}

fn parse_tuple(data: &[u8]) -> Result<Tuple, Error> {
    let mut t = Tuple::default();
    for nla in NlasIterator::new(data) {
        let nla = nla.map_err(|e| Error::Malformed(format!("tuple: {e}")))?;
        match nla.kind() & NLA_TYPE_MASK {
            CTA_TUPLE_IP => parse_tuple_ip(nla.value(), &mut t)?,
            CTA_TUPLE_PROTO => parse_tuple_proto(nla.value(), &mut t)?,
            _ => {} // CTA_TUPLE_ZONE
        }
    }
    Ok(t)
}

fn parse_tuple_ip(data: &[u8], t: &mut Tuple) -> Result<(), Error> {
    for nla in NlasIterator::new(data) {
        let nla = nla.map_err(|e| Error::Malformed(format!("CTA_TUPLE_IP: {e}")))?;
        match nla.kind() & NLA_TYPE_MASK {
            CTA_IP_V4_SRC => t.src = Some(v4(nla.value(), "CTA_IP_V4_SRC")?),
            CTA_IP_V4_DST => t.dst = Some(v4(nla.value(), "CTA_IP_V4_DST")?),
            CTA_IP_V6_SRC | CTA_IP_V6_DST => t.v6 = true,
            _ => {}
        }
    }
    Ok(())
}

fn parse_tuple_proto(data: &[u8], t: &mut Tuple) -> Result<(), Error> {
    for nla in NlasIterator::new(data) {
        let nla = nla.map_err(|e| Error::Malformed(format!("CTA_TUPLE_PROTO: {e}")))?;
        let v = nla.value();
        match nla.kind() & NLA_TYPE_MASK {
            CTA_PROTO_NUM => t.proto = u8_of(v, "CTA_PROTO_NUM")?,
            CTA_PROTO_SRC_PORT => t.src_port = be16(v, "CTA_PROTO_SRC_PORT")?,
            CTA_PROTO_DST_PORT => t.dst_port = be16(v, "CTA_PROTO_DST_PORT")?,
            CTA_PROTO_ICMP_ID => t.icmp_id = be16(v, "CTA_PROTO_ICMP_ID")?,
            CTA_PROTO_ICMP_TYPE => t.icmp_type = u8_of(v, "CTA_PROTO_ICMP_TYPE")?,
            CTA_PROTO_ICMP_CODE => t.icmp_code = u8_of(v, "CTA_PROTO_ICMP_CODE")?,
            _ => {}
        }
    }
    Ok(())
}

fn parse_seq_adj(data: &[u8]) -> Result<(u32, i32, i32), Error> {
    let (mut pos, mut before, mut after) = (0, 0, 0);
    for nla in NlasIterator::new(data) {
        let nla = nla.map_err(|e| Error::Malformed(format!("CTA_SEQ_ADJ_ORIG: {e}")))?;
        let v = nla.value();
        match nla.kind() & NLA_TYPE_MASK {
            CTA_SEQADJ_CORRECTION_POS => pos = be32(v, "CTA_SEQADJ_CORRECTION_POS")?,
            // The kernel's offsets are s32 sent as be32.
            CTA_SEQADJ_OFFSET_BEFORE => {
                before = be32(v, "CTA_SEQADJ_OFFSET_BEFORE")? as i32;
            }
            CTA_SEQADJ_OFFSET_AFTER => after = be32(v, "CTA_SEQADJ_OFFSET_AFTER")? as i32,
            _ => {}
        }
    }
    Ok((pos, before, after))
}

fn short(what: &str, len: usize) -> Error {
    Error::Malformed(format!("{what} of {len} bytes"))
}

fn be32(v: &[u8], what: &str) -> Result<u32, Error> {
    let b: [u8; 4] = v
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| short(what, v.len()))?;
    Ok(u32::from_be_bytes(b))
}

fn be16(v: &[u8], what: &str) -> Result<u16, Error> {
    match v {
        [a, b, ..] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(short(what, v.len())),
    }
}

fn u8_of(v: &[u8], what: &str) -> Result<u8, Error> {
    v.first().copied().ok_or_else(|| short(what, v.len()))
}

fn v4(v: &[u8], what: &str) -> Result<Ipv4Addr, Error> {
    match v {
        [a, b, c, d, ..] => Ok(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => Err(short(what, v.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEQ: u32 = 0x6d61_7371;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut b = Vec::new();
        b.extend((len as u16).to_ne_bytes());
        b.extend(kind.to_ne_bytes());
        b.extend(value);
        b.resize(len.next_multiple_of(4), 0);
        b
    }

    fn nested(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
        // The kernel sets NLA_F_NESTED on nests; the parser must ignore the flag.
        nla(kind | 0x8000, &parts.concat())
    }

    fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut b = Vec::new();
        b.extend((len as u32).to_ne_bytes());
        b.extend(kind.to_ne_bytes());
        b.extend(2u16.to_ne_bytes()); // NLM_F_MULTI
        b.extend(seq.to_ne_bytes());
        b.extend(4321u32.to_ne_bytes());
        b.extend(payload);
        b.resize(len.next_multiple_of(4), 0);
        b
    }

    fn done(errno: i32) -> Vec<u8> {
        nlmsg(3, SEQ, &errno.to_ne_bytes())
    }

    fn error(errno: i32) -> Vec<u8> {
        // struct nlmsgerr: error, then the offending request's header.
        let mut p = errno.to_ne_bytes().to_vec();
        p.extend([0u8; 16]);
        nlmsg(2, SEQ, &p)
    }

    /// ICMP (id, type, code).
    type Icmp = (u16, u8, u8);

    #[derive(Clone)]
    struct Ct {
        proto: u8,
        orig: ([u8; 4], [u8; 4], u16, u16),
        reply: ([u8; 4], [u8; 4], u16, u16),
        /// (id, type, code) of orig and reply for ICMP.
        icmp: Option<(Icmp, Icmp)>,
        status: Option<u32>,
        timeout: Option<u32>,
        seq_adj: Option<(u32, i32, i32)>,
        family: u8,
    }

    const SNAT: u32 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x80 | 0x100;

    impl Ct {
        fn tcp_snat() -> Self {
            Ct {
                proto: 6,
                orig: ([192, 168, 77, 2], [10, 77, 0, 2], 51684, 8080),
                reply: ([10, 77, 0, 2], [10, 77, 0, 1], 8080, 61001),
                icmp: None,
                status: Some(SNAT),
                timeout: Some(431_999),
                seq_adj: None,
                family: libc::AF_INET as u8,
            }
        }

        /// The inside of CTA_TUPLE_ORIG/REPLY: CTA_TUPLE_IP, CTA_TUPLE_PROTO, CTA_TUPLE_ZONE.
        fn tuple(&self, reply: bool) -> Vec<u8> {
            let (s, d, sp, dp) = if reply { self.reply } else { self.orig };
            let ip = nested(1, &[nla(1, &s), nla(2, &d)]);
            let mut proto = vec![nla(1, &[self.proto])];
            match self.icmp {
                Some((o, r)) => {
                    let (id, ty, code) = if reply { r } else { o };
                    proto.push(nla(4, &id.to_be_bytes()));
                    proto.push(nla(5, &[ty]));
                    proto.push(nla(6, &[code]));
                }
                None => {
                    proto.push(nla(2, &sp.to_be_bytes()));
                    proto.push(nla(3, &dp.to_be_bytes()));
                }
            }
            // CTA_TUPLE_ZONE, which the parser skips.
            [ip, nested(2, &proto), nla(3, &0u16.to_be_bytes())].concat()
        }

        fn payload(&self) -> Vec<u8> {
            let mut p = vec![self.family, 0, 0, 0];
            p.extend(nested(1, &[self.tuple(false)]));
            p.extend(nested(2, &[self.tuple(true)]));
            if let Some(s) = self.status {
                p.extend(nla(3, &s.to_be_bytes()));
            }
            // CTA_PROTOINFO { CTA_PROTOINFO_TCP { CTA_PROTOINFO_TCP_STATE } }
            p.extend(nested(4, &[nested(1, &[nla(1, &[3])])]));
            if let Some(t) = self.timeout {
                p.extend(nla(7, &t.to_be_bytes()));
            }
            p.extend(nla(8, &0u32.to_be_bytes())); // CTA_MARK
            if let Some((pos, before, after)) = self.seq_adj {
                p.extend(nested(
                    15,
                    &[
                        nla(1, &pos.to_be_bytes()),
                        nla(2, &before.to_be_bytes()),
                        nla(3, &after.to_be_bytes()),
                    ],
                ));
            }
            p.extend(nla(11, &1u32.to_be_bytes())); // CTA_USE
            p.extend(nla(12, &0xdead_beef_u32.to_be_bytes())); // CTA_ID
            p
        }

        fn msg(&self) -> Vec<u8> {
            nlmsg(0x0101, SEQ, &self.payload())
        }
    }

    fn decode(datagrams: &[Vec<u8>]) -> Result<Vec<MasqEntry>, Error> {
        let mut d = Decoder::new(SEQ);
        for dg in datagrams {
            if d.feed(dg)? == Progress::Done {
                return Ok(d.entries);
            }
        }
        panic!("no NLMSG_DONE");
    }

    #[test]
    fn request_is_a_ctnetlink_ipv4_dump() {
        let req = encode_request(7);
        assert_eq!(req.len(), 20);
        assert_eq!(u32::from_ne_bytes(req[0..4].try_into().unwrap()), 20);
        // NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET
        assert_eq!(u16::from_ne_bytes([req[4], req[5]]), 0x0101);
        // NLM_F_REQUEST | NLM_F_DUMP
        assert_eq!(u16::from_ne_bytes([req[6], req[7]]), 0x0301);
        assert_eq!(u32::from_ne_bytes(req[8..12].try_into().unwrap()), 7);
        // nfgenmsg: AF_INET, NFNETLINK_V0, res_id 0
        assert_eq!(&req[16..20], &[2, 0, 0, 0]);
    }

    #[test]
    fn snat_tcp_entry() {
        let got = decode(&[[Ct::tcp_snat().msg(), done(0)].concat()]).unwrap();
        assert_eq!(
            got,
            [MasqEntry {
                proto: "tcp",
                expires: 43_199_900,
                src: Ipv4Addr::new(192, 168, 77, 2),
                dst: Ipv4Addr::new(10, 77, 0, 2),
                sport: 51684,
                dport: 8080,
                mport: 61001,
                initseq: 0,
                delta: 0,
                pdelta: Some(0),
            }]
        );
    }

    #[test]
    fn entries_without_nat_and_non_ipv4_are_left_out() {
        let mut plain = Ct::tcp_snat();
        plain.status = Some(0x1 | 0x2 | 0x4 | 0x8 | 0x80 | 0x100); // NAT_DONE bits only
        let mut dnat = Ct::tcp_snat();
        dnat.status = Some(0x8 | 0x20);
        let mut no_status = Ct::tcp_snat();
        no_status.status = None;
        // An IPv6 entry (CTA_IP_V6_*) in the dump: not net-tools' family.
        let v6_tuple = [
            nested(1, &[nla(3, &[0xfd; 16]), nla(4, &[0xfe; 16])]),
            nested(2, &[nla(1, &[6])]),
        ]
        .concat();
        let mut v6 = vec![libc::AF_INET6 as u8, 0, 0, 0];
        v6.extend(nested(1, std::slice::from_ref(&v6_tuple)));
        v6.extend(nested(2, &[v6_tuple]));
        v6.extend(nla(3, &SNAT.to_be_bytes()));
        let got = decode(&[[
            plain.msg(),
            dnat.msg(),
            no_status.msg(),
            nlmsg(0x0101, SEQ, &v6),
            done(0),
        ]
        .concat()])
        .unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].mport, 61001);
    }

    #[test]
    fn icmp_ports_are_id_and_type_code() {
        let mut ct = Ct::tcp_snat();
        ct.proto = 1;
        ct.icmp = Some(((0x1234, 8, 0), (61500, 0, 0)));
        ct.timeout = Some(29);
        let got = decode(&[[ct.msg(), done(0)].concat()]).unwrap();
        assert_eq!(
            (got[0].proto, got[0].sport, got[0].dport, got[0].mport),
            ("icmp", 0x1234, 2048, 61500)
        );
        assert_eq!(got[0].expires, 2900);
    }

    #[test]
    fn seq_adjust_fills_the_extended_columns() {
        let mut ct = Ct::tcp_snat();
        ct.seq_adj = Some((3_000_000_000, -5, 70_000));
        let got = decode(&[[ct.msg(), done(0)].concat()]).unwrap();
        // offset_after is the delta, offset_before the previous one; both cut to a short.
        assert_eq!(
            (got[0].initseq, got[0].delta, got[0].pdelta),
            (3_000_000_000, 70_000_i32 as i16, Some(-5))
        );
    }

    #[test]
    fn other_protocols_and_missing_timeout() {
        for (num, name) in [
            (17, "udp"),
            (47, "gre"),
            (50, "esp"),
            (132, "ip"),
            (136, "ip"),
        ] {
            let mut ct = Ct::tcp_snat();
            ct.proto = num;
            ct.timeout = None;
            let got = decode(&[[ct.msg(), done(0)].concat()]).unwrap();
            assert_eq!((got[0].proto, got[0].expires), (name, 0));
        }
    }

    #[test]
    fn the_crate_encoder_agrees_with_the_parser() {
        // An independent encoder: netlink-packet-netfilter's own attribute types.
        use netlink_packet_core::{NLM_F_MULTIPART, NetlinkHeader, NetlinkMessage, NetlinkPayload};
        use netlink_packet_netfilter::{
            NetfilterHeader, NetfilterMessage, NetfilterProtoFamily,
            conntrack::{
                ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Protocol, Status, Tuple,
            },
        };
        use std::net::IpAddr;
        let tuple = |s: [u8; 4], d: [u8; 4], sp, dp| {
            vec![
                Tuple::Ip(vec![
                    IPTuple::SourceAddress(IpAddr::from(s)),
                    IPTuple::DestinationAddress(IpAddr::from(d)),
                ]),
                Tuple::Proto(vec![
                    ProtoTuple::Protocol(Protocol::Udp),
                    ProtoTuple::SourcePort(sp),
                    ProtoTuple::DestinationPort(dp),
                ]),
            ]
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_MULTIPART;
        header.sequence_number = SEQ;
        let mut packet = NetlinkMessage::new(
            header,
            NetlinkPayload::from(NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 0),
                ConntrackMessage::Get(vec![
                    ConntrackAttribute::CtaTupleOrig(tuple([10, 1, 0, 5], [8, 8, 4, 4], 5353, 53)),
                    ConntrackAttribute::CtaTupleReply(tuple(
                        [8, 8, 4, 4],
                        [203, 0, 113, 9],
                        53,
                        1024,
                    )),
                    ConntrackAttribute::CtaStatus(Status::Confirmed | Status::SrcNat),
                    ConntrackAttribute::CtaTimeout(120),
                ]),
            )),
        );
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        let got = decode(&[bytes, done(0)]).unwrap();
        assert_eq!(
            got,
            [MasqEntry {
                proto: "udp",
                expires: 12_000,
                src: Ipv4Addr::new(10, 1, 0, 5),
                dst: Ipv4Addr::new(8, 8, 4, 4),
                sport: 5353,
                dport: 53,
                mport: 1024,
                initseq: 0,
                delta: 0,
                pdelta: Some(0),
            }]
        );
    }

    #[test]
    fn datagrams_messages_and_foreign_sequence_numbers() {
        let a = Ct::tcp_snat();
        let mut b = Ct::tcp_snat();
        b.orig.2 = 1;
        // Two datagrams; a message of another dump in between; the first datagram ends with
        // a message without its padding (a 1-byte NLMSG_NOOP).
        let other = nlmsg(0x0101, SEQ + 1, &Ct::tcp_snat().payload());
        let mut noop = nlmsg(1, SEQ, &[7]);
        noop.truncate(17);
        let first = [a.msg(), other, noop].concat();
        let got = decode(&[first, [b.msg(), done(0)].concat()]).unwrap();
        assert_eq!(got.iter().map(|e| e.sport).collect::<Vec<_>>(), [51684, 1]);
        // NLMSG_NOOP is skipped.
        let got = decode(&[[nlmsg(1, SEQ, &[]), a.msg(), done(0)].concat()]).unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn kernel_errors_are_classified() {
        let e = decode(&[error(-libc::EPERM)]).unwrap_err();
        assert!(matches!(e, Error::NotPermitted(_)), "{e:?}");
        // nfnetlink without the ctnetlink subsystem answers EINVAL.
        let e = decode(&[error(-libc::EINVAL)]).unwrap_err();
        assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
        let e = decode(&[done(-libc::ENOBUFS)]).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        // An acknowledgement is not an error.
        let got = decode(&[[error(0), done(0)].concat()]).unwrap();
        assert!(got.is_empty());
        let socket_error = io::Error::from_raw_os_error(libc::EPROTONOSUPPORT);
        assert!(matches!(
            Error::from_io(socket_error),
            Error::Unavailable(_)
        ));
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let good = Ct::tcp_snat().msg();
        // Every truncation of a message, and a short nfgenmsg.
        for cut in 1..good.len() {
            let mut m = good[..cut].to_vec();
            if cut >= 4 {
                // Keep nlmsg_len consistent with what is there, so the inner parsers see it.
                m[0..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            }
            let _ = decode(&[m, done(0)]);
        }
        assert!(matches!(
            decode(&[nlmsg(0x0101, SEQ, &[2, 0])]),
            Err(Error::Malformed(_))
        ));
        // A 1-byte CTA_STATUS.
        let mut p = vec![2, 0, 0, 0];
        p.extend(nla(3, &[1]));
        assert!(matches!(
            decode(&[nlmsg(0x0101, SEQ, &p)]),
            Err(Error::Malformed(_))
        ));
        // A 3-byte IPv4 address.
        let mut p = vec![2, 0, 0, 0];
        p.extend(nested(1, &[nested(1, &[nla(1, &[10, 0, 0])])]));
        assert!(matches!(
            decode(&[nlmsg(0x0101, SEQ, &p)]),
            Err(Error::Malformed(_))
        ));
        // A short NLMSG_ERROR.
        assert!(matches!(
            decode(&[nlmsg(2, SEQ, &[0, 0])]),
            Err(Error::Malformed(_))
        ));
    }
}
