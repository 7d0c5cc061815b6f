//! The records of the live modes (`--watch`, `--audit`): `transition`, `connection`,
//! `flow` and `lost`. Their shapes are part of the documented schema
//! (`docs/netstat.schema.json`); the live renderers fill these structs from their own
//! model and write them with [`write_record`](super::write_record).
use serde::Serialize;

/// A TCP state change (`--watch`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionRecord {
    /// Always `"transition"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the change happened, in ns since the Unix epoch.
    pub ts_ns: u64,
    pub netns: u64,
    /// The socket's owner; null when unknown.
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub uid: Option<u32>,
    /// `tcp` or `tcp6`.
    pub proto: &'static str,
    pub local_addr: String,
    pub local_port: u16,
    pub remote_addr: String,
    pub remote_port: u16,
    pub old_state: &'static str,
    pub new_state: &'static str,
    /// Time spent in `old_state`, in ms; null when unknown.
    pub duration_ms: Option<f64>,
    /// The kernel's socket cookie (`SO_COOKIE`, `ss -e`'s `sk:`).
    pub cookie: u64,
}

impl TransitionRecord {
    pub const TYPE: &'static str = "transition";
}

/// How a connection was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opened {
    /// `connect()`.
    Active,
    /// Accepted from a listener.
    Passive,
}

/// How a connection or flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// Closed by either side (tcp), or the socket was closed (udp).
    Close,
    /// Reset (tcp).
    Reset,
    /// The connection attempt was refused (tcp).
    Refused,
    /// The connection attempt or the connection timed out (tcp).
    Timeout,
    /// No datagram for the idle timeout (udp).
    Idle,
}

/// One audited TCP connection (`type` `connection`) or UDP flow (`type` `flow`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionRecord {
    /// `"connection"` or `"flow"` ([`ConnectionRecord::CONNECTION`], [`ConnectionRecord::FLOW`]).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the record was made (the end, or the audit's stop for an open one).
    pub ts_ns: u64,
    /// Null when the start was not seen (`incomplete`).
    pub start_ns: Option<u64>,
    /// Null when the end was not seen (still open when the audit stopped).
    pub end_ns: Option<u64>,
    pub duration_ms: Option<f64>,
    pub netns: u64,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub uid: Option<u32>,
    /// `tcp`/`tcp6` for a connection, `udp`/`udp6` for a flow.
    pub proto: &'static str,
    pub local_addr: String,
    pub local_port: u16,
    pub remote_addr: String,
    pub remote_port: u16,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// Segments (tcp) or datagrams (udp); null when the kernel's counts were not read
    /// (a record recovered from the copy the kernel parked after a full ring, or BTF
    /// without them).
    pub tx_packets: Option<u64>,
    pub rx_packets: Option<u64>,
    /// Null for flows, and for a connection whose opening was not seen.
    pub opened: Option<Opened>,
    /// Null when the end was not seen.
    pub end: Option<End>,
    /// The audit did not see the whole life of the socket.
    pub incomplete: bool,
    pub cookie: u64,
}

impl ConnectionRecord {
    pub const CONNECTION: &'static str = "connection";
    pub const FLOW: &'static str = "flow";
}

/// Why events were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReason {
    /// The kernel could not queue them: the ring buffer was full.
    RingFull,
    /// Reading the ring buffer failed.
    ReadFailed,
    /// An event could not be decoded.
    Undecodable,
    /// A kernel map was full.
    MapFull,
    /// The kernel skipped the state-change program (another tracing program was
    /// running on that CPU): the changes it would have seen are unknown.
    Missed,
    /// TCP connections ended that the owner map never held: no record can be made.
    Untracked,
    /// Timewait sockets whose end will not be printed: `--watch` follows at most
    /// 65 536 at once.
    TimewaitUnfollowed,
}

/// Events lost since the previous `lost` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LostRecord {
    /// Always `"lost"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    pub lost: u64,
    pub reason: LostReason,
}

impl LostRecord {
    pub const TYPE: &'static str = "lost";
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::super::{tests::lines, write_record};
    use super::*;

