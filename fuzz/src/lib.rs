//! What the fuzz targets share: a private file tree that stands in for `/` (netstat's
//! `PROC_ROOT` mode: files only, no netlink), and checks on what a run printed.
use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use netstat_user::{app, system::RunEnv};

/// A directory under `$TMPDIR` (xtask points it at a scratch directory it removes)
/// holding `proc/`, `sys/` and `etc/` files written from the fuzz input.
pub struct Tree {
    root: PathBuf,
}

static TREE: OnceLock<Tree> = OnceLock::new();

impl Tree {
    /// The tree of this process (libFuzzer runs one input at a time).
    pub fn get() -> &'static Tree {
        TREE.get_or_init(|| {
            let root = std::env::temp_dir().join(format!("netstat-fuzz-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            if let Err(e) = fs::create_dir_all(root.join("proc/net")) {
                panic!("cannot create the fuzz tree {}: {e}", root.display());
            }
            Tree { root }
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `data` at `rel` (parents created).
    pub fn write(&self, rel: &str, data: &[u8]) {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        if let Err(e) = fs::write(&path, data) {
            panic!("cannot write {}: {e}", path.display());
        }
    }

    /// Removes `rel` (file or directory) if present.
    pub fn remove(&self, rel: &str) {
        let path = self.root.join(rel);
        if fs::remove_file(&path).is_err() {
            let _ = fs::remove_dir_all(&path);
        }
    }

    /// `netstat ARGS` over this tree, as `PROC_ROOT=tree/proc netstat ARGS` runs.
    pub fn run(&self, args: &[&str]) -> Output {
        let env = RunEnv {
            root: self.root.clone(),
            netlink: false,
        };
        let argv =
            std::iter::once(OsString::from("netstat")).chain(args.iter().map(OsString::from));
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = match app::run(argv, &env, &mut out, &mut err) {
            Ok(code) => code,
            // Writes into a Vec cannot fail: an error here came from a source.
            Err(e) => panic!("netstat {args:?} returned an I/O error: {e}"),
        };
        let out = Output { code, out, err };
        // As the run itself parsed it: `--json` may be an operand (after `--`) or a value.
        let json = netstat_user::cli::parse(std::iter::once("netstat").chain(args.iter().copied()))
            .is_ok_and(|(o, _)| o.json);
        if json {
            out.assert_json_lines();
        }
        out
    }
}

/// What one run printed.
pub struct Output {
    pub code: i32,
    pub out: Vec<u8>,
    pub err: Vec<u8>,
}

impl Output {
    /// With `--json`, stdout holds one JSON value per line, whatever the input was.
    pub fn assert_json_lines(&self) {
        for line in self.out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
                panic!(
                    "--json printed a line that is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
    }
}

/// Splits `data` at its first NUL: two files from one input (text files have no NUL).
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// First byte (the target's selector) and the rest.
pub fn selector(data: &[u8]) -> Option<(u8, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((first, rest))
}

/// Numeric names for the masquerade table (no resolver, no /etc/services).
pub struct NumericMasq;

impl netstat_user::masq::MasqNames for NumericMasq {
    fn host(&mut self, addr: std::net::Ipv4Addr) -> String {
        addr.to_string()
    }
    fn service(&self, _: u16, _: &str) -> Option<&str> {
        None
    }
}

/// The `-M` table and its `--json` records for `entries`; the records are JSON lines.
pub fn render_masq(entries: &[netstat_user::model::MasqEntry], extend: bool) {
    use netstat_user::{masq, render::json::Stamp};
    let layout = masq::Layout {
        numeric_hosts: true,
        numeric_ports: true,
        extend,
    };
    let mut text = Vec::new();
    let _ = masq::render(entries, &layout, &mut NumericMasq, &mut text);
    let lines = text.iter().filter(|&&b| b == b'\n').count();
    let want = if entries.is_empty() {
        0
    } else {
        entries.len() + 2
    };
    assert_eq!(lines, want, "{} entries took {lines} lines", entries.len());
    let stamp = Stamp {
        ts_ns: 1,
        netns: Some(2),
    };
    let mut json = Vec::new();
    let _ = netstat_user::render::json::masq::write_entries(&mut json, &stamp, entries, extend);
    Output {
        code: 0,
        out: json,
        err: Vec::new(),
    }
    .assert_json_lines();
}
