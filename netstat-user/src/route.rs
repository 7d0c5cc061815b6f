//! `-r`: the routing tables, as net-tools 2.10 prints them (`lib/getroute.c:route_info()`,
//! `lib/inet_gr.c`, `lib/inet6_gr.c`; reference §6).
//!
//! Source: the /proc files net-tools itself reads (`/proc/net/route`, `rt_cache`,
//! `ipv6_route`), under [`RunEnv::root`] so that `PROC_ROOT` points the run at a recorded
//! tree. rtnetlink was the other candidate and was not taken, because it cannot give the
//! same table:
//! * `/proc/net/ipv6_route` prints each route's reference count (the `Ref` column);
//!   no rtnetlink attribute carries it.
//! * `/proc/net/route` shows the main table only, with flags, the first next hop, `*` for
//!   routes without a device and `advmss + 40` as MTU; `ipv6_route` shows every table with
//!   the kernel's internal `fib6_flags` (`n` = RTF_NONEXTHOP, `e` = RTF_EXPIRES...). Over
//!   netlink all of it would have to be rebuilt from `rtm_type`/`rtm_flags`/metrics, and
//!   a mismatch would show as a wrong byte.
//! * Speed: the kernel's text generation dominates either way, and parsing it is cheap
//!   (`cargo xtask bench --only routes`: 100k routes, ours at about 0.6x net-tools' time).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::perror::strerror;
use crate::{
    cli::{Options, RouteFamily},
    model::route::CacheFormat,
    names::Resolver,
    render::json::{self, Stamp},
    system::RunEnv,
};

pub mod inet;
pub mod inet6;
mod legacy;
mod scan;

use scan::Fgets;

/// net-tools' `E_NOTFOUND`: the family list named nothing to print.
const E_NOTFOUND: i32 = 8;

/// What the printers need from the options (net-tools' `options` word for `-r`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteView {
    /// `flag_exp & FLAG_EXT` after `main()` swapped 1 and 2: no `-e` is 2 (MSS Window
    /// irtt), `-e` is 1 (Metric Ref Use), `-ee` is 3 (both), `-eee` is 0 (no rows).
    pub ext: u8,
    /// `-n`, `--numeric-hosts` or `-N` (`options & (FLAG_NUM_HOST | FLAG_SYM)`).
    pub numeric: bool,
    /// Print the FIB: `-F`, or neither `-C` nor `-F`.
    pub fib: bool,
    /// Print the cache: `-C`.
    pub cache: bool,
    /// `--json`: `route` records with this listing's stamp instead of the tables.
    pub json: Option<Stamp>,
}

impl RouteView {
    pub fn from_options(o: &Options) -> RouteView {
        // net-tools' flag_exp is the count of -e plus one.
        let flag_exp = u32::from(o.extend) + 1;
        let swapped = match flag_exp {
            1 => 2,
            2 => 1,
            n => n,
        };
        RouteView {
            ext: (swapped & 3) as u8,
            numeric: o.numeric_hosts || o.symbolic,
            fib: o.fib || !o.cache,
            cache: o.cache,
            json: None,
        }
    }
}

/// The name lookups of the route printers (a seam for tests).
pub trait RouteNames {
    /// `gethostbyaddr()`'s name, else the dotted quad.
    fn host_v4(&mut self, a: Ipv4Addr) -> String;
    /// `getnetbyaddr()`'s name (`/etc/networks`), else the dotted quad.
    fn net_v4(&mut self, a: Ipv4Addr) -> String;
    /// `INET_sprint()`: a host lookup, or a network lookup when the first octet is 0.
    fn sock_v4(&mut self, a: Ipv4Addr) -> String;
    /// `getnameinfo()`'s name, else `inet_ntop()`.
    fn host_v6(&mut self, a: Ipv6Addr) -> String;
}