    /// One record of each live type, as docs/json.md shows them.
    pub fn samples() -> (
        TransitionRecord,
        ConnectionRecord,
        ConnectionRecord,
        LostRecord,
    ) {
        let transition = TransitionRecord {
            kind: TransitionRecord::TYPE,
            ts_ns: 1_754_000_000_789_062_000,
            netns: 4026532177,
            pid: Some(4625),
            comm: Some("python3".into()),
            uid: Some(0),
            proto: "tcp",
            local_addr: "127.0.0.1".into(),
            local_port: 53254,
            remote_addr: "127.0.0.1".into(),
            remote_port: 8080,
            old_state: "SYN_SENT",
            new_state: "ESTABLISHED",
            duration_ms: Some(0.091),
            cookie: 8193,
        };
        let connection = ConnectionRecord {
            kind: ConnectionRecord::CONNECTION,
            ts_ns: 1_754_000_000_900_000_000,
            start_ns: Some(1_754_000_000_789_000_000),
            end_ns: Some(1_754_000_000_900_000_000),
            duration_ms: Some(111.0),
            netns: 4026532177,
            pid: Some(4625),
            comm: Some("python3".into()),
            uid: Some(0),
            proto: "tcp6",
            local_addr: "::1".into(),
            local_port: 53256,
            remote_addr: "::1".into(),
            remote_port: 8080,
            tx_bytes: 120,
            rx_bytes: 4096,
            tx_packets: Some(4),
            rx_packets: Some(5),
            opened: Some(Opened::Active),
            end: Some(End::Close),
            incomplete: false,
            cookie: 8194,
        };
        let flow = ConnectionRecord {
            kind: ConnectionRecord::FLOW,
            proto: "udp",
            local_addr: "10.0.0.1".into(),
            remote_addr: "10.0.0.2".into(),
            remote_port: 53,
            opened: None,
            end: Some(End::Idle),
            start_ns: None,
            duration_ms: None,
            pid: None,
            comm: None,
            uid: None,
            incomplete: true,
            ..connection.clone()
        };
        let lost = LostRecord {
            kind: LostRecord::TYPE,
            ts_ns: 1_754_000_001_000_000_000,
            lost: 12,
            reason: LostReason::RingFull,
        };
        (transition, connection, flow, lost)
    }

    /// The example lines of docs/json.md.
    const DOC_LINES: [&str; 4] = [
        r#"{"type":"transition","ts_ns":1754000000789062000,"netns":4026532177,"pid":4625,"comm":"python3","uid":0,"proto":"tcp","local_addr":"127.0.0.1","local_port":53254,"remote_addr":"127.0.0.1","remote_port":8080,"old_state":"SYN_SENT","new_state":"ESTABLISHED","duration_ms":0.091,"cookie":8193}"#,
        r#"{"type":"connection","ts_ns":1754000000900000000,"start_ns":1754000000789000000,"end_ns":1754000000900000000,"duration_ms":111.0,"netns":4026532177,"pid":4625,"comm":"python3","uid":0,"proto":"tcp6","local_addr":"::1","local_port":53256,"remote_addr":"::1","remote_port":8080,"tx_bytes":120,"rx_bytes":4096,"tx_packets":4,"rx_packets":5,"opened":"active","end":"close","incomplete":false,"cookie":8194}"#,
        r#"{"type":"flow","ts_ns":1754000000900000000,"start_ns":null,"end_ns":1754000000900000000,"duration_ms":null,"netns":4026532177,"pid":null,"comm":null,"uid":null,"proto":"udp","local_addr":"10.0.0.1","local_port":53256,"remote_addr":"10.0.0.2","remote_port":53,"tx_bytes":120,"rx_bytes":4096,"tx_packets":4,"rx_packets":5,"opened":null,"end":"idle","incomplete":true,"cookie":8194}"#,
        r#"{"type":"lost","ts_ns":1754000001000000000,"lost":12,"reason":"ring_full"}"#,
    ];

    #[test]
    fn documented_examples_are_what_the_types_print() {
        let (transition, connection, flow, lost) = samples();
        let mut out = Vec::new();
        write_record(&mut out, &transition).expect("vec");
        write_record(&mut out, &connection).expect("vec");
        write_record(&mut out, &flow).expect("vec");
        write_record(&mut out, &lost).expect("vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().collect::<Vec<_>>(), DOC_LINES);
        let doc = include_str!("../../../../docs/json.md");
        for line in DOC_LINES {
            assert!(doc.contains(line), "docs/json.md lacks {line}");
        }
    }

    #[test]
    fn live_records_serialise_in_the_documented_shape() {
        let (transition, connection, flow, lost) = samples();
        let mut out = Vec::new();
        write_record(&mut out, &transition).expect("vec");
        write_record(&mut out, &connection).expect("vec");
        write_record(&mut out, &flow).expect("vec");
        write_record(&mut out, &lost).expect("vec");
        let v = lines(&out);
        assert_eq!(
            v[0],
            json!({
                "type": "transition", "ts_ns": 1_754_000_000_789_062_000u64,
                "netns": 4026532177u64, "pid": 4625, "comm": "python3", "uid": 0,
                "proto": "tcp", "local_addr": "127.0.0.1", "local_port": 53254,
                "remote_addr": "127.0.0.1", "remote_port": 8080, "old_state": "SYN_SENT",
                "new_state": "ESTABLISHED", "duration_ms": 0.091, "cookie": 8193
            })
        );
        assert_eq!(
            (v[1]["opened"].as_str(), v[1]["end"].as_str()),
            (Some("active"), Some("close"))
        );
        assert_eq!(v[2]["type"], "flow");
        assert!(v[2]["opened"].is_null() && v[2]["start_ns"].is_null() && v[2]["pid"].is_null());
        assert_eq!(v[2]["end"], "idle");
        assert_eq!(
            v[3],
            json!({"type": "lost", "ts_ns": 1_754_000_001_000_000_000u64, "lost": 12, "reason": "ring_full"})
        );
    }
}
