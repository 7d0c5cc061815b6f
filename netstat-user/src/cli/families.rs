//! lib/af.c's tables: the address types (`aftypes[]`, `print_aflist()`) and the
//! aliases of `-A` and the family long options (`aftrans[]`).

use super::RouteFamily;

/// An address type of lib/af.c `aftypes[]` (Debian's build, `unspec` left out).
struct AfType {
    name: &'static str,
    title: &'static str,
    /// `rprint` set by `getroute_init()`.
    route: Option<RouteFamily>,
}

/// lib/af.c `aftypes[]`, in its order.
const AFTYPES: [AfType; 11] = [
    af_type("unix", "UNIX Domain", None),
    af_type("inet", "DARPA Internet", Some(RouteFamily::Inet)),
    af_type("inet6", "IPv6", Some(RouteFamily::Inet6)),
    af_type("ax25", "AMPR AX.25", Some(RouteFamily::Ax25)),
    af_type("netrom", "AMPR NET/ROM", Some(RouteFamily::NetRom)),
    af_type("rose", "AMPR ROSE", Some(RouteFamily::Rose)),
    af_type("ipx", "Novell IPX", Some(RouteFamily::Ipx)),
    af_type("ddp", "Appletalk DDP", Some(RouteFamily::Ddp)),
    af_type("ec", "Econet", None),
    af_type("ash", "Ash", None),
    af_type("x25", "CCITT X.25", Some(RouteFamily::X25)),
];

const fn af_type(name: &'static str, title: &'static str, route: Option<RouteFamily>) -> AfType {
    AfType { name, title, route }
}

/// `print_aflist(1)`: the families that support routing, 3 a line.
pub(super) fn af_list() -> String {
    let mut text = String::new();
    for (count, af) in AFTYPES.iter().filter(|af| af.route.is_some()).enumerate() {
        if count % 3 == 0 {
            text.push_str(if count == 0 { "    " } else { "\n    " });
        }
        text.push_str(af.name);
        text.push_str(" (");
        text.push_str(af.title);
        text.push_str(") ");
    }
    text.push('\n');
    text
}

/// `get_aftype()` as `route_info()` uses it.
pub(super) fn route_family(name: &'static str) -> RouteFamily {
    match AFTYPES.iter().find(|af| af.name == name) {
        Some(af) => af.route.unwrap_or(RouteFamily::NoRouting(af.name)),
        None => RouteFamily::NotSupported(name),
    }
}

/// The `flag_<af>` counter an alias bumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AfFlag {
    Ax25,
    Inet,
    Inet6,
    Ipx,
    Rose,
    Ddp,
    Netrom,
    Unix,
    Econet,
    X25,
    Ash,
    Bluetooth,
}

/// An entry of lib/af.c `aftrans[]`.
pub(super) struct AfTrans {
    pub(super) alias: &'static str,
    pub(super) name: &'static str,
    pub(super) flag: AfFlag,
}

/// lib/af.c `aftrans[]`, in its order.
pub(super) const AFTRANS: [AfTrans; 16] = [
    af_trans("ax25", "ax25", AfFlag::Ax25),
    af_trans("ip", "inet", AfFlag::Inet),
    af_trans("ip6", "inet6", AfFlag::Inet6),
    af_trans("ipx", "ipx", AfFlag::Ipx),
    af_trans("rose", "rose", AfFlag::Rose),
    af_trans("appletalk", "ddp", AfFlag::Ddp),
    af_trans("netrom", "netrom", AfFlag::Netrom),
    af_trans("inet", "inet", AfFlag::Inet),
    af_trans("inet6", "inet6", AfFlag::Inet6),
    af_trans("ddp", "ddp", AfFlag::Ddp),
    af_trans("unix", "unix", AfFlag::Unix),
    af_trans("tcpip", "inet", AfFlag::Inet),
    af_trans("econet", "ec", AfFlag::Econet),
    af_trans("x25", "x25", AfFlag::X25),
    af_trans("ash", "ash", AfFlag::Ash),
    af_trans("bluetooth", "bluetooth", AfFlag::Bluetooth),
];

const fn af_trans(alias: &'static str, name: &'static str, flag: AfFlag) -> AfTrans {
    AfTrans { alias, name, flag }
}

/// net-tools' `AFTRANS_CNT`: 12, although `AFTRANS_OPTS` has 13 entries, so the
/// 13th family long option (`--tcpip`) fails the range check in `main()`.
pub(super) const AFTRANS_CNT: usize = 12;

/// The size of net-tools' `afname[]` and of `aftrans_opt()`'s copy of its argument.
pub(super) const AFNAME_SIZE: usize = 256;

/// net-tools' `DFLT_AF`.
pub(super) const DEFAULT_AF: &str = "inet";

#[cfg(test)]
mod tests {
    use crate::cli::testkit::*;
    use crate::cli::*;

    #[test]
    fn unknown_families() {
        assert_stderr(&["-A", "foo"], "Unknown address family `foo'.\n", 1);
        assert_stderr(&["-A", "inet,foo"], "Unknown address family `foo'.\n", 1);
        assert_stderr(&["-A", ""], "Unknown address family `'.\n", 1);
        assert_stderr(&["-A", "inet,"], "Unknown address family `'.\n", 1);
        assert_stderr(&["-A", ",inet"], "Unknown address family `'.\n", 1);
        assert_stderr(&["-r", "-A", "ec"], "Unknown address family `ec'.\n", 1);
        assert_stderr(&["-A", "INET"], "Unknown address family `INET'.\n", 1);
    }

