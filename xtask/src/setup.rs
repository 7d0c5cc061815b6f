//! `cargo xtask setup`: brings a fresh Debian 12 machine of this project's kind to the point
//! where `build`, `run` and `test` work. Every step checks first and acts only when needed,
//! so a second run does nothing.
use std::{fs, path::Path};

use anyhow::{Context as _, Result, bail};

use crate::{cmd::Cmd, parse};

/// bpf-linker release built against the nightly toolchain's own LLVM (ENVIRONMENT.md).
const BPF_LINKER_VERSION: &str = "0.13.0";
/// cargo-fuzz release for `cargo xtask fuzz` (0.13.1 builds and runs with this nightly).
const CARGO_FUZZ_VERSION: &str = "0.13.1";
/// cargo-deb release installed for `cargo xtask deb` when none is present.
const CARGO_DEB_VERSION: &str = "3.8.0";
/// Oldest cargo-deb accepted when one is already installed: 2.0 has everything
/// `[package.metadata.deb]` in netstat-user/Cargo.toml uses (globs, systemd-units).
const CARGO_DEB_MIN_MAJOR: u32 = 2;

pub struct Package {
    name: &'static str,
    why: &'static str,
    /// Optional packages are skipped (with a note) when the apt sources do not carry them.
    required: bool,
}

const PACKAGES: &[Package] = &[
    required("gcc", "linker for Rust host builds"),
    required("libc6-dev", "C runtime for Rust host builds"),
    required("net-tools", "reference netstat for the tests"),
    required("iproute2", "ip netns/veth for the tests, ss as a reference"),
    required("procps", "ps/pgrep for the tests"),
    required("util-linux", "setpriv, mount"),
    required("python3", "test helpers"),
    required("g++", "libFuzzer's C++ sources (the fuzz targets)"),
    required("nftables", "NAT rules for the -M (conntrack) tests"),
    required(
        "dpkg-dev",
        "dpkg-shlibdeps for the Debian package's Depends",
    ),
    optional("bpftool", "inspecting loaded programs"),
    optional("libbpf-tools", "tcpstates/tcplife, benchmarks only"),
    optional("groff-base", "rendering the man page in the docs test"),
    optional("man-db", "man -l on the man page in the docs test"),
];

pub const fn required(name: &'static str, why: &'static str) -> Package {
    Package {
        name,
        why,
        required: true,
    }
}

const fn optional(name: &'static str, why: &'static str) -> Package {
    Package {
        name,
        why,
        required: false,
    }
}

struct Mount {
    label: &'static str,
    point: &'static str,
    fstype: &'static str,
    source: &'static str,
    why: &'static str,
}

const MOUNTS: &[Mount] = &[
    Mount {
        label: "tracefs",
        point: "/sys/kernel/tracing",
        fstype: "tracefs",
        source: "nodev",
        why: "aya's TracePoint::attach",
    },
    Mount {
        label: "bpffs",
        point: "/sys/fs/bpf",
        fstype: "bpf",
        source: "bpf",
        why: "pinned maps and programs",
    },
];

/// Runs every step. With `verbose`, prints one line per step even when there is nothing to
/// do; otherwise steps already done are summed up in one line.
pub fn setup(root: &Path, verbose: bool) -> Result<()> {
    let mut s = Setup::new(verbose)?;

    s.debian_packages(PACKAGES, None)?;
    s.rust_toolchains(root)?;
    s.bpf_linker()?;
    s.cargo_deb()?;
    s.cargo_fuzz()?;
    s.mounts()?;

    s.finish("setup")
}

/// The steps' bookkeeping, shared with the kernel matrix's setup (vm.rs): what was already
/// there, what was done, what needs root.
pub struct Setup {
    verbose: bool,
    uid: u32,
    present: usize,
    acted: usize,
    blocked: Vec<String>,
    /// Whether this run has already brought apt's package lists up to date.
    apt_updated: bool,
}

impl Setup {
    pub fn new(verbose: bool) -> Result<Self> {
        let status =
            fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
        let uid = parse::effective_uid(&status).context("no Uid line in /proc/self/status")?;
        Ok(Setup {
            verbose,
            uid,
            present: 0,
            acted: 0,
            blocked: Vec::new(),
            apt_updated: false,
        })
    }

