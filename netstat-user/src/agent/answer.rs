//! What the agent answers: the records of one network namespace, each naming its owner
//! in a table of owners labelled here, where /proc is fully readable.
use std::{collections::HashMap, io::Read, path::Path};

use netstat_common::{Owner, SockKey, SockRecord, TcpState, flags, how};

use super::{
    proto::{self, Answer, LABEL_MAX, Liveness, OwnerEntry, SockRow},
    seed,
};
use crate::source::procfd::{ProgramMap, format_label};

/// An owner found by a `/proc/PID/fd` walk for a record whose recorded owner let go;
/// the agent writes it back so the next answer does not walk again.
pub struct Rescanned {
    pub key: SockKey,
    pub owner: Owner,
}

/// The answer for the records of `netns`, and the owners it had to look up in /proc.
/// `records` come in the order the client must apply them (later rows for a cookie
/// replace earlier ones).
pub fn answer(
    records: &[(SockKey, SockRecord)],
    netns: u32,
    proc_root: &Path,
) -> (Answer, Vec<Rescanned>) {
    let mut labels = Labels {
        proc_root,
        hz: seed::clock_ticks(),
        index: HashMap::new(),
        owners: Vec::new(),
    };
    let mine: Vec<&(SockKey, SockRecord)> =
        records.iter().filter(|(k, _)| k.netns == netns).collect();
    let mut rows: Vec<SockRow> = mine
        .iter()
        .map(|(k, r)| SockRow {
            cookie: k.cookie,
            inode: r.inode,
            family: r.family,
            sport: r.sport,
            dport: r.dport,
            state: r.state,
            // Every flag fits in the low byte (see netstat-common).
            flags: (r.flags & 0xff) as u8,
            how: r.owner.how,
            protocol: r.protocol as u8,
            saddr: r.saddr,
            daddr: r.daddr,
            owner: labels.of(&r.owner),
        })
        .collect();

    // A socket still open (not released) whose recorded owner let go of it or exited is
    // held by someone else: a fork child, an SCM_RIGHTS receiver. Only /proc knows who.
    let owners = &labels.owners;
    let needs_holder = |r: &SockRow| {
        let f = u64::from(r.flags);
        r.inode != 0
            && f & (flags::RELEASED | flags::CLOSED) == 0
            && (f & flags::HOLDER_UNKNOWN != 0
                || owners
                    .get(r.owner as usize)
                    .is_none_or(|o| o.liveness != Liveness::Alive))
    };
    let stale: Vec<usize> = (0..rows.len())
        .filter(|&i| needs_holder(&rows[i]))
        .collect();
    let mut rescanned = Vec::new();
    if !stale.is_empty() {
        let (programs, _) = ProgramMap::scan(proc_root);
        let hz = labels.hz;
        for i in stale {
            let r = &mut rows[i];
            let (Some(pid), Some(label)) = (programs.pid(r.inode), programs.get_bytes(r.inode))
            else {
                continue;
            };
            let Some(facts) = seed::proc_facts(proc_root, pid) else {
                continue;
            };
            let owner = Owner {
                start_ns: seed::ticks_to_ns(facts.start_ticks, hz),
                tgid: pid,
                tid: pid,
                uid: facts.uid,
                how: how::RESCAN,
                comm: facts.comm,
                ..Owner::default()
            };
            r.how = how::RESCAN;
            r.owner = labels.push(OwnerEntry {
                pid,
                uid: facts.uid,
                liveness: Liveness::Alive,
                label: label.to_vec(),
            });
            rescanned.push(Rescanned {
                key: mine[i].0,
                owner,
            });
        }
    }

    // Until accept(), a passively opened socket belongs to whoever holds its listener
    // now (the kernel copied the owner the listener had when it started). Its own
    // address first, then the wildcard.
    let listeners: HashMap<(u16, u16, [u8; 16]), u32> = rows
        .iter()
        .filter(|r| {
            r.protocol == 6
                && r.state == TcpState::Listen as u8
                && u64::from(r.flags) & flags::CLOSED == 0
        })
        .map(|r| ((r.family, r.sport, r.saddr), r.owner))
        .collect();
    for r in rows.iter_mut().filter(|r| r.how == how::LISTENER) {
        let found = listeners
            .get(&(r.family, r.sport, r.saddr))
            .or_else(|| listeners.get(&(r.family, r.sport, [0; 16])));
        if let Some(&owner) = found {
            r.owner = owner;
        }
    }
    (
        Answer {
            owners: labels.owners,
            rows,
        },
        rescanned,
    )
}

/// One entry per owner process, labelled once per answer.
struct Labels<'a> {
    proc_root: &'a Path,
    hz: u64,
    index: HashMap<(u32, u64), u32>,
    owners: Vec<OwnerEntry>,
}

