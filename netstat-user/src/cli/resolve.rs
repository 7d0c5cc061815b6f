//! net-tools' flags as the option loop sets them, and `main()`'s resolution of them
//! into [`Options`].

use std::time::Duration;

use super::families::{AFNAME_SIZE, AFTRANS, AFTRANS_CNT, AfFlag, DEFAULT_AF, route_family};
use super::getopt::Found;
use super::live::{metrics_option, stream_option};
use super::table::Key;
use super::{
    CliExit, Env, MetricsAddr, Mode, Options, Protocols, RouteFamily, StreamFilter,
    exit::with_warnings,
};

/// net-tools' `flag_not` bits.
const FLAG_NUM_HOST: u8 = 4;
const FLAG_NUM_PORT: u8 = 8;
const FLAG_NUM_USER: u8 = 16;
const FLAG_NUM: u8 = FLAG_NUM_HOST | FLAG_NUM_PORT | FLAG_NUM_USER;
const FLAG_SYM: u8 = 32;

/// net-tools' global counters, as the option loop leaves them.
#[derive(Default)]
pub(super) struct Flags {
    pub(super) warnings: Vec<String>,
    afname: String,
    /// The names in `afname`, in order.
    afnames: Vec<&'static str>,
    inet: u32,
    inet6: u32,
    unx: u32,
    ipx: u32,
    ax25: u32,
    netrom: u32,
    rose: u32,
    x25: u32,
    bluetooth: u32,
    /// ddp, ec and ash: no socket lister reads them.
    unrouted: u32,
    tcp: u32,
    sctp: u32,
    udp: u32,
    udplite: u32,
    raw: u32,
    l2cap: u32,
    rfcomm: u32,
    igmp: u32,
    int: u32,
    rou: u32,
    mas: u32,
    sta: u32,
    all: bool,
    lst: bool,
    cnt: bool,
    prg: bool,
    opt: bool,
    wide: bool,
    selinux: bool,
    /// `flag_exp - 1`, see [`Options::extend`].
    exp: u8,
    ver: u8,
    not: u8,
    cache: bool,
    fib: bool,
    agent: bool,
    watch: bool,
    audit: bool,
    json: bool,
    stream: StreamFilter,
    metrics: Vec<MetricsAddr>,
    metrics_owners: bool,
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

impl Flags {
    /// net-tools' `switch (i)` for one option.
    pub(super) fn apply(&mut self, found: Found, env: &Env) -> Result<(), CliExit> {
        let Found { key, arg, longind } = found;
        match key {
            Key::Af(alias) => {
                if longind.is_some_and(|i| i >= AFTRANS_CNT) {
                    self.warnings
                        .push("netstat.c: Internal Error `longopts 1 range'.".to_owned());
                    return Ok(());
                }
                self.aftrans_opt(alias.as_bytes())?;
            }
            Key::Protocol => self.aftrans_opt(arg.as_deref().unwrap_or_default())?,
            Key::Unix => self.aftrans_opt(b"unix")?,
            Key::Version => {
                return Err(CliExit::Version {
                    warnings: std::mem::take(&mut self.warnings),
                });
            }
            Key::Help => {
                return Err(CliExit::Help {
                    warnings: std::mem::take(&mut self.warnings),
                });
            }
            Key::UsageError => {
                return Err(CliExit::Usage {
                    warnings: std::mem::take(&mut self.warnings),
                    message: None,
                });
            }
            Key::Context => {
                if !env.selinux_enabled {
                    return Err(CliExit::SelinuxDisabled {
                        warnings: std::mem::take(&mut self.warnings),
                    });
                }
                self.prg = true;
                self.selinux = true;
            }
            Key::Masquerade => bump(&mut self.mas),
            Key::All => self.all = true,
            Key::Listening => self.lst = true,
            Key::Continuous => self.cnt = true,
            Key::Debug => {}
            Key::Groups => bump(&mut self.igmp),
            Key::Extend => {
                self.exp = if self.exp == u8::MAX {
                    252
                } else {
                    self.exp + 1
                }
            }
            Key::Programs => self.prg = true,
            Key::Interfaces => bump(&mut self.int),
            Key::Wide => self.wide = true,
            Key::Numeric => self.not |= FLAG_NUM,
            Key::NumericHosts => self.not |= FLAG_NUM_HOST,
            Key::NumericPorts => self.not |= FLAG_NUM_PORT,
            Key::NumericUsers => self.not |= FLAG_NUM_USER,
            Key::Symbolic => self.not |= FLAG_SYM,
            Key::Cache => self.cache = true,
            Key::Fib => self.fib = true,
            Key::Timers => self.opt = true,
            Key::Verbose => self.ver = self.ver.saturating_add(1),
            Key::Route => bump(&mut self.rou),
            Key::Tcp => bump(&mut self.tcp),
            Key::Sctp => bump(&mut self.sctp),
            Key::Udp => bump(&mut self.udp),
            Key::UdpLite => bump(&mut self.udplite),
            Key::Raw => bump(&mut self.raw),
            Key::L2cap => bump(&mut self.l2cap),
            Key::Rfcomm => bump(&mut self.rfcomm),
            Key::Statistics => bump(&mut self.sta),
            Key::Agent => self.agent = true,
            Key::Watch => self.watch = true,
            Key::Audit => self.audit = true,
            Key::Json => self.json = true,
            Key::MetricsOwners => self.metrics_owners = true,
            Key::Metrics => match metrics_option(&arg.unwrap_or_default()) {
                Ok(addr) => self.metrics.push(addr),
                Err(message) => {
                    return Err(CliExit::BadValue {
                        warnings: std::mem::take(&mut self.warnings),
                        message,
                    });
                }
            },
            Key::State
            | Key::Port
            | Key::Sport
            | Key::Dport
            | Key::Pid
            | Key::Comm
            | Key::Netns
            | Key::FlowIdle => {
                let value = arg.unwrap_or_default();
                if let Err(message) = stream_option(&mut self.stream, key, &value) {
                    return Err(CliExit::BadValue {
                        warnings: std::mem::take(&mut self.warnings),
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// lib/af.c `aftrans_opt()`: a comma-separated list of aliases.
    fn aftrans_opt(&mut self, arg: &[u8]) -> Result<(), CliExit> {
        // `safe_strncpy(buf, arg, sizeof(buf))`: a C string of at most 255 bytes.
        let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
        let arg = &arg[..arg.len().min(AFNAME_SIZE - 1)];
        for piece in arg.split(|&b| b == b',') {
            let Some(af) = AFTRANS.iter().find(|t| t.alias.as_bytes() == piece) else {
                return Err(CliExit::UnknownFamily {
                    warnings: std::mem::take(&mut self.warnings),
                    name: piece.to_vec(),
                });
            };
            if af.name.len() + self.afname.len() + 1 >= AFNAME_SIZE {
                self.warnings
                    .push("Too much address family arguments.".to_owned());
                return Ok(());
            }
            let counter = match af.flag {
                AfFlag::Ax25 => &mut self.ax25,
                AfFlag::Inet => &mut self.inet,
                AfFlag::Inet6 => &mut self.inet6,
                AfFlag::Ipx => &mut self.ipx,
                AfFlag::Rose => &mut self.rose,
                AfFlag::Netrom => &mut self.netrom,
                AfFlag::Unix => &mut self.unx,
                AfFlag::X25 => &mut self.x25,
                AfFlag::Bluetooth => &mut self.bluetooth,
                AfFlag::Ddp | AfFlag::Econet | AfFlag::Ash => &mut self.unrouted,
            };
            bump(counter);
            if !self.afname.is_empty() {
                self.afname.push(',');
            }
            self.afname.push_str(af.name);
            self.afnames.push(af.name);
        }
        Ok(())
    }

    /// `main()` after the option loop: mode check, protocol defaulting, and the
    /// errors of `-s` and `-r` that depend only on the options.
    pub(super) fn resolve(
        mut self,
        operands: &[Vec<u8>],
    ) -> Result<(Options, Vec<String>), CliExit> {
        let modes = [self.int, self.rou, self.mas, self.sta]
            .iter()
            .fold(0u32, |sum, n| sum.saturating_add(*n));
        if modes > 1 {
            return Err(CliExit::Usage {
                warnings: self.warnings,
                message: None,
            });
        }
        let ip_selected = [self.tcp, self.sctp, self.udp, self.udplite, self.raw]
            .iter()
            .any(|&n| n > 0);
        let mut noprot = false;
        // Rule 1: a family option (or -s) without an IP protocol selects them all.
        if (self.inet > 0 || self.inet6 > 0 || self.sta > 0) && !ip_selected {
            noprot = true;
            for flag in [
                &mut self.tcp,
                &mut self.sctp,
                &mut self.udp,
                &mut self.udplite,
                &mut self.raw,
            ] {
                *flag = 1;
            }
        }
        // Rule 2: an IP protocol without a family reads both families.
        if (ip_selected || noprot || self.igmp > 0) && self.inet == 0 && self.inet6 == 0 {
            self.inet = 1;
            self.inet6 = 1;
        }
        if self.bluetooth > 0 && self.l2cap == 0 && self.rfcomm == 0 {
            self.l2cap = 1;
            self.rfcomm = 1;
        }
        let explicit = [
            self.tcp,
            self.sctp,
            self.udplite,
            self.udp,
            self.raw,
            self.unx,
            self.ipx,
            self.ax25,
            self.netrom,
            self.igmp,
            self.x25,
            self.rose,
            self.l2cap,
            self.rfcomm,
        ]
        .iter()
        .any(|&n| n > 0);

        let mode = if self.int > 0 {
            Mode::Interfaces
        } else if self.rou > 0 {
            Mode::Route
        } else if self.mas > 0 {
            Mode::Masquerade
        } else if self.sta > 0 {
            Mode::Statistics
        } else {
            Mode::Sockets
        };

        let mut protocols = Protocols {
            tcp: self.tcp > 0,
            sctp: self.sctp > 0,
            udp: self.udp > 0,
            udplite: self.udplite > 0,
            raw: self.raw > 0,
            igmp: self.igmp > 0,
            unix: self.unx > 0,
            ipx: self.ipx > 0,
            ax25: self.ax25 > 0,
            x25: self.x25 > 0,
            netrom: self.netrom > 0,
            rose: self.rose > 0,
            noprot,
            explicit,
            bluetooth: self.l2cap > 0 || self.rfcomm > 0,
        };
        let mut inet = self.inet > 0;
        let mut inet6 = self.inet6 > 0;
        let mut afname = self.afname;
        let mut route = Vec::new();

        match mode {
            Mode::Sockets if !explicit => {
                protocols = Protocols {
                    tcp: true,
                    sctp: true,
                    udp: true,
                    udplite: true,
                    raw: true,
                    igmp: false,
                    unix: true,
                    ipx: true,
                    ax25: true,
                    x25: true,
                    netrom: true,
                    rose: true,
                    noprot,
                    explicit: false,
                    bluetooth: false,
                };
                inet = true;
                inet6 = true;
            }
            Mode::Statistics => {
                if afname.is_empty() {
                    afname.push_str(DEFAULT_AF);
                }
                inet = afname == "inet";
                inet6 = afname == "inet6";
                if !inet && !inet6 {
                    return Err(CliExit::NoStatistics {
                        warnings: self.warnings,
                        afname,
                    });
                }
            }
            Mode::Route => {
                if afname.is_empty() {
                    afname.push_str(DEFAULT_AF);
                    self.afnames.push(DEFAULT_AF);
                }
                for name in &self.afnames {
                    let family = route_family(name);
                    route.push(family);
                    if let Some(error) = family.error() {
                        if route.len() == 1 {
                            return Err(with_warnings(error, self.warnings));
                        }
                        break;
                    }
                }
                inet = route.contains(&RouteFamily::Inet);
                inet6 = route.contains(&RouteFamily::Inet6);
            }
            _ => {}
        }

        let delay = operands
            .last()
            .filter(|_| self.cnt)
            .and_then(|d| parse_delay(d));
        let continuous = self.cnt.then(|| delay.unwrap_or(Duration::from_secs(1)));
        // With -i, the first operand names one interface, unless it is -c's delay.
        let interface = (mode == Mode::Interfaces)
            .then(|| {
                let n = operands.len() - usize::from(delay.is_some());
                operands[..n].first().cloned()
            })
            .flatten();
        let options = Options {
            mode,
            protocols,
            inet,
            inet6,
            afname,
            route,
            listening: self.lst,
            all: self.all,
            numeric_hosts: self.not & FLAG_NUM_HOST != 0,
            numeric_ports: self.not & FLAG_NUM_PORT != 0,
            numeric_users: self.not & FLAG_NUM_USER != 0,
            symbolic: self.not & FLAG_SYM != 0,
            extend: self.exp,
            programs: self.prg,
            timers: self.opt,
            wide: self.wide,
            verbose: self.ver,
            continuous,
            cache: self.cache,
            fib: self.fib,
            context: self.selinux,
            agent: self.agent,
            watch: self.watch,
            audit: self.audit,
            json: self.json,
            stream: self.stream,
            metrics: self.metrics,
            metrics_owners: self.metrics_owners,
            interface,
        };
        Ok((options, self.warnings))
    }
}

/// The `[delay]` operand of `-c`: decimal seconds (`2`, `0.5`), more than zero.
fn parse_delay(text: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(text).ok()?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, b) in fraction.bytes().take(9).enumerate() {
        let place = 10u32.pow(8 - u32::try_from(i).ok()?);
        nanos += u32::from(b - b'0') * place;
    }
    let delay = Duration::new(secs, nanos);
    (!delay.is_zero()).then_some(delay)
}

#[cfg(test)]
mod tests;
