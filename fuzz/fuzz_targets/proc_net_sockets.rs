//! /proc/net/{tcp,udp,udplite,raw}{,6} and /proc/net/unix: the parsers directly (each row
//! renders to one line), then whole `netstat` runs over the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector};
use netstat_user::{
    model::{Family, InetProto},
    render::sockets::{NoNames, SocketView, write_inet_row, write_unix_row},
    source::procnet::{parse_inet, parse_unix},
};

/// (file under /proc/net, what it holds (None: unix), the option that lists it)
type File = (&'static str, Option<(InetProto, Family)>, &'static str);

const FILES: [File; 9] = [
    ("tcp", Some((InetProto::Tcp, Family::Inet)), "-t"),
    ("tcp6", Some((InetProto::Tcp, Family::Inet6)), "-t"),
    ("udp", Some((InetProto::Udp, Family::Inet)), "-u"),
    ("udp6", Some((InetProto::Udp, Family::Inet6)), "-u"),
    ("udplite", Some((InetProto::UdpLite, Family::Inet)), "-U"),
    ("udplite6", Some((InetProto::UdpLite, Family::Inet6)), "-U"),
    ("raw", Some((InetProto::Raw, Family::Inet)), "-w"),
    ("raw6", Some((InetProto::Raw, Family::Inet6)), "-w"),
    ("unix", None, "-x"),
];

const OPTIONS: [&[&str]; 8] = [
    &["-an"],
    &["-ean"],
    &["-oan"],
    &["-Wan"],
    &["--json", "-an"],
    &["-ln"],
    &["-anp"],
    &["-aeeno", "-W"],
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    let (name, kind, flag) = FILES[usize::from(sel & 0x0f) % FILES.len()];
    let view = SocketView {
        all: true,
        numeric_hosts: true,
        numeric_ports: true,
        numeric_users: true,
        extend: sel & 0x10 != 0,
        timers: sel & 0x20 != 0,
        wide: sel & 0x40 != 0,
        ..SocketView::default()
    };
    let mut line = Vec::new();
    match kind {
        Some((proto, family)) => {
            let parsed = parse_inet(text, proto, family);
            for s in &parsed.rows {
                line.clear();
                let _ = write_inet_row(&mut line, &view, &mut NoNames, s, Some(b"1/x"));
                one_line(&line);
            }
        }
        None => {
            for s in &parse_unix(text).rows {
                line.clear();
                let _ = write_unix_row(&mut line, &view, s, None);
                one_line(&line);
            }
        }
    }

    let tree = Tree::get();
    let rel = format!("proc/net/{name}");
    tree.write(&rel, text);
    let mut args = vec![flag];
    args.extend_from_slice(OPTIONS[usize::from(sel >> 4) % OPTIONS.len()]);
    tree.run(&args);
    tree.remove(&rel);
});

/// A row is one line: the parser never lets a newline into a field.
fn one_line(row: &[u8]) {
    let newlines = row.iter().filter(|&&b| b == b'\n').count();
    assert!(
        newlines == 1 && row.ends_with(b"\n"),
        "a row rendered as {:?}",
        String::from_utf8_lossy(row)
    );
}
