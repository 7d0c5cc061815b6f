//! Placeholder: being written (issue 3).
use std::io::{self, Write};

use crate::{app::RunEnv, cli::Options};

pub fn run_once(
    _o: &Options,
    _env: &RunEnv,
    _out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    writeln!(
        err,
        "netstat: this mode is not implemented in this version yet"
    )?;
    Ok(1)
}
