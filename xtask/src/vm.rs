//! The kernel matrix (issue 13): Debian's own kernels booted in QEMU by virtme-ng, with this
//! machine's root filesystem, to run commands and test binaries on older kernels than the
//! host's. `cargo xtask vm-setup` prepares it (and so does every task that boots a guest);
//! the plain `cargo xtask setup` leaves it alone, so it stays fast.
//!
//! Everything lives in [`CACHE`] (the virtme-ng venv and the extracted kernels; nothing is
//! installed on the host but the Debian packages of [`PACKAGES`]); each step checks first,
//! so a second run does nothing. A guest runs tests/scripts/vm_guest.sh, which mounts what
//! the project needs, loads the modules the tests use, runs the command and writes its exit
//! code into a folder shared read-write with the host (target/vm/KERNEL/).
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::{
    cmd::{Cmd, shell_quote},
    parse,
    setup::{self, Package, Setup},
};

/// One Debian kernel of the matrix: the plain `amd64` flavour (the `cloud` one lacks 9p,
/// which virtme-ng shares the host's filesystem over).
#[derive(Debug)]
pub struct Kernel {
    /// What `--kernel` takes.
    pub name: &'static str,
    /// The Debian package, `linux-image-RELEASE-unsigned`.
    pub package: &'static str,
    /// The suite that carries it (`apt-cache policy PACKAGE`, checked 2026-12-08).
    pub suite: &'static str,
}

impl Kernel {
    /// `uname -r` in the guest, and the name of its folder under lib/modules/.
    pub fn release(&self) -> &'static str {
        kernel_release(self.package).unwrap_or(self.package)
    }
}

/// The kernels, oldest first (the order `--kernel all` boots them in). Checked with
/// `apt-cache policy` on 2026-12-08: 6.12.113 is in bookworm-security (already in a new
/// machine's sources), not in bookworm-backports, which carries only 6.12.95 today; of
/// these suites only bullseye is frozen, so a newer point release may drop a package
/// here: the setup then names the ones the suite carries.
pub const KERNELS: &[Kernel] = &[
    Kernel {
        name: "5.10",
        package: "linux-image-5.10.0-32-amd64-unsigned",
        suite: "bullseye",
    },
    Kernel {
        name: "6.1",
        package: "linux-image-6.1.0-50-amd64-unsigned",
        suite: "bookworm",
    },
    Kernel {
        name: "6.12",
        package: "linux-image-6.12.113+deb12-amd64-unsigned",
        suite: "bookworm-security",
    },
];

/// The tests run inside every guest, one after the other: (integration test binary, i.e.
/// the file name under tests/tests/ without .rs, test-name filter; "" runs all of that
/// binary's tests). Each runs with `--test-threads=1` and `NETSTAT_BIN` set.
///
/// PLACEHOLDER: the eBPF work of issue 13 fills this in.
pub const GUEST_TESTS: &[(&str, &str)] = &[("ebpf_tcp_states", ""), ("owners", "")];

/// Suites a new machine's apt sources lack (it has bookworm, bookworm-updates and
/// bookworm-security): added by [`SOURCES_FILE`]. Every suite of [`KERNELS`] is either
/// here or in a new machine's sources (a unit test checks it).
const ADDED_SUITES: &[&str] = &[OLD_SUITE, QEMU_SUITE];
/// The suite of the oldest kernel, pinned below the machine's own by [`PREFERENCES_FILE`].
const OLD_SUITE: &str = "bullseye";
/// Where qemu-system-x86 comes from: a machine of this project's kind has qemu-utils
/// 10.0 from bookworm-backports installed, and bookworm's qemu-system-x86 (7.2) cannot
/// be installed beside it (apt removes qemu-utils); backports' QEMU 10.0 can.
const QEMU_SUITE: &str = "bookworm-backports";
/// Same URI and keyring as the machine's own bookworm entry.
const APT_URI: &str = "http://deb.debian.org/debian";
const APT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const SOURCES_FILE: &str = "/etc/apt/sources.list.d/netstat-ebpf-kernels.sources";
/// Keeps apt from ever preferring an added suite's package for the host itself (bullseye
/// would otherwise rank with bookworm; backports is at 100 already): only `apt-get
/// download` of the kernels and `-t` for QEMU use them.
const PREFERENCES_FILE: &str = "/etc/apt/preferences.d/netstat-ebpf-kernels";

