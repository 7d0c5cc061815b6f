//! Developer tasks for this workspace, run as `cargo xtask <task>` (alias in .cargo/config.toml).
//! xtask only orchestrates: the eBPF object is built by netstat-user's build.rs (aya-build).
mod bench;
mod bench_churn;
mod bench_iface;
mod bench_routes;
mod cmd;
mod deb;
mod fuzz;
mod parse;
mod setup;
mod timing;
mod vm;

use std::{
    ffi::OsString,
    fs,
    os::unix::process::ExitStatusExt as _,
    path::{Path, PathBuf},
    process::{ExitCode, ExitStatus},
};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use crate::cmd::Cmd;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Set up, build, run and test netstat"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what a fresh Debian 12 machine needs (Debian packages, nightly rust-src,
    /// bpf-linker, tracefs and bpffs mounts); does nothing when all is present
    Setup,
    /// Setup, then build target/release/netstat with its eBPF object, and write its man
    /// page and shell completions under target/dist/ (see dist-docs)
    Build,
    /// Setup, build, then write netstat's man page and bash, zsh and fish completions
    /// (generated from its clap definition) under DIR: man/man8/netstat.8,
    /// completions/bash/netstat, completions/zsh/_netstat, completions/fish/netstat.fish
    DistDocs {
        /// Where to write them (default: target/dist, where `build` writes them too)
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Setup, build, then run target/release/netstat as root with ARGS
    /// (`cargo xtask run -- -tanp`), exiting with its exit code
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Setup, build, then the Debian package target/debian/netstat-ebpf_*.deb (cargo-deb),
    /// with the man page and completions found in target/dist; prints its path
    Deb,
    /// Setup, build, then rustfmt check, clippy, a bounded fuzz run of every target
    /// (fuzz/) and every test (unit and integration; the integration tests need root).
    /// With --kernel, instead: setup, build, the kernel matrix's setup (vm-setup), then
    /// the in-guest tests (GUEST_TESTS in xtask/src/vm.rs) in that Debian kernel
    Test {
        /// Run the in-guest tests in this Debian kernel (QEMU), or in each in turn
        #[arg(long, value_name = "KERNEL", value_parser = clap::builder::PossibleValuesParser::new(vm::kernel_choices()))]
        kernel: Option<String>,
    },
    /// Prepare the kernel matrix (only for `vm` and `test --kernel`, which run it too):
    /// apt sources for the kernels' suites, qemu-system-x86, busybox-static, kmod,
    /// virtme-ng in a venv and the Debian kernels extracted under /var/lib/netstat-ebpf/vm
    VmSetup,
    /// Boot a Debian kernel in QEMU (virtme-ng) with this machine's root filesystem and
    /// run CMD ARGS in it as root, from the workspace (`cargo xtask vm --kernel 6.1 --
    /// uname -r`); prints the guest's console and exits with CMD's exit code
    Vm {
        /// Which kernel (with `all`, each in turn; the exit code is the last non-zero one)
        #[arg(long, value_name = "KERNEL", value_parser = clap::builder::PossibleValuesParser::new(vm::kernel_choices()))]
        kernel: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Setup, then build the fuzz targets under fuzz/ (cargo-fuzz, nightly) and run each
    /// for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/TARGET); fails on any
    /// crash, panic or timeout, keeping the input under target/fuzz/artifacts/TARGET/
    Fuzz {
        /// How long each target runs
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (a file name under fuzz/fuzz_targets/, without .rs)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// Setup, build, then time our netstat against net-tools netstat and ss on a large
    /// socket set in a network namespace of its own, and print the ratios
    Bench {
        /// Loopback TCP connections to hold (two sockets each)
        #[arg(long, default_value_t = 50_000)]
        connections: usize,
        /// Timed runs of each command (the median is reported)
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Which comparisons to run (default: all)
        #[arg(long, value_enum)]
        only: Option<Suite>,
        /// Connections per load run of the churn suite (each arm, round and load)
        #[arg(long, default_value_t = 20_000)]
        churn_connections: usize,
        /// Which load(s) the churn suite runs under every arm
        #[arg(long, value_enum, default_value_t = bench_churn::Loads::Churn)]
        churn_load: bench_churn::Loads,
        /// How long the soak suite runs its churn, in seconds
        #[arg(long, default_value_t = 600)]
        soak_seconds: u64,
        /// Network namespaces the soak suite churns in (at least 2: they are joined in a
        /// ring of veth pairs)
        #[arg(long, default_value_t = 4)]
        soak_namespaces: usize,
        /// Connections per second each soak load aims at (two per namespace; 0: as fast
        /// as it goes)
        #[arg(long, default_value_t = 500)]
        soak_rate: u32,
    },
}

/// The benchmark suites of `cargo xtask bench`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    /// -tan and -tanp against net-tools and ss
    Sockets,
    /// -rn with a large routing table against net-tools
    Routes,
    /// -i with many interfaces against net-tools
    Interfaces,
    /// A connection-churn load alone and under --watch, --audit, tcpstates and tcplife
    Churn,
    /// The agent and --watch for --soak-seconds under churn in several namespaces:
    /// memory and the kernel's counters reconciled (not part of the default run)
    Soak,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_task(cli.task) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_task(task: Task) -> Result<ExitCode> {
    let root = workspace_root()?;
    match task {
        Task::Setup => setup::setup(&root, true)?,
        Task::Build => {
            build(&root)?;
        }
        Task::DistDocs { out_dir } => {
            build(&root)?;
            if let Some(dir) = out_dir {
                dist_docs(&target_dir(&root)?, &dir)?;
            }
        }
        Task::Run { args } => {
            let bin = build(&root)?;
            let cmd = if is_root()? {
                Cmd::new(&bin)
            } else if Cmd::new("sudo").arg("--version").probe().is_some() {
                eprintln!("xtask: not root: running netstat through sudo");
                Cmd::new("sudo").arg("--").arg(&bin)
            } else {
                bail!("`cargo xtask run` runs netstat as root: run it as root (no sudo found)");
            };
            let status = cmd.args(&args).status()?;
            return Ok(ExitCode::from(exit_code(status)));
        }
        Task::Deb => {
            build(&root)?;
            let deb = deb::deb(&root, &target_dir(&root)?)?;
            println!("{}", deb.display());
        }
        Task::Test { kernel: None } => test(&root)?,
        Task::Test {
            kernel: Some(kernel),
        } => {
            let kernels = vm::select(&kernel)?;
            let bin = build(&root)?;
            vm::matrix(&root, &bin, &kernels)?;
        }
        Task::VmSetup => {
            vm::setup(true)?;
        }
        Task::Vm { kernel, command } => {
            let kernels = vm::select(&kernel)?;
            let vm = vm::setup(false)?;
            let mut code = 0;
            for kernel in kernels {
                let this = vm::run(&vm, &root, kernel, &command)?;
                if this != 0 {
                    code = this;
                }
            }
            return Ok(ExitCode::from(code));
        }
        Task::Fuzz { seconds, target } => {
            setup::setup(&root, false)?;
            fuzz::fuzz(
                &root,
                &target_dir(&root)?,
                seconds.max(1),
                target.as_deref(),
            )?;
        }
        Task::Bench {
            connections,
            runs,
            only,
            churn_connections,
            churn_load,
            soak_seconds,
            soak_namespaces,
            soak_rate,
        } => {
            let bin = build(&root)?;
            if !is_root()? {
                bail!("`cargo xtask bench` creates a network namespace: run it as root");
            }
            let runs = runs.max(1);
            let wants = |s: Suite| only.is_none_or(|o| o == s);
            // Ten minutes by default: only when asked for.
            if only == Some(Suite::Soak) {
                let args = bench::soak::Args {
                    seconds: soak_seconds.max(1),
                    namespaces: soak_namespaces,
                    rate: soak_rate,
                };
                bench::soak::bench(&root, &bin, &args)?;
                return Ok(ExitCode::SUCCESS);
            }
            if wants(Suite::Routes) {
                bench_routes::bench(&bin, runs)?;
            }
            if wants(Suite::Interfaces) {
                bench_iface::bench(&bin, runs)?;
            }
            if wants(Suite::Churn) {
                let args = bench_churn::Args {
                    connections: churn_connections.max(1),
                    rounds: runs,
                    loads: churn_load,
                };
                bench_churn::bench(&root, &bin, &args)?;
            }
            if !wants(Suite::Sockets) {
                return Ok(ExitCode::SUCCESS);
            }
            bench::bench(&root, &bin, &bench::BenchArgs { connections, runs })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Quick setup, then the release build of netstat and of its documents, which it writes
/// under target/dist/; returns the absolute path of the netstat binary.
fn build(root: &Path) -> Result<PathBuf> {
    setup::setup(root, false)?;
    eprintln!("xtask: building target/release/netstat and its eBPF object");
    // --quiet: aya-build relays the nested eBPF build's progress as `cargo:warning`
    // lines, which cargo replays on every build; errors are still printed.
    // netstat-docs in the same run: the same features, so nothing is built twice.
    cargo(root)
        .args(["build", "--quiet", "--release"])
        .args(["--package", "netstat-user", "--package", "netstat-docs"])
        .run()?;
    let target = target_dir(root)?;
    let bin = target.join("release").join("netstat");
    if !bin.is_file() {
        bail!("the build succeeded but {} is missing", bin.display());
    }
    dist_docs(&target, &target.join("dist"))?;
    Ok(bin)
}

/// Writes the man page and the shell completions under `dir` with the netstat-docs binary
/// that [`build`] built in `target`.
fn dist_docs(target: &Path, dir: &Path) -> Result<()> {
    let generator = target.join("release").join("netstat-docs");
    let written = Cmd::new(&generator).arg(dir).read()?;
    for path in written.lines() {
        eprintln!("xtask: wrote {path}");
    }
    Ok(())
}

fn test(root: &Path) -> Result<()> {
    let bin = build(root)?;
    if !is_root()? {
        eprintln!("xtask: warning: not root: the privileged integration tests cannot pass");
    }
    cargo(root).args(["fmt", "--all", "--", "--check"]).run()?;
    // netstat-ebpf only builds for the bpf target (via netstat-user/build.rs); skipping the
    // eBPF build keeps clippy's dev-profile check from compiling the kernel object again.
    cargo(root)
        .env("AYA_BUILD_SKIP", "1")
        .args([
            "clippy",
            "--workspace",
            "--exclude",
            "netstat-ebpf",
            "--all-targets",
        ])
        .args(["--", "-D", "warnings"])
        .run()?;
    // No panic on any outside input (issue 7): every parser's fuzz target, briefly.
    fuzz::fuzz(root, &target_dir(root)?, fuzz::SECONDS_IN_TEST, None)?;
    cargo(root)
        .env("NETSTAT_BIN", &bin)
        .args([
            "test",
            "--workspace",
            "--exclude",
            "netstat-ebpf",
            "--release",
        ])
        .args(["--", "--test-threads=1"])
        .run()
}

/// cargo in the workspace, on the toolchain rustup picks there rather than the one that
/// happened to start xtask (`cargo +nightly xtask` must not build the workspace on nightly).
fn cargo(root: &Path) -> Cmd {
    Cmd::new("cargo")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
        .dir(root)
}

fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_owned)
        .with_context(|| format!("{} has no parent", manifest_dir.display()))
}

/// The target directory cargo really uses (honours CARGO_TARGET_DIR and config files).
fn target_dir(root: &Path) -> Result<PathBuf> {
    let cmd = cargo(root).args(["metadata", "--format-version", "1", "--no-deps"]);
    let json = cmd.read()?;
    parse::target_directory(&json)
        .map(PathBuf::from)
        .with_context(|| format!("no target_directory in the output of `{cmd}`"))
}

fn is_root() -> Result<bool> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    Ok(parse::effective_uid(&status).context("no Uid line in /proc/self/status")? == 0)
}

/// The shell's convention: the exit code, or 128 + the signal that killed the process.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(signal)) => u8::try_from((128 + signal) & 0xff).unwrap_or(1),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        // Raw wait statuses: exit code in the second byte, terminating signal in the first.
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }
}
