//! net-tools 2.10's `-s` sentence tables, transcribed from `statistics.c` in source order.
//!
//! The order matters: net-tools looks keys up with glibc's `bsearch()`, and some of
//! these tables are not sorted, so some keys that are present are never found (they
//! then print raw, as `Name: value`). [`lookup`] repeats glibc's search over the tables
//! exactly as they are; do not sort them.

use Kind::{Forward, InpIcmp, Number, OptNumber, OutpIcmp, RtoAlg};

/// How an entry prints (net-tools' `enum State`); also the printer's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Always printed, even when 0.
    Number,
    /// Printed only when non-zero.
    OptNumber,
    /// `Forwarding is %s` (static, so never printed).
    Forward,
    /// A line of the ICMP input histogram (indent 8, after its title).
    InpIcmp,
    /// A line of the ICMP output histogram (indent 8, after its title).
    OutpIcmp,
    /// `RTO algorithm is %s` (static, so never printed).
    RtoAlg,
}

impl Kind {
    /// `states[kind].indent`.
    pub fn indent(self) -> usize {
        match self {
            Number | OptNumber | Forward => 4,
            InpIcmp | OutpIcmp => 8,
            // Not in net-tools' `states[]`, so 0; never reached (its entry is static).
            RtoAlg => 0,
        }
    }

    /// `states[kind].title`: the histogram title printed before the first line of a
    /// histogram (`I_TITLE` is set on exactly these entries).
    pub fn title(self) -> Option<&'static str> {
        match self {
            InpIcmp => Some("ICMP input histogram:"),
            OutpIcmp => Some("ICMP output histogram:"),
            _ => None,
        }
    }
}

/// One `struct entry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The kernel's key, byte for byte as net-tools spells it (one has a trailing space).
    pub key: &'static str,
    /// A printf format with one `%llu` (or `%s` for the static entries); empty entries
    /// never print.
    pub format: &'static str,
    pub kind: Kind,
    /// `I_STATIC`: a configuration value, never printed (net-tools' `print_static` is 0).
    pub is_static: bool,
}

const fn e(key: &'static str, format: &'static str, kind: Kind) -> Entry {
    Entry {
        key,
        format,
        kind,
        is_static: false,
    }
}

const fn fixed(key: &'static str, format: &'static str, kind: Kind) -> Entry {
    Entry {
        key,
        format,
        kind,
        is_static: true,
    }
}

/// Which option selects a section (net-tools' `f_raw`, `f_tcp`, `f_udp`, `f_sctp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// `-w`
    Raw,
    /// `-t`
    Tcp,
    /// `-u`
    Udp,
    /// `-S`
    Sctp,
}

/// One `struct tabtab`: a section title, its entries and the option that shows it.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    pub title: &'static str,
    pub entries: &'static [Entry],
    pub flag: Flag,
}

/// `snmptabs[]`: the sections of /proc/net/snmp, /proc/net/netstat and
/// /proc/net/sctp/snmp.
pub const SNMP_SECTIONS: &[Section] = &[
    Section {
        title: "Ip",
        entries: IP,
        flag: Flag::Raw,
    },
    Section {
        title: "Icmp",
        entries: ICMP,
        flag: Flag::Raw,
    },
    Section {
        title: "Tcp",
        entries: TCP,
        flag: Flag::Tcp,
    },
    Section {
        title: "Udp",
        entries: UDP,
        flag: Flag::Udp,
    },
    Section {
        title: "Sctp",
        entries: SCTP,
        flag: Flag::Sctp,
    },
    Section {
        title: "TcpExt",
        entries: TCP_EXT,
        flag: Flag::Tcp,
    },
];

/// `snmp6tabs[]`: the sections of /proc/net/snmp6. Linux has no `Tcp6` keys, so that
/// entry never matches.
pub const SNMP6_SECTIONS: &[Section] = &[
    Section {
        title: "Ip6",
        entries: IP6,
        flag: Flag::Raw,
    },
    Section {
        title: "Icmp6",
        entries: ICMP6,
        flag: Flag::Raw,
    },
    Section {
        title: "Udp6",
        entries: UDP6,
        flag: Flag::Udp,
    },
    Section {
        title: "Tcp6",
        entries: TCP,
        flag: Flag::Tcp,
    },
];

