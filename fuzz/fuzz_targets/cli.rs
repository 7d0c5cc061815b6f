//! The command line: arbitrary argv (NUL-separated, any bytes) through net-tools'
//! option parser. Errors must be net-tools' exits (0 for -h/-V, 1, 3) with their
//! messages; an accepted command line then runs once over an empty file tree.
#![no_main]
use std::{ffi::OsString, os::unix::ffi::OsStringExt};

use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector};
use netstat_user::{
    agent::metrics,
    cli::{self, Env},
};

fuzz_target!(|data: &[u8]| {
    let Some((sel, bytes)) = selector(data) else {
        return;
    };
    let env = Env {
        posixly_correct: sel & 1 != 0,
        selinux_enabled: sel & 2 != 0,
    };
    let args: Vec<OsString> = std::iter::once(OsString::from("netstat"))
        .chain(
            bytes
                .split(|&b| b == 0)
                .map(|a| OsString::from_vec(a.to_vec())),
        )
        .collect();
    match cli::parse_with(args.clone(), &env) {
        Err(exit) => {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let _ = exit.write(&mut out, &mut err);
            let code = exit.exit_code();
            assert!(matches!(code, 0 | 1 | 3), "exit code {code}");
            if code == 3 {
                assert!(out.is_empty(), "an option error printed on stdout");
                assert!(!err.is_empty(), "an option error printed nothing");
            }
        }
        Ok((opts, warnings)) => {
            let mut err = Vec::new();
            let _ = cli::write_warnings(&mut err, &warnings);
            let _ = metrics::usage_error(&opts);
            // Run it once over an empty tree, except what would outlive one input or
            // reach outside the tree: the eBPF modes, -c, and -p (it asks a running agent).
            // app::run parses again with this machine's environment: judge that parse
            // (with POSIXLY_CORRECT above, `"" --audit` made --audit an operand here
            // but an option there, and the fuzzer started an audit).
            let runs_away = |o: &cli::Options| {
                o.watch
                    || o.audit
                    || o.agent
                    || o.continuous.is_some()
                    || o.programs
                    || !o.metrics.is_empty()
            };
            let system = cli::parse(args.clone()).map(|(o, _)| o);
            let safe = !runs_away(&opts) && system.as_ref().is_ok_and(|o| !runs_away(o));
            if safe && sel & 4 != 0 {
                let tree = Tree::get();
                let args: Vec<String> = args[1..]
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                if args.iter().all(|a| !a.contains('\u{FFFD}')) {
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    tree.run(&refs);
                }
            }
        }
    }
});
