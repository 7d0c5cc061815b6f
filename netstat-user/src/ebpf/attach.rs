//! Attach methods chosen at run time, per hook, from what the running kernel accepts:
//! the best that loads and attaches wins, and what was refused, and why, is kept for
//! `-v`. A hook's methods see the same calls (see netstat-ebpf's `io`), so what the
//! user sees does not depend on the method.
use std::fmt;

use aya::{
    Btf, Ebpf,
    programs::{FExit, KProbe, TracePoint},
};
use netstat_common::progs;

use super::{LoadError, program_mut};

/// How a hook is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// fentry/fexit (`BPF_PROG_TYPE_TRACING`, BPF trampolines).
    Fexit,
    RawTracepoint,
    Tracepoint,
    /// kprobe with kretprobe.
    Kprobe,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fexit => "fexit",
            Self::RawTracepoint => "raw tracepoint",
            Self::Tracepoint => "tracepoint",
            Self::Kprobe => "kprobe",
        }
    }

    /// The word used in [`IO_METHODS_ENV`].
    fn keyword(self) -> &'static str {
        match self {
            Self::Fexit => "fexit",
            Self::RawTracepoint => "raw_tracepoint",
            Self::Tracepoint => "tracepoint",
            Self::Kprobe => "kprobe",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// For tests and benchmarks: the send/receive methods to try, in order, comma
/// separated (`fexit`, `tracepoint`, `kprobe`), instead of [`IO_ORDER`].
pub const IO_METHODS_ENV: &str = "NETSTAT_ATTACH_IO";

/// Send/receive, best first: fexit reads its arguments straight from the trampoline's
/// frame; the tracepoints (6.4+) build no record for a program but exist only on new
/// kernels; kprobes pay a breakpoint and a map entry per call.
pub const IO_ORDER: &[Method] = &[Method::Fexit, Method::Tracepoint, Method::Kprobe];

/// The send/receive hook as attached.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub method: Method,
    /// The attach points, as `-v` prints them (`fexit inet_sendmsg`, …).
    pub points: Vec<String>,
    /// The methods tried before, each with the kernel's answer.
    pub refused: Vec<(Method, String)>,
}

impl Chosen {
    /// One line for the ready message: `fexit inet{,6}_{send,recv}msg`.
    pub fn summary(&self) -> String {
        match self.method {
            Method::Tracepoint => "tracepoints sock:sock_{send,recv}_length".into(),
            m => format!("{m} inet{{,6}}_{{send,recv}}msg"),
        }
    }
}

/// `(program, kernel function)` of the fexit path.
const FEXITS: [(&str, &str); 4] = [
    (progs::INET_SENDMSG_EXIT, "inet_sendmsg"),
    (progs::INET6_SENDMSG_EXIT, "inet6_sendmsg"),
    (progs::INET_RECVMSG_EXIT, "inet_recvmsg"),
    (progs::INET6_RECVMSG_EXIT, "inet6_recvmsg"),
];

/// `(program, kernel functions)` of the kprobe path.
const KPROBES: [(&str, [&str; 2]); 4] = [
    (progs::SENDMSG_ENTRY, ["inet_sendmsg", "inet6_sendmsg"]),
    (progs::RECVMSG_ENTRY, ["inet_recvmsg", "inet6_recvmsg"]),
    (progs::SENDMSG_RETURN, ["inet_sendmsg", "inet6_sendmsg"]),
    (progs::RECVMSG_RETURN, ["inet_recvmsg", "inet6_recvmsg"]),
];

/// The parameters the programs read, per function (netstat-ebpf's `io`): the return
/// value follows them in an fexit context.
const PROTOTYPES: [(&str, usize); 4] = [
    ("inet_sendmsg", 3),
    ("inet6_sendmsg", 3),
    ("inet_recvmsg", 4),
    ("inet6_recvmsg", 4),
];

/// The methods to try for send/receive: [`IO_METHODS_ENV`] or [`IO_ORDER`].
pub fn io_order() -> Result<Vec<Method>, LoadError> {
    match std::env::var(IO_METHODS_ENV) {
        Err(_) => Ok(IO_ORDER.to_vec()),
        Ok(v) => parse_order(&v).ok_or(LoadError::Setting {
            name: IO_METHODS_ENV,
            value: v,
            why: "expected a comma-separated list of fexit, tracepoint, kprobe",
        }),
    }
}

fn parse_order(v: &str) -> Option<Vec<Method>> {
    let order: Option<Vec<Method>> = v
        .split(',')
        .map(|w| IO_ORDER.iter().copied().find(|m| m.keyword() == w.trim()))
        .collect();
    order.filter(|o| !o.is_empty())
}