/// The section titled exactly `title` (`newtable()`'s `strcmp` loop).
pub fn section(sections: &'static [Section], title: &[u8]) -> Option<&'static Section> {
    sections.iter().find(|s| s.title.as_bytes() == title)
}

/// glibc's `bsearch()` with `strcmp` over `entries` as they are (not necessarily sorted):
/// `l = 0, u = n; while l < u { i = (l + u) / 2; compare key with entries[i]; ... }`.
/// Byte slices compare like `strcmp` (unsigned bytes, a prefix sorts first).
pub fn lookup(entries: &'static [Entry], key: &[u8]) -> Option<&'static Entry> {
    let (mut l, mut u) = (0usize, entries.len());
    while l < u {
        let i = (l + u) / 2;
        let entry = entries.get(i)?;
        match key.cmp(entry.key.as_bytes()) {
            std::cmp::Ordering::Less => u = i,
            std::cmp::Ordering::Greater => l = i + 1,
            std::cmp::Ordering::Equal => return Some(entry),
        }
    }
    None
}

/// `Iptab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const IP: &[Entry] = &[
    fixed("DefaultTTL", "Default TTL is %llu", Number),
    fixed("Forwarding", "Forwarding is %s", Forward),
    e("ForwDatagrams", "%llu forwarded", Number),
    e("FragCreates", "%llu fragments created", OptNumber),
    e("FragFails", "%llu outgoing packets failed fragmentation", OptNumber),
    e("FragOKs", "%llu outgoing packets fragmented ok", OptNumber),
    e("InAddrErrors", "%llu with invalid addresses", OptNumber),
    e("InDelivers", "%llu incoming packets delivered", Number),
    e("InDiscards", "%llu incoming packets discarded", Number),
    e("InHdrErrors", "%llu with invalid headers", OptNumber),
    e("InReceives", "%llu total packets received", Number),
    e("InUnknownProtos", "%llu with unknown protocol", OptNumber),
    e("OutDiscards", "%llu outgoing packets dropped", OptNumber),
    e("OutNoRoutes", "%llu dropped because of missing route", OptNumber),
    e("OutRequests", "%llu requests sent out", Number),
    e("ReasmFails", "%llu packet reassemblies failed", OptNumber),
    e("ReasmOKs", "%llu packets reassembled ok", OptNumber),
    e("ReasmReqds", "%llu reassemblies required", OptNumber),
    e("ReasmTimeout", "%llu fragments dropped after timeout", OptNumber),
];

/// `Ip6tab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const IP6: &[Entry] = &[
    e("Ip6FragCreates", "%llu fragments created", OptNumber),
    e("Ip6FragFails", "%llu outgoing packets failed fragmentation", OptNumber),
    e("Ip6FragOKs", "%llu outgoing packets fragmented ok", OptNumber),
    e("Ip6InAddrErrors", "%llu with invalid addresses", OptNumber),
    e("Ip6InDelivers", "%llu incoming packets delivered", Number),
    e("Ip6InDiscards", "%llu incoming packets discarded", Number),
    e("Ip6InHdrErrors", "%llu with invalid headers", OptNumber),
    e("Ip6InMcastPkts", "%llu incoming multicast packets", OptNumber),
    e("Ip6InNoRoutes", "%llu incoming packets with no route", OptNumber),
    e("Ip6InReceives", "%llu total packets received", Number),
    e("Ip6InTooBigErrors", "%llu with packets too big", OptNumber),
    e("Ip6InTruncatedPkts", "%llu with truncated packets", OptNumber),
    e("Ip6InUnknownProtos", "%llu with unknown protocol", OptNumber),
    e("Ip6OutDiscards", "%llu outgoing packets dropped", OptNumber),
    e("Ip6OutForwDatagrams", "%llu forwarded", Number),
    e("Ip6OutMcastPkts", "%llu outgoing multicast packets", OptNumber),
    e("Ip6OutNoRoutes", "%llu dropped because of missing route", OptNumber),
    e("Ip6OutRequests", "%llu requests sent out", Number),
    e("Ip6ReasmFails", "%llu packet reassemblies failed", OptNumber),
    e("Ip6ReasmOKs", "%llu packets reassembled ok", OptNumber),
    e("Ip6ReasmReqds", "%llu reassemblies required", OptNumber),
    e("Ip6ReasmTimeout", "%llu fragments dropped after timeout", OptNumber),
];

