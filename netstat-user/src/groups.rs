//! Placeholder: being written (issue 3).
use std::io::{self, Write};

use crate::{app::RunEnv, cli::Options};

pub fn print(
    _o: &Options,
    _env: &RunEnv,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    out.flush()?;
    writeln!(err, "netstat: -g is not implemented in this version yet")?;
    Ok(1)
}
