//! The parser against the real net-tools (`/usr/bin/netstat`), message for message.

use super::*;
use crate::cli::testkit::*;

const REAL_NETSTAT: &str = "/usr/bin/netstat";

/// (stdout, stderr, exit code) of the real netstat, run as `netstat` in the C locale.
fn real(args: &[&str]) -> (String, String, i32) {
    use std::os::unix::process::CommandExt;
    assert!(
        std::path::Path::new(REAL_NETSTAT).exists(),
        "{REAL_NETSTAT} (net-tools 2.10) is required by this test: apt-get install net-tools"
    );
    let out = std::process::Command::new(REAL_NETSTAT)
        .arg0("netstat")
        .args(args)
        .env("LC_ALL", "C")
        .env_remove("POSIXLY_CORRECT")
        .output()
        .expect("run /usr/bin/netstat");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn help_and_version_match_real_netstat() {
    // `-h` is net-tools' stdout followed by our own section (checked on its own in
    // `help_lists_exactly_the_extensions`), and net-tools' stderr and exit code.
    for args in [&["-h"][..], &["--help"], &["-h", "-Q"], &["-th"]] {
        let (out, err, code) = output(&fail(args));
        let (real_out, real_err, real_code) = real(args);
        assert_eq!(
            out.strip_prefix(&real_out),
            Some(extensions_help().as_str()),
            "netstat {}",
            args.join(" ")
        );
        assert_eq!(
            (err, code),
            (real_err, real_code),
            "netstat {}",
            args.join(" ")
        );
    }
    assert_eq!(output(&fail(&["-V"])), real(&["-V"]));
}

#[test]
fn parse_errors_match_real_netstat() {
    // Only command lines that end in parsing: none of these reads the system.
    let cases: &[&[&str]] = &[
        &["-Q"],
        &["-tQ"],
        &["-?"],
        &["-T"],
        &["-:"],
        &["--bogus"],
        &["--bogus=1"],
        &["--num", "-t"],
        &["--num=3"],
        &["--i"],
        &["--in"],
        &["--a"],
        &["--u"],
        &["--un"],
        &["--r"],
        &["--t"],
        &["--c"],
        &["--n"],
        &["--=x"],
        &["--rou=1"],
        &["--ip=x"],
        &["--prot"],
        &["-A"],
        &["-tA"],
        &["-r", "-i"],
        &["-s", "-r"],
        &["-rr"],
        &["-ii"],
        &["-ss"],
        &["-A", "foo"],
        &["-A", "inet,foo"],
        &["-A", ""],
        &["-A", "inet,"],
        &["-A", "-t"],
        &["-r", "-A", "unix"],
        &["-r", "-x"],
        &["-r", "-A", "econet"],
        &["-r", "-A", "ec"],
        &["-r", "-A", "ash"],
        &["-r", "-A", "bluetooth"],
        &["-s", "-x"],
        &["-s", "-A", "unix"],
        &["-s", "-4", "-6"],
        &["-Z"],
        &["-V", "-Q"],
        &["-Q", "-V"],
        &["-Z", "-V"],
        &["--econet"],
        &["--ash"],
        &["--tcpip", "-A", "foo"],
        &["--tcpip", "-V"],
        &["--tcpip", "-r", "-x"],
    ];
    for args in cases {
        let ours = output(&fail(args));
        assert_eq!(ours, real(args), "netstat {}", args.join(" "));
    }
    let long_lists = [
        format!("-A{}", "ip,".repeat(60)),
        format!("-A{}inet6", "ddp,".repeat(63)),
        format!("-A{}", "inet,".repeat(60)),
    ];
    for list in &long_lists {
        let args = ["-s", list.as_str()];
        assert_eq!(
            output(&fail(&args)),
            real(&args),
            "netstat {}",
            args.join(" ")
        );
    }
}

#[test]
fn warnings_match_real_netstat() {
    // Runs that go on after a warning: compare stderr only (stdout is the system's).
    for args in [&["--tcpip", "-rn"][..], &["--tcpi", "-rn"]] {
        let (_, warnings) = run(args).expect("continues");
        let mut err = Vec::new();
        write_warnings(&mut err, &warnings).expect("write to Vec");
        let (_, real_err, code) = real(args);
        assert_eq!(
            (String::from_utf8_lossy(&err).into_owned(), 0),
            (real_err, code)
        );
    }
}