/// `Icmptab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const ICMP: &[Entry] = &[
    e("InAddrMaskReps", "address mask replies: %llu", InpIcmp),
    e("InAddrMasks", "address mask request: %llu", InpIcmp),
    e("InDestUnreachs", "destination unreachable: %llu", InpIcmp),
    e("InEchoReps", "echo replies: %llu", InpIcmp),
    e("InEchos", "echo requests: %llu", InpIcmp),
    e("InErrors", "%llu input ICMP message failed", Number),
    e("InMsgs", "%llu ICMP messages received", Number),
    e("InParmProbs", "wrong parameters: %llu", InpIcmp),
    e("InRedirects", "redirects: %llu", InpIcmp),
    e("InSrcQuenchs", "source quenches: %llu", InpIcmp),
    e("InTimeExcds", "timeout in transit: %llu", InpIcmp),
    e("InTimestampReps", "timestamp reply: %llu", InpIcmp),
    e("InTimestamps", "timestamp request: %llu", InpIcmp),
    e("OutAddrMaskReps", "address mask replies: %llu", OutpIcmp),
    e("OutAddrMasks", "address mask requests: %llu", OutpIcmp),
    e("OutDestUnreachs", "destination unreachable: %llu", OutpIcmp),
    e("OutEchoReps", "echo replies: %llu", OutpIcmp),
    e("OutEchos", "echo requests: %llu", OutpIcmp),
    e("OutErrors", "%llu ICMP messages failed", Number),
    e("OutMsgs", "%llu ICMP messages sent", Number),
    e("OutParmProbs", "wrong parameters: %llu", OutpIcmp),
    e("OutRedirects", "redirect: %llu", OutpIcmp),
    e("OutSrcQuenchs", "source quench: %llu", OutpIcmp),
    e("OutTimeExcds", "time exceeded: %llu", OutpIcmp),
    e("OutTimestampReps", "timestamp replies: %llu", OutpIcmp),
    e("OutTimestamps", "timestamp requests: %llu", OutpIcmp),
];

/// `Icmp6tab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const ICMP6: &[Entry] = &[
    e("Icmp6InDestUnreachs", "destination unreachable: %llu", InpIcmp),
    e("Icmp6InEchoReplies", "echo replies: %llu", InpIcmp),
    e("Icmp6InEchos", "echo requests: %llu", InpIcmp),
    e("Icmp6InErrors", "%llu input ICMP message failed", Number),
    e("Icmp6InGroupMembQueries", "group member queries: %llu", InpIcmp),
    e("Icmp6InGroupMembReductions", "group member reductions: %llu", InpIcmp),
    e("Icmp6InGroupMembResponses", "group member responses: %llu", InpIcmp),
    e("Icmp6InMsgs", "%llu ICMP messages received", Number),
    e("Icmp6InNeighborAdvertisements", "neighbour advertisement: %llu", InpIcmp),
    e("Icmp6InNeighborSolicits", "neighbour solicits: %llu", InpIcmp),
    e("Icmp6InParmProblems", "parameter problem: %llu", InpIcmp),
    e("Icmp6InPktTooBigs", "packets too big: %llu", InpIcmp),
    e("Icmp6InRedirects", "redirects: %llu", InpIcmp),
    e("Icmp6InRouterAdvertisements", "router advertisement: %llu", InpIcmp),
    e("Icmp6InRouterSolicits", "router solicits: %llu", InpIcmp),
    e("Icmp6InTimeExcds", "received ICMPv6 time exceeded: %llu", InpIcmp),
    e("Icmp6OutDestUnreachs", "destination unreachable: %llu", OutpIcmp),
    e("Icmp6OutEchoReplies", "echo replies: %llu", OutpIcmp),
    e("Icmp6OutEchos", "echo requests: %llu", OutpIcmp),
    e("Icmp6OutGroupMembQueries", "group member queries: %llu", OutpIcmp),
    e("Icmp6OutGroupMembReductions", "group member reductions: %llu", OutpIcmp),
    e("Icmp6OutGroupMembResponses", "group member responses: %llu", OutpIcmp),
    e("Icmp6OutMsgs", "%llu ICMP messages sent", Number),
    e("Icmp6OutNeighborAdvertisements", "neighbor advertisements: %llu", OutpIcmp),
    e("Icmp6OutNeighborSolicits", "neighbor solicits: %llu", OutpIcmp),
    e("Icmp6OutParmProblems", "parameter problem: %llu", OutpIcmp),
    e("Icmp6OutPktTooBigs", "packets too big: %llu", OutpIcmp),
    e("Icmp6OutRedirects", "redirects: %llu", OutpIcmp),
    e("Icmp6OutRouterAdvertisements ", "router advertisement: %llu", OutpIcmp),
    e("Icmp6OutRouterSolicits", "router solicits: %llu", OutpIcmp),
    e("Icmp6OutTimeExcds", "sent ICMPv6 time exceeded: %llu", OutpIcmp),
];

