//! Pure parsers for what setup reads from the system, tested on synthetic input.
use std::collections::{BTreeMap, BTreeSet};

/// Effective uid from `/proc/self/status` (`Uid:` real, effective, saved, fs).
pub fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `/proc/mounts` has a filesystem of type `fstype` mounted at `mountpoint`.
pub fn is_mounted(mounts: &str, mountpoint: &str, fstype: &str) -> bool {
    mounts.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (_source, point, kind) = (fields.next(), fields.next(), fields.next());
        point == Some(mountpoint) && kind == Some(fstype)
    })
}

/// Installed packages from `dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n'`:
/// the status abbreviation's second letter is the current state, `i` for installed.
pub fn dpkg_installed(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let status = fields.next()?;
            (status.chars().nth(1) == Some('i')).then(|| name.to_owned())
        })
        .collect()
}

/// Candidate versions from `apt-cache policy PKG...`; `(none)` and packages apt does not
/// know at all map to `None`.
pub fn apt_candidates(output: &str, packages: &[&str]) -> BTreeMap<String, Option<String>> {
    let mut found: BTreeMap<String, Option<String>> =
        packages.iter().map(|p| ((*p).to_owned(), None)).collect();
    let mut current: Option<&str> = None;
    for line in output.lines() {
        if !line.starts_with(char::is_whitespace) {
            // A package block starts with "name:" (or "name:arch:") at column 0.
            current = line.split(':').next().filter(|name| !name.is_empty());
        } else if let (Some(name), Some(candidate)) =
            (current, line.trim().strip_prefix("Candidate:"))
        {
            let candidate = candidate.trim();
            if let Some(slot) = found.get_mut(name)
                && candidate != "(none)"
                && !candidate.is_empty()
            {
                *slot = Some(candidate.to_owned());
            }
        }
    }
    found
}

/// Whether `rustup toolchain list` has a toolchain of the given channel (`nightly`).
pub fn has_toolchain(list: &str, channel: &str) -> bool {
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .any(|name| name == channel || name.starts_with(&format!("{channel}-")))
}

/// Whether `rustup component list --installed` has `component` (listed bare, like
/// `rust-src`, or with the host triple, like `clippy-x86_64-unknown-linux-gnu`).
pub fn has_component(list: &str, component: &str) -> bool {
    list.lines().map(str::trim).any(|name| {
        name == component
            || name
                .strip_prefix(component)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|triple| triple.split('-').count() >= 3)
    })
}

/// Version from `bpf-linker --version` (`bpf-linker 0.13.0`).
pub fn bpf_linker_version(output: &str) -> Option<&str> {
    let mut words = output.split_whitespace();
    (words.next()? == "bpf-linker").then_some(())?;
    words.next()
}

/// Version from `cargo deb --version` (`cargo-deb 3.8.0`).
pub fn cargo_deb_version(output: &str) -> Option<&str> {
    let mut words = output.split_whitespace();
    (words.next()? == "cargo-deb").then_some(())?;
    words.next()
}

/// The version in `cargo fuzz --version`'s output (`cargo-fuzz 0.13.1`).
pub fn cargo_fuzz_version(output: &str) -> Option<&str> {
    let mut words = output.split_whitespace();
    (words.next()? == "cargo-fuzz").then_some(())?;
    words.next()
}