/// Attaches the send/receive programs with the first method of `order` that the kernel
/// takes. A method that fails half-way is unloaded whole before the next is tried, so
/// no call is ever counted twice.
pub fn send_recv(ebpf: &mut Ebpf, order: &[Method]) -> Result<Chosen, LoadError> {
    let mut refused = Vec::new();
    for &method in order {
        let tried = match method {
            Method::Fexit => fexit(ebpf),
            Method::Tracepoint => tracepoints(ebpf),
            Method::Kprobe => kprobes(ebpf),
            Method::RawTracepoint => Err("not a send/receive method".to_string()),
        };
        match tried {
            Ok(points) => {
                return Ok(Chosen {
                    method,
                    points,
                    refused,
                });
            }
            Err(why) => {
                unload(ebpf, method);
                refused.push((method, why));
            }
        }
    }
    Err(LoadError::NoMethod {
        hook: "send/receive",
        tried: refused
            .iter()
            .map(|(m, why)| format!("{m}: {why}"))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

fn fexit(ebpf: &mut Ebpf) -> Result<Vec<String>, String> {
    check_prototypes()?;
    let btf = Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {e}"))?;
    let mut points = Vec::new();
    for (name, function) in FEXITS {
        let p: &mut FExit = program_mut(ebpf, name).map_err(|e| e.describe())?;
        p.load(function, &btf)
            .and_then(|()| p.attach().map(drop))
            .map_err(|e| describe(name, &e))?;
        points.push(format!("fexit {function}"));
    }
    Ok(points)
}

fn tracepoints(ebpf: &mut Ebpf) -> Result<Vec<String>, String> {
    super::ensure_tracefs().map_err(|e| e.describe())?;
    let mut points = Vec::new();
    for (name, event) in [
        (progs::SEND_LENGTH, "sock_send_length"),
        (progs::RECV_LENGTH, "sock_recv_length"),
    ] {
        let p: &mut TracePoint = program_mut(ebpf, name).map_err(|e| e.describe())?;
        p.load()
            .and_then(|()| p.attach("sock", event).map(drop))
            .map_err(|e| describe(name, &e))?;
        points.push(format!("tracepoint sock:{event}"));
    }
    Ok(points)
}

fn kprobes(ebpf: &mut Ebpf) -> Result<Vec<String>, String> {
    let mut points = Vec::new();
    // Entries before returns would leave a window where a call's entry is kept and
    // its return not yet seen; returns first, so every kept entry is consumed.
    for (name, functions) in KPROBES.iter().rev() {
        let p: &mut KProbe = program_mut(ebpf, name).map_err(|e| e.describe())?;
        p.load().map_err(|e| describe(name, &e))?;
        for function in functions {
            p.attach(function, 0).map_err(|e| describe(name, &e))?;
            let kind = if name.ends_with("_return") {
                "kretprobe"
            } else {
                "kprobe"
            };
            points.push(format!("{kind} {function}"));
        }
    }
    points.reverse();
    Ok(points)
}

/// Unloads (and so detaches) every program of `method` that got loaded.
fn unload(ebpf: &mut Ebpf, method: Method) {
    // Not loaded: nothing to undo, and the error says only that.
    match method {
        Method::Fexit => {
            for (name, _) in FEXITS {
                if let Ok(p) = program_mut::<FExit>(ebpf, name) {
                    let _ = p.unload();
                }
            }
        }
        Method::Tracepoint => {
            for name in [progs::SEND_LENGTH, progs::RECV_LENGTH] {
                if let Ok(p) = program_mut::<TracePoint>(ebpf, name) {
                    let _ = p.unload();
                }
            }
        }
        Method::Kprobe => {
            for (name, _) in KPROBES {
                if let Ok(p) = program_mut::<KProbe>(ebpf, name) {
                    let _ = p.unload();
                }
            }
        }
        Method::RawTracepoint => {}
    }
}

/// The functions' prototypes in the kernel's BTF have the parameters the programs read
/// (the return value's slot follows them).
fn check_prototypes() -> Result<(), String> {
    use btf_rs::Type;
    let btf = btf_rs::Btf::from_file(super::BTF_PATH).map_err(|e| format!("kernel BTF: {e}"))?;
    for (function, params) in PROTOTYPES {
        let found = btf
            .resolve_types_by_name(function)
            .map_err(|e| format!("BTF has no function {function}: {e}"))?
            .into_iter()
            .find_map(|t| match t {
                Type::Func(f) => match btf.resolve_chained_type(&f) {
                    Ok(Type::FuncProto(p)) => Some(p.parameters.len()),
                    _ => None,
                },
                _ => None,
            })
            .ok_or_else(|| format!("BTF has no function {function}"))?;
        if found != params {
            return Err(format!(
                "{function} takes {found} parameters in this kernel, the program reads {params}"
            ));
        }
    }
    Ok(())
}

/// The program's error with every cause (the kernel's errno is in aya's source chain).
fn describe(name: &str, e: &aya::programs::ProgramError) -> String {
    let text = format!("{name}: {}", super::with_causes(e));
    // aya appends the verifier's log, empty when the kernel refused before verifying.
    let trimmed = text.trim_end();
    trimmed
        .strip_suffix("Verifier output:")
        .map_or(trimmed, |t| t.trim_end_matches([' ', '.']))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_from_the_environment_is_read_or_refused() {
        assert_eq!(
            parse_order("kprobe, tracepoint"),
            Some(vec![Method::Kprobe, Method::Tracepoint])
        );
        assert_eq!(parse_order("fexit"), Some(vec![Method::Fexit]));
        assert_eq!(parse_order("fentry"), None);
        assert_eq!(parse_order(""), None);
    }

    #[test]
    fn the_ready_line_names_the_method_and_its_points() {
        let c = Chosen {
            method: Method::Fexit,
            points: vec![],
            refused: vec![],
        };
        assert_eq!(c.summary(), "fexit inet{,6}_{send,recv}msg");
        let t = Chosen {
            method: Method::Tracepoint,
            ..c
        };
        assert_eq!(t.summary(), "tracepoints sock:sock_{send,recv}_length");
    }
}