    #[test]
    fn routing_families() {
        let no_routing = "No routing for address family `unix'.\n";
        assert_stderr(&["-r", "-A", "unix"], no_routing, 3);
        assert_stderr(&["-r", "-x"], no_routing, 3);
        assert_stderr(&["-x", "-r"], no_routing, 3);
        assert_stderr(&["-r", "-A", "unix,inet"], no_routing, 3);
        assert_stderr(
            &["-rA", "econet"],
            "No routing for address family `ec'.\n",
            3,
        );
        assert_stderr(
            &["-r", "-A", "ash"],
            "No routing for address family `ash'.\n",
            3,
        );
        assert_stderr(
            &["-r", "-A", "bluetooth"],
            "Address family `bluetooth' not supported.\n",
            3,
        );
        assert_stderr(
            &["-r", "--bluetooth"],
            "Address family `bluetooth' not supported.\n",
            3,
        );
        // After a routable family the table is printed first: the error is deferred.
        let o = ok(&["-r", "-A", "inet,unix,inet6"]);
        assert_eq!(o.route, [RouteFamily::Inet, RouteFamily::NoRouting("unix")]);
        assert_eq!(
            o.route[1].error().map(|e| output(&e)),
            Some((String::new(), no_routing.to_owned(), 3))
        );
        let o = ok(&["-r"]);
        assert_eq!(
            (o.afname.as_str(), o.route.as_slice()),
            ("inet", &[RouteFamily::Inet][..])
        );
        assert!(o.inet && !o.inet6);
        let o = ok(&["-r6"]);
        assert_eq!(o.route, [RouteFamily::Inet6]);
        assert!(!o.inet && o.inet6);
        let o = ok(&[
            "-r",
            "--appletalk",
            "--ax25",
            "-A",
            "ipx,netrom,rose,x25,ip6",
        ]);
        assert_eq!(o.afname, "ddp,ax25,ipx,netrom,rose,x25,inet6");
        assert_eq!(
            o.route,
            [
                RouteFamily::Ddp,
                RouteFamily::Ax25,
                RouteFamily::Ipx,
                RouteFamily::NetRom,
                RouteFamily::Rose,
                RouteFamily::X25,
                RouteFamily::Inet6
            ]
        );
        // -2/-f do not touch the family list.
        assert_eq!(ok(&["-r", "-2"]).route, [RouteFamily::Inet]);
    }

    #[test]
    fn statistics_families() {
        let exit = fail(&["-s", "-x"]);
        assert_eq!(
            output(&exit),
            (
                "netstat: No statistics support for specified address family: unix\n".to_owned(),
                String::new(),
                1
            )
        );
        assert_eq!(fail(&["-x", "-s"]), exit);
        assert_eq!(fail(&["-s", "-A", "unix"]), exit);
        let (out, err, code) = output(&fail(&["-s", "-4", "-6"]));
        assert_eq!(
            out,
            "netstat: No statistics support for specified address family: inet,inet6\n"
        );
        assert_eq!((err.as_str(), code), ("", 1));
        let o = ok(&["-s"]);
        assert_eq!(o.afname, "inet");
        assert!(o.inet && !o.inet6);
        let o = ok(&["-s6"]);
        assert!(!o.inet && o.inet6);
        let o = ok(&["-s", "-A", "ip6"]);
        assert_eq!(o.afname, "inet6");
        assert!(ok(&["-s", "-2"]).inet);
    }

    #[test]
    fn tcpip_is_an_internal_error_and_ignored() {
        let (o, warnings) = run(&["--tcpip", "-rn"]).expect("continues");
        assert_eq!(warnings, ["netstat.c: Internal Error `longopts 1 range'."]);
        assert_eq!(o, ok(&["-rn"]));
        let (_, warnings) = run(&["--tcpi"]).expect("continues");
        assert_eq!(warnings.len(), 1);
        // -A tcpip is fine.
        assert_eq!(ok(&["-A", "tcpip"]).afname, "inet");
        // The warning is printed before a later error.
        let exit = fail(&["--tcpip", "-A", "foo"]);
        assert_eq!(
            output(&exit),
            (
                String::new(),
                "netstat.c: Internal Error `longopts 1 range'.\nUnknown address family `foo'.\n"
                    .to_owned(),
                1
            )
        );
        let exit = fail(&["--tcpip", "-s", "-x"]);
        let (out, err, _) = output(&exit);
        assert!(out.starts_with("netstat: No statistics"));
        assert_eq!(err, "netstat.c: Internal Error `longopts 1 range'.\n");
        let exit = fail(&["--tcpip", "-V"]);
        assert_eq!(exit.warnings().len(), 1);
    }

    #[test]
    fn too_many_families() {
        // afname[] holds 255 bytes: `inet,` * 51 is 254 long, a 52nd does not fit, and
        // the rest of that list is dropped.
        let list = "ip,".repeat(60);
        let (o, warnings) = run(&["-A", &list]).expect("continues");
        assert_eq!(warnings, ["Too much address family arguments."]);
        assert_eq!(o.afname, vec!["inet"; 51].join(","));
        // Later family options only warn, each time.
        let (o, warnings) = run(&["-A", &list, "-6", "-x"]).expect("continues");
        assert_eq!(warnings.len(), 3);
        assert!(!o.inet6 && !o.protocols.unix);
        // The argument is cut to 255 bytes before it is split: a cut name is unknown.
        let list = format!("{}inet6", "ddp,".repeat(63));
        assert_stderr(&["-A", &list], "Unknown address family `ine'.\n", 1);
        // ... unless afname[] is full before the cut is reached.
        let list = format!("{}bogus", "ip,".repeat(84));
        let (_, warnings) = run(&["-A", &list]).expect("continues");
        assert_eq!(warnings.len(), 1);
        // A trailing comma is an empty name.
        let list = "inet,".repeat(60);
        assert_stderr(&["-A", &list], "Unknown address family `'.\n", 1);
    }
}
