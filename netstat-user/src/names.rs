//! Names as net-tools 2.10 shows them: services and protocols (`lib/inet.c:get_sname()`), hosts
//! (`INET_rresolve()`, `INET6_rresolve()`) and users (`getpwuid()` for `-e`).
//!
//! The `/etc/services` and `/etc/protocols` parsers are pure and follow glibc's `nss_files`
//! line parsers, which is what `getservent()`/`getprotoent()` give net-tools. Host lookups go
//! through glibc (`/etc/hosts`, DNS, … as `nsswitch.conf` says) on a worker thread, so that a
//! dead DNS server costs at most [`Resolver::DEFAULT_PER_LOOKUP`] per address and
//! [`Resolver::DEFAULT_BUDGET`] in all; net-tools itself would hang for as long as glibc does.

use std::collections::HashMap;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `get_sname()` copies the name into `char buffer[64]`.
const SERVICE_NAME_MAX: usize = 63;
/// `INET_sprint()`/`INET6_sprint()` resolve into `char buff[128]`.
const HOST_NAME_MAX: usize = 127;
/// Our own `getnameinfo` buffer: far above any name net-tools could show whole.
const NI_BUF: usize = 4096;

/// Service names for tcp, udp and raw "ports", as net-tools' `read_services()` builds them.
#[derive(Debug, Default, Clone)]
pub struct Services {
    tcp: HashMap<u16, String>,
    udp: HashMap<u16, String>,
    raw: HashMap<u16, String>,
}

impl Services {
    /// Reads `<etc_root>/services` and `<etc_root>/protocols` (`etc_root` is normally `/etc`).
    /// A missing or unreadable file counts as empty, as an empty `getservent()` walk does.
    pub fn load(etc_root: &Path) -> Services {
        let read = |name: &str| {
            std::fs::read(etc_root.join(name))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        Services::parse(&read("services"), &read("protocols"))
    }

    /// Builds the lists from the two files' text.
    ///
    /// net-tools prepends every entry to its list and searches from the head, so for a
    /// duplicate port the **last** line of the file wins, and for raw the `/etc/protocols`
    /// names (added after the services) win over `raw` lines of `/etc/services`. Entries for
    /// any other protocol (sctp, ddp, dccp…) are dropped.
    pub fn parse(services: &str, protocols: &str) -> Services {
        let mut s = Services::default();
        for line in nss_lines(services) {
            if let Some((name, port, proto)) = parse_service_line(line) {
                let list = match proto {
                    "tcp" => &mut s.tcp,
                    "udp" => &mut s.udp,
                    "raw" => &mut s.raw,
                    _ => continue,
                };
                list.insert(port, cut(name, SERVICE_NAME_MAX).to_string());
            }
        }
        for line in nss_lines(protocols) {
            if let Some((name, number)) = parse_protocol_line(line) {
                s.raw
                    .insert(number, cut(name, SERVICE_NAME_MAX).to_string());
            }
        }
        s
    }

    pub fn tcp(&self, port: u16) -> Option<&str> {
        self.tcp.get(&port).map(String::as_str)
    }

    /// Also used for UDP-Lite, as net-tools does.
    pub fn udp(&self, port: u16) -> Option<&str> {
        self.udp.get(&port).map(String::as_str)
    }

    /// Raw sockets show their protocol number through this list.
    pub fn raw(&self, proto: u16) -> Option<&str> {
        self.raw.get(&proto).map(String::as_str)
    }
}

/// C `isspace()` in the C locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// The lines glibc's `__nss_readline()` hands to a parser: leading white space removed, empty
/// lines and lines starting with `#` skipped, the rest cut at `#` (`strpbrk(line, "#\n")`) and
/// at a NUL byte (the C string ends there).
fn nss_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter_map(|line| {
        let line = line.split('\0').next().unwrap_or_default();
        let line = line.trim_start_matches(is_c_space);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        Some(line.split('#').next().unwrap_or_default())
    })
}

/// glibc's `STRING_FIELD(…, isspace, 1)`: the text up to the first white space, and the rest
/// after all the white space that follows.
fn string_field(line: &str) -> (&str, &str) {
    match line.find(is_c_space) {
        Some(end) => (&line[..end], line[end..].trim_start_matches(is_c_space)),
        None => (line, ""),
    }
}

