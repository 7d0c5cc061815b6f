//! `netstat -s` over fuzzed /proc/net/snmp, /proc/net/netstat, /proc/net/snmp6 and
//! /proc/net/sctp/snmp, for each protocol selection and --json.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector};

const FILES: [&str; 4] = [
    "proc/net/snmp",
    "proc/net/netstat",
    "proc/net/snmp6",
    "proc/net/sctp/snmp",
];

const LAYOUTS: [&[&str]; 8] = [
    &["-s"],
    &["-st"],
    &["-su"],
    &["-sw"],
    &["-sS"],
    &["-s", "-6"],
    &["-s", "--json"],
    &["-s", "-6", "--json"],
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    let tree = Tree::get();
    let file = FILES[usize::from(sel & 3)];
    tree.write(file, text);
    tree.run(LAYOUTS[usize::from(sel >> 2) % LAYOUTS.len()]);
    tree.remove(file);
});
