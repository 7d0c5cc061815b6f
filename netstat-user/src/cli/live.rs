//! The values of the live-mode filters (`--state`, `--port`, ...) and of `--metrics`.

use std::time::Duration;

use super::table::Key;
use super::{MetricsAddr, NetnsArg, StreamFilter};

/// Applies one of the stream filter options; the error is the message to print.
pub(super) fn stream_option(f: &mut StreamFilter, key: Key, value: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(value);
    let name = match key {
        Key::State => "state",
        Key::Port => "port",
        Key::Sport => "sport",
        Key::Dport => "dport",
        Key::Pid => "pid",
        Key::Comm => "comm",
        Key::Netns => "netns",
        _ => "flow-idle",
    };
    let number = |max: u64| -> Result<u64, String> {
        text.parse::<u64>()
            .ok()
            .filter(|&n| n > 0 && n <= max)
            .ok_or_else(|| format!("--{name}: `{text}' is not a number from 1 to {max}"))
    };
    match key {
        Key::State => {
            for piece in text.split(',') {
                let state = state_by_name(piece).ok_or_else(|| {
                    format!(
                        "--state: unknown TCP state `{piece}' (ESTABLISHED, SYN_SENT, SYN_RECV, \
                         FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, \
                         CLOSING)"
                    )
                })?;
                if !f.states.contains(&state) {
                    f.states.push(state);
                }
            }
        }
        Key::Port => f.port = Some(number(65535)? as u16),
        Key::Sport => f.sport = Some(number(65535)? as u16),
        Key::Dport => f.dport = Some(number(65535)? as u16),
        Key::Pid => f.pid = Some(number(u64::from(u32::MAX))? as u32),
        Key::Comm => {
            if value.is_empty() || value.len() > 15 {
                return Err(format!(
                    "--comm: `{text}' is not a process name of 1 to 15 bytes (the kernel keeps 15)"
                ));
            }
            f.comm = Some(value.to_vec());
        }
        Key::Netns => {
            f.netns = Some(
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    NetnsArg::Inode(number(u64::from(u32::MAX))? as u32)
                } else if value.is_empty() {
                    return Err("--netns: empty name".to_owned());
                } else {
                    NetnsArg::Name(value.to_vec())
                },
            )
        }
        _ => {
            let secs = number(86_400)?;
            f.flow_idle = Some(Duration::from_secs(secs));
        }
    }
    Ok(())
}

/// A `--metrics` value: `unix:` and an absolute path, or a numeric `ADDR:PORT` (IPv6 in
/// brackets). Port 0 lets the kernel choose; the agent's ready line names the port.
pub(super) fn metrics_option(value: &[u8]) -> Result<MetricsAddr, String> {
    use std::os::unix::ffi::OsStrExt;
    let text = String::from_utf8_lossy(value);
    if let Some(path) = value.strip_prefix(b"unix:") {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        return if path.is_absolute() && path.file_name().is_some() {
            Ok(MetricsAddr::Unix(path.to_path_buf()))
        } else {
            Err(format!(
                "--metrics: `{text}': unix: wants an absolute socket path (unix:/run/netstat-ebpf/metrics.sock)"
            ))
        };
    }
    text.parse::<std::net::SocketAddr>()
        .map(MetricsAddr::Tcp)
        .map_err(|_| {
            format!(
                "--metrics: `{text}' is neither a numeric ADDR:PORT (127.0.0.1:9977, [::1]:9977) \
                 nor unix:PATH"
            )
        })
}