/// `Tcptab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const TCP: &[Entry] = &[
    e("ActiveOpens", "%llu active connection openings", Number),
    e("AttemptFails", "%llu failed connection attempts", Number),
    e("CurrEstab", "%llu connections established", Number),
    e("EstabResets", "%llu connection resets received", Number),
    e("InErrs", "%llu bad segments received", Number),
    e("InSegs", "%llu segments received", Number),
    e("MaxConn", "", Number),
    e("OutRsts", "%llu resets sent", Number),
    e("OutSegs", "%llu segments sent out", Number),
    e("PassiveOpens", "%llu passive connection openings", Number),
    e("RetransSegs", "%llu segments retransmitted", Number),
    fixed("RtoAlgorithm", "RTO algorithm is %s", RtoAlg),
    e("RtoMax", "", Number),
    e("RtoMin", "", Number),
];

/// `Udptab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const UDP: &[Entry] = &[
    e("InDatagrams", "%llu packets received", Number),
    e("InErrors", "%llu packet receive errors", Number),
    e("NoPorts", "%llu packets to unknown port received", Number),
    e("OutDatagrams", "%llu packets sent", Number),
    e("RcvbufErrors", "%llu receive buffer errors", Number),
    e("SndbufErrors", "%llu send buffer errors", Number),
];

/// `Udp6tab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const UDP6: &[Entry] = &[
    e("Udp6InDatagrams", "%llu packets received", Number),
    e("Udp6InErrors", "%llu packet receive errors", Number),
    e("Udp6NoPorts", "%llu packets to unknown port received", Number),
    e("Udp6OutDatagrams", "%llu packets sent", Number),
];

