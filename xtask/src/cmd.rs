//! A small wrapper over `std::process::Command` that remembers what it runs, so every
//! failure names the exact command line (with the environment it set) to re-run by hand.
use std::{
    ffi::{OsStr, OsString},
    fmt,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Output, Stdio},
};

use anyhow::{Context as _, Result, bail};

pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    dir: Option<PathBuf>,
    stdin_null: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            removed: Vec::new(),
            dir: None,
            stdin_null: false,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.removed.push(key.as_ref().to_owned());
        self
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// For commands that must never wait on a terminal (apt-get in CI has no stdin).
    pub fn stdin_null(mut self) -> Self {
        self.stdin_null = true;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for key in &self.removed {
            cmd.env_remove(key);
        }
        for (key, value) in &self.envs {
            cmd.env(key, value);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        if self.stdin_null {
            cmd.stdin(Stdio::null());
        }
        cmd
    }

    /// Runs with the terminal's stdout/stderr; fails when it cannot start or exits non-zero.
    pub fn run(&self) -> Result<()> {
        let status = self.status()?;
        if !status.success() {
            bail!("`{self}` failed ({status})");
        }
        Ok(())
    }

    /// Runs with the terminal's stdout/stderr and returns how it ended; fails only when it
    /// cannot start.
    pub fn status(&self) -> Result<ExitStatus> {
        self.command()
            .status()
            .with_context(|| format!("could not start `{self}`"))
    }

    /// Like [`Cmd::status`], but the child's stdout and stderr reach ours through pipes,
    /// copied as they come: for children that reopen them by name (QEMU opens
    /// /proc/self/fd/1 and 2), which would write over the start of a file they are
    /// redirected to.
    pub fn status_through_pipes(&self) -> Result<ExitStatus> {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{self}`"))?;
        let mut out = child.stdout.take().context("no stdout pipe")?;
        let mut err = child.stderr.take().context("no stderr pipe")?;
        // A failed copy (our own stdout closed) is not the child's failure: it still runs
        // to its end and its status is what counts.
        let copier = std::thread::spawn(move || {
            let _ = std::io::copy(&mut err, &mut std::io::stderr());
        });
        let _ = std::io::copy(&mut out, &mut std::io::stdout());
        let status = child
            .wait()
            .with_context(|| format!("waiting for `{self}`"))?;
        let _ = copier.join();
        Ok(status)
    }

    /// Runs with stdout and stderr captured, whatever the exit status; fails only when it
    /// cannot start.
    pub fn capture(&self) -> Result<Output> {
        self.command()
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not start `{self}`"))
    }

    /// Captured stdout of a command that must succeed; its stderr is part of the error.
    pub fn read(&self) -> Result<String> {
        let out = self.capture()?;
        if !out.status.success() {
            bail!(
                "`{self}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8(out.stdout).with_context(|| format!("`{self}` printed non-UTF-8"))
    }

    /// Captured stdout of a command that must succeed, its stderr going to the terminal:
    /// for long runs (cargo builds) whose progress and errors the user should see as they come.
    pub fn read_stdout(&self) -> Result<String> {
        let out = self
            .command()
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("could not start `{self}`"))?;
        if !out.status.success() {
            bail!("`{self}` failed ({})", out.status);
        }
        String::from_utf8(out.stdout).with_context(|| format!("`{self}` printed non-UTF-8"))
    }

    /// Captured stdout, or `None` when the command is missing or fails: for probing tools.
    pub fn probe(&self) -> Option<String> {
        let out = self.capture().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout).ok()
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quote only the value of an assignment so the line still pastes into a shell.
        let assignments = self.envs.iter().map(|(key, value)| {
            format!(
                "{}={}",
                key.to_string_lossy(),
                shell_quote(&value.to_string_lossy())
            )
        });
        let words = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|word| shell_quote(&word.to_string_lossy()));
        let line: Vec<String> = assignments.chain(words).collect();
        f.write_str(&line.join(" "))
    }
}

/// Quotes `s` for a POSIX shell, leaving plain words as they are.
pub fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("--features"), "--features");
        assert_eq!(
            shell_quote("llvm-22,no-llvm-linking"),
            "llvm-22,no-llvm-linking"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn display_shows_env_and_args() {
        let cmd = Cmd::new("cargo")
            .env("RUSTFLAGS", "-L /x -l dylib=LLVM")
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(["+nightly", "install", "bpf-linker"]);
        assert_eq!(
            cmd.to_string(),
            "RUSTFLAGS='-L /x -l dylib=LLVM' cargo +nightly install bpf-linker"
        );
    }

    #[test]
    fn failures_name_the_command() {
        let err = Cmd::new("false").run().unwrap_err();
        assert!(err.to_string().contains("`false` failed"), "{err}");
        let err = Cmd::new("/nonexistent/tool").arg("x").run().unwrap_err();
        assert!(
            err.to_string()
                .contains("could not start `/nonexistent/tool x`"),
            "{err}"
        );
        assert_eq!(Cmd::new("/nonexistent/tool").probe(), None);
        assert_eq!(Cmd::new("echo").arg("hi").read().unwrap(), "hi\n");
        assert_eq!(
            Cmd::new("sh")
                .args(["-c", "echo out; echo err >&2"])
                .read_stdout()
                .unwrap(),
            "out\n"
        );
        let err = Cmd::new("sh")
            .args(["-c", "exit 3"])
            .read_stdout()
            .unwrap_err();
        assert!(err.to_string().contains("failed"), "{err}");
    }
}