/// A TCP state by net-tools' name (`TIME_WAIT`) or ss's (`time-wait`), any case.
fn state_by_name(name: &str) -> Option<u8> {
    let mut want: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // ss's names where they differ from the kernel's.
    match want.as_str() {
        "LISTENING" => want = "LISTEN".to_owned(),
        "CLOSED" => want = "CLOSE".to_owned(),
        _ => {}
    }
    (1..=11u8).find(|&n| {
        netstat_common::TcpState::from_kernel(n).is_some_and(|s| s.name().replace('_', "") == want)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::testkit::*;
    use crate::cli::*;

    #[test]
    fn stream_filters_parse_and_bad_values_name_the_option() {
        let o = ok(&[
            "--watch",
            "--state",
            "time-wait,CLOSE_WAIT",
            "--state=listening",
            "--port",
            "80",
            "--sport=81",
            "--dport",
            "82",
            "--pid",
            "42",
            "--comm",
            "nginx",
            "--netns",
            "4026531840",
            "--flow-idle",
            "5",
        ]);
        assert_eq!(o.stream.states, [6, 8, 10]);
        assert_eq!(
            (o.stream.port, o.stream.sport, o.stream.dport),
            (Some(80), Some(81), Some(82))
        );
        assert_eq!(o.stream.pid, Some(42));
        assert_eq!(o.stream.comm.as_deref(), Some(b"nginx".as_slice()));
        assert_eq!(o.stream.netns, Some(NetnsArg::Inode(4026531840)));
        assert_eq!(o.stream.flow_idle, Some(Duration::from_secs(5)));
        assert_eq!(
            ok(&["--netns", "blue"]).stream.netns,
            Some(NetnsArg::Name(b"blue".to_vec()))
        );
        for (args, needle) in [
            (
                &["--state", "BOGUS"][..],
                "--state: unknown TCP state `BOGUS'",
            ),
            (
                &["--port", "0"][..],
                "--port: `0' is not a number from 1 to 65535",
            ),
            (&["--dport", "65536"][..], "--dport"),
            (&["--pid", "x"][..], "--pid"),
            (&["--comm", "a-name-longer-than-15"][..], "--comm"),
            (&["--flow-idle", "-1"][..], "--flow-idle"),
        ] {
            let exit = fail(args);
            assert_eq!(exit.exit_code(), 3, "{args:?}");
            let CliExit::BadValue { message, .. } = &exit else {
                panic!("{args:?}: {exit:?}");
            };
            assert!(message.contains(needle), "{args:?}: {message}");
        }
        // Missing value: getopt's own message.
        assert!(matches!(fail(&["--state"]), CliExit::Usage { .. }));
    }

    #[test]
    fn extension_options() {
        let o = ok(&["--agent", "--watch", "--audit", "--json"]);
        assert!(o.agent && o.watch && o.audit && o.json);
        assert!(!ok(&["-t"]).json);
        // Prefixes reach them only where no net-tools option matches.
        assert!(ok(&["--ag"]).agent);
        assert!(ok(&["--au"]).audit);
        assert!(ok(&["--wa"]).watch);
        assert!(ok(&["--j"]).json);
        assert!(ok(&["--w"]).wide);
        assert_getopt_error(
            &["--a"],
            "netstat: option '--a' is ambiguous; possibilities: '--ax25' '--all'",
        );
        assert_getopt_error(
            &["--json=1"],
            "netstat: option '--json' doesn't allow an argument",
        );
        assert_getopt_error(&["--jsonx"], "netstat: unrecognized option '--jsonx'");
    }

    #[test]
    fn metrics_addresses_parse_and_bad_ones_name_the_option() {
        let o = ok(&[
            "--agent",
            "--metrics",
            "127.0.0.1:9977",
            "--metrics=[::1]:0",
            "--metrics",
            "unix:/run/netstat-ebpf/metrics.sock",
            "--metrics-owners",
        ]);
        assert_eq!(
            o.metrics,
            [
                MetricsAddr::Tcp("127.0.0.1:9977".parse().unwrap()),
                MetricsAddr::Tcp("[::1]:0".parse().unwrap()),
                MetricsAddr::Unix("/run/netstat-ebpf/metrics.sock".into()),
            ]
        );
        assert!(o.metrics_owners);
        assert_eq!(o.metrics[1].to_string(), "[::1]:0");
        assert_eq!(
            o.metrics[2].to_string(),
            "unix:/run/netstat-ebpf/metrics.sock"
        );
        assert!(!ok(&["--agent"]).metrics_owners);
        for (arg, needle) in [
            ("localhost:9977", "numeric ADDR:PORT"),
            ("9977", "numeric ADDR:PORT"),
            ("127.0.0.1:65536", "numeric ADDR:PORT"),
            ("::1:9977", "numeric ADDR:PORT"),
            ("unix:metrics.sock", "absolute socket path"),
            ("unix:", "absolute socket path"),
            ("unix:/", "absolute socket path"),
        ] {
            let exit = fail(&["--agent", "--metrics", arg]);
            assert_eq!(exit.exit_code(), 3, "{arg}");
            let CliExit::BadValue { message, .. } = &exit else {
                panic!("{arg}: {exit:?}");
            };
            assert!(
                message.starts_with("--metrics: `") && message.contains(needle),
                "{arg}: {message}"
            );
        }
        // `--metrics` is matched exactly, not as a prefix of `--metrics-owners`.
        assert_getopt_error(
            &["--metr"],
            "netstat: option '--metr' is ambiguous; possibilities: '--metrics' '--metrics-owners'",
        );
    }
}