/// `Tcpexttab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const TCP_EXT: &[Entry] = &[
    e("DelayedACKLocked", "%llu delayed acks further delayed because of locked socket", OptNumber),
    e("DelayedACKLost", "Quick ack mode was activated %llu times", OptNumber),
    e("DelayedACKs", "%llu delayed acks sent", OptNumber),
    e("EmbryonicRsts", "%llu resets received for embryonic SYN_RECV sockets", OptNumber),
    e("ListenDrops", "%llu SYNs to LISTEN sockets dropped", OptNumber),
    e("ListenOverflows", "%llu times the listen queue of a socket overflowed", OptNumber),
    e("LockDroppedIcmps", "%llu ICMP packets dropped because socket was locked", OptNumber),
    e("OfoPruned", "%llu packets dropped from out-of-order queue because of socket buffer overrun", OptNumber),
    e("OutOfWindowIcmps", "%llu ICMP packets dropped because they were out-of-window", OptNumber),
    e("PAWSActive", "%llu active connections rejected because of time stamp", OptNumber),
    e("PAWSEstab", "%llu packets rejected in established connections because of timestamp", OptNumber),
    e("PAWSPassive", "%llu passive connections rejected because of time stamp", OptNumber),
    e("PruneCalled", "%llu packets pruned from receive queue because of socket buffer overrun", OptNumber),
    e("RcvPruned", "%llu packets pruned from receive queue", OptNumber),
    e("SockMallocOOM", "Ran %llu times out of system memory during packet sending", OptNumber),
    e("SyncookiesFailed", "%llu invalid SYN cookies received", OptNumber),
    e("SyncookiesRecv", "%llu SYN cookies received", OptNumber),
    e("SyncookiesSent", "%llu SYN cookies sent", OptNumber),
    e("TCPAbortFailed", "%llu times unable to send RST due to no memory", OptNumber),
    e("TCPAbortOnClose", "%llu connections reset due to early user close", OptNumber),
    e("TCPAbortOnData", "%llu connections reset due to unexpected data", OptNumber),
    e("TCPAbortOnLinger", "%llu connections aborted after user close in linger timeout", OptNumber),
    e("TCPAbortOnMemory", "%llu connections aborted due to memory pressure", OptNumber),
    e("TCPAbortOnSyn", "%llu connections reset due to unexpected SYN", OptNumber),
    e("TCPAbortOnTimeout", "%llu connections aborted due to timeout", OptNumber),
    e("TCPDirectCopyFromBacklog", "%llu bytes directly in process context from backlog", OptNumber),
    e("TCPDirectCopyFromPrequeue", "%llu bytes directly received in process context from prequeue", OptNumber),
    e("TCPDSACKOfoRecv", "%llu DSACKs for out of order packets received", OptNumber),
    e("TCPDSACKOfoSent", "%llu DSACKs sent for out of order packets", OptNumber),
    e("TCPDSACKOldSent", "%llu DSACKs sent for old packets", OptNumber),
    e("TCPDSACKRecv", "%llu DSACKs received", OptNumber),
    e("TCPDSackUndo", "%llu congestion window recovered without slow start using DSACK", OptNumber),
    e("TCPDSACKUndo", "%llu congestion windows recovered without slow start by DSACK", OptNumber),
    e("TCPFACKReorder", "Detected reordering %llu times using FACK", OptNumber),
    e("TCPFastRetrans", "%llu fast retransmits", OptNumber),
    e("TCPForwardRetrans", "%llu forward retransmits", OptNumber),
    e("TCPFullUndo", "%llu congestion windows fully recovered without slow start", OptNumber),
    e("TCPHPAcks", "%llu predicted acknowledgments", OptNumber),
    e("TCPHPHits", "%llu packet headers predicted", Number),
    e("TCPHPHitsToUser", "%llu packet headers predicted and directly queued to user", OptNumber),
    e("TCPLossFailures", "%llu timeouts in loss state", OptNumber),
    e("TCPLoss", "%llu TCP data loss events", OptNumber),
    e("TCPLossUndo", "%llu congestion windows recovered without slow start after partial ack", OptNumber),
    e("TCPLostRetransmits", "%llu retransmits lost", OptNumber),
    e("TCPMemoryPressures", "TCP ran low on memory %llu times", OptNumber),
    e("TCPPartialUndo", "%llu congestion windows partially recovered using Hoe heuristic", OptNumber),
    e("TCPPrequeued", "%llu packets directly queued to recvmsg prequeue", OptNumber),
    e("TCPPrequeueDropped", "%llu packets dropped from prequeue", OptNumber),
    e("TCPPureAcks", "%llu acknowledgments not containing data payload received", OptNumber),
    e("TCPRcvCollapsed", "%llu packets collapsed in receive queue due to low socket buffer", OptNumber),
    e("TCPRenoFailures", "%llu timeouts after reno fast retransmit", OptNumber),
    e("TCPRenoRecoveryFailed", "%llu reno fast retransmits failed", OptNumber),
    e("TCPRenoRecoveryFail", "%llu classic Reno fast retransmits failed", OptNumber),
    e("TCPRenoRecovery", "%llu times recovered from packet loss due to fast retransmit", OptNumber),
    e("TCPRenoReorder", "Detected reordering %llu times using reno fast retransmit", OptNumber),
    e("TCPSackFailures", "%llu timeouts after SACK recovery", OptNumber),
    e("TCPSackRecoveryFail", "%llu SACK retransmits failed", OptNumber),
    e("TCPSackRecovery", "%llu times recovered from packet loss by selective acknowledgements", OptNumber),
    e("TCPSACKReneging", "%llu bad SACK blocks received", OptNumber),
    e("TCPSACKReorder", "Detected reordering %llu times using SACK", OptNumber),
    e("TCPSchedulerFailed", "%llu times receiver scheduled too late for direct processing", OptNumber),
    e("TCPSlowStartRetrans", "%llu retransmits in slow start", OptNumber),
    e("TCPTimeouts", "%llu other TCP timeouts", OptNumber),
    e("TCPTSReorder", "Detected reordering %llu times using time stamp", OptNumber),
    e("TWKilled", "%llu TCP sockets finished time wait in slow timer", OptNumber),
    e("TW", "%llu TCP sockets finished time wait in fast timer", OptNumber),
    e("TWRecycled", "%llu time wait sockets recycled by time stamp", OptNumber),
];

