//! /proc/PID files and other /proc texts read per process: fd link text, cmdline, stat,
//! status (Uid:, CapEff:), /proc/mounts; and a whole `netstat -p` run whose PID
//! directory holds the fuzzed fd link and cmdline.
#![no_main]
use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector, split2};
use netstat_user::{
    agent::seed::{parse_stat, parse_status_uid},
    caps::CapSet,
    ebpf::owners::cgroup2_mount,
    source::procfd::{format_label, parse_link},
};

/// The tcp table of the `-p` run: one listener with inode 12345.
const TCP: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n";

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    match sel % 7 {
        0 => {
            let _ = parse_link(text);
        }
        1 => {
            let (pid, cmdline) = split2(text);
            let label = format_label(pid, cmdline);
            // net-tools' snprintf(finbuf, 20, ...): at most 19 bytes.
            assert!(label.len() <= 19, "label of {} bytes", label.len());
        }
        2 => {
            if let Some((comm, _)) = parse_stat(text) {
                assert_eq!(comm[15], 0, "comm is NUL-terminated");
            }
        }
        3 => {
            let _ = parse_status_uid(text);
        }
        4 => {
            let _ = CapSet::from_status(text);
        }
        5 => {
            let _ = cgroup2_mount(text);
        }
        _ => run_with_pid(text),
    }
});

/// `netstat -tanp` over a tree with one process: its fd 3 links to the first part of
/// the input (a link target cannot hold NUL), its cmdline is the rest.
fn run_with_pid(text: &[u8]) {
    let (link, cmdline) = split2(text);
    if link.is_empty() {
        return;
    }
    let tree = Tree::get();
    tree.write("proc/net/tcp", TCP);
    tree.write("proc/4242/cmdline", cmdline);
    let fd = tree.root().join("proc/4242/fd");
    let _ = std::fs::create_dir_all(&fd);
    let fd3 = fd.join("3");
    let _ = std::fs::remove_file(&fd3);
    if std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(link), &fd3).is_err() {
        return;
    }
    tree.run(&["-tanp"]);
    tree.run(&["-tanp", "--json"]);
    tree.remove("proc/4242");
}
