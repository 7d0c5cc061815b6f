//! Reads of kernel structs at offsets the user side took from the running kernel's BTF
//! (netstat-common's `KernelOffsets`). Every read is a `bpf_probe_read_kernel`, so a
//! wrong or unknown offset yields "unknown", never a fault.
use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
    bpf_get_current_task, bpf_get_current_uid_gid, bpf_probe_read_kernel,
};
use netstat_common::{KernelOffsets, OFFSET_UNKNOWN, Owner, STAT_READ_FAILED, kernel_has};

use crate::count;

/// Set at load time (see netstat-common).
#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets::UNKNOWN;

/// Set at load time: [`kernel_has`] bits.
#[unsafe(no_mangle)]
static KERNEL_HAS: u32 = 0;

/// Whether the running kernel accepts `what` (a [`kernel_has`] bit).
#[inline(always)]
pub fn has(what: u32) -> bool {
    *load_time(&KERNEL_HAS) & what != 0
}

/// `BPF_ATOMIC` or/and (5.12+).
#[inline(always)]
pub fn atomic_bitops() -> bool {
    has(kernel_has::ATOMIC_BITOPS)
}

/// The offsets, through a pointer the compiler cannot see through (see [`load_time`]).
#[inline(always)]
pub fn offsets() -> &'static KernelOffsets {
    load_time(&OFFSETS)
}

