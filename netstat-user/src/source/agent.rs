//! `-p` from a running agent: one query over its unix socket, joined to the table rows by
//! socket cookie (sock_diag rows), inode (/proc rows) or, for /proc rows of sockets
//! without a file (TIME_WAIT, orphans), by 4-tuple.
use std::{
    collections::HashMap,
    io,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    agent::proto::{self, AgentRow, AnswerError},
    model::{Family, InetSocket},
};

/// How long a one-shot waits for the agent before falling back to /proc.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why the agent could not be used (said with `-v`).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no agent at {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("agent at {path}: {source}")]
    Answer {
        path: PathBuf,
        #[source]
        source: AnswerError,
    },
}

type Tuple = (u16, [u8; 16], u16, [u8; 16], u16);

/// The agent's answer, indexed for the join.
#[derive(Debug, Default)]
pub struct AgentOwners {
    rows: Vec<AgentRow>,
    by_cookie: HashMap<u64, u32>,
    by_inode: HashMap<u64, u32>,
    by_tuple: HashMap<Tuple, u32>,
}

impl AgentOwners {
    pub fn from_rows(rows: Vec<AgentRow>) -> Self {
        let mut me = AgentOwners::default();
        for (i, r) in rows.iter().enumerate() {
            if r.label.is_empty() {
                continue;
            }
            let i = i as u32;
            me.by_cookie.insert(r.cookie, i);
            if r.inode != 0 {
                me.by_inode.insert(r.inode, i);
            }
            me.by_tuple
                .insert((r.family, r.saddr, r.sport, r.daddr, r.dport), i);
        }
        me.rows = rows;
        me
    }

    /// The label for an Internet row, if the agent knows its owner.
    pub fn label(&self, s: &InetSocket) -> Option<&[u8]> {
        let i = if s.cookie != 0 {
            self.by_cookie.get(&s.cookie)
        } else if s.inode != 0 {
            self.by_inode.get(&s.inode)
        } else {
            self.by_tuple.get(&tuple(s))
        }?;
        Some(&self.rows[*i as usize].label)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn tuple(s: &InetSocket) -> Tuple {
    let a = |ip: std::net::IpAddr| {
        let mut b = [0u8; 16];
        match ip {
            std::net::IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
            std::net::IpAddr::V6(v6) => b = v6.octets(),
        }
        b
    };
    let family = match s.family {
        Family::Inet => netstat_common::AF_INET,
        Family::Inet6 => netstat_common::AF_INET6,
    };
    (family, a(s.local), s.local_port, a(s.remote), s.remote_port)
}

/// The network namespace of this process (`/proc/self/ns/net` → `net:[N]`).
pub fn own_netns(proc_root: &Path) -> Option<u32> {
    let link = std::fs::read_link(proc_root.join("self/ns/net")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Asks the agent at `path` for the owners of namespace `netns`.
pub fn query(path: &Path, netns: u32) -> Result<AgentOwners, QueryError> {
    let connect_err = |source| QueryError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let answer_err = |source| QueryError::Answer {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(connect_err)?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(connect_err)?;
    proto::write_request(&mut stream, netns).map_err(|e| answer_err(e.into()))?;
    let rows = proto::read_answer(&mut stream).map_err(answer_err)?;
    Ok(AgentOwners::from_rows(rows))
}
