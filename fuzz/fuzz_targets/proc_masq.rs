//! /proc/net/ip_masquerade (Linux 2.2's table, read from a recorded tree): the parser,
//! the `-M` table and its JSON records, and whole `netstat -M` runs over the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, render_masq, selector};
use netstat_user::masq::parse_masq_file;

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    if let Ok(entries) = parse_masq_file(text) {
        render_masq(&entries, sel & 1 != 0);
    }
    let tree = Tree::get();
    tree.write("proc/net/ip_masquerade", text);
    let args: &[&str] = match sel % 3 {
        0 => &["-Mn"],
        1 => &["-Mne"],
        _ => &["-Mn", "--json"],
    };
    tree.run(args);
    tree.remove("proc/net/ip_masquerade");
});
