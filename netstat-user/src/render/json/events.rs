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
    /// (a record recovered from the owner map after a full ring, or BTF without them).
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
