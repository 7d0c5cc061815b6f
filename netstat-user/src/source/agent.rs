//! `-p` from a running agent: one query over its unix socket, joined to the table rows by
//! socket cookie (sock_diag rows), inode (/proc rows) or, for /proc rows of sockets
//! without a file (TIME_WAIT, orphans), by 4-tuple. Only the cookie index is built up
//! front; the others are built the first time a row needs them.
use std::{
    cell::OnceCell,
    collections::HashMap,
    io,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    agent::proto::{self, Answer, AnswerError, NO_OWNER},
    model::{InetProto, InetSocket, addr16},
    source::procfd::IntMap,
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

/// (protocol, family, local, local port, remote, remote port, in TIME_WAIT): a socket in
/// TIME_WAIT and a new connection reusing its 4-tuple are told apart by the last field.
type Tuple = (u8, u16, [u8; 16], u16, [u8; 16], u16, bool);

/// The agent's answer, indexed for the join. Each index maps to an owner index.
#[derive(Debug, Default)]
pub struct AgentOwners {
    answer: Answer,
    by_cookie: IntMap<u32>,
    by_inode: OnceCell<IntMap<u32>>,
    by_tuple: OnceCell<HashMap<Tuple, u32>>,
}

impl AgentOwners {
    pub fn new(answer: Answer) -> Self {
        let mut by_cookie = IntMap::with_capacity_and_hasher(answer.rows.len(), Default::default());
        // Later rows replace earlier ones (live records come after closed ones).
        for r in answer.rows.iter().filter(|r| r.owner != NO_OWNER) {
            by_cookie.insert(r.cookie, r.owner);
        }
        AgentOwners {
            answer,
            by_cookie,
            by_inode: OnceCell::new(),
            by_tuple: OnceCell::new(),
        }
    }

    /// The label for an Internet row, if the agent knows its owner.
    pub fn label(&self, s: &InetSocket) -> Option<&[u8]> {
        let owner = if s.cookie != 0 {
            self.by_cookie.get(&s.cookie)
        } else if s.inode != 0 {
            self.by_inode
                .get_or_init(|| {
                    let rows = self.answer.rows.iter();
                    rows.filter(|r| r.owner != NO_OWNER && r.inode != 0)
                        .map(|r| (r.inode, r.owner))
                        .collect()
                })
                .get(&s.inode)
        } else {
            self.by_tuple
                .get_or_init(|| {
                    let rows = self.answer.rows.iter();
                    rows.filter(|r| r.owner != NO_OWNER)
                        .map(|r| {
                            let tw = u64::from(r.flags) & netstat_common::flags::TIMEWAIT != 0;
                            let t = (r.protocol, r.family, r.saddr, r.sport, r.daddr, r.dport, tw);
                            (t, r.owner)
                        })
                        .collect()
                })
                .get(&tuple(s))
        }?;
        self.answer
            .owners
            .get(*owner as usize)
            .map(|o| o.label.as_slice())
    }

    /// Sockets in the answer.
    pub fn len(&self) -> usize {
        self.answer.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answer.rows.is_empty()
    }
}

fn tuple(s: &InetSocket) -> Tuple {
    let tw = s.proto == InetProto::Tcp && s.state == netstat_common::TcpState::TimeWait as u8;
    (
        s.proto.ipproto() as u8,
        s.family.af(),
        addr16(s.local),
        s.local_port,
        addr16(s.remote),
        s.remote_port,
        tw,
    )
}

/// A question sent to the agent whose answer is read on another thread, so the caller
/// can dump the kernel's tables meanwhile.
pub struct Pending {
    reader: std::thread::JoinHandle<Result<AgentOwners, QueryError>>,
}

impl Pending {
    pub fn wait(self) -> Result<AgentOwners, QueryError> {
        self.reader.join().unwrap_or_else(|_| {
            Err(QueryError::Answer {
                path: PathBuf::new(),
                source: AnswerError::Malformed("the reader thread panicked"),
            })
        })
    }
}

/// Connects and asks now (so a missing agent is known at once); the answer is read on a
/// thread.
pub fn ask(path: &Path, netns: u32) -> Result<Pending, QueryError> {
    let mut stream = connect_and_ask(path, netns)?;
    let path = path.to_path_buf();
    let reader = std::thread::Builder::new()
        .name("agent-answer".into())
        .spawn(move || read(&path, &mut stream))
        .map_err(|source| QueryError::Connect {
            path: PathBuf::new(),
            source,
        })?;
    Ok(Pending { reader })
}

/// Asks the agent at `path` for the owners of namespace `netns` and waits.
pub fn query(path: &Path, netns: u32) -> Result<AgentOwners, QueryError> {
    let mut stream = connect_and_ask(path, netns)?;
    read(path, &mut stream)
}

fn read(path: &Path, stream: &mut UnixStream) -> Result<AgentOwners, QueryError> {
    let answer = proto::read_answer(&mut io::BufReader::with_capacity(1 << 20, stream)).map_err(
        |source| QueryError::Answer {
            path: path.to_path_buf(),
            // A socket read timeout reads as EAGAIN; say what it means.
            source: match source {
                AnswerError::Io(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    AnswerError::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer within {} s", TIMEOUT.as_secs()),
                    ))
                }
                other => other,
            },
        },
    )?;
    Ok(AgentOwners::new(answer))
}

fn connect_and_ask(path: &Path, netns: u32) -> Result<UnixStream, QueryError> {
    let connect_err = |source| QueryError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let answer_err = |source| QueryError::Answer {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = connect_now(path).map_err(connect_err)?;
    // Only root's agent is believed: anyone could leave a socket at an overridden path.
    match crate::agent::peer_uid(&stream) {
        Ok(0) => {}
        Ok(uid) => {
            return Err(connect_err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("the process answering there runs as uid {uid}, not root"),
            )));
        }
        Err(e) => return Err(connect_err(e)),
    }
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(connect_err)?;
    proto::write_request(&mut stream, netns).map_err(|e| answer_err(e.into()))?;
    Ok(stream)
}

/// A connect that never waits: a unix socket whose backlog is full (an agent that is
/// stuck or still starting) answers EAGAIN at once, and netstat falls back to /proc.
fn connect_now(path: &Path) -> io::Result<UnixStream> {
    use std::os::{
        fd::{FromRawFd, OwnedFd},
        unix::ffi::OsStrExt,
    };
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: an all-zero sockaddr_un is valid; sun_path is filled below within bounds.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain syscalls on a descriptor this function owns.
    unsafe {
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
        if libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        let stream = UnixStream::from(fd);
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}