impl RouteNames for Resolver {
    fn host_v4(&mut self, a: Ipv4Addr) -> String {
        self.host_only_v4(a)
    }
    fn net_v4(&mut self, a: Ipv4Addr) -> String {
        Resolver::net_v4(self, a)
    }
    fn sock_v4(&mut self, a: Ipv4Addr) -> String {
        Resolver::host_v4(self, a)
    }
    fn host_v6(&mut self, a: Ipv6Addr) -> String {
        Resolver::host_v6(self, a)
    }
}

/// One round of `netstat -r` (app.rs repeats it for `-c`): every family of the list in
/// order; the first failure ends the round with its exit code.
/// `names` lives for the whole run, as net-tools' lookup cache does: later `-c` rounds
/// reuse what the first one learnt, and share one time budget.
pub fn run_once(
    o: &Options,
    env: &RunEnv,
    names: &mut Resolver,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut view = RouteView::from_options(o);
    if o.json {
        view.json = Some(Stamp::listing(&env.proc_root()));
    }
    let proc_net = env.root.join("proc/net");
    print_families(&o.route, &view, &proc_net, names, out, err)
}

/// `route_info()`: the tables of `families`, in order.
pub fn print_families(
    families: &[RouteFamily],
    view: &RouteView,
    proc_net: &Path,
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut found = E_NOTFOUND;
    for &family in families {
        if let Some(exit) = family.error() {
            out.flush()?;
            exit.write(out, err)?;
            return Ok(exit.exit_code());
        }
        found = 0;
        let rc = match family {
            RouteFamily::Inet => rprint_inet(view, proc_net, names, out, err)?,
            RouteFamily::Inet6 => rprint_inet6(view, proc_net, names, out, err)?,
            // --json has no record for these tables: their text goes to stderr.
            _ if view.json.is_some() => {
                let mut text = Vec::new();
                let rc = legacy::rprint(family, proc_net, &mut text, err)?;
                err.write_all(&text)?;
                rc
            }
            _ => legacy::rprint(family, proc_net, out, err)?,
        };
        if rc != 0 {
            return Ok(rc);
        }
    }
    Ok(found)
}

/// A whole /proc file. Only a failing open is an error: a read that fails midway ends
/// the text there, as `fgets()` returning NULL ends net-tools' loop.
pub fn read_proc(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut text = Vec::with_capacity(64 * 1024);
    let _ = file.read_to_end(&mut text);
    Ok(text)
}

/// `%-Ns`: the bytes, then spaces up to `width`.
pub fn pad(line: &mut Vec<u8>, text: &[u8], width: usize) {
    line.extend_from_slice(text);
    line.resize(line.len() + width.saturating_sub(text.len()), b' ');
}

/// `%Ns`: spaces up to `width`, then the bytes.
pub fn pad_left(line: &mut Vec<u8>, text: &[u8], width: usize) {
    line.resize(line.len() + width.saturating_sub(text.len()), b' ');
    line.extend_from_slice(text);
}

/// `%d`, `%Nd` (`left` false) or `%-Nd` (`left` true) for an `int`, without `fmt`.
pub fn push_int(line: &mut Vec<u8>, n: i32, width: usize, left: bool) {
    let mut buf = [0u8; 11];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    if left {
        pad(line, &buf[i..], width);
    } else {
        pad_left(line, &buf[i..], width);
    }
}

/// The dotted quad of `a` (`inet_ntoa()`), padded with spaces to `width`.
pub fn push_v4(line: &mut Vec<u8>, a: Ipv4Addr, width: usize) {
    let start = line.len();
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            line.push(b'.');
        }
        if octet >= 100 {
            line.push(b'0' + octet / 100);
        }
        if octet >= 10 {
            line.push(b'0' + octet / 10 % 10);
        }
        line.push(b'0' + octet % 10);
    }
    let len = line.len() - start;
    line.resize(start + width.max(len), b' ');
}

/// Rows are rendered into one line buffer and handed to `out` in blocks of this size.
const FLUSH_AT: usize = 32 * 1024;

fn perror(out: &mut dyn Write, err: &mut dyn Write, path: &Path, e: &io::Error) -> io::Result<()> {
    out.flush()?;
    writeln!(err, "{}: {}", path.display(), strerror(e))
}