/// glibc's `INT_FIELD` number: C `strtoul(s, &end, base)` (base 10 or 0, where 0 means
/// `0x` hex, leading-0 octal or decimal) that must read a digit and must not exceed
/// `u32::MAX` (glibc 2.36 drops the line otherwise: `-1` and `4294967296` are refused,
/// `-0` is 0). Returns the value and the unparsed rest.
fn strtou32(s: &str, base: u32) -> Option<(u32, &str)> {
    let body = s.trim_start_matches(is_c_space);
    let (negative, body) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let bytes = body.as_bytes();
    let (radix, start) = if base != 0 {
        (base, 0)
    } else if bytes.first() == Some(&b'0')
        && matches!(bytes.get(1), Some(b'x' | b'X'))
        && bytes.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, 2)
    } else if bytes.first() == Some(&b'0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let digits = body[start..]
        .chars()
        .take_while(|c| c.is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for c in body[start..start + digits].chars() {
        let d = u64::from(c.to_digit(radix)?);
        // strtoul's overflow result, ULONG_MAX, is out of range whatever the sign.
        value = value.checked_mul(u64::from(radix))?.checked_add(d)?;
    }
    let value = if negative {
        value.wrapping_neg()
    } else {
        value
    };
    let value = u32::try_from(value).ok()?;
    Some((value, &body[start + digits..]))
}

/// One `/etc/services` line (`files-service.c`): `name port/proto [aliases]`.
/// Returns the port as net-tools compares it (`htons()` of the number, so cut to 16 bits).
fn parse_service_line(line: &str) -> Option<(&str, u16, &str)> {
    let (name, rest) = string_field(line);
    // `INT_FIELD (s_port, ISSLASH, 10, 0, htons)`: base 0, and every '/' after it swallowed.
    let (port, rest) = strtou32(rest, 0)?;
    let rest = if rest.starts_with('/') {
        rest.trim_start_matches('/')
    } else if rest.is_empty() {
        rest
    } else {
        return None;
    };
    let (proto, _aliases) = string_field(rest);
    Some((name, port as u16, proto))
}

/// One `/etc/protocols` line (`files-proto.c`): `name number [aliases]`.
fn parse_protocol_line(line: &str) -> Option<(&str, u16)> {
    let (name, rest) = string_field(line);
    let (number, rest) = strtou32(rest, 10)?;
    if !rest.is_empty() && !rest.starts_with(is_c_space) {
        return None;
    }
    // netstat stores `htons(pe->p_proto)`: only the low 16 bits count.
    Some((name, number as u16))
}

/// `s` cut to at most `max` bytes, backing off to a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reverse host lookups with a cache and time limits.
///
/// * IPv4: `0.0.0.0` stays `0.0.0.0`; an address whose first octet is 0 goes to
///   `getnetbyaddr()` (net-tools' host/net test really looks at the first octet only);
///   anything else is the `h_name` of `gethostbyaddr()` (here: `getnameinfo(NI_NAMEREQD)`,
///   which returns that same `h_name`), cut to 127 bytes, or the dotted quad.
/// * IPv6: the `getnameinfo()` name if it fits net-tools' 128-byte buffer, else `inet_ntop()`.
///   `::` and the v4-mapped prefix stripping (`fix_v4_address()`) are the caller's business.
/// * `-r` decides host or network itself: [`Resolver::host_only_v4`] and [`Resolver::net_v4`].
pub struct Resolver {
    cache: HashMap<Query, String>,
    worker: Option<Worker>,
    per_lookup: Duration,
    budget_left: Duration,
    lookup: LookupFn,
    /// `/etc/networks`, read once, when `nsswitch.conf` sends `networks` to files only;
    /// `Some(None)` when it does not (then glibc answers on the worker).
    networks: Option<Option<Networks>>,
}

/// The blocking lookup run on the worker thread (replaced in tests).
type LookupFn = fn(Query, &mut [u8]) -> Option<String>;

/// One lookup: net-tools' `INET_rresolve()` caches host and network answers apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Query {
    /// `gethostbyaddr()` (IPv4) or `getnameinfo()` (IPv6).
    Host(IpAddr),
    /// `getnetbyaddr()`: the `/etc/networks` name.
    Net(Ipv4Addr),
}

impl Query {
    fn addr(self) -> IpAddr {
        match self {
            Query::Host(a) => a,
            Query::Net(a) => IpAddr::V4(a),
        }
    }
}