/// `Sctptab[]`.
#[rustfmt::skip] // one entry per line, as in statistics.c
pub const SCTP: &[Entry] = &[
    e("SctpAborteds", "%llu Number of Aborteds ", Number),
    e("SctpActiveEstabs", "%llu Active Associations", Number),
    e("SctpChecksumErrors", "%llu Number of Packets with invalid Checksum", Number),
    e("SctpCurrEstab", "%llu Current Associations", Number),
    e("SctpFragUsrMsgs", "%llu Number of messages fragmented", Number),
    e("SctpInCtrlChunks", "%llu Number of control chunks received", Number),
    e("SctpInOrderChunks", "%llu Number of ordered chunks received", Number),
    e("SctpInSCTPPacks", "%llu Number of SCTP packets received", Number),
    e("SctpInUnorderChunks", "%llu Number of Unordered chunks received", Number),
    e("SctpOutCtrlChunks", "%llu Number of control chunks sent", Number),
    e("SctpOutOfBlues", "%llu Number of Out of Blue packets", Number),
    e("SctpOutOrderChunks", "%llu Number of ordered chunks sent", Number),
    e("SctpOutSCTPPacks", "%llu Number of SCTP packets sent", Number),
    e("SctpOutUnorderChunks", "%llu Number of Unordered chunks sent", Number),
    e("SctpPassiveEstabs", "%llu Passive Associations", Number),
    e("SctpReasmUsrMsgs", "%llu Number of messages reassembled ", Number),
    e("SctpShutdowns", "%llu Number of Graceful Terminations", Number),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry that glibc's bsearch cannot find in net-tools' own order (reference
    /// §4.2, found there by compiling the C tables against glibc).
    #[test]
    fn the_unsorted_tables_hide_these_keys() {
        let mut missed = Vec::new();
        for table in [IP, IP6, ICMP, ICMP6, TCP, UDP, UDP6, TCP_EXT, SCTP] {
            for entry in table {
                match lookup(table, entry.key.as_bytes()) {
                    Some(found) => assert_eq!(found, entry),
                    None => missed.push(entry.key),
                }
            }
        }
        assert_eq!(
            missed,
            [
                "Forwarding",
                "TCPDirectCopyFromPrequeue",
                "TCPDSACKOfoRecv",
                "TCPDSACKOfoSent",
                "TCPDSACKOldSent",
                "TCPDSACKRecv",
                "TCPDSackUndo",
                "TCPDSACKUndo",
                "TCPLoss",
                "TCPPrequeueDropped",
                "TCPRenoRecoveryFailed",
                "TCPRenoRecoveryFail",
                "TCPSackFailures",
                "TCPSackRecoveryFail",
                "TCPSackRecovery",
                "TCPSACKReneging",
                "TCPTimeouts",
                "TWKilled",
            ]
        );
        // The kernel spells it without net-tools' trailing space.
        assert_eq!(lookup(ICMP6, b"Icmp6OutRouterAdvertisements"), None);
        assert_eq!(lookup(TCP_EXT, b"TCPLostRetransmit"), None);
        assert_eq!(lookup(IP, b""), None);
        assert_eq!(lookup(&[], b"x"), None);
    }

    #[test]
    fn sections_match_exactly() {
        assert_eq!(
            section(SNMP_SECTIONS, b"TcpExt").map(|s| s.flag),
            Some(Flag::Tcp)
        );
        assert!(section(SNMP_SECTIONS, b"tcp").is_none());
        assert!(section(SNMP_SECTIONS, b"Tcp ").is_none());
        assert!(section(SNMP_SECTIONS, b"IcmpMsg").is_none());
        assert!(section(SNMP6_SECTIONS, b"UdpLite6").is_none());
        assert_eq!(
            section(SNMP6_SECTIONS, b"Udp6").map(|s| s.flag),
            Some(Flag::Udp)
        );
    }
}