/// A message net-tools prints on stdout; with `--json` stdout has records only, so it goes
/// to stderr.
fn message(
    view: &RouteView,
    out: &mut dyn Write,
    err: &mut dyn Write,
    text: &[u8],
) -> io::Result<()> {
    if view.json.is_some() {
        err.write_all(text)
    } else {
        out.write_all(text)
    }
}

/// `INET_rprint()`: the FIB, then the cache; the first failure ends it.
fn rprint_inet(
    view: &RouteView,
    proc_net: &Path,
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    if view.fib {
        let rc = rprint_fib(view, &proc_net.join("route"), names, out, err)?;
        if rc != 0 {
            return Ok(rc);
        }
    }
    if view.cache {
        return rprint_cache(view, &proc_net.join("rt_cache"), names, out, err);
    }
    Ok(0)
}

/// `rprint_fib()` over `/proc/net/route`.
fn rprint_fib(
    view: &RouteView,
    path: &Path,
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let text = match read_proc(path) {
        Ok(text) => text,
        Err(e) => {
            perror(out, err, path, &e)?;
            message(
                view,
                out,
                err,
                b"INET (IPv4) not configured in this system.\n",
            )?;
            return Ok(1);
        }
    };
    if view.json.is_none() {
        inet::write_fib_header(out, view.ext)?;
    }
    let (header, mut lines) = inet::header_and_lines(&text);
    let Some(header) = header else {
        // proc_gen_fmt() found no header line: rprint_fib() gives up silently.
        return Ok(1);
    };
    let mut parser = match inet::FibParser::new(header) {
        Ok(p) => p,
        Err(scan::MissingField(title)) => {
            out.flush()?;
            writeln!(
                err,
                "warning: {} does not contain required field {title}",
                path.display()
            )?;
            return Ok(1);
        }
    };
    let mut line = Vec::with_capacity(FLUSH_AT + 512);
    while let Some(text) = lines.next_piece(inet::LINE_SIZE) {
        if let Some(row) = parser.row(text) {
            if let Some(stamp) = &view.json {
                json::route::write_fib(&mut line, stamp, &row)?;
            } else {
                inet::write_fib_row(&mut line, &row, view, names)?;
            }
            if line.len() >= FLUSH_AT {
                out.write_all(&line)?;
                line.clear();
            }
        }
    }
    out.write_all(&line)?;
    Ok(0)
}

/// `rprint_cache()` over `/proc/net/rt_cache` (only its header since Linux 3.6).
fn rprint_cache(
    view: &RouteView,
    path: &Path,
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let text = match read_proc(path) {
        Ok(text) => text,
        Err(e) => {
            perror(out, err, path, &e)?;
            message(
                view,
                out,
                err,
                b"INET (IPv4) not configured in this system.\n",
            )?;
            return Ok(1);
        }
    };
    let (header, mut lines) = inet::header_and_lines(&text);
    if view.json.is_none() {
        out.write_all(b"Kernel IP routing cache\n")?;
    }
    let Some(header) = header else {
        // proc_guess_fmt() read nothing: perror() and exit(-1). errno is left over from
        // glibc's start-up then: captured, ENOENT whatever the options and locale.
        out.flush()?;
        writeln!(err, "{}: No such file or directory", path.display())?;
        return Ok(255);
    };
    let guess = scan::proc_guess_fmt(header, &inet::CACHE_KEYS);
    let format = CacheFormat::from_guess(guess);
    if format.is_none() {
        let text = format!(
            "ERROR: proc_guess_fmt({},... returned: {guess}\n",
            path.display()
        );
        message(view, out, err, text.as_bytes())?;
    }
    if view.json.is_none() {
        inet::write_cache_header(out, view.ext, format)?;
    }
    let Some(format) = format else {
        // net-tools goes on to print rows from uninitialised buffers; nothing sensible
        // can be copied from that.
        return Ok(0);
    };
    let mut parser = match inet::CacheParser::new(format, header) {
        Ok(p) => p,
        Err(scan::MissingField(title)) => {
            // Unlike rprint_fib(), rprint_cache() does not stop here: it goes on to
            // sscanf() every data line with a NULL format (a crash when there is one)
            // and returns 0.
            out.flush()?;
            writeln!(
                err,
                "warning: {} does not contain required field {title}",
                path.display()
            )?;
            return Ok(0);
        }
    };
    let mut line = Vec::with_capacity(FLUSH_AT + 512);
    while let Some(text) = lines.next_piece(inet::LINE_SIZE) {
        if let Some(row) = parser.row(text) {
            if let Some(stamp) = &view.json {
                json::route::write_cache(&mut line, stamp, &row, format)?;
            } else {
                inet::write_cache_row(&mut line, &row, format, view, names)?;
            }
            if line.len() >= FLUSH_AT {
                out.write_all(&line)?;
                line.clear();
            }
        }
    }
    out.write_all(&line)?;
    Ok(0)
}

