//! The agent's query protocol on its unix socket: one request, one answer, then close.
//!
//! Request: `NSQ1`, then the caller's network-namespace inode (u32 LE; 0 = all).
//! Answer:  `NSR2`, status (u32 LE: 0 ok, else an error whose UTF-8 text follows as
//! u32 length + bytes), then the number of owners and of sockets (u32 LE each), the
//! owners ([`OWNER_LEN`] bytes each, see [`OwnerEntry::encode`]) and the sockets
//! ([`ROW_LEN`] bytes each, see [`SockRow::encode`]), each socket naming its owner by
//! index. Owners are shared (one process holds many sockets), which keeps an answer for
//! 100k sockets at about 6 MB. Fixed-size little-endian fields, no native structs on the
//! wire, every length and index checked: a client of another build decodes it or refuses.
//!
//! Sockets may repeat: the agent sends the recently closed ones first and the live ones
//! after, and a later row for a cookie replaces an earlier one.
use std::io::{self, Read, Write};

pub const REQUEST_MAGIC: &[u8; 4] = b"NSQ1";
pub const ANSWER_MAGIC: &[u8; 4] = b"NSR2";
/// The longest error text an answer may carry.
const MAX_ERROR: u32 = 4096;
/// Bounds on an answer, so a corrupt count cannot make a client allocate wildly.
pub const MAX_ROWS: u32 = 4 << 20;
pub const MAX_OWNERS: u32 = 4 << 20;
/// `PROGNAME_WIDTH - 1`: the longest label net-tools prints.
pub const LABEL_MAX: usize = 19;
/// A socket whose owner nobody knows.
pub const NO_OWNER: u32 = u32::MAX;

/// Whether an owner still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Same PID and same start time: the process that was seen.
    Alive = 0,
    /// Gone, or its PID now belongs to a later process.
    Exited = 1,
}

/// A process that owns sockets, as the PID/Program name column shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerEntry {
    pub pid: u32,
    pub uid: u32,
    pub liveness: Liveness,
    /// At most [`LABEL_MAX`] bytes.
    pub label: Vec<u8>,
}

pub const OWNER_LEN: usize = 4 + 4 + 1 + 1 + LABEL_MAX;

impl OwnerEntry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let label = &self.label[..self.label.len().min(LABEL_MAX)];
        out.extend(self.pid.to_le_bytes());
        out.extend(self.uid.to_le_bytes());
        out.push(self.liveness as u8);
        out.push(label.len() as u8);
        out.extend(label);
        out.extend(std::iter::repeat_n(0, LABEL_MAX - label.len()));
    }

    pub fn decode(b: &[u8]) -> Option<OwnerEntry> {
        if b.len() != OWNER_LEN {
            return None;
        }
        let n = b[9] as usize;
        if n > LABEL_MAX {
            return None;
        }
        Some(OwnerEntry {
            pid: u32::from_le_bytes(b[0..4].try_into().ok()?),
            uid: u32::from_le_bytes(b[4..8].try_into().ok()?),
            liveness: match b[8] {
                0 => Liveness::Alive,
                1 => Liveness::Exited,
                _ => return None,
            },
            label: b[10..10 + n].to_vec(),
        })
    }
}

/// One socket the agent knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockRow {
    pub cookie: u64,
    pub inode: u64,
    pub family: u16,
    pub sport: u16,
    pub dport: u16,
    pub state: u8,
    /// netstat-common's `flags` bits (all fit in a byte).
    pub flags: u8,
    /// netstat-common's `how`.
    pub how: u8,
    /// IPPROTO_TCP, IPPROTO_UDP… (raw sockets: the low byte of their protocol).
    pub protocol: u8,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    /// Index into the answer's owners, or [`NO_OWNER`].
    pub owner: u32,
}

pub const ROW_LEN: usize = 64;

impl SockRow {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.cookie.to_le_bytes());
        out.extend(self.inode.to_le_bytes());
        for v in [self.family, self.sport, self.dport] {
            out.extend(v.to_le_bytes());
        }
        out.extend([self.state, self.flags, self.how, self.protocol]);
        out.extend(self.saddr);
        out.extend(self.daddr);
        out.extend(self.owner.to_le_bytes());
        out.extend([0, 0]);
    }

    pub fn decode(b: &[u8]) -> Option<SockRow> {
        if b.len() != ROW_LEN {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let arr = |i: usize| -> [u8; 16] {
            let mut a = [0; 16];
            a.copy_from_slice(&b[i..i + 16]);
            a
        };
        Some(SockRow {
            cookie: u64::from_le_bytes(b[0..8].try_into().ok()?),
            inode: u64::from_le_bytes(b[8..16].try_into().ok()?),
            family: u16_at(16),
            sport: u16_at(18),
            dport: u16_at(20),
            state: b[22],
            flags: b[23],
            how: b[24],
            protocol: b[25],
            saddr: arr(26),
            daddr: arr(42),
            owner: u32::from_le_bytes(b[58..62].try_into().ok()?),
        })
    }
}