impl Labels<'_> {
    fn of(&mut self, owner: &Owner) -> u32 {
        if owner.tgid == 0 {
            return proto::NO_OWNER;
        }
        if let Some(&i) = self.index.get(&(owner.tgid, owner.start_ns)) {
            return i;
        }
        let (liveness, label) = owner_label(self.proc_root, self.hz, owner);
        let i = self.push(OwnerEntry {
            pid: owner.tgid,
            uid: owner.uid,
            liveness,
            label,
        });
        self.index.insert((owner.tgid, owner.start_ns), i);
        i
    }

    fn push(&mut self, e: OwnerEntry) -> u32 {
        self.owners.push(e);
        (self.owners.len() - 1) as u32
    }
}

/// net-tools' label for a live owner; `PID/comm*` for one that exited (or whose PID now
/// names a later process).
fn owner_label(proc_root: &Path, hz: u64, owner: &Owner) -> (Liveness, Vec<u8>) {
    let pid = owner.tgid.to_string();
    let alive = seed::proc_facts(proc_root, owner.tgid)
        .is_some_and(|f| f.start_ticks == seed::ns_to_ticks(owner.start_ns, hz));
    if alive {
        // What net-tools reads: one read of at most 511 bytes of cmdline.
        let mut cmdline = [0u8; 511];
        let n = std::fs::File::open(proc_root.join(&pid).join("cmdline"))
            .and_then(|mut f| f.read(&mut cmdline))
            .unwrap_or(0);
        return (Liveness::Alive, format_label(pid.as_bytes(), &cmdline[..n]));
    }
    (Liveness::Exited, exited_label(&pid, &owner.comm))
}

/// `PID/comm*`, cut so the whole label fits net-tools' 19 bytes.
pub fn exited_label(pid: &str, comm: &[u8; 16]) -> Vec<u8> {
    let comm = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
    let mut label = format_label(pid.as_bytes(), comm);
    label.truncate(LABEL_MAX - 1);
    label.push(b'*');
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_labels_keep_the_pid_and_mark_the_end() {
        assert_eq!(
            exited_label("42", b"python3\0\0\0\0\0\0\0\0\0"),
            b"42/python3*"
        );
        assert_eq!(
            exited_label("4194304", b"averyverylongcom"),
            b"4194304/averyveryl*"
        );
        assert_eq!(exited_label("7", &[0; 16]), b"7/*");
    }

    fn rec(tgid: u32, how_: u8, state: TcpState, sport: u16, saddr: [u8; 16]) -> SockRecord {
        SockRecord {
            owner: Owner {
                tgid,
                how: how_,
                // A start time no process has: every owner reads as exited.
                start_ns: u64::MAX,
                comm: *b"srv\0\0\0\0\0\0\0\0\0\0\0\0\0",
                ..Owner::default()
            },
            family: netstat_common::AF_INET,
            protocol: 6,
            state: state as u8,
            sport,
            saddr,
            flags: flags::RELEASED,
            ..SockRecord::default()
        }
    }

    fn key(cookie: u64) -> SockKey {
        SockKey {
            cookie,
            netns: 7,
            _pad: 0,
        }
    }

    #[test]
    fn pending_children_follow_the_listener_on_their_address_then_the_wildcard() {
        let a = [127, 0, 0, 53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let b = [192, 168, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let c = [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let records = vec![
            (key(1), rec(100, how::CREATE, TcpState::Listen, 53, a)),
            (key(2), rec(200, how::CREATE, TcpState::Listen, 53, b)),
            (key(3), rec(300, how::CREATE, TcpState::Listen, 80, [0; 16])),
            // Children: each copied a wrong owner in the kernel (999).
            (
                key(4),
                rec(999, how::LISTENER, TcpState::Established, 53, a),
            ),
            (
                key(5),
                rec(999, how::LISTENER, TcpState::Established, 53, b),
            ),
            (key(6), rec(999, how::LISTENER, TcpState::CloseWait, 80, c)),
            // Another namespace's records are not in this answer.
            (
                SockKey {
                    cookie: 9,
                    netns: 8,
                    _pad: 0,
                },
                rec(100, how::CREATE, TcpState::Listen, 53, a),
            ),
        ];
        let (ans, rescanned) = answer(&records, 7, Path::new("/nonexistent"));
        assert!(rescanned.is_empty());
        let pid_of = |cookie: u64| {
            let r = ans.rows.iter().find(|r| r.cookie == cookie).expect("row");
            ans.owners[r.owner as usize].pid
        };
        assert_eq!(ans.rows.len(), 6);
        assert_eq!(pid_of(4), 100);
        assert_eq!(pid_of(5), 200);
        assert_eq!(pid_of(6), 300);
        assert_eq!(ans.owners[0].label, b"100/srv*");
    }
}
