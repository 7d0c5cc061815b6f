//! What the running kernel's verifier accepts, asked of the kernel itself with
//! programs of two to five instructions, so a backported or patched kernel is judged by
//! what it does and not by its version number.
//!
//! aya 0.14 probes program and map types, not these two verifier rules, so they are
//! asked here with bpf(2) directly: a map and a program each, closed at once.
use std::{
    io,
    os::fd::{FromRawFd, OwnedFd},
};

/// What the programs and maps must be adapted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verifier {
    /// Tracing programs may use hash maps allocated at run time (`BPF_F_NO_PREALLOC`);
    /// before 6.1 the verifier refuses them ("trace type programs with run-time
    /// allocated hash maps are unsafe").
    pub runtime_alloc_maps: bool,
    /// `BPF_ATOMIC` or/and on memory (5.12+).
    pub atomic_bitops: bool,
}

impl Verifier {
    /// What the oldest supported kernel (5.10) needs.
    pub const OLDEST: Self = Self {
        runtime_alloc_maps: false,
        atomic_bitops: false,
    };

    /// Asks the kernel. A probe that cannot run at all (no privilege: the real load
    /// will say so) answers as the newest kernels do, so nothing is adapted for nothing.
    pub fn probe() -> Self {
        Self {
            runtime_alloc_maps: runtime_alloc_maps().unwrap_or(true),
            atomic_bitops: atomic_bitops().unwrap_or(true),
        }
    }

    /// How the loaded programs differ from the newest kernels', for `-v` (empty when
    /// they do not).
    pub fn adaptations(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.runtime_alloc_maps {
            v.push(
                "hash maps preallocated (this kernel's verifier refuses run-time allocated \
                 hash maps in tracing programs)",
            );
        }
        if !self.atomic_bitops {
            v.push(
                "record flags written without atomic or/and (this kernel has no BPF_ATOMIC \
                 bit operations)",
            );
        }
        v
    }
}

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
const BPF_F_NO_PREALLOC: u32 = 1;
/// `ld_imm64` source register values (bpf.h).
const BPF_PSEUDO_MAP_FD: u8 = 1;
const BPF_PSEUDO_MAP_VALUE: u8 = 2;

/// One eBPF instruction as the kernel reads it.
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// `r{dst} = <map fd or value>` (two instruction slots).
fn ld_map(dst: u8, kind: u8, fd: i32) -> [Insn; 2] {
    [insn(0x18, dst, kind, 0, fd), insn(0, 0, 0, 0, 0)]
}
const MOV_R0_0: Insn = insn(0xb7, 0, 0, 0, 0);
const EXIT: Insn = insn(0x95, 0, 0, 0, 0);

/// bpf(2) with a zeroed 128-byte attribute block the caller filled in.
fn bpf(cmd: libc::c_long, attr: &mut [u64; 16]) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid, writable 128-byte block for the call; bytes the kernel
    // does not know must be zero, and they are.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), 128u32) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor the kernel just gave us, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn map_create(map_type: u32, key: u32, value: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut attr = [0u64; 16];
    attr[0] = u64::from(map_type) | (u64::from(key) << 32);
    attr[1] = u64::from(value) | (1 << 32);
    attr[2] = u64::from(flags);
    bpf(BPF_MAP_CREATE, &mut attr)
}

/// Loads a tracepoint program; `Err` carries the verifier's log.
fn prog_load(insns: &[Insn]) -> Result<OwnedFd, (io::Error, String)> {
    let license = c"GPL";
    let mut log = vec![0u8; 4096];
    let mut attr = [0u64; 16];
    attr[0] = u64::from(BPF_PROG_TYPE_TRACEPOINT) | ((insns.len() as u64) << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    // log_level 1, log_size
    attr[3] = 1 | ((log.len() as u64) << 32);
    attr[4] = log.as_mut_ptr() as u64;
    bpf(BPF_PROG_LOAD, &mut attr).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        (e, String::from_utf8_lossy(&log[..end]).into_owned())
    })
}

/// Whether a tracepoint program may reference a hash map made with
/// `BPF_F_NO_PREALLOC`; `None` if the probe could not tell.
fn runtime_alloc_maps() -> Option<bool> {
    let map = map_create(BPF_MAP_TYPE_HASH, 4, 4, BPF_F_NO_PREALLOC).ok()?;
    let [a, b] = ld_map(1, BPF_PSEUDO_MAP_FD, raw(&map));
    match prog_load(&[a, b, MOV_R0_0, EXIT]) {
        Ok(_) => Some(true),
        Err((_, log)) if refuses_runtime_alloc(&log) => Some(false),
        Err(_) => None,
    }
}

/// Whether a load failed for one of the rules [`Verifier`] adapts to: run-time
/// allocated maps, or an atomic bit operation (5.10's verifier: "BPF_STX uses reserved
/// fields").
pub fn refusal_of_old_verifier(error: &str) -> bool {
    refuses_runtime_alloc(error) || error.contains("BPF_STX uses reserved fields")
}

/// The verifier's words for the refusal (kernel/bpf/verifier.c, before 6.1).
fn refuses_runtime_alloc(log: &str) -> bool {
    log.contains("run-time allocated hash maps")
}

/// Whether the verifier takes `lock *(u64 *)(r1 + 0) |= r2`; `None` if the probe could
/// not tell.
fn atomic_bitops() -> Option<bool> {
    let map = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 0).ok()?;
    let [a, b] = ld_map(1, BPF_PSEUDO_MAP_VALUE, raw(&map));
    const BPF_OR: i32 = 0x40;
    let prog = [
        a,
        b,
        // r2 = 1
        insn(0xb7, 2, 0, 0, 1),
        // BPF_STX | BPF_ATOMIC | BPF_DW
        insn(0xdb, 1, 2, 0, BPF_OR),
        MOV_R0_0,
        EXIT,
    ];
    match prog_load(&prog) {
        Ok(_) => Some(true),
        // EINVAL: the instruction (or direct map-value loads, 5.2+) is unknown.
        Err((e, _)) if e.raw_os_error() == Some(libc::EINVAL) => Some(false),
        Err(_) => None,
    }
}

fn raw(fd: &OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        let i = insn(0xdb, 1, 2, -8, 0x40);
        // SAFETY: viewing a repr(C) 8-byte value as bytes.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(i) };
        assert_eq!(bytes, [0xdb, 0x21, 0xf8, 0xff, 0x40, 0, 0, 0]);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }

    #[test]
    fn the_5_10_refusal_is_recognised() {
        assert!(refuses_runtime_alloc(
            "0: (18) r1 = 0xffff\ntrace type programs with run-time allocated hash maps are \
             unsafe. Switch to preallocated hash maps.\n"
        ));
        assert!(!refuses_runtime_alloc("invalid bpf_context access"));
        assert!(refusal_of_old_verifier(
            "... BPF_STX uses reserved fields\n"
        ));
        assert!(!refusal_of_old_verifier("Operation not permitted"));
    }

    #[test]
    fn newest_kernels_need_no_adaptation() {
        let v = Verifier {
            runtime_alloc_maps: true,
            atomic_bitops: true,
        };
        assert!(v.adaptations().is_empty());
        let old = Verifier {
            runtime_alloc_maps: false,
            atomic_bitops: false,
        };
        assert_eq!(old.adaptations().len(), 2);
    }
}