/// Where the venv and the kernels are kept (840 MB): outside the workspace, so a clean clone
/// (CI) or `cargo clean` does not make them again (measured: the venv 5.6 s, the three
/// kernels 23 s; a rerun 0.1 s). Not under /var/cache: virtme-ng puts a tmpfs over it in
/// the guest, which hides the modules it links /lib/modules/RELEASE to.
pub const CACHE: &str = "/var/lib/netstat-ebpf/vm";
/// virtme-ng from PyPI, in a venv under [`CACHE`].
const VIRTME_NG_VERSION: &str = "1.42";
/// Written last into a finished venv or kernel folder: its presence makes reruns free.
const READY_MARKER: &str = ".netstat-ebpf-ready";

/// The guest-side wrapper, relative to the workspace.
const GUEST_SCRIPT: &str = "tests/scripts/vm_guest.sh";
/// The exit code of the guest's command, written by [`GUEST_SCRIPT`] into the run folder.
const STATUS_FILE: &str = "status";
/// One line per in-guest test (`code TAB milliseconds TAB label`), written by the
/// generated test script.
const RESULTS_FILE: &str = "results";
/// A guest that has not finished after this long is killed (emulated CPUs are slow, but
/// not this slow).
const GUEST_TIMEOUT_SECS: u64 = 3600;

const PACKAGES: &[Package] = &[
    setup::required("qemu-system-x86", "the emulator the kernel matrix boots"),
    setup::required("busybox-static", "virtme-ng's initramfs"),
    setup::required(
        "kmod",
        "depmod on the extracted kernels, modprobe in the guests",
    ),
    setup::required("python3-venv", "the venv virtme-ng is installed in"),
];