    /// Fails when a step needed root; otherwise sums up the steps already done (unless
    /// each was printed). `task` is the `cargo xtask` task to re-run as root.
    pub fn finish(self, task: &str) -> Result<()> {
        if !self.blocked.is_empty() {
            bail!(
                "{task} could not finish: it runs as uid {} and these steps need root:\n  - {}\n\
                 Run `cargo xtask {task}` as root.",
                self.uid,
                self.blocked.join("\n  - ")
            );
        }
        if !self.verbose && self.acted == 0 {
            eprintln!("{task}: ok: all {} steps already present", self.present);
        }
        Ok(())
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    pub fn present(&mut self, step: &str) {
        self.present += 1;
        if self.verbose {
            eprintln!("setup: {step}: ok: already present");
        }
    }

    pub fn installing(&mut self, step: &str, how: &str) {
        self.acted += 1;
        eprintln!("setup: {step}: installing ({how})");
    }

    pub fn blocked(&mut self, step: &str, what: String) {
        eprintln!("setup: {step}: NOT DONE: needs root to {what}");
        self.blocked.push(format!("{step}: {what}"));
    }

    /// `apt-get update`, at most once per run.
    pub fn apt_update(&mut self) -> Result<()> {
        if self.apt_updated {
            return Ok(());
        }
        let update = apt_get().arg("update");
        self.installing("apt package lists", &update.to_string());
        update.run()?;
        self.apt_updated = true;
        Ok(())
    }

    /// Installs those of `packages` that are missing (one apt-get update first, only then),
    /// preferring the versions of `target_release` (`apt-get -t`) where it has them.
    pub fn debian_packages(
        &mut self,
        packages: &[Package],
        target_release: Option<&str>,
    ) -> Result<()> {
        let names: Vec<&str> = packages.iter().map(|p| p.name).collect();
        // dpkg-query exits 1 when it has never heard of a package; its stdout still lists
        // the others, so the status is not checked.
        let out = Cmd::new("dpkg-query")
            .args(["-W", "-f=${Package} ${db:Status-Abbrev}\\n"])
            .args(&names)
            .capture()
            .context("dpkg-query is needed: this setup supports Debian 12")?;
        let installed = parse::dpkg_installed(&String::from_utf8_lossy(&out.stdout));

        let mut missing = Vec::new();
        for p in packages {
            if installed.contains(p.name) {
                self.present(&format!("debian package {}", p.name));
            } else {
                missing.push(p);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }

        let missing_names: Vec<&str> = missing.iter().map(|p| p.name).collect();
        let candidates = apt_candidates(&missing_names)?;
        // An optional package the current lists do not carry is not worth an apt-get
        // update on every run (bookworm may lack it): skip it here.
        let mut wanted = Vec::new();
        for p in missing {
            if p.required || candidates.get(p.name).is_some_and(Option::is_some) {
                wanted.push(p);
            } else {
                eprintln!(
                    "setup: debian package {}: skipped: not available from the apt sources \
                     (only for {})",
                    p.name, p.why
                );
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        if !self.is_root() {
            for p in wanted {
                self.blocked(
                    &format!("debian package {}", p.name),
                    format!("apt-get install {} ({})", p.name, p.why),
                );
            }
            return Ok(());
        }

        self.apt_update()?;

        let wanted_names: Vec<&str> = wanted.iter().map(|p| p.name).collect();
        let candidates = apt_candidates(&wanted_names)?;
        let mut install = Vec::new();
        for p in wanted {
            if candidates.get(p.name).is_some_and(Option::is_some) {
                install.push(p.name);
            } else if p.required {
                bail!(
                    "Debian package {} ({}) is not available from the configured apt sources \
                     even after apt-get update",
                    p.name,
                    p.why
                );
            } else {
                eprintln!(
                    "setup: debian package {}: skipped: not available from the apt sources \
                     (only for {})",
                    p.name, p.why
                );
            }
        }
        if install.is_empty() {
            return Ok(());
        }
        let mut cmd = apt_get().args(["install", "-y", "--no-install-recommends"]);
        if let Some(release) = target_release {
            cmd = cmd.args(["-t", release]);
        }
        let cmd = cmd.args(&install);
        for name in &install {
            self.installing(&format!("debian package {name}"), &cmd.to_string());
        }
        cmd.run()
    }

    fn rust_toolchains(&mut self, root: &Path) -> Result<()> {
        Cmd::new("rustup").arg("--version").read().context(
            "rustup is needed (it manages the stable and nightly toolchains): \
             install it from https://rustup.rs",
        )?;

        let step = "rust toolchain nightly";
        if parse::has_toolchain(&rustup().args(["toolchain", "list"]).read()?, "nightly") {
            self.present(step);
        } else {
            let cmd = rustup().args(["toolchain", "install", "nightly", "--profile", "minimal"]);
            self.installing(step, &cmd.to_string());
            cmd.run()?;
        }

        let step = "rust-src for nightly (-Z build-std=core)";
        let list = rustup()
            .args(["component", "list", "--installed", "--toolchain", "nightly"])
            .read()?;
        if parse::has_component(&list, "rust-src") {
            self.present(step);
        } else {
            let cmd = rustup().args(["component", "add", "rust-src", "--toolchain", "nightly"]);
            self.installing(step, &cmd.to_string());
            cmd.run()?;
        }

        // The workspace toolchain is whatever rustup picks in the repository (stable unless
        // a rust-toolchain file says otherwise); `cargo xtask test` needs its fmt and clippy.
        let list = rustup()
            .args(["component", "list", "--installed"])
            .dir(root)
            .read()?;
        for component in ["rustfmt", "clippy"] {
            let step = format!("{component} for the workspace toolchain");
            if parse::has_component(&list, component) {
                self.present(&step);
            } else {
                let cmd = rustup().args(["component", "add", component]).dir(root);
                self.installing(&step, &cmd.to_string());
                cmd.run()?;
            }
        }
        Ok(())
    }

    fn bpf_linker(&mut self) -> Result<()> {
        let step = format!("bpf-linker {BPF_LINKER_VERSION}");
        let found = Cmd::new("bpf-linker").arg("--version").probe();
        let found = found.as_deref().and_then(parse::bpf_linker_version);
        if found == Some(BPF_LINKER_VERSION) {
            self.present(&step);
            return Ok(());
        }

        // Debian 12 has no LLVM 22 and bpf-linker's default LLVM is newer than the nightly's:
        // link it against the nightly toolchain's own LLVM shared library instead.
        let sysroot = Cmd::new("rustc")
            .args(["+nightly", "--print", "sysroot"])
            .read()?;
        let lib_dir = Path::new(sysroot.trim()).join("lib");
        let files: Vec<String> = fs::read_dir(&lib_dir)
            .with_context(|| format!("listing {}", lib_dir.display()))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        let llvm = parse::llvm_lib(files.iter().map(String::as_str)).map_err(|why| {
            anyhow::anyhow!(
                "cannot build bpf-linker: {why} in {} (the nightly toolchain should ship LLVM \
                 as a shared library)",
                lib_dir.display()
            )
        })?;
        let lib_dir = lib_dir
            .to_str()
            .context("nightly sysroot path is not UTF-8")?;
        if lib_dir.contains(char::is_whitespace) {
            bail!("cannot pass the nightly sysroot `{lib_dir}` in RUSTFLAGS: it contains spaces");
        }
        let rustflags = format!(
            "-L {lib_dir} -l dylib={} -C link-arg=-Wl,-rpath,{lib_dir}",
            llvm.link_name
        );
        let cmd = Cmd::new("cargo")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("RUSTFLAGS", rustflags)
            .args([
                "+nightly",
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
            ])
            .args(["--force", "--no-default-features", "--features"])
            .arg(format!("llvm-{},no-llvm-linking", llvm.major));
        let why = match found {
            Some(v) => format!("found {v}; "),
            None => String::new(),
        };
        self.installing(&step, &format!("{why}about 3 minutes: {cmd}"));
        cmd.run()?;

        let now = Cmd::new("bpf-linker").arg("--version").probe();
        if now.as_deref().and_then(parse::bpf_linker_version) != Some(BPF_LINKER_VERSION) {
            bail!(
                "bpf-linker was installed but `bpf-linker --version` does not report \
                 {BPF_LINKER_VERSION} (got {now:?}): is $CARGO_HOME/bin on PATH?"
            );
        }
        Ok(())
    }

    /// cargo-deb builds the Debian package (`cargo xtask deb`, and the packaging test of
    /// `cargo xtask test`); it is a cargo subcommand, installed in $CARGO_HOME/bin.
    fn cargo_deb(&mut self) -> Result<()> {
        let step = "cargo-deb (cargo xtask deb)";
        let probe = || {
            let out = cargo_here().args(["deb", "--version"]).probe();
            out.as_deref()
                .and_then(parse::cargo_deb_version)
                .map(str::to_owned)
        };
        let found = probe();
        if found
            .as_deref()
            .and_then(parse::major_version)
            .is_some_and(|major| major >= CARGO_DEB_MIN_MAJOR)
        {
            self.present(step);
            return Ok(());
        }
        let cmd = cargo_here().args([
            "install",
            "cargo-deb",
            "--version",
            CARGO_DEB_VERSION,
            "--locked",
            "--force",
        ]);
        let why = match &found {
            Some(v) => format!("found {v}, older than {CARGO_DEB_MIN_MAJOR}.0; "),
            None => String::new(),
        };
        self.installing(step, &format!("{why}a few minutes, once: {cmd}"));
        cmd.run()?;
        if probe().is_none() {
            bail!(
                "cargo-deb was installed but `cargo deb --version` does not answer: is \
                 $CARGO_HOME/bin on PATH?"
            );
        }
        Ok(())
    }

    /// cargo-fuzz builds and runs the fuzz targets (`cargo xtask fuzz`, and `cargo xtask
    /// test`); a cargo subcommand in $CARGO_HOME/bin, built with the default toolchain.
    fn cargo_fuzz(&mut self) -> Result<()> {
        let step = format!("cargo-fuzz {CARGO_FUZZ_VERSION} (cargo xtask fuzz)");
        let probe = || {
            let out = cargo_here().args(["fuzz", "--version"]).probe();
            out.as_deref()
                .and_then(parse::cargo_fuzz_version)
                .map(str::to_owned)
        };
        let found = probe();
        if found.as_deref() == Some(CARGO_FUZZ_VERSION) {
            self.present(&step);
            return Ok(());
        }
        let cmd = cargo_here().args([
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--locked",
            "--force",
        ]);
        let why = match &found {
            Some(v) => format!("found {v}; "),
            None => String::new(),
        };
        self.installing(&step, &format!("{why}about a minute, once: {cmd}"));
        cmd.run()?;
        if probe().as_deref() != Some(CARGO_FUZZ_VERSION) {
            bail!(
                "cargo-fuzz was installed but `cargo fuzz --version` does not report \
                 {CARGO_FUZZ_VERSION}: is $CARGO_HOME/bin on PATH?"
            );
        }
        Ok(())
    }

    fn mounts(&mut self) -> Result<()> {
        let mounts = fs::read_to_string("/proc/mounts").context("reading /proc/mounts")?;
        for m in MOUNTS {
            let step = format!("{} at {}", m.label, m.point);
            if parse::is_mounted(&mounts, m.point, m.fstype) {
                self.present(&step);
                continue;
            }
            let cmd = Cmd::new("mount").args(["-t", m.fstype, m.source, m.point]);
            if self.is_root() {
                self.installing(&step, &cmd.to_string());
                cmd.run()
                    .with_context(|| format!("mounting {} (for {})", m.fstype, m.why))?;
            } else {
                self.blocked(&step, format!("{cmd} (for {})", m.why));
            }
        }
        Ok(())
    }
}

/// cargo on the toolchain rustup picks by default, not the one that started xtask.
fn cargo_here() -> Cmd {
    Cmd::new("cargo")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
}

/// rustup without the toolchain choice of the `cargo` that started xtask.
fn rustup() -> Cmd {
    Cmd::new("rustup")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
}

/// apt-get that waits (up to 10 minutes) for another apt or dpkg to let go of its lock
/// rather than failing at once.
pub fn apt_get() -> Cmd {
    Cmd::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .stdin_null()
}

pub fn apt_candidates(
    names: &[&str],
) -> Result<std::collections::BTreeMap<String, Option<String>>> {
    let out = Cmd::new("apt-cache").arg("policy").args(names).read()?;
    Ok(parse::apt_candidates(&out, names))
}
