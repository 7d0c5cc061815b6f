//! Where a run reads the system from, and the facts of this process's own namespace:
//! shared by every mode, so no mode imports the dispatcher (app.rs) for them.
//!
//! The boot clock (`agent::boottime_ns`, `watch::boot_to_realtime`) belongs here too; it
//! stays beside the agent and the live modes for now.
use std::path::{Path, PathBuf};

/// Where the run reads the system from. `PROC_ROOT` (as in ss) points the /proc
/// source at a recorded tree, and then netlink is not used: the run sees only files.
#[derive(Clone, Debug)]
pub struct RunEnv {
    /// Directory that holds `proc/` and `etc/` (normally `/`).
    pub root: PathBuf,
    /// Ask the kernel over netlink before reading /proc.
    pub netlink: bool,
}

impl RunEnv {
    pub fn from_system() -> Self {
        match std::env::var_os("PROC_ROOT") {
            Some(p) if !p.is_empty() => {
                // ss's PROC_ROOT names the /proc directory itself.
                let proc = PathBuf::from(p);
                let root = proc.parent().map(Path::to_path_buf).unwrap_or_default();
                Self {
                    root,
                    netlink: false,
                }
            }
            _ => Self {
                root: PathBuf::from("/"),
                netlink: true,
            },
        }
    }

    /// The `/proc` the run reads (`PROC_ROOT`, or `/proc`).
    pub fn proc_root(&self) -> PathBuf {
        self.root.join("proc")
    }
}

/// The network namespace of this process (`/proc/self/ns/net` → `net:[N]`).
pub fn own_netns(proc_root: &Path) -> Option<u32> {
    let link = std::fs::read_link(proc_root.join("self/ns/net")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}
