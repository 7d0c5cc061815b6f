//! The name files read from the run's root: /etc/services with /etc/protocols (the
//! service columns) and /etc/networks (route destinations with `networks: files`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{selector, split2};
use netstat_user::names::{Networks, Services};

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    if sel & 1 == 0 {
        let (services, protocols) = split2(text);
        let s = Services::parse(
            &String::from_utf8_lossy(services),
            &String::from_utf8_lossy(protocols),
        );
        for port in [0, 1, 7, 22, 53, 80, 443, 8080, u16::MAX] {
            for name in [s.tcp(port), s.udp(port), s.raw(port)]
                .into_iter()
                .flatten()
            {
                // net-tools keeps service names in a fixed buffer.
                assert!(!name.contains('\n'), "a service name with a newline");
            }
        }
    } else {
        let n = Networks::parse(&String::from_utf8_lossy(text));
        for net in [0, 0x7f00_0000, 0x0a00_0000, 0xc0a8_0000, u32::MAX] {
            let _ = n.name(net);
        }
    }
});
