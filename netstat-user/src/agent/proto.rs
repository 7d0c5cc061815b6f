//! The agent's query protocol on its unix socket: one request, one answer, then close.
//!
//! Request: `NSQ1`, then the caller's network-namespace inode (u32 LE; 0 = all).
//! Answer:  `NSR1`, status (u32 LE: 0 ok, else an error whose UTF-8 text follows as
//! u32 length + bytes), then the row count (u32 LE) and that many [`ROW_LEN`]-byte rows
//! in the layout of [`AgentRow::encode`]. Fixed-size little-endian fields, no pointers
//! or native structs on the wire, so a client of another build decodes it or refuses.
use std::io::{self, Read, Write};

pub const REQUEST_MAGIC: &[u8; 4] = b"NSQ1";
pub const ANSWER_MAGIC: &[u8; 4] = b"NSR1";
/// The longest error text an answer may carry.
const MAX_ERROR: u32 = 4096;
/// A bound on rows per answer, so a corrupt count cannot make a client allocate wildly.
pub const MAX_ROWS: u32 = 4 << 20;
/// `PROGNAME_WIDTH - 1`: the longest label net-tools prints.
pub const LABEL_MAX: usize = 19;

/// Whether the owner of a row still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Same PID and same start time: the process that was seen.
    Alive = 0,
    /// Gone, or its PID now belongs to a later process.
    Exited = 1,
    /// The agent does not know who holds the socket (no owner recorded).
    Unknown = 2,
}

/// One socket and its owner, as the agent answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    pub cookie: u64,
    pub inode: u64,
    pub netns: u32,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub family: u16,
    pub protocol: u16,
    pub sport: u16,
    pub dport: u16,
    pub state: u8,
    pub flags: u8,
    pub how: u8,
    pub liveness: Liveness,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub start_ns: u64,
    pub created_ns: u64,
    pub changed_ns: u64,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub cgroup_id: u64,
    pub comm: [u8; 16],
    /// What the PID/Program name column shows (at most [`LABEL_MAX`] bytes).
    pub label: Vec<u8>,
}

pub const ROW_LEN: usize = 8 * 2 + 4 * 4 + 2 * 4 + 4 + 16 * 2 + 8 * 6 + 16 + 1 + LABEL_MAX;

impl AgentRow {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend(self.cookie.to_le_bytes());
        out.extend(self.inode.to_le_bytes());
        for v in [self.netns, self.pid, self.tid, self.uid] {
            out.extend(v.to_le_bytes());
        }
        for v in [self.family, self.protocol, self.sport, self.dport] {
            out.extend(v.to_le_bytes());
        }
        out.extend([self.state, self.flags, self.how, self.liveness as u8]);
        out.extend(self.saddr);
        out.extend(self.daddr);
        for v in [
            self.start_ns,
            self.created_ns,
            self.changed_ns,
            self.tx_bytes,
            self.rx_bytes,
            self.cgroup_id,
        ] {
            out.extend(v.to_le_bytes());
        }
        out.extend(self.comm);
        let label = &self.label[..self.label.len().min(LABEL_MAX)];
        out.push(label.len() as u8);
        out.extend(label);
        out.resize(start + ROW_LEN, 0);
    }

    /// Decodes one row; `None` if `b` is not a valid row.
    pub fn decode(b: &[u8]) -> Option<AgentRow> {
        if b.len() != ROW_LEN {
            return None;
        }
        let mut r = Reader { b, at: 0 };
        let row = AgentRow {
            cookie: r.u64(),
            inode: r.u64(),
            netns: r.u32(),
            pid: r.u32(),
            tid: r.u32(),
            uid: r.u32(),
            family: r.u16(),
            protocol: r.u16(),
            sport: r.u16(),
            dport: r.u16(),
            state: r.u8(),
            flags: r.u8(),
            how: r.u8(),
            liveness: match r.u8() {
                0 => Liveness::Alive,
                1 => Liveness::Exited,
                2 => Liveness::Unknown,
                _ => return None,
            },
            saddr: r.array(),
            daddr: r.array(),
            start_ns: r.u64(),
            created_ns: r.u64(),
            changed_ns: r.u64(),
            tx_bytes: r.u64(),
            rx_bytes: r.u64(),
            cgroup_id: r.u64(),
            comm: r.array(),
            label: {
                let n = r.u8() as usize;
                if n > LABEL_MAX {
                    return None;
                }
                r.b[r.at..r.at + n].to_vec()
            },
        };
        Some(row)
    }
}

/// Reads fixed-size fields from a slice whose length was checked beforehand.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        a.copy_from_slice(&self.b[self.at..self.at + N]);
        self.at += N;
        a
    }
    fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }
}

pub fn write_request(w: &mut dyn Write, netns: u32) -> io::Result<()> {
    let mut b = REQUEST_MAGIC.to_vec();
    b.extend(netns.to_le_bytes());
    w.write_all(&b)
}

