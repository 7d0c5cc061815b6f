//! `netstat -g` over fuzzed /proc/net/igmp and /proc/net/igmp6 (the IPv4 file is the
//! part of the input before its first NUL, the IPv6 one the rest).
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector, split2};

const LAYOUTS: [&[&str]; 5] = [
    &["-gn"],
    &["-gn", "-4"],
    &["-gn", "-6"],
    &["-gne"],
    &["-gn", "--json"],
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    let (igmp, igmp6) = split2(text);
    let tree = Tree::get();
    tree.write("proc/net/igmp", igmp);
    tree.write("proc/net/igmp6", igmp6);
    tree.run(LAYOUTS[usize::from(sel) % LAYOUTS.len()]);
});