/// A load-time global (a `static` the user side sets before loading) as a reference
/// whose fields the compiler must load, not fold to their compile-time values. Only the
/// pointer is read volatile: a volatile read of the struct itself loads every field at
/// each call, used or not (33 loads for the offsets, 6 to 8 calls per state change);
/// through the pointer each caller loads just the fields it uses. The verifier still
/// sees constant reads of a frozen map and prunes the branches they decide.
#[inline(always)]
pub fn load_time<T>(global: &'static T) -> &'static T {
    let p: *const T = global;
    // SAFETY: `p` is a valid `&'static T`; reading it back from our own stack changes
    // nothing but what the optimiser may assume about where it points.
    unsafe { &*core::ptr::read_volatile(&p) }
}

/// `ptr` as a scalar the verifier lets us do arithmetic on (it forbids arithmetic on
/// PTR_TO_CTX / PTR_TO_SOCKET): the pointer is spilled to this program's stack and read
/// back with probe_read, which yields a plain number. Not through a per-CPU map slot:
/// process-context programs run preemptible, so two of them on one CPU would swap
/// each other's pointers there.
#[inline(always)]
pub fn launder<T>(ptr: *const T) -> u64 {
    let spilled: *const T = ptr;
    // SAFETY: reads 8 bytes of our own stack.
    unsafe { bpf_probe_read_kernel(&spilled as *const *const T as *const u64) }.unwrap_or(0)
}

/// `*(T *)(base + off)`, or `None` when the offset is unknown, the base is NULL or the
/// read fails (counted).
#[inline(always)]
pub fn read<T>(base: u64, off: u32) -> Option<T> {
    if base == 0 || off == OFFSET_UNKNOWN {
        return None;
    }
    // SAFETY: probe_read copes with any address; failure is an Err.
    match unsafe { bpf_probe_read_kernel((base + off as u64) as *const T) } {
        Ok(v) => Some(v),
        Err(_) => {
            count(STAT_READ_FAILED);
            None
        }
    }
}

/// `sk->__sk_common.skc_net.net->ns.inum`; 0 if unknown.
#[inline(always)]
pub fn sock_netns(sk: u64) -> u32 {
    let o = offsets();
    match read::<u64>(sk, o.skc_net) {
        Some(net) => read::<u32>(net, o.net_inum).unwrap_or(0),
        None => 0,
    }
}

/// `sk->__sk_common.skc_cookie`: 0 while nobody has asked for it (cookies are lazy).
#[inline(always)]
pub fn sock_cookie(sk: u64) -> u64 {
    read::<u64>(sk, offsets().skc_cookie).unwrap_or(0)
}

/// `socket->sk`: the `struct sock *` of a `struct socket *`; 0 if unknown.
#[inline(always)]
pub fn socket_sk(socket: u64) -> u64 {
    read::<u64>(socket, offsets().socket_sk).unwrap_or(0)
}

/// Inode number of the `struct socket` that `sk` hangs from (`socket:[N]`); 0 if none.
#[inline(always)]
pub fn sock_inode(sk: u64) -> u64 {
    let o = offsets();
    let Some(socket) = read::<u64>(sk, o.sk_socket) else {
        return 0;
    };
    if socket == 0 || o.socket_to_inode == OFFSET_UNKNOWN {
        return 0;
    }
    read::<u64>(socket + o.socket_to_inode as u64, o.inode_ino).unwrap_or(0)
}

/// The `struct file *` behind descriptor `fd` of the current task, 0 if none.
#[inline(always)]
pub fn current_file(fd: u64) -> u64 {
    let o = offsets();
    // SAFETY: no preconditions.
    let task = unsafe { bpf_get_current_task() };
    let Some(files) = read::<u64>(task, o.task_files) else {
        return 0;
    };
    let Some(fdt) = read::<u64>(files, o.files_fdt) else {
        return 0;
    };
    let Some(max) = read::<u32>(fdt, o.fdt_max_fds) else {
        return 0;
    };
    if fd >= max as u64 {
        return 0;
    }
    let Some(fds) = read::<u64>(fdt, o.fdt_fd) else {
        return 0;
    };
    if fds == 0 {
        return 0;
    }
    // SAFETY: bounded by max_fds above; probe_read copes with a stale table.
    unsafe { bpf_probe_read_kernel((fds + fd * 8) as *const u64) }.unwrap_or(0)
}

/// `S_IFSOCK`: the file is a socket.
const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;

/// The socket file's `struct sock *` and inode number; `None` if `file` is not a socket.
#[inline(always)]
pub fn file_sock(file: u64) -> Option<(u64, u64)> {
    let o = offsets();
    let inode = read::<u64>(file, o.file_inode)?;
    let mode = read::<u16>(inode, o.inode_mode)?;
    if mode & S_IFMT != S_IFSOCK {
        return None;
    }
    let socket = read::<u64>(file, o.file_private_data)?;
    let sk = read::<u64>(socket, o.socket_sk)?;
    (sk != 0).then(|| (sk, read::<u64>(inode, o.inode_ino).unwrap_or(0)))
}

/// References held on a file (descriptors in any process, in-flight SCM_RIGHTS…).
#[inline(always)]
pub fn file_refs(file: u64) -> i64 {
    let o = offsets();
    read::<i64>(file, o.file_count).map_or(0, |n| n + o.file_count_zero_based as i64)
}

/// `PF_KTHREAD`: the current task is a kernel thread.
#[inline(always)]
pub fn current_is_kthread() -> bool {
    const PF_KTHREAD: u32 = 0x0020_0000;
    // SAFETY: no preconditions.
    let task = unsafe { bpf_get_current_task() };
    read::<u32>(task, offsets().task_flags).is_some_and(|f| f & PF_KTHREAD != 0)
}

/// Whether `o` still describes the current process as [`current_owner`] would: same
/// thread group, same leader start time (no PID reuse), and neither an exec (comm) nor a
/// setuid since.
#[inline(always)]
pub fn current_is(o: &Owner) -> bool {
    let off = offsets();
    if o.tgid != (bpf_get_current_pid_tgid() >> 32) as u32
        || o.uid != bpf_get_current_uid_gid() as u32
    {
        return false;
    }
    // SAFETY: no preconditions.
    let task = unsafe { bpf_get_current_task() };
    let leader = read::<u64>(task, off.task_group_leader).unwrap_or(task);
    read::<u64>(leader, off.task_start_boottime) == Some(o.start_ns)
        && read::<[u8; 16]>(leader, off.task_comm) == Some(o.comm)
}

/// The current process, as an owner learnt by `how`.
#[inline(always)]
pub fn current_owner(how: u8) -> Owner {
    let o = offsets();
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: helpers without preconditions.
    let (uid_gid, task, cgroup_id) = unsafe {
        (
            bpf_get_current_uid_gid(),
            bpf_get_current_task(),
            bpf_get_current_cgroup_id(),
        )
    };
    let leader = read::<u64>(task, o.task_group_leader).unwrap_or(task);
    // The process name is the thread-group leader's comm, not this thread's.
    let comm = read::<[u8; 16]>(leader, o.task_comm)
        .or_else(|| bpf_get_current_comm().ok())
        .unwrap_or([0; 16]);
    Owner {
        start_ns: read::<u64>(leader, o.task_start_boottime).unwrap_or(0),
        cgroup_id,
        tgid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        uid: uid_gid as u32,
        how,
        _pad: [0; 3],
        comm,
    }
}

/// `sk->sk_err`: the errno a failed connection got (0 if none or unknown).
#[inline(always)]
pub fn sock_err(sk: u64) -> i32 {
    read::<i32>(sk, offsets().sk_err).unwrap_or(0)
}

/// The local port (host order) and bound address of `sk` (zeros if unknown).
#[inline(always)]
pub fn sock_local(sk: u64, family: u16) -> (u16, [u8; 16]) {
    let o = offsets();
    let port = read::<u16>(sk, o.skc_num).unwrap_or(0);
    (
        port,
        sock_addr(sk, family, o.skc_rcv_saddr, o.skc_v6_rcv_saddr),
    )
}

/// `sk->sk_protocol`; 0 if unknown (so never TCP).
#[inline(always)]
pub fn sock_protocol(sk: u64) -> u16 {
    read::<u16>(sk, offsets().sk_protocol).unwrap_or(0)
}

/// `sk->__sk_common.skc_family`; 0 if unknown.
#[inline(always)]
pub fn sock_family(sk: u64) -> u16 {
    read::<u16>(sk, offsets().skc_family).unwrap_or(0)
}

/// The local and remote port of `sk`, host order, as the classic tracepoint reads
/// them (`inet_sport`, still set when a closing socket has released its port).
#[inline(always)]
pub fn sock_ports(sk: u64) -> (u16, u16) {
    let o = offsets();
    (
        u16::from_be(read::<u16>(sk, o.inet_sport).unwrap_or(0)),
        u16::from_be(read::<u16>(sk, o.skc_dport).unwrap_or(0)),
    )
}

/// The local and remote address of `sk` (v4 in the first four bytes), as the classic
/// tracepoint reads them.
#[inline(always)]
pub fn sock_addrs(sk: u64, family: u16) -> ([u8; 16], [u8; 16]) {
    let o = offsets();
    (
        sock_addr(sk, family, o.inet_saddr, o.skc_v6_rcv_saddr),
        sock_addr(sk, family, o.skc_daddr, o.skc_v6_daddr),
    )
}

/// The remote port (host order) and address of a connected `sk` (zeros if none).
#[inline(always)]
pub fn sock_remote(sk: u64, family: u16) -> (u16, [u8; 16]) {
    let o = offsets();
    let port = u16::from_be(read::<u16>(sk, o.skc_dport).unwrap_or(0));
    (port, sock_addr(sk, family, o.skc_daddr, o.skc_v6_daddr))
}

#[inline(always)]
fn sock_addr(sk: u64, family: u16, v4: u32, v6: u32) -> [u8; 16] {
    let mut addr = [0u8; 16];
    if family == netstat_common::AF_INET6 {
        addr = read::<[u8; 16]>(sk, v6).unwrap_or([0; 16]);
    } else if let Some(a) = read::<[u8; 4]>(sk, v4) {
        addr[..4].copy_from_slice(&a);
    }
    addr
}

/// `tcp_sock`'s segment counts, out and in; `None` when an offset is unknown.
#[inline(always)]
pub fn tcp_segments(sk: u64) -> Option<[u64; 2]> {
    let o = offsets();
    Some([
        u64::from(read::<u32>(sk, o.tcp_segs_out)?),
        u64::from(read::<u32>(sk, o.tcp_segs_in)?),
    ])
}
