//! Builds the eBPF object (netstat-ebpf) with the nightly toolchain through aya-build,
//! as aya-template does. `AYA_BUILD_SKIP=1` skips it (clippy, docs); the binary then
//! embeds an empty object and says so at run time instead of loading it.
use std::{env, fs, path::PathBuf};

fn main() -> anyhow::Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR set by cargo"));
    let object = out_dir.join("netstat-ebpf");
    // aya-build leaves the object absent when skipped; an empty file keeps
    // include_bytes! working and is detected at run time.
    if !object.exists() {
        fs::write(&object, [])?;
    }
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("../netstat-ebpf");
    let root = root.to_str().expect("utf-8 path");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "netstat-ebpf",
            root_dir: root,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