/// A whole answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub owners: Vec<OwnerEntry>,
    pub rows: Vec<SockRow>,
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

pub fn encode_answer(a: &Answer) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + a.owners.len() * OWNER_LEN + a.rows.len() * ROW_LEN);
    b.extend(ANSWER_MAGIC);
    b.extend(0u32.to_le_bytes());
    b.extend((a.owners.len() as u32).to_le_bytes());
    b.extend((a.rows.len() as u32).to_le_bytes());
    for o in &a.owners {
        o.encode(&mut b);
    }
    for r in &a.rows {
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

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

pub fn read_answer(r: &mut dyn Read) -> Result<Answer, AnswerError> {
    let mut head = [0u8; 12];
    r.read_exact(&mut head)?;
    if &head[..4] != ANSWER_MAGIC {
        return Err(AnswerError::Malformed("bad magic"));
    }
    let (status, n) = (u32_at(&head, 4), u32_at(&head, 8));
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
    let mut m = [0u8; 4];
    r.read_exact(&mut m)?;
    let rows = u32::from_le_bytes(m);
    if n > MAX_OWNERS || rows > MAX_ROWS {
        return Err(AnswerError::Malformed("too many entries"));
    }
    // Read what arrives rather than trusting the counts for one big allocation.
    let want = n as u64 * OWNER_LEN as u64 + rows as u64 * ROW_LEN as u64;
    let mut body = Vec::new();
    r.take(want).read_to_end(&mut body)?;
    if body.len() as u64 != want {
        return Err(AnswerError::Malformed("the answer is shorter than it says"));
    }
    let (ob, rb) = body.split_at(n as usize * OWNER_LEN);
    let owners = ob
        .chunks_exact(OWNER_LEN)
        .map(|c| OwnerEntry::decode(c).ok_or(AnswerError::Malformed("bad owner")))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = rb
        .chunks_exact(ROW_LEN)
        .map(|c| match SockRow::decode(c) {
            Some(r) if r.owner == NO_OWNER || r.owner < n => Ok(r),
            Some(_) => Err(AnswerError::Malformed("owner index out of range")),
            None => Err(AnswerError::Malformed("bad socket row")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Answer { owners, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(owner: u32) -> SockRow {
        SockRow {
            cookie: 0x0102_0304_0506_0708,
            inode: 99,
            family: 10,
            sport: 8080,
            dport: 40000,
            state: 6,
            flags: 3,
            how: 2,
            protocol: 6,
            saddr: [1; 16],
            daddr: [2; 16],
            owner,
        }
    }

    fn answer() -> Answer {
        Answer {
            owners: vec![
                OwnerEntry {
                    pid: 42,
                    uid: 1000,
                    liveness: Liveness::Exited,
                    label: b"42/python3*".to_vec(),
                },
                OwnerEntry {
                    pid: 7,
                    uid: 0,
                    liveness: Liveness::Alive,
                    label: vec![0xff; LABEL_MAX],
                },
            ],
            rows: vec![row(0), row(1), row(NO_OWNER)],
        }
    }

    #[test]
    fn answers_round_trip() {
        let a = answer();
        let bytes = encode_answer(&a);
        assert_eq!(bytes.len(), 16 + 2 * OWNER_LEN + 3 * ROW_LEN);
        assert_eq!(read_answer(&mut &bytes[..]).expect("decodes"), a);
        let empty = encode_answer(&Answer::default());
        assert_eq!(
            read_answer(&mut &empty[..]).expect("decodes"),
            Answer::default()
        );
    }

    #[test]
    fn refusals_and_damage_are_errors_not_panics() {
        let refused = encode_refusal("root only");
        match read_answer(&mut &refused[..]) {
            Err(AnswerError::Refused(why)) => assert_eq!(why, "root only"),
            other => panic!("{other:?}"),
        }
        let good = encode_answer(&answer());
        for cut in 0..good.len() {
            assert!(read_answer(&mut &good[..cut]).is_err(), "cut at {cut}");
        }
        let owners_at = 16;
        let rows_at = owners_at + 2 * OWNER_LEN;
        let mut bad_liveness = good.clone();
        bad_liveness[owners_at + 8] = 9;
        assert!(read_answer(&mut &bad_liveness[..]).is_err());
        let mut bad_label = good.clone();
        bad_label[owners_at + 9] = LABEL_MAX as u8 + 1;
        assert!(read_answer(&mut &bad_label[..]).is_err());
        let mut bad_index = good.clone();
        bad_index[rows_at + 58..rows_at + 62].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            read_answer(&mut &bad_index[..]),
            Err(AnswerError::Malformed("owner index out of range"))
        ));
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
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
