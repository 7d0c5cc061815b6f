//! Placeholder: being written (issue 3).
use std::path::Path;

use anyhow::{Result, bail};

pub fn bench(_bin: &Path, _runs: usize) -> Result<()> {
    bail!("this benchmark is not written yet")
}