/// `INET6_rprint()`: the table, then (`-C`) the neighbour cache or the cached routes.
fn rprint_inet6(
    view: &RouteView,
    proc_net: &Path,
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let table = proc_net.join("ipv6_route");
    if view.fib {
        let rc = rprint_fib6(view, &table, false, names, out, err)?;
        if rc != 0 {
            return Ok(rc);
        }
    }
    if view.cache {
        let ndisc: PathBuf = proc_net.join("ndisc");
        return match read_proc(&ndisc) {
            // --json: no record for Linux 2.2's neighbour cache.
            Ok(_) if view.json.is_some() => {
                writeln!(
                    err,
                    "netstat: --json: {} is not listed (Linux 2.2's neighbour cache)",
                    ndisc.display()
                )?;
                Ok(0)
            }
            Ok(text) => rprint_ndisc(view, &text, names, out),
            Err(_) => rprint_fib6(view, &table, true, names, out, err),
        };
    }
    Ok(0)
}

/// `rprint_fib6()` over `/proc/net/ipv6_route`: the routes, or with `cache` only the
/// `RTF_CACHE` ones.
fn rprint_fib6(
    view: &RouteView,
    path: &Path,
    cache: bool,
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let text = match read_proc(path) {
        Ok(text) => text,
        Err(e) => {
            perror(out, err, path, &e)?;
            message(
                view,
                out,
                err,
                b"INET6 (IPv6) not configured in this system.\n",
            )?;
            return Ok(1);
        }
    };
    if view.json.is_none() {
        inet6::write_fib6_header(out, cache)?;
    }
    let mut parser = inet6::Fib6Parser::default();
    let mut lines = Fgets::new(&text);
    let mut line = Vec::with_capacity(FLUSH_AT + 512);
    while let Some(text) = lines.next_piece(inet6::LINE_SIZE) {
        let row = parser.row(text);
        if inet6::fib6_shown(&row, cache) {
            if let Some(stamp) = &view.json {
                json::route::write_fib6(&mut line, stamp, &row)?;
            } else {
                inet6::write_fib6_row(&mut line, &row, view, names)?;
            }
            if line.len() >= FLUSH_AT {
                out.write_all(&line)?;
                line.clear();
            }
        }
    }
    out.write_all(&line)?;
    Ok(0)
}

