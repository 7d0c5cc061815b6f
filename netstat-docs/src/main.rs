//! `netstat-docs DIR`: writes netstat's man page and shell completions under DIR and
//! prints their paths (see `netstat_docs::write_to`). `cargo xtask build` runs it.
use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: netstat-docs DIR");
        return ExitCode::from(2);
    };
    match netstat_docs::write_to(&PathBuf::from(dir)) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netstat-docs: {e}");
            ExitCode::FAILURE
        }
    }
}
