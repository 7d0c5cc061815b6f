//! NETLINK_NETFILTER ctnetlink dump replies: netlink framing (netlink-packet-core) → our
//! CTA_* attribute parser → masquerade entries → the `-M` table and its JSON records.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{render_masq, selector};
use netstat_user::{fuzzing::first_seq, source::conntrack};

fuzz_target!(|data: &[u8]| {
    let Some((sel, bytes)) = selector(data) else {
        return;
    };
    if sel & 1 == 0 {
        let mut decoder = conntrack::Decoder::new(first_seq(bytes));
        let _ = decoder.feed(bytes);
        render_masq(&decoder.entries, sel & 2 != 0);
    } else {
        // One message payload (nfgenmsg + attributes), without the framing.
        if let Ok(conn) = conntrack::parse_conn(bytes) {
            for t in [&conn.orig, &conn.reply].into_iter().flatten() {
                let _ = (t.ports(), t.masq_port());
            }
            if let Some(entry) = conntrack::entry_of(&conn) {
                render_masq(&[entry], sel & 2 != 0);
            }
        }
    }
});
