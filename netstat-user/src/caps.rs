//! The Linux capabilities this process holds, so that a refusal can name the exact one
//! missing. The agent may run as uid 0 with only some capabilities (the systemd unit in
//! `packaging/` keeps five), and a bare EPERM from the kernel says nothing about which.
//!
//! Read from the `CapEff:` line of `/proc/thread-self/status` rather than `capget(2)`: the
//! libc crate has no binding for it, and the text is what `grep Cap /proc/PID/status`
//! shows an operator.
use std::fmt;

/// The capabilities netstat's privileged parts use (numbers from `linux/capability.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// Listing other users' `/proc/PID/fd` directories (mode 0500, owned by the process).
    DacReadSearch = 2,
    /// Loading and attaching the cgroup and sock_ops programs (`bpf_net_capable()`).
    NetAdmin = 12,
    /// Reading the fd links of processes whose capabilities exceed ours, and of other users
    /// (`ptrace_may_access(PTRACE_MODE_READ_FSCREDS)`), and their `ns/net` links.
    SysPtrace = 19,
    /// `setns()` into another network namespace (the agent's seed); mounting tracefs.
    SysAdmin = 21,
    /// Tracepoints (`perf_event_open`), and the kernel-memory reads every program does
    /// (`bpf_probe_read_kernel` is offered to programs only when `perfmon_capable()`).
    Perfmon = 38,
    /// Maps and programs at all (`bpf_capable()`).
    Bpf = 39,
}

impl Cap {
    pub fn name(self) -> &'static str {
        match self {
            Cap::DacReadSearch => "CAP_DAC_READ_SEARCH",
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::SysPtrace => "CAP_SYS_PTRACE",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
            Cap::Perfmon => "CAP_PERFMON",
            Cap::Bpf => "CAP_BPF",
        }
    }

    fn bit(self) -> u64 {
        1 << self as u32
    }

    /// Whether the kernel accepts CAP_SYS_ADMIN in its place for eBPF: `bpf_capable()`,
    /// `perfmon_capable()` and `bpf_net_capable()` all fall back to it (CAP_BPF and
    /// CAP_PERFMON were split off CAP_SYS_ADMIN in 5.8).
    fn sys_admin_stands_in(self) -> bool {
        matches!(self, Cap::Bpf | Cap::Perfmon | Cap::NetAdmin)
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An effective capability set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSet(pub u64);

impl CapSet {
    /// This thread's effective set; `None` when `/proc` cannot tell (then nothing is
    /// refused on its account: the kernel will say).
    pub fn current() -> Option<CapSet> {
        let status = std::fs::read("/proc/thread-self/status").ok()?;
        CapSet::from_status(&status)
    }

    /// The `CapEff:` line (16 hex digits) of a `/proc/PID/status` text.
    pub fn from_status(status: &[u8]) -> Option<CapSet> {
        let line = status
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(b"CapEff:"))?;
        let hex = std::str::from_utf8(line).ok()?.trim();
        u64::from_str_radix(hex, 16).ok().map(CapSet)
    }

    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    /// Those of `needed` this set lacks, counting CAP_SYS_ADMIN for the eBPF ones as the
    /// kernel does.
    pub fn lacking(self, needed: &[Cap]) -> Vec<Cap> {
        needed
            .iter()
            .copied()
            .filter(|&c| !(self.has(c) || c.sys_admin_stands_in() && self.has(Cap::SysAdmin)))
            .collect()
    }
}

/// `CAP_A`, `CAP_A and CAP_B`, `CAP_A, CAP_B and CAP_C`.
pub fn list(caps: &[Cap]) -> String {
    match caps {
        [] => String::new(),
        [one] => one.name().to_string(),
        [init @ .., last] => {
            let head: Vec<&str> = init.iter().map(|c| c.name()).collect();
            format!("{} and {}", head.join(", "), last.name())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `grep Cap /proc/PID/status` of a process started as the packaged unit starts the
    /// agent: uid 0, bounding set CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_PTRACE
    /// CAP_DAC_READ_SEARCH.
    const UNIT: &[u8] = b"Name:\tnetstat\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\n\
CapPrm:\t000000c000081004\nCapEff:\t000000c000081004\nCapBnd:\t000000c000081004\n";

    #[test]
    fn effective_set_parses_from_status() {
        let set = CapSet::from_status(UNIT).unwrap();
        assert_eq!(set, CapSet(0xc0_0008_1004));
        for cap in [
            Cap::Bpf,
            Cap::Perfmon,
            Cap::NetAdmin,
            Cap::SysPtrace,
            Cap::DacReadSearch,
        ] {
            assert!(set.has(cap), "{cap}");
        }
        assert!(!set.has(Cap::SysAdmin));
        assert_eq!(CapSet::from_status(b"Name:\tx\n"), None);
        assert_eq!(CapSet::from_status(b"CapEff:\tzz\n"), None);
    }

    #[test]
    fn sys_admin_stands_in_for_the_ebpf_capabilities_only() {
        let admin = CapSet(Cap::SysAdmin.bit());
        assert_eq!(admin.lacking(&[Cap::Bpf, Cap::Perfmon, Cap::NetAdmin]), []);
        assert_eq!(
            admin.lacking(&[Cap::SysPtrace, Cap::DacReadSearch]),
            [Cap::SysPtrace, Cap::DacReadSearch]
        );
        let bpf_only = CapSet(Cap::Bpf.bit());
        assert_eq!(
            bpf_only.lacking(&[Cap::Bpf, Cap::Perfmon, Cap::NetAdmin]),
            [Cap::Perfmon, Cap::NetAdmin]
        );
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(list(&[]), "");
        assert_eq!(list(&[Cap::Bpf]), "CAP_BPF");
        assert_eq!(
            list(&[Cap::Bpf, Cap::Perfmon, Cap::NetAdmin]),
            "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"
        );
    }
}