/// The kernels `--kernel NAME` selects: one by its short name, or `all` of them.
pub fn select(name: &str) -> Result<Vec<&'static Kernel>> {
    if name == "all" {
        return Ok(KERNELS.iter().collect());
    }
    match KERNELS.iter().find(|k| k.name == name) {
        Some(kernel) => Ok(vec![kernel]),
        None => bail!(
            "no kernel {name}: --kernel takes {} or all",
            KERNELS
                .iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The values `--kernel` accepts, for clap's help and checks.
pub fn kernel_choices() -> Vec<&'static str> {
    KERNELS.iter().map(|k| k.name).chain(["all"]).collect()
}

/// What the set-up matrix needs to boot a guest.
pub struct Vm {
    cache: PathBuf,
}

impl Vm {
    fn vng(&self) -> PathBuf {
        self.cache.join("venv/bin/vng")
    }

    fn kernel_dir(&self, kernel: &Kernel) -> PathBuf {
        self.cache.join("kernels").join(kernel.release())
    }

    fn vmlinuz(&self, kernel: &Kernel) -> PathBuf {
        self.kernel_dir(kernel)
            .join("boot")
            .join(format!("vmlinuz-{}", kernel.release()))
    }
}

/// `cargo xtask vm-setup`: the apt sources, the Debian packages, virtme-ng and every
/// kernel of [`KERNELS`]; with `verbose`, one line per step even when it is already done.
pub fn setup(verbose: bool) -> Result<Vm> {
    let started = Instant::now();
    let mut s = Setup::new(verbose)?;
    let vm = Vm {
        cache: PathBuf::from(CACHE),
    };
    let mut acted = sources(&mut s)?;
    s.debian_packages(PACKAGES, Some(QEMU_SUITE))?;
    // Past this point everything writes into the cache or runs apt: root only (a
    // non-root run stops here with the list of what it could not do).
    if s.is_root() {
        acted |= venv(&mut s, &vm)?;
        for kernel in KERNELS {
            acted |= kernel_tree(&mut s, &vm, kernel)?;
        }
    } else {
        s.blocked(
            "kernel matrix",
            format!("write virtme-ng and the kernels into {CACHE}"),
        );
    }
    s.finish("vm-setup")?;
    if acted {
        eprintln!(
            "setup: kernel matrix: ready in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(vm)
}

/// Writes the sources and preferences files when they differ from what they should be,
/// then updates the lists; returns whether it did.
fn sources(s: &mut Setup) -> Result<bool> {
    let step = format!("apt sources {SOURCES_FILE}");
    let files = [
        (SOURCES_FILE, sources_file(ADDED_SUITES)),
        (PREFERENCES_FILE, preferences_file(&[OLD_SUITE])),
    ];
    let stale: Vec<&(&str, String)> = files
        .iter()
        .filter(|(path, want)| fs::read_to_string(path).ok().as_deref() != Some(want))
        .collect();
    if stale.is_empty() {
        s.present(&step);
        return Ok(false);
    }
    if !s.is_root() {
        for (path, _) in stale {
            s.blocked(&step, format!("write {path} (suites {ADDED_SUITES:?})"));
        }
        return Ok(false);
    }
    s.installing(&step, &format!("suites {}", ADDED_SUITES.join(" ")));
    for (path, want) in stale {
        fs::write(path, want).with_context(|| format!("writing {path}"))?;
    }
    timed("apt-get update", || s.apt_update())?;
    Ok(true)
}

/// Creates the venv and installs virtme-ng in it unless that is done; returns whether it did.
fn venv(s: &mut Setup, vm: &Vm) -> Result<bool> {
    let step = format!("virtme-ng {VIRTME_NG_VERSION} (venv in {CACHE}/venv)");
    let dir = vm.cache.join("venv");
    let want = format!("virtme-ng=={VIRTME_NG_VERSION}\n");
    if vm.vng().is_file() && read_marker(&dir).as_deref() == Some(want.as_str()) {
        s.present(&step);
        return Ok(false);
    }
    // Debian's python3, not whichever one PATH finds first (pyenv's, say).
    let create = Cmd::new("/usr/bin/python3")
        .args(["-m", "venv", "--clear"])
        .arg(&dir);
    let install = Cmd::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(want.trim())
        .stdin_null();
    s.installing(&step, &format!("{create}; {install}"));
    fs::create_dir_all(&vm.cache).with_context(|| format!("creating {}", vm.cache.display()))?;
    timed("virtme-ng venv", || {
        create.run()?;
        install.run()
    })?;
    write_marker(&dir, &want)?;
    Ok(true)
}

/// Downloads and extracts `kernel` unless it is there; returns whether it did.
fn kernel_tree(s: &mut Setup, vm: &Vm, kernel: &Kernel) -> Result<bool> {
    let step = format!("kernel {} ({})", kernel.name, kernel.package);
    let dir = vm.kernel_dir(kernel);
    let want = format!("{}\n", kernel.package);
    if vm.vmlinuz(kernel).is_file() && read_marker(&dir).as_deref() == Some(want.as_str()) {
        s.present(&step);
        return Ok(false);
    }
    if setup::apt_candidates(&[kernel.package])?[kernel.package].is_none() {
        s.apt_update()?;
        if setup::apt_candidates(&[kernel.package])?[kernel.package].is_none() {
            bail!(
                "Debian package {} (kernel {} of the table KERNELS in xtask/src/vm.rs, suite \
                 {}) is not in the apt sources; that suite's kernels of this series: {}",
                kernel.package,
                kernel.name,
                kernel.suite,
                available_kernels(kernel)
            );
        }
    }
    let debs = vm.cache.join("debs");
    let download = setup::apt_get()
        // The cache folder is root's: download as root rather than as apt's sandbox user.
        .args(["-o", "APT::Sandbox::User=root", "download", kernel.package])
        .dir(&debs);
    s.installing(
        &step,
        &format!(
            "{download} in {}, then dpkg-deb -x and depmod",
            debs.display()
        ),
    );
    timed(&format!("kernel {}", kernel.name), || {
        fs::create_dir_all(&debs).with_context(|| format!("creating {}", debs.display()))?;
        download.run()?;
        let names: Vec<String> = fs::read_dir(&debs)
            .with_context(|| format!("listing {}", debs.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        let release = kernel.release();
        let deb = debs.join(
            deb_file(&names, kernel.package)
                .with_context(|| format!("apt-get download left no {}_*.deb", kernel.package))?,
        );
        let partial = vm.cache.join("kernels").join(format!("{release}.partial"));
        fs::create_dir_all(vm.cache.join("kernels"))?;
        remove_dir(&partial)?;
        Cmd::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&partial)
            .run()?;
        if !partial.join("lib/modules").join(release).is_dir() {
            bail!(
                "{} has no lib/modules/{release}/ (is the table's package name right?)",
                deb.display()
            );
        }
        Cmd::new("depmod")
            .arg("-b")
            .arg(&partial)
            .arg(release)
            .run()?;
        write_marker(&partial, &want)?;
        remove_dir(&dir)?;
        fs::rename(&partial, &dir)
            .with_context(|| format!("renaming {} to {}", partial.display(), dir.display()))?;
        fs::remove_file(&deb).with_context(|| format!("removing {}", deb.display()))
    })?;
    Ok(true)
}

/// The `linux-image-*-amd64-unsigned` packages apt offers of `kernel`'s major.minor, for
/// the message that asks to update the table.
fn available_kernels(kernel: &Kernel) -> String {
    let pattern = format!(
        "^linux-image-{}[.-].*-amd64-unsigned$",
        kernel.name.replace('.', "\\.")
    );
    let found = Cmd::new("apt-cache")
        .args(["search", "--names-only", &pattern])
        .probe()
        .unwrap_or_default();
    let names: Vec<&str> = found
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Boots `kernel` and runs `command` (program and arguments) in the guest, as root, from
/// the workspace `root`, the console going to the terminal; returns the command's exit
/// code. The run folder `target/vm/NAME/` is shared read-write with the guest.
pub fn run(vm: &Vm, root: &Path, kernel: &Kernel, command: &[String]) -> Result<u8> {
    let out = run_dir(root, kernel)?;
    let started = Instant::now();
    let code = boot(vm, root, kernel, &out, command)?;
    eprintln!(
        "xtask: vm {}: `{}` exited with {code} ({:.0} s with the boot)",
        kernel.name,
        shell_line(command),
        started.elapsed().as_secs_f64()
    );
    Ok(code)
}

/// An empty `target/vm/NAME/`.
fn run_dir(root: &Path, kernel: &Kernel) -> Result<PathBuf> {
    let out = crate::target_dir(root)?.join("vm").join(kernel.name);
    remove_dir(&out)?;
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    Ok(out)
}

/// One guest: the wrapper runs `command` and writes its exit code into `out`, read back
/// here (virtme-ng's own exit code says how QEMU ended, which is not always the command's).
fn boot(vm: &Vm, root: &Path, kernel: &Kernel, out: &Path, command: &[String]) -> Result<u8> {
    let script = root.join(GUEST_SCRIPT);
    let out_str = out.to_str().context("the run folder's path is not UTF-8")?;
    let exec = shell_line(
        &[
            "sh".to_owned(),
            script
                .to_str()
                .context("the workspace path is not UTF-8")?
                .to_owned(),
            out_str.to_owned(),
        ]
        .into_iter()
        .chain(command.iter().cloned())
        .collect::<Vec<_>>(),
    );
    // vng starts virtme-run (the venv's) through PATH.
    let venv_bin = vm.cache.join("venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(&path)))
        .context("the venv's path cannot go into PATH")?;
    let root_str = path_str(root)?;
    let vmlinuz = path_str(&vm.vmlinuz(kernel))?;
    let args = [
        // Nested KVM dies at boot on this project's machines: QEMU emulates the CPU.
        "--disable-kvm",
        "--verbose",
        "--rwdir",
        out_str,
        // The workspace is writable in the guest (tests may write under it), the writes
        // going to a throw-away overlay as for /tmp, /etc, /var...: only `out` is shared.
        "--overlay-rwdir",
        &root_str,
        "--run",
        &vmlinuz,
        "--user",
        "root",
        "--cpus",
        "2",
        "--memory",
        "4G",
        "--exec",
        &exec,
    ];
    // What to re-run by hand (with the venv's bin/ on PATH).
    let shown = Cmd::new(vm.vng()).args(args).dir(root);
    let vng = Cmd::new("timeout")
        .env("PATH", path)
        .args(["--kill-after=30", &GUEST_TIMEOUT_SECS.to_string()])
        .arg(vm.vng())
        .args(args)
        .dir(root)
        .stdin_null();
    eprintln!(
        "xtask: vm {}: booting {}: {shown}",
        kernel.name,
        kernel.release()
    );
    let status = vng.status_through_pipes()?;
    let status_file = out.join(STATUS_FILE);
    match fs::read_to_string(&status_file) {
        Ok(text) => parse_status(&text)
            .with_context(|| format!("{} holds {text:?}, not an exit code", status_file.display())),
        Err(_) if status.code() == Some(124) => bail!(
            "the {} guest did not finish within {GUEST_TIMEOUT_SECS} s: `{shown}`",
            kernel.name
        ),
        Err(_) => bail!(
            "the {} guest ended ({status}) before its command did (no {}; the console \
             above says why): `{shown}`",
            kernel.name,
            status_file.display()
        ),
    }
}

/// `cargo xtask test --kernel …`: builds the integration test binaries (not running them),
/// then boots each of `kernels` once and runs [`GUEST_TESTS`] in it with `NETSTAT_BIN` =
/// `bin`; prints a summary per kernel and fails when a test failed anywhere.
pub fn matrix(root: &Path, bin: &Path, kernels: &[&Kernel]) -> Result<()> {
    let vm = setup(false)?;
    let executables = build_tests(root, bin)?;
    let mut tests = Vec::new();
    for (binary, filter) in GUEST_TESTS {
        let exe = executables.get(*binary).with_context(|| {
            format!(
                "GUEST_TESTS names {binary}, which is not a test binary of the workspace \
                 (there are: {})",
                executables.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        tests.push(GuestTest {
            label: test_label(binary, filter),
            exe: exe.clone(),
            filter,
        });
    }
    let mut summaries = Vec::new();
    for kernel in kernels {
        let out = run_dir(root, kernel)?;
        let script = out.join("tests.sh");
        fs::write(&script, tests_script(&out, bin, &tests)?)
            .with_context(|| format!("writing {}", script.display()))?;
        let started = Instant::now();
        // A guest that breaks down is that kernel's failure: the next kernels still run.
        let code = match boot(
            &vm,
            root,
            kernel,
            &out,
            &["sh".to_owned(), path_str(&script)?],
        ) {
            Ok(code) => Some(code),
            Err(err) => {
                eprintln!("xtask: error: {err:#}");
                None
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let results = fs::read_to_string(out.join(RESULTS_FILE)).unwrap_or_default();
        let summary = summarize(kernel, &tests, &parse_results(&results), code, seconds);
        eprint!("{summary}");
        summaries.push((summary, code));
    }
    if kernels.len() > 1 {
        eprintln!("xtask: kernel matrix, every kernel:");
        for (summary, _) in &summaries {
            eprint!("{summary}");
        }
    }
    let failed: Vec<&str> = kernels
        .iter()
        .zip(&summaries)
        .filter(|(_, (_, code))| *code != Some(0))
        .map(|(k, _)| k.name)
        .collect();
    if !failed.is_empty() {
        bail!("in-guest tests failed on kernel(s) {}", failed.join(", "));
    }
    Ok(())
}

struct GuestTest<'a> {
    label: String,
    exe: PathBuf,
    filter: &'a str,
}

/// The integration (and unit) test executables by target name, built as `test()` in
/// main.rs runs them, from cargo's JSON messages.
fn build_tests(root: &Path, bin: &Path) -> Result<BTreeMap<String, PathBuf>> {
    eprintln!("xtask: building the test binaries (cargo test --no-run)");
    let json = crate::cargo(root)
        .env("NETSTAT_BIN", bin)
        .args([
            "test",
            "--workspace",
            "--exclude",
            "netstat-ebpf",
            "--release",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .read_stdout()?;
    Ok(parse::test_executables(&json)
        .into_iter()
        .map(|(name, exe)| (name, PathBuf::from(exe)))
        .collect())
}

/// The generated guest-side test list: each test with `--test-threads=1`, its exit code and
/// time appended to [`RESULTS_FILE`]; exits 1 when one failed.
fn tests_script(out: &Path, bin: &Path, tests: &[GuestTest]) -> Result<String> {
    let results = shell_quote(&path_str(&out.join(RESULTS_FILE))?);
    let mut s = String::new();
    s.push_str(
        "# Generated by `cargo xtask test --kernel` (xtask/src/vm.rs); runs in the guest.\n",
    );
    let _ = writeln!(s, "export NETSTAT_BIN={}", shell_quote(&path_str(bin)?));
    s.push_str("failed=0\n");
    let _ = writeln!(
        s,
        "run() {{\n\
         \x20   label=$1; shift\n\
         \x20   echo \"=== vm test: $label\"\n\
         \x20   start=$(date +%s%N)\n\
         \x20   \"$@\" --test-threads=1\n\
         \x20   code=$?\n\
         \x20   end=$(date +%s%N)\n\
         \x20   printf '%s\\t%s\\t%s\\n' \"$code\" $(( (end - start) / 1000000 )) \"$label\" >>{results}\n\
         \x20   [ \"$code\" -eq 0 ] || failed=1\n\
         }}"
    );
    for test in tests {
        let mut line = vec![test.label.clone(), path_str(&test.exe)?];
        if !test.filter.is_empty() {
            line.push(test.filter.to_owned());
        }
        let _ = writeln!(s, "run {}", shell_line(&line));
    }
    s.push_str("exit \"$failed\"\n");
    Ok(s)
}

fn test_label(binary: &str, filter: &str) -> String {
    if filter.is_empty() {
        binary.to_owned()
    } else {
        format!("{binary} {filter}")
    }
}

/// One in-guest test's outcome, from a line of [`RESULTS_FILE`].
#[derive(Debug, PartialEq, Eq)]
struct TestResult {
    label: String,
    code: i32,
    millis: u64,
}

fn parse_results(text: &str) -> Vec<TestResult> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let code = fields.next()?.parse().ok()?;
            let millis = fields.next()?.parse().ok()?;
            let label = fields.next()?.to_owned();
            Some(TestResult {
                label,
                code,
                millis,
            })
        })
        .collect()
}

/// The exit code [`GUEST_SCRIPT`] wrote.
fn parse_status(text: &str) -> Option<u8> {
    text.trim().parse::<u32>().ok().map(|c| (c & 0xff) as u8)
}

/// One kernel's lines of the summary, every planned test in order (a test the guest never
/// reached is `NOT RUN`); `code` is the guest's exit code, `None` when it did not finish.
fn summarize(
    kernel: &Kernel,
    tests: &[GuestTest],
    results: &[TestResult],
    code: Option<u8>,
    seconds: f64,
) -> String {
    let mut s = String::new();
    let verdict = match code {
        Some(0) => "ok",
        Some(_) => "FAILED",
        None => "FAILED (the guest did not finish)",
    };
    let _ = writeln!(
        s,
        "xtask: kernel {} ({}): {verdict}, {seconds:.0} s with the boot",
        kernel.name,
        kernel.release()
    );
    let width = tests.iter().map(|t| t.label.len()).max().unwrap_or(0);
    for test in tests {
        let line = match results.iter().find(|r| r.label == test.label) {
            Some(r) if r.code == 0 => format!("pass     {:.1} s", r.millis as f64 / 1000.0),
            Some(r) => format!(
                "FAIL     {:.1} s (exit {})",
                r.millis as f64 / 1000.0,
                r.code
            ),
            None => "NOT RUN".to_owned(),
        };
        let _ = writeln!(s, "  {:width$}  {line}", test.label);
    }
    s
}

/// The deb822 sources file that adds `suites`.
fn sources_file(suites: &[&str]) -> String {
    format!(
        "# Written by `cargo xtask vm-setup` (xtask/src/vm.rs): the suites of the Debian kernels\n\
         # the kernel matrix boots (only `apt-get download`ed, never installed) and of its QEMU.\n\
         Types: deb\n\
         URIs: {APT_URI}\n\
         Suites: {}\n\
         Components: main\n\
         Signed-By: {APT_KEYRING}\n",
        suites.join(" ")
    )
}

/// An apt preferences file that keeps `suites` below the machine's own (priority 100, as
/// backports): their packages are downloaded by name, never picked for the host.
fn preferences_file(suites: &[&str]) -> String {
    let mut s = String::from(
        "# Written by `cargo xtask vm-setup` (xtask/src/vm.rs): the kernel matrix's suites\n\
         # never replace the host's own packages.\n",
    );
    for (i, suite) in suites.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = write!(s, "Package: *\nPin: release n={suite}\nPin-Priority: 100\n");
    }
    s
}

/// `RELEASE` of `linux-image-RELEASE-unsigned`.
fn kernel_release(package: &str) -> Option<&str> {
    package
        .strip_prefix("linux-image-")?
        .strip_suffix("-unsigned")
}

/// The file `apt-get download PACKAGE` wrote (`PACKAGE_VERSION_ARCH.deb`) among `names`.
fn deb_file<'a>(names: &'a [String], package: &str) -> Option<&'a str> {
    names.iter().map(String::as_str).find(|n| {
        n.strip_prefix(package)
            .is_some_and(|rest| rest.starts_with('_'))
            && n.ends_with(".deb")
    })
}

/// A command line for `sh -c` (and for messages).
fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn path_str(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

fn read_marker(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(READY_MARKER)).ok()
}

fn write_marker(dir: &Path, content: &str) -> Result<()> {
    let path = dir.join(READY_MARKER);
    fs::write(&path, content).with_context(|| format!("writing {}", path.display()))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Runs `f`, then says how long it took.
fn timed(what: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = Instant::now();
    f()?;
    eprintln!(
        "setup: {what}: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The suites of /etc/apt/sources.list.d/debian.sources on a new machine.
    const BASE_SUITES: &[&str] = &["bookworm", "bookworm-updates", "bookworm-security"];

    #[test]
    fn kernel_table_is_consistent() {
        for kernel in KERNELS {
            let release = kernel_release(kernel.package);
            assert!(release.is_some(), "{}", kernel.package);
            assert!(
                release.is_some_and(|r| r.starts_with(&format!("{}.", kernel.name))),
                "{} does not start with {}",
                kernel.package,
                kernel.name
            );
            assert!(
                ADDED_SUITES.contains(&kernel.suite) || BASE_SUITES.contains(&kernel.suite),
                "suite {} of {} is neither added nor on a new machine",
                kernel.suite,
                kernel.name
            );
        }
        assert_eq!(KERNELS[1].release(), "6.1.0-50-amd64");
        assert_eq!(kernel_choices(), ["5.10", "6.1", "6.12", "all"]);
        assert_eq!(select("6.12").unwrap()[0].release(), "6.12.113+deb12-amd64");
        assert_eq!(select("all").unwrap().len(), KERNELS.len());
        let err = select("4.19").unwrap_err().to_string();
        assert!(err.contains("5.10, 6.1, 6.12 or all"), "{err}");
    }

    #[test]
    fn apt_files() {
        let sources = sources_file(&["bullseye"]);
        assert!(sources.contains("\nSuites: bullseye\n"), "{sources}");
        assert!(sources.contains("\nURIs: http://deb.debian.org/debian\n"));
        assert!(sources.contains("\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"));
        assert_eq!(
            preferences_file(&["a", "b"])
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            [
                "Package: *",
                "Pin: release n=a",
                "Pin-Priority: 100",
                "",
                "Package: *",
                "Pin: release n=b",
                "Pin-Priority: 100"
            ]
        );
    }

    #[test]
    fn downloaded_deb_is_found_by_package() {
        let names = [
            "linux-image-6.1.0-50-amd64-unsigned-dbg_6.1.176-1_amd64.deb".to_owned(),
            "linux-image-6.1.0-50-amd64-unsigned_6.1.176-1_amd64.deb".to_owned(),
            "partial".to_owned(),
        ];
        assert_eq!(
            deb_file(&names, "linux-image-6.1.0-50-amd64-unsigned"),
            Some("linux-image-6.1.0-50-amd64-unsigned_6.1.176-1_amd64.deb")
        );
        assert_eq!(
            deb_file(&names, "linux-image-5.10.0-32-amd64-unsigned"),
            None
        );
    }

    #[test]
    fn results_and_status() {
        let text = "0\t45210\tebpf_tcp_states\n101\t800\towners some_test\ngarbage\n";
        assert_eq!(
            parse_results(text),
            [
                TestResult {
                    label: "ebpf_tcp_states".to_owned(),
                    code: 0,
                    millis: 45210
                },
                TestResult {
                    label: "owners some_test".to_owned(),
                    code: 101,
                    millis: 800
                }
            ]
        );
        assert_eq!(parse_status("0\n"), Some(0));
        assert_eq!(parse_status("101\n"), Some(101));
        assert_eq!(parse_status("256"), Some(0));
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn summary_lists_every_planned_test() {
        let tests = [
            GuestTest {
                label: "a".to_owned(),
                exe: PathBuf::from("/t/a"),
                filter: "",
            },
            GuestTest {
                label: "bb f".to_owned(),
                exe: PathBuf::from("/t/bb"),
                filter: "f",
            },
            GuestTest {
                label: "c".to_owned(),
                exe: PathBuf::from("/t/c"),
                filter: "",
            },
        ];
        let results = parse_results("0\t1500\ta\n101\t250\tbb f\n");
        let s = summarize(&KERNELS[1], &tests, &results, Some(1), 61.2);
        assert_eq!(
            s,
            "xtask: kernel 6.1 (6.1.0-50-amd64): FAILED, 61 s with the boot\n\
             \x20 a     pass     1.5 s\n\
             \x20 bb f  FAIL     0.2 s (exit 101)\n\
             \x20 c     NOT RUN\n"
        );
    }

    #[test]
    fn generated_test_script() {
        let tests = [GuestTest {
            label: "owners x".to_owned(),
            exe: PathBuf::from("/w/target/release/deps/owners-1"),
            filter: "x",
        }];
        let s = tests_script(
            Path::new("/w/target/vm/6.1"),
            Path::new("/w/target/release/netstat"),
            &tests,
        )
        .unwrap();
        assert!(
            s.contains("export NETSTAT_BIN=/w/target/release/netstat\n"),
            "{s}"
        );
        assert!(s.contains(">>/w/target/vm/6.1/results\n"), "{s}");
        assert!(
            s.contains("\nrun 'owners x' /w/target/release/deps/owners-1 x\n"),
            "{s}"
        );
        assert!(s.ends_with("exit \"$failed\"\n"));
    }
}