struct Worker {
    requests: mpsc::Sender<Query>,
    replies: mpsc::Receiver<Option<String>>,
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}

impl Resolver {
    /// The longest wait for one address before showing it numerically.
    pub const DEFAULT_PER_LOOKUP: Duration = Duration::from_secs(1);
    /// The total wait over all lookups; once spent, every new address is shown numerically.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(5);

    pub fn new() -> Self {
        Self::with_limits(Self::DEFAULT_PER_LOOKUP, Self::DEFAULT_BUDGET)
    }

    pub fn with_limits(per_lookup: Duration, budget: Duration) -> Self {
        Resolver {
            cache: HashMap::new(),
            worker: None,
            per_lookup,
            budget_left: budget,
            lookup,
            networks: None,
        }
    }

    pub fn host_v4(&mut self, a: Ipv4Addr) -> String {
        if a.is_unspecified() {
            return "0.0.0.0".to_string();
        }
        if a.octets()[0] == 0 {
            self.net_v4(a)
        } else {
            self.resolve(Query::Host(IpAddr::V4(a)))
        }
    }

    pub fn host_v6(&mut self, a: Ipv6Addr) -> String {
        self.resolve(Query::Host(IpAddr::V6(a)))
    }

    /// `gethostbyaddr()` whatever the address (net-tools' `-r` gateways and host routes,
    /// `INET_rresolve()` with flag 0x4000), else the dotted quad.
    pub fn host_only_v4(&mut self, a: Ipv4Addr) -> String {
        self.resolve(Query::Host(IpAddr::V4(a)))
    }

    /// `getnetbyaddr()`: the `/etc/networks` name of a network (net-tools' `-r` network
    /// destinations), else the dotted quad.
    ///
    /// With `networks: files` in `/etc/nsswitch.conf` (Debian's default) the file is read
    /// once and answered from memory: glibc rereads it for every call, which is what
    /// makes net-tools slow on large routing tables, and those lookups would eat the time
    /// budget meant for hanging DNS servers.
    pub fn net_v4(&mut self, a: Ipv4Addr) -> String {
        let networks = self
            .networks
            .get_or_insert_with(|| Networks::load_if_files_only(Path::new("/etc")));
        match networks {
            Some(table) => table
                .name(u32::from(a))
                .map_or_else(|| a.to_string(), str::to_string),
            None => self.resolve(Query::Net(a)),
        }
    }

    fn resolve(&mut self, query: Query) -> String {
        if let Some(name) = self.cache.get(&query) {
            return name.clone();
        }
        let name = self
            .ask_worker(query)
            .unwrap_or_else(|| numeric(query.addr()));
        self.cache.insert(query, name.clone());
        name
    }

    /// Runs the lookup on the worker thread, waiting at most the per-lookup limit and what is
    /// left of the budget. A worker that overstays is abandoned (it ends when its lookup does).
    fn ask_worker(&mut self, query: Query) -> Option<String> {
        let wait = self.per_lookup.min(self.budget_left);
        if wait.is_zero() {
            return None;
        }
        if self.worker.is_none() {
            self.worker = Worker::spawn(self.lookup);
        }
        let worker = self.worker.as_ref()?;
        let start = Instant::now();
        let reply = match worker.requests.send(query) {
            Ok(()) => worker.replies.recv_timeout(wait).ok(),
            Err(_) => None,
        };
        self.budget_left = self.budget_left.saturating_sub(start.elapsed());
        match reply {
            Some(name) => name,
            None => {
                self.worker = None;
                None
            }
        }
    }
}