/// The namespace a request asks about.
pub fn read_request(r: &mut dyn Read) -> io::Result<u32> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    if &b[..4] != REQUEST_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a netstat agent request",
        ));
    }
    Ok(u32::from_le_bytes([b[4], b[5], b[6], b[7]]))
}

pub fn encode_answer(rows: &[AgentRow]) -> Vec<u8> {
    let mut b = Vec::with_capacity(12 + rows.len() * ROW_LEN);
    b.extend(ANSWER_MAGIC);
    b.extend(0u32.to_le_bytes());
    b.extend((rows.len() as u32).to_le_bytes());
    for r in rows {
        r.encode(&mut b);
    }
    b
}

pub fn encode_refusal(why: &str) -> Vec<u8> {
    let why = &why.as_bytes()[..why.len().min(MAX_ERROR as usize)];
    let mut b = ANSWER_MAGIC.to_vec();
    b.extend(1u32.to_le_bytes());
    b.extend((why.len() as u32).to_le_bytes());
    b.extend(why);
    b
}

/// Why an answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("reading the answer: {0}")]
    Io(#[from] io::Error),
    #[error("the agent refused: {0}")]
    Refused(String),
    #[error("the answer is malformed: {0}")]
    Malformed(&'static str),
}

pub fn read_answer(r: &mut dyn Read) -> Result<Vec<AgentRow>, AnswerError> {
    let mut head = [0u8; 12];
    r.read_exact(&mut head)?;
    if &head[..4] != ANSWER_MAGIC {
        return Err(AnswerError::Malformed("bad magic"));
    }
    let status = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let n = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if status != 0 {
        if n > MAX_ERROR {
            return Err(AnswerError::Malformed("error text too long"));
        }
        let mut why = vec![0; n as usize];
        r.read_exact(&mut why)?;
        return Err(AnswerError::Refused(
            String::from_utf8_lossy(&why).into_owned(),
        ));
    }
    if n > MAX_ROWS {
        return Err(AnswerError::Malformed("too many rows"));
    }
    let mut body = vec![0; n as usize * ROW_LEN];
    r.read_exact(&mut body)?;
    body.chunks_exact(ROW_LEN)
        .map(|c| AgentRow::decode(c).ok_or(AnswerError::Malformed("bad row")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &[u8]) -> AgentRow {
        AgentRow {
            cookie: 0x0102_0304_0506_0708,
            inode: 99,
            netns: 4026531840,
            pid: 42,
            tid: 43,
            uid: 1000,
            family: 10,
            protocol: 6,
            sport: 8080,
            dport: 40000,
            state: 6,
            flags: 3,
            how: 2,
            liveness: Liveness::Exited,
            saddr: [1; 16],
            daddr: [2; 16],
            start_ns: 5,
            created_ns: 6,
            changed_ns: 7,
            tx_bytes: 8,
            rx_bytes: 9,
            cgroup_id: 10,
            comm: *b"python3\0\0\0\0\0\0\0\0\0",
            label: label.to_vec(),
        }
    }

    #[test]
    fn answers_round_trip() {
        let rows = vec![row(b"42/python3*"), row(b""), row(&[0xff; LABEL_MAX])];
        let bytes = encode_answer(&rows);
        assert_eq!(bytes.len(), 12 + 3 * ROW_LEN);
        assert_eq!(read_answer(&mut &bytes[..]).expect("decodes"), rows);
    }

    #[test]
    fn refusals_and_damage_are_errors_not_panics() {
        let refused = encode_refusal("root only");
        match read_answer(&mut &refused[..]) {
            Err(AnswerError::Refused(why)) => assert_eq!(why, "root only"),
            other => panic!("{other:?}"),
        }
        let good = encode_answer(&[row(b"1/a")]);
        for cut in 0..good.len() {
            assert!(read_answer(&mut &good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_liveness = good.clone();
        bad_liveness[12 + 43] = 9;
        assert!(read_answer(&mut &bad_liveness[..]).is_err());
        let mut bad_label = good.clone();
        bad_label[12 + ROW_LEN - LABEL_MAX - 1] = LABEL_MAX as u8 + 1;
        assert!(read_answer(&mut &bad_label[..]).is_err());
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_answer(&mut &huge[..]),
            Err(AnswerError::Malformed(_))
        ));
    }

    #[test]
    fn requests_round_trip_and_refuse_other_magic() {
        let mut b = Vec::new();
        write_request(&mut b, 7).expect("vec");
        assert_eq!(read_request(&mut &b[..]).expect("decodes"), 7);
        assert!(read_request(&mut &b"GET / HTTP/1.0"[..]).is_err());
        assert!(read_request(&mut &b"NSQ"[..]).is_err());
    }
}
