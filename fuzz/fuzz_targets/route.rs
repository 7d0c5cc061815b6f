//! `netstat -r` over fuzzed /proc/net route tables: route, rt_cache, ipv6_route, ndisc and
//! the legacy families' files (ax25_route, nr_nodes + nr_neigh, rose_nodes + rose_neigh,
//! ipx/route, atalk_route, x25/route), in every layout (-e, -ee, -C, --json).
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector, split2};

/// (family for -A, first file, second file (the input's part after its first NUL), -C)
const TABLES: [(&str, &str, Option<&str>, bool); 10] = [
    ("inet", "route", None, false),
    ("inet", "rt_cache", Some("route"), true),
    ("inet6", "ipv6_route", None, false),
    ("inet6", "ipv6_route", Some("ndisc"), true),
    ("ax25", "ax25_route", None, false),
    ("netrom", "nr_nodes", Some("nr_neigh"), false),
    ("rose", "rose_nodes", Some("rose_neigh"), false),
    ("ipx", "ipx/route", None, false),
    ("ddp", "atalk_route", None, false),
    ("x25", "x25/route", None, false),
];

const LAYOUTS: [&[&str]; 4] = [&["-rn"], &["-rne"], &["-rnee"], &["-rn", "--json"]];

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    let (family, first, second, cache) = TABLES[usize::from(sel & 0x0f) % TABLES.len()];
    let tree = Tree::get();
    let mut written = vec![format!("proc/net/{first}")];
    match second {
        Some(second) => {
            let (a, b) = split2(text);
            tree.write(&written[0], a);
            written.push(format!("proc/net/{second}"));
            tree.write(&written[1], b);
        }
        None => tree.write(&written[0], text),
    }
    let mut args = vec!["-A", family];
    args.extend_from_slice(LAYOUTS[usize::from(sel >> 4) % LAYOUTS.len()]);
    if cache {
        args.push("-C");
    }
    tree.run(&args);
    for rel in &written {
        tree.remove(rel);
    }
});