/// The major number of a `MAJOR.MINOR.PATCH` version.
pub fn major_version(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// The toolchain's LLVM shared library, from the file names in `$(rustc --print sysroot)/lib`.
#[derive(Debug, PartialEq, Eq)]
pub struct LlvmLib {
    /// Name for `-l dylib=`: the file name without `lib` and `.so`.
    pub link_name: String,
    /// LLVM major version, for bpf-linker's `llvm-N` feature.
    pub major: u32,
}

/// Finds the one `libLLVM-<major>….so` among `file_names`.
pub fn llvm_lib<'a>(file_names: impl IntoIterator<Item = &'a str>) -> Result<LlvmLib, String> {
    let mut libs: Vec<LlvmLib> = file_names
        .into_iter()
        .filter_map(|file| {
            let link_name = file.strip_prefix("lib")?.strip_suffix(".so")?;
            let rest = link_name.strip_prefix("LLVM-")?;
            let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
            Some(LlvmLib {
                link_name: link_name.to_owned(),
                major: digits.parse().ok()?,
            })
        })
        .collect();
    match libs.len() {
        1 => Ok(libs.remove(0)),
        0 => Err("no libLLVM-<version>*.so file".to_owned()),
        _ => Err(format!(
            "several LLVM libraries: {}",
            libs.iter()
                .map(|l| format!("lib{}.so", l.link_name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The version of package `name` in `cargo metadata --format-version 1 --no-deps`.
pub fn package_version(metadata_json: &str, name: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(metadata_json).ok()?;
    let packages = value.get("packages")?.as_array()?;
    let package = packages
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))?;
    package.get("version")?.as_str().map(str::to_owned)
}

/// `cargo metadata --format-version 1 --no-deps`'s `target_directory`.
pub fn target_directory(metadata_json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(metadata_json).ok()?;
    value.get("target_directory")?.as_str().map(str::to_owned)
}

/// The test executables of `cargo test --no-run --message-format=json…` (one JSON message a
/// line), by target name: the integration tests' file names under tests/, `netstat_user`
/// for a library's unit tests. The first artifact of a name wins.
pub fn test_executables(messages: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for line in messages.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if value.get("reason").and_then(|r| r.as_str()) != Some("compiler-artifact")
            || value.pointer("/profile/test").and_then(|t| t.as_bool()) != Some(true)
        {
            continue;
        }
        let (Some(name), Some(exe)) = (
            value.pointer("/target/name").and_then(|n| n.as_str()),
            value.get("executable").and_then(|e| e.as_str()),
        ) else {
            continue;
        };
        found
            .entry(name.to_owned())
            .or_insert_with(|| exe.to_owned());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_the_effective_one() {
        let status = "Name:\tcat\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name:\tcat\n"), None);
        assert_eq!(effective_uid("Uid:\tx\n"), None);
    }

    #[test]
    fn mounts_need_point_and_type() {
        let mounts = "sysfs /sys sysfs rw 0 0\n\
                      nodev /sys/kernel/tracing tracefs rw,relatime 0 0\n\
                      none /sys/fs/bpf tmpfs rw 0 0\n";
        assert!(is_mounted(mounts, "/sys/kernel/tracing", "tracefs"));
        assert!(!is_mounted(mounts, "/sys/fs/bpf", "bpf"));
        assert!(!is_mounted("", "/sys/fs/bpf", "bpf"));
        assert!(is_mounted(
            "bpf /sys/fs/bpf bpf rw,nosuid 0 0",
            "/sys/fs/bpf",
            "bpf"
        ));
    }

    #[test]
    fn dpkg_status_letters() {
        let out = "net-tools ii \nbpftool rc \nprocps hi \nfoo un \n";
        let installed = dpkg_installed(out);
        assert!(installed.contains("net-tools"));
        assert!(installed.contains("procps"));
        assert!(!installed.contains("bpftool"));
        assert!(!installed.contains("foo"));
    }

    #[test]
    fn apt_candidates_by_block() {
        let out = "libbpf-tools:\n  Installed: (none)\n  Candidate: 0.26.0+ds-1\n  Version table:\n\
                   \x20    0.26.0+ds-1 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n\
                   bpftool:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n";
        let got = apt_candidates(out, &["libbpf-tools", "bpftool", "unknown"]);
        assert_eq!(got["libbpf-tools"].as_deref(), Some("0.26.0+ds-1"));
        assert_eq!(got["bpftool"], None);
        assert_eq!(got["unknown"], None);
    }

    #[test]
    fn toolchains_and_components() {
        let list =
            "stable-x86_64-unknown-linux-gnu (active, default)\nnightly-x86_64-unknown-linux-gnu\n";
        assert!(has_toolchain(list, "nightly"));
        assert!(!has_toolchain(
            "stable-x86_64-unknown-linux-gnu\n",
            "nightly"
        ));
        let comps = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\nrust-src\n\
                     rust-std-x86_64-unknown-linux-gnu\n";
        assert!(has_component(comps, "rust-src"));
        assert!(has_component(comps, "clippy"));
        assert!(!has_component(comps, "rustfmt"));
        assert!(!has_component("rust-src\n", "rust"));
    }

    #[test]
    fn bpf_linker_versions() {
        assert_eq!(bpf_linker_version("bpf-linker 0.13.0\n"), Some("0.13.0"));
        assert_eq!(bpf_linker_version("something 0.13.0\n"), None);
        assert_eq!(bpf_linker_version(""), None);
    }

    #[test]
    fn package_versions_from_metadata() {
        let json = r#"{"packages":[{"name":"xtask","version":"0.1.0"},
            {"name":"netstat-user","version":"0.2.3"}],"target_directory":"/t"}"#;
        assert_eq!(
            package_version(json, "netstat-user").as_deref(),
            Some("0.2.3")
        );
        assert_eq!(package_version(json, "other"), None);
        assert_eq!(package_version("not json", "xtask"), None);
    }

    #[test]
    fn cargo_deb_versions() {
        assert_eq!(cargo_deb_version("cargo-deb 3.8.0\n"), Some("3.8.0"));
        assert_eq!(cargo_deb_version("error: no such command: `deb`\n"), None);
        assert_eq!(cargo_fuzz_version("cargo-fuzz 0.13.1\n"), Some("0.13.1"));
        assert_eq!(cargo_fuzz_version("error: no such command: `fuzz`\n"), None);
        assert_eq!(major_version("3.8.0"), Some(3));
        assert_eq!(major_version("1.44.1"), Some(1));
        assert_eq!(major_version("x.1"), None);
    }

    #[test]
    fn llvm_library_name_from_sysroot_files() {
        let files = [
            "libLLVM-22-rust-1.97.0-nightly.so",
            "libLLVM.so.22.1-rust-1.97.0-nightly",
            "librustc_driver-b5a965480ee51f9a.so",
            "rustlib",
        ];
        assert_eq!(
            llvm_lib(files),
            Ok(LlvmLib {
                link_name: "LLVM-22-rust-1.97.0-nightly".to_owned(),
                major: 22
            })
        );
        assert!(llvm_lib(["librustc_driver-1.so"]).is_err());
        assert!(llvm_lib(["libLLVM-22-a.so", "libLLVM-23-b.so"]).is_err());
    }

    #[test]
    fn metadata_target_directory() {
        let json = r#"{"packages":[],"target_directory":"/work/main/target","version":1}"#;
        assert_eq!(target_directory(json).as_deref(), Some("/work/main/target"));
        assert_eq!(target_directory("not json"), None);
    }

    #[test]
    fn test_executables_from_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"libc"},"profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"owners"},"profile":{"test":true},"executable":"/w/target/release/deps/owners-ab12"}
{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"netstat_user"},"profile":{"test":true},"executable":"/w/target/release/deps/netstat_user-cd34"}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"netstat"},"profile":{"test":false},"executable":"/w/target/release/netstat"}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"docs"},"profile":{"test":true},"executable":null}
{"reason":"build-finished","success":true}
not json"#;
        let found = test_executables(messages);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [
                (
                    "netstat_user".to_owned(),
                    "/w/target/release/deps/netstat_user-cd34".to_owned()
                ),
                (
                    "owners".to_owned(),
                    "/w/target/release/deps/owners-ab12".to_owned()
                ),
            ]
        );
    }
}