/// `rprint_cache6()` when `/proc/net/ndisc` exists (Linux 2.1 and 2.2).
fn rprint_ndisc(
    view: &RouteView,
    text: &[u8],
    names: &mut dyn RouteNames,
    out: &mut dyn Write,
) -> io::Result<i32> {
    inet6::write_ndisc_header(out, view.ext)?;
    // SAFETY: sysconf() has no preconditions.
    let clk_tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    #[allow(clippy::useless_conversion)] // c_long is i64 on 64-bit targets only
    let clk_tck = i64::from(clk_tck);
    let mut parser = inet6::NdiscParser::default();
    let mut lines = Fgets::new(text);
    let mut line = Vec::new();
    while let Some(text) = lines.next_piece(inet6::LINE_SIZE) {
        parser.write_row(&mut line, text, view, clk_tck, names)?;
    }
    out.write_all(&line)?;
    Ok(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Names that show which lookup was asked for.
    #[derive(Default)]
    pub struct FakeNames;

    impl RouteNames for FakeNames {
        fn host_v4(&mut self, a: Ipv4Addr) -> String {
            format!("host.{a}")
        }
        fn net_v4(&mut self, a: Ipv4Addr) -> String {
            format!("net.{a}")
        }
        fn sock_v4(&mut self, a: Ipv4Addr) -> String {
            format!("sock.{a}")
        }
        fn host_v6(&mut self, a: Ipv6Addr) -> String {
            format!("host.{}", crate::names::ntop6(a))
        }
    }

    pub fn view(ext: u8, numeric: bool) -> RouteView {
        RouteView {
            ext,
            numeric,
            fib: true,
            cache: false,
            json: None,
        }
    }

    fn opts(args: &[&str]) -> Options {
        let argv = std::iter::once("netstat").chain(args.iter().copied());
        crate::cli::parse_with(argv, &crate::cli::Env::default())
            .expect("valid options")
            .0
    }

    #[test]
    fn ext_levels_are_swapped_and_masked() {
        let ext = |args: &[&str]| RouteView::from_options(&opts(args)).ext;
        assert_eq!(ext(&["-r"]), 2);
        assert_eq!(ext(&["-re"]), 1);
        assert_eq!(ext(&["-ree"]), 3);
        assert_eq!(ext(&["-reee"]), 0);
        assert_eq!(ext(&["-reeee"]), 1);
    }

    #[test]
    fn numeric_and_table_choice() {
        let v = |args: &[&str]| RouteView::from_options(&opts(args));
        assert!(v(&["-rn"]).numeric);
        assert!(v(&["-rN"]).numeric);
        assert!(v(&["-r", "--numeric-hosts"]).numeric);
        assert!(!v(&["-r", "--numeric-ports"]).numeric);
        assert!(!v(&["-r"]).numeric);
        assert_eq!((v(&["-r"]).fib, v(&["-r"]).cache), (true, false));
        assert_eq!((v(&["-rC"]).fib, v(&["-rC"]).cache), (false, true));
        assert_eq!((v(&["-rF"]).fib, v(&["-rF"]).cache), (true, false));
        assert_eq!((v(&["-rCF"]).fib, v(&["-rCF"]).cache), (true, true));
    }

    /// A recorded /proc tree in a temporary directory.
    struct Tree(PathBuf);

    impl Tree {
        fn new(files: &[(&str, &[u8])]) -> Tree {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("netstat-route-test-{}-{n}", std::process::id()));
            let net = dir.join("proc/net");
            std::fs::create_dir_all(&net).expect("mkdir");
            for (name, text) in files {
                std::fs::write(net.join(name), text).expect("write");
            }
            Tree(dir)
        }
        fn proc_net(&self) -> PathBuf {
            self.0.join("proc/net")
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn run(tree: &Tree, args: &[&str]) -> (String, String, i32) {
        let o = opts(args);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = print_families(
            &o.route,
            &RouteView::from_options(&o),
            &tree.proc_net(),
            &mut FakeNames,
            &mut out,
            &mut err,
        )
        .expect("vec");
        (
            String::from_utf8(out).expect("utf8"),
            String::from_utf8(err).expect("utf8"),
            rc,
        )
    }

    const ROUTE: &[u8] = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT      \n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0   \n";
    const ROUTE6: &[u8] = b"00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo\n";
    const RT_CACHE: &[u8] = b"Iface\tDestination\tGateway \tFlags\t\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst        \n";

    #[test]
    fn families_in_order_then_the_error() {
        let tree = Tree::new(&[("route", ROUTE), ("ipv6_route", ROUTE6)]);
        let (out, err, rc) = run(&tree, &["-rn", "-A", "inet6,inet,unix"]);
        assert_eq!(
            out,
            "Kernel IPv6 routing table\n\
Destination                    Next Hop                   Flag Met Ref  Use If\n\
::1/128                        ::                         Un   0   3      0 lo\n\
Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n\
0.0.0.0         192.0.2.1       0.0.0.0         UG        0 0          0 eth0\n"
        );
        assert_eq!(err, "No routing for address family `unix'.\n");
        assert_eq!(rc, 3);
    }

    #[test]
    fn cache_and_fib() {
        let tree = Tree::new(&[
            ("route", ROUTE),
            ("rt_cache", RT_CACHE),
            ("ipv6_route", ROUTE6),
        ]);
        let (out, _, rc) = run(&tree, &["-rnCF"]);
        assert_eq!(rc, 0);
        assert!(out.ends_with(
            "eth0\nKernel IP routing cache\n\
Source          Destination     Gateway         Flags   MSS Window  irtt Iface\n"
        ));
        let (out, _, _) = run(&tree, &["-rnCee"]);
        assert_eq!(
            out,
            "Kernel IP routing cache\n\
Source          Destination     Gateway         Flags Metric Ref    Use Iface    MSS   Window irtt  TOS HHRef HHUptod     SpecDst\n"
        );
        let (out, _, _) = run(&tree, &["-rn6C"]);
        assert_eq!(
            out,
            "Kernel IPv6 routing cache\n\
Destination                    Next Hop                   Flag Met Ref  Use If\n"
        );
    }

    #[test]
    fn unreadable_and_broken_files() {
        let tree = Tree::new(&[]);
        let (out, err, rc) = run(&tree, &["-r", "-A", "inet,inet6"]);
        assert_eq!(out, "INET (IPv4) not configured in this system.\n");
        assert!(
            err.ends_with("/proc/net/route: No such file or directory\n"),
            "{err}"
        );
        assert_eq!(rc, 1);
        let (out, _, rc) = run(&tree, &["-r6"]);
        assert_eq!(out, "INET6 (IPv6) not configured in this system.\n");
        assert_eq!(rc, 1);
        let tree = Tree::new(&[("route", b"Iface Destination Gateway\n")]);
        let (out, err, rc) = run(&tree, &["-r"]);
        assert!(out.starts_with("Kernel IP routing table\nDestination "));
        assert!(err.ends_with("/proc/net/route does not contain required field Flags\n"));
        assert_eq!(rc, 1);
        let tree = Tree::new(&[("route", b""), ("rt_cache", b"")]);
        let (_, err, rc) = run(&tree, &["-r"]);
        assert_eq!((err.as_str(), rc), ("", 1));
        let (out, err, rc) = run(&tree, &["-rC"]);
        assert_eq!(out, "Kernel IP routing cache\n");
        assert!(err.ends_with("/proc/net/rt_cache: No such file or directory\n"));
        assert_eq!(rc, 255);
        let tree = Tree::new(&[("rt_cache", b"Iface Foo\n")]);
        let (out, _, rc) = run(&tree, &["-rC"]);
        assert!(out.contains("ERROR: proc_guess_fmt("), "{out}");
        assert!(out.ends_with("/proc/net/rt_cache,... returned: 0\nSource          Destination     Gateway         Flags   MSS Window  irtt Iface\n"));
        assert_eq!(rc, 0);
    }

    #[test]
    fn number_and_address_text() {
        let mut line = Vec::new();
        push_int(&mut line, -1, 3, true);
        push_int(&mut line, i32::MIN, 0, false);
        push_int(&mut line, 42, 6, false);
        push_int(&mut line, 0, 1, true);
        assert_eq!(line, b"-1 -2147483648    420");
        for (a, w) in [("0.0.0.0", 15), ("255.255.255.255", 15), ("10.100.9.0", 3)] {
            let mut line = Vec::new();
            push_v4(&mut line, a.parse().expect("addr"), w);
            assert_eq!(line, format!("{a:<w$}").as_bytes());
        }
    }
}