impl Worker {
    fn spawn(lookup: LookupFn) -> Option<Worker> {
        let (req_tx, req_rx) = mpsc::channel::<Query>();
        let (rep_tx, rep_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("netstat-resolver".to_string())
            .spawn(move || {
                let mut buf = vec![0u8; NI_BUF];
                for query in req_rx {
                    if rep_tx.send(lookup(query, &mut buf)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Worker {
            requests: req_tx,
            replies: rep_rx,
        })
    }
}

/// `/etc/networks` as glibc's `files` backend answers `getnetbyaddr(net, AF_INET)`.
#[derive(Debug, Default, Clone)]
pub struct Networks {
    by_number: HashMap<u32, String>,
}

impl Networks {
    /// The table of `<etc>/networks` if `<etc>/nsswitch.conf` has `networks: files`
    /// (nothing else); `None` otherwise (glibc must answer).
    pub fn load_if_files_only(etc: &Path) -> Option<Networks> {
        let nsswitch = std::fs::read(etc.join("nsswitch.conf")).ok()?;
        if !networks_files_only(&String::from_utf8_lossy(&nsswitch)) {
            return None;
        }
        // A missing file is an empty database, as for glibc.
        let text = std::fs::read(etc.join("networks")).unwrap_or_default();
        Some(Networks::parse(&String::from_utf8_lossy(&text)))
    }

    /// `files-network.c`: `name number [aliases]`; a number with fewer than four parts
    /// gets `.0` parts appended before `inet_network()`; the first line for a number wins.
    pub fn parse(text: &str) -> Networks {
        let mut by_number = HashMap::new();
        for line in nss_lines(text) {
            let (name, rest) = string_field(line);
            let (number, _aliases) = string_field(rest);
            let parts = number.matches('.').count() + 1;
            let mut number = number.to_string();
            for _ in parts..4 {
                number.push_str(".0");
            }
            by_number
                .entry(inet_network(&number))
                .or_insert_with(|| cut(name, HOST_NAME_MAX).to_string());
        }
        Networks { by_number }
    }

    /// The name of network `net` (host byte order), as `getnetbyaddr()` gives it.
    pub fn name(&self, net: u32) -> Option<&str> {
        self.by_number.get(&net).map(String::as_str)
    }
}

/// glibc `inet_network()`: up to four parts, each decimal, octal (leading 0) or hex
/// (`0x`) and at most 0xff, joined big-endian; `INADDR_NONE` (all ones) when malformed.
fn inet_network(text: &str) -> u32 {
    const NONE: u32 = u32::MAX;
    let b = text.as_bytes();
    let mut i = 0;
    let mut parts: Vec<u32> = Vec::with_capacity(4);
    loop {
        let (mut val, mut base, mut digit) = (0u32, 10u32, false);
        if b.get(i) == Some(&b'0') {
            (digit, base) = (true, 8);
            i += 1;
        }
        if matches!(b.get(i), Some(b'x' | b'X')) {
            (digit, base) = (false, 16);
            i += 1;
        }
        while let Some(&c) = b.get(i) {
            if c.is_ascii_digit() {
                if base == 8 && c >= b'8' {
                    return NONE;
                }
                val = val.wrapping_mul(base).wrapping_add(u32::from(c - b'0'));
            } else if base == 16 && c.is_ascii_hexdigit() {
                val = (val << 4).wrapping_add(u32::from(c.to_ascii_lowercase() - b'a' + 10));
            } else {
                break;
            }
            i += 1;
            digit = true;
        }
        if !digit || parts.len() >= 4 || val > 0xff {
            return NONE;
        }
        if b.get(i) == Some(&b'.') {
            parts.push(val);
            i += 1;
            continue;
        }
        while b.get(i).is_some_and(|&c| is_c_space(char::from(c))) {
            i += 1;
        }
        if i < b.len() {
            return NONE;
        }
        parts.push(val);
        return parts.iter().fold(0, |acc, p| (acc << 8) | (p & 0xff));
    }
}

/// Whether an `nsswitch.conf` text sends the `networks` database to `files` alone.
fn networks_files_only(nsswitch: &str) -> bool {
    // Several `networks:` lines (unusual) count only if they all agree.
    let mut lines = nsswitch
        .lines()
        .filter_map(|line| line.split('#').next())
        .filter_map(|line| line.trim().strip_prefix("networks:"))
        .peekable();
    lines.peek().is_some() && lines.all(|services| services.split_whitespace().eq(["files"]))
}

/// The blocking lookup net-tools does; `None` means "show it numerically".
fn lookup(query: Query, buf: &mut [u8]) -> Option<String> {
    let addr = match query {
        Query::Net(a) => return net_name(a, buf),
        Query::Host(addr) => addr,
    };
    match addr {
        IpAddr::V4(_) => {
            let name = name_info(addr, buf)?;
            Some(String::from_utf8_lossy(cut_bytes(name, HOST_NAME_MAX)).into_owned())
        }
        IpAddr::V6(_) => {
            let name = name_info(addr, buf)?;
            // net-tools' getnameinfo() buffer is 128 bytes: a longer name is EAI_OVERFLOW,
            // and it falls back to inet_ntop().
            (name.len() <= HOST_NAME_MAX).then(|| String::from_utf8_lossy(name).into_owned())
        }
    }
}

fn cut_bytes(b: &[u8], max: usize) -> &[u8] {
    &b[..b.len().min(max)]
}

/// `getnameinfo(…, NI_NAMEREQD)`: the host name, or `None` when there is none.
fn name_info(addr: IpAddr, buf: &mut [u8]) -> Option<&[u8]> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&raw mut ss).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&raw mut ss).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
            // net-tools' INET6_getsock() leaves the scope id at 0.
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: `ss` holds a valid address of `len` bytes; `buf` is writable for its length.
    let rc = unsafe {
        libc::getnameinfo(
            (&raw const ss).cast(),
            len as libc::socklen_t,
            buf.as_mut_ptr().cast(),
            buf.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    let name = CStr::from_bytes_until_nul(buf).ok()?.to_bytes();
    (!name.is_empty()).then_some(name)
}

/// `getnetbyaddr(ntohl(addr), AF_INET)`: the `/etc/networks` name, cut to 127 bytes.
fn net_name(a: Ipv4Addr, buf: &mut [u8]) -> Option<String> {
    // SAFETY: all-zero is a valid netent (null pointers, zero numbers).
    let mut ent: libc::netent = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::netent = std::ptr::null_mut();
    let mut h_errno: libc::c_int = 0;
    // SAFETY: every pointer is valid; glibc writes strings into `buf` within its length.
    let rc = unsafe {
        libc::getnetbyaddr_r(
            u32::from(a),
            libc::AF_INET,
            &mut ent,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
            &mut h_errno,
        )
    };
    if rc != 0 || result.is_null() || ent.n_name.is_null() {
        return None;
    }
    // SAFETY: glibc set `n_name` to a NUL-terminated string inside `buf`.
    let name = unsafe { CStr::from_ptr(ent.n_name) }.to_bytes();
    Some(String::from_utf8_lossy(cut_bytes(name, HOST_NAME_MAX)).into_owned())
}

/// `inet_ntoa()` / `inet_ntop()` text of `addr`.
fn numeric(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => ntop6(a),
    }
}

/// glibc `inet_ntop(AF_INET6)`, the numeric IPv6 text netstat prints: RFC 5952
/// compression as Rust's `Display`, except that an address whose first six groups are
/// zero and seventh non-zero prints IPv4-compatible, `::a.b.c.d` (checked against glibc
/// in the tests).
pub fn ntop6(a: Ipv6Addr) -> String {
    let s = a.segments();
    if s[..6] == [0; 6] && s[6] != 0 {
        return format!(
            "::{}.{}.{}.{}",
            s[6] >> 8,
            s[6] & 0xff,
            s[7] >> 8,
            s[7] & 0xff
        );
    }
    a.to_string()
}

/// User names for `-e`, looked up once per uid with `getpwuid_r()`.
#[derive(Debug, Default)]
pub struct Users {
    cache: HashMap<u32, Option<String>>,
}

impl Users {
    pub fn new() -> Self {
        Self::default()
    }

    /// `getpwuid(uid)->pw_name`, or `None` when there is no such user (netstat then prints
    /// the number).
    pub fn name(&mut self, uid: u32) -> Option<String> {
        self.cache
            .entry(uid)
            .or_insert_with(|| user_name(uid))
            .clone()
    }
}

fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: all-zero is a valid passwd (null pointers, zero numbers).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid; glibc writes strings into `buf` within its length.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pw.pw_name.is_null() {
            return None;
        }
        // SAFETY: glibc set `pw_name` to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(pw.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &str = "\
# Network services, Internet style
tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
echo\t\t7/tcp
echo\t\t7/udp
http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP
   indented 81/tcp
first-dup 82/tcp
last-dup 82/tcp alias1 alias2
sctponly 83/sctp
ddp-thing 84/ddp
dccp-thing 85/dccp
crlf 86/tcp\r
nothing-after 87
bad-port x88/tcp
bad-sep 89-tcp
plus +90/tcp
wrap 65636/tcp
neg -1/udp
big 99999999999/udp
max 4294967295/udp
hex 0x65/tcp
oct 0146/tcp
badoct 089/tcp
upper 91/TCP
rawsvc 1/raw
rawsvc2 200/raw
slash 92//tcp
hash#inname 93/tcp
  # indented comment
\t
";

    const PROTOCOLS: &str = "\
ip\t0\tIP\t\t# internet protocol, pseudo protocol number
icmp\t1\tICMP\t\t# internet control message protocol
udp\t17\tUDP
ipv6-icmp 58 IPv6-ICMP
first 253
second 253 # last one wins
junk 254x
wrapped 65800
";

    #[test]
    fn services_follow_glibc_and_net_tools() {
        let s = Services::parse(SERVICES, PROTOCOLS);
        assert_eq!(s.tcp(1), Some("tcpmux"));
        assert_eq!(s.tcp(7), Some("echo"));
        assert_eq!(s.udp(7), Some("echo"));
        assert_eq!(s.tcp(80), Some("http"));
        assert_eq!(s.udp(80), None);
        assert_eq!(s.tcp(81), Some("indented"));
        assert_eq!(s.tcp(82), Some("last-dup"));
        assert_eq!(s.tcp(83), None);
        assert_eq!(s.tcp(84), None);
        assert_eq!(s.tcp(85), None);
        assert_eq!(s.tcp(86), Some("crlf"));
        assert_eq!(s.tcp(87), None);
        assert_eq!(s.tcp(88), None);
        assert_eq!(s.tcp(89), None);
        assert_eq!(s.tcp(90), Some("plus"));
        assert_eq!(s.tcp(100), Some("wrap"));
        assert_eq!(s.udp(65535), Some("max"));
        assert_eq!(s.tcp(101), Some("hex"));
        assert_eq!(s.tcp(102), Some("oct"));
        assert_eq!(s.tcp(89), None);
        assert_eq!(s.tcp(91), None);
        assert_eq!(s.tcp(92), Some("slash"));
        assert_eq!(s.tcp(93), None);
        // Protocol names are added to the raw list after the services, so they win.
        assert_eq!(s.raw(1), Some("icmp"));
        assert_eq!(s.raw(200), Some("rawsvc2"));
        assert_eq!(s.raw(0), Some("ip"));
        assert_eq!(s.raw(17), Some("udp"));
        assert_eq!(s.raw(58), Some("ipv6-icmp"));
        assert_eq!(s.raw(253), Some("second"));
        assert_eq!(s.raw(254), None);
        assert_eq!(s.raw(264), Some("wrapped"));
        assert_eq!(s.tcp(17), None);
    }

    #[test]
    fn out_of_range_numbers_drop_the_line() {
        let s = Services::parse(
            "neg -1/udp\nzero -0/tcp\nwide 70000/tcp\n",
            "p -1\nq 65537\n",
        );
        assert_eq!(s.udp(65535), None);
        assert_eq!(s.tcp(0), Some("zero"));
        assert_eq!(s.tcp(4464), Some("wide"));
        assert_eq!(s.raw(65535), None);
        assert_eq!(s.raw(1), Some("q"));
    }

    #[test]
    fn long_service_names_are_cut_to_63_bytes() {
        let long = "x".repeat(70);
        let s = Services::parse(&format!("{long} 5000/tcp\n"), "");
        assert_eq!(s.tcp(5000).map(str::len), Some(63));
    }

    #[test]
    fn empty_files_give_nothing() {
        let s = Services::parse("", "");
        assert_eq!(s.tcp(80), None);
        assert_eq!(s.raw(1), None);
        let s = Services::load(Path::new("/nonexistent-etc-root"));
        assert_eq!(s.udp(53), None);
    }

    #[test]
    fn field_helpers() {
        assert_eq!(string_field("a \t b c"), ("a", "b c"));
        assert_eq!(string_field("abc"), ("abc", ""));
        assert_eq!(strtou32("42/tcp", 0), Some((42, "/tcp")));
        assert_eq!(strtou32("  7", 10), Some((7, "")));
        assert_eq!(strtou32("x", 0), None);
        assert_eq!(strtou32("-", 0), None);
        assert_eq!(strtou32("4294967295", 0), Some((u32::MAX, "")));
        assert_eq!(strtou32("4294967296", 0), None);
        assert_eq!(strtou32("-1", 10), None);
        assert_eq!(strtou32("-18446744073709551617", 10), None);
        assert_eq!(strtou32("-0", 10), Some((0, "")));
        assert_eq!(strtou32("0x51/", 0), Some((81, "/")));
        assert_eq!(strtou32("0x51", 10), Some((0, "x51")));
        assert_eq!(strtou32("0x/", 0), Some((0, "x/")));
        assert_eq!(strtou32("0122", 0), Some((82, "")));
        assert_eq!(strtou32("089", 0), Some((0, "89")));
        assert_eq!(strtou32("089", 10), Some((89, "")));
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(
            nss_lines("a\n#b\n  c # d\n\n").collect::<Vec<_>>(),
            vec!["a", "c "]
        );
    }

    #[test]
    fn numeric_forms_match_inet_ntop() {
        assert_eq!(numeric("::1".parse().expect("addr")), "::1");
        assert_eq!(
            numeric("::ffff:127.0.0.1".parse().expect("addr")),
            "::ffff:127.0.0.1"
        );
        assert_eq!(numeric("::1.2.3.4".parse().expect("addr")), "::1.2.3.4");
        assert_eq!(numeric("2001:db8::1".parse().expect("addr")), "2001:db8::1");
        assert_eq!(numeric("::".parse().expect("addr")), "::");
        assert_eq!(
            numeric("fe80::1:0:0:0".parse().expect("addr")),
            "fe80::1:0:0:0"
        );
        assert_eq!(numeric("10.0.0.1".parse().expect("addr")), "10.0.0.1");
    }

    unsafe extern "C" {
        // Not declared by the libc crate.
        fn inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    #[test]
    fn ntop6_agrees_with_glibc() {
        let mut addrs: Vec<Ipv6Addr> = [
            "::",
            "::1",
            "::2",
            "::1.2.3.4",
            "::ffff:1.2.3.4",
            "::ffff:0:1.2.3.4",
            "1::",
            "1::1",
            "fe80::1:0:0:0",
            "2001:db8:0:1:0:0:0:1",
            "2001:db8::1:0:0:1",
            "0:0:1::",
            "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
            "::0.0.1.0",
            "64:ff9b::1.2.3.4",
        ]
        .iter()
        .map(|s| s.parse().expect("addr"))
        .collect();
        // Every zero/non-zero pattern of the eight groups.
        for mask in 0u16..256 {
            let seg: Vec<u16> = (0..8)
                .map(|i| if mask & (1 << i) != 0 { 0x1234 } else { 0 })
                .collect();
            addrs.push(Ipv6Addr::new(
                seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
            ));
        }
        for a in addrs {
            let octets = a.octets();
            let mut buf = [0u8; 64];
            // SAFETY: a 16-byte in6_addr and a buffer larger than INET6_ADDRSTRLEN.
            let p = unsafe {
                inet_ntop(
                    libc::AF_INET6,
                    octets.as_ptr().cast(),
                    buf.as_mut_ptr().cast(),
                    buf.len() as libc::socklen_t,
                )
            };
            assert!(!p.is_null());
            let glibc = CStr::from_bytes_until_nul(&buf)
                .expect("nul")
                .to_str()
                .expect("ascii");
            assert_eq!(ntop6(a), glibc, "{a:?}");
        }
    }

    #[test]
    fn unspecified_v4_is_never_resolved() {
        let mut r = Resolver::with_limits(Duration::ZERO, Duration::ZERO);
        assert_eq!(r.host_v4(Ipv4Addr::UNSPECIFIED), "0.0.0.0");
        // With no time to wait, everything is numeric.
        assert_eq!(r.host_v4(Ipv4Addr::new(192, 0, 2, 9)), "192.0.2.9");
        assert_eq!(
            r.host_v6("2001:db8::9".parse().expect("addr")),
            "2001:db8::9"
        );
    }

    #[test]
    fn resolver_caches_and_spends_its_budget() {
        let mut r = Resolver::with_limits(Duration::from_secs(2), Duration::from_secs(4));
        let a = Ipv4Addr::new(127, 0, 0, 1);
        let first = r.host_v4(a);
        assert_eq!(r.host_v4(a), first);
        assert!(r.budget_left <= Duration::from_secs(4));
    }

    #[test]
    fn a_hanging_lookup_costs_at_most_the_limits() {
        fn slow(query: Query, _: &mut [u8]) -> Option<String> {
            if query == Query::Host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))) {
                Some("fast.example".to_string())
            } else {
                std::thread::sleep(Duration::from_secs(30));
                Some("too-late.example".to_string())
            }
        }
        let mut r = Resolver::with_limits(Duration::from_millis(100), Duration::from_millis(250));
        r.lookup = slow;
        let start = Instant::now();
        assert_eq!(r.host_v4(Ipv4Addr::new(192, 0, 2, 1)), "fast.example");
        assert_eq!(r.host_v4(Ipv4Addr::new(192, 0, 2, 2)), "192.0.2.2");
        // A new worker replaces the stuck one.
        assert_eq!(r.host_v4(Ipv4Addr::new(192, 0, 2, 1)), "fast.example");
        assert_eq!(
            r.host_v6("2001:db8::3".parse().expect("addr")),
            "2001:db8::3"
        );
        assert_eq!(r.host_v4(Ipv4Addr::new(192, 0, 2, 4)), "192.0.2.4");
        // Budget spent: no more waiting at all, even for an address that would be fast.
        assert_eq!(r.host_v4(Ipv4Addr::new(192, 0, 2, 5)), "192.0.2.5");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(r.budget_left, Duration::ZERO);
    }

    #[test]
    fn networks_follow_glibc_files() {
        let n = Networks::parse(
            "# comment\n\
default 0.0.0.0\n\
loopback 127\n\
testnet 192.0.2 alias # trailing\n\
dup 192.0.2.0\n\
  indented\t10.1\n\
octal 012.0.0.0\n\
hex 0x0b.1\n\
bad 1.2.3.4.5\n\
noaddr\n",
        );
        assert_eq!(n.name(0), Some("default"));
        assert_eq!(n.name(0x7f00_0000), Some("loopback"));
        assert_eq!(n.name(0xc000_0200), Some("testnet"));
        assert_eq!(n.name(0x0a01_0000), Some("indented"));
        assert_eq!(n.name(0x0a00_0000), Some("octal"));
        assert_eq!(n.name(0x0b01_0000), Some("hex"));
        // Malformed numbers become INADDR_NONE; the first of them wins.
        assert_eq!(n.name(u32::MAX), Some("bad"));
        assert_eq!(n.name(0x0102_0300), None);
    }

    #[test]
    fn inet_network_cases() {
        assert_eq!(inet_network("10.0.0.0"), 0x0a00_0000);
        assert_eq!(inet_network("0x7f.1.0.0"), 0x7f01_0000);
        assert_eq!(inet_network("010.0.0.0"), 0x0800_0000);
        assert_eq!(inet_network("08.0.0.0"), u32::MAX);
        assert_eq!(inet_network("256.0.0.0"), u32::MAX);
        assert_eq!(inet_network("1.2.3.4 "), 0x0102_0304);
        assert_eq!(inet_network("1.2.3.4x"), u32::MAX);
        assert_eq!(inet_network("1..0.0"), u32::MAX);
        assert_eq!(inet_network("0x.0.0.0"), u32::MAX);
        assert_eq!(inet_network("0.0.0.0"), 0);
    }

    #[test]
    fn nsswitch_networks_line() {
        assert!(networks_files_only(
            "hosts: files dns\nnetworks:       files\n"
        ));
        assert!(!networks_files_only("networks: files dns\n"));
        assert!(!networks_files_only("networks: files [NOTFOUND=return]\n"));
        assert!(!networks_files_only("hosts: files\n"));
        assert!(!networks_files_only("#networks: files\n"));
        assert!(networks_files_only("networks: files # local only\n"));
    }

    /// The table agrees with glibc's own getnetbyaddr() on this machine's files.
    #[test]
    fn networks_table_agrees_with_glibc() {
        let Some(table) = Networks::load_if_files_only(Path::new("/etc")) else {
            return;
        };
        let mut buf = vec![0u8; NI_BUF];
        for net in table.by_number.keys() {
            let a = Ipv4Addr::from(*net);
            assert_eq!(
                table.name(*net).map(str::to_string),
                net_name(a, &mut buf),
                "{a}"
            );
        }
    }

    #[test]
    fn root_is_uid_zero() {
        let mut u = Users::new();
        assert_eq!(u.name(0).as_deref(), Some("root"));
        assert_eq!(u.name(0).as_deref(), Some("root"));
        assert_eq!(u.name(4_000_000_000), None);
    }
}
