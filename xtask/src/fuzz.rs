//! `cargo xtask fuzz`: builds the cargo-fuzz targets under fuzz/ (nightly, libFuzzer) and
//! runs each for a bounded time on a scratch copy of its seed corpus, so the repository's
//! corpus stays as committed. A crash, panic, timeout or leak fails the task; the input
//! that caused it is kept under target/fuzz/artifacts/TARGET/ and its path printed.
use std::{fs, path::Path, time::Instant};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;

/// Seconds each target runs within `cargo xtask test`. Measured on this project's 2-core
/// machine: a cold build of the fuzz targets took 151 s and each run about 11.5 s, so the
/// whole step (13 targets) took 5 min 1 s, under the 6 minutes it may take.
pub const SECONDS_IN_TEST: u64 = 10;

/// Runs `only` (or every target) for `seconds` each.
pub fn fuzz(root: &Path, target: &Path, seconds: u64, only: Option<&str>) -> Result<()> {
    let fuzz_dir = root.join("fuzz");
    let mut targets = list_targets(&fuzz_dir)?;
    if let Some(name) = only {
        if !targets.iter().any(|t| t == name) {
            bail!("no fuzz target {name}; there are: {}", targets.join(", "));
        }
        targets = vec![name.to_string()];
    }
    let target_dir = target.join("fuzz");
    let built = Instant::now();
    eprintln!(
        "xtask: fuzz: building {} target(s) (cargo-fuzz, nightly)",
        targets.len()
    );
    let mut build = cargo_fuzz(root).arg("build");
    if let Some(name) = only {
        build = build.arg(name);
    }
    build.arg("--target-dir").arg(&target_dir).run()?;
    eprintln!(
        "xtask: fuzz: built in {:.0} s",
        built.elapsed().as_secs_f64()
    );

    let scratch = std::env::temp_dir().join(format!("netstat-xtask-fuzz-{}", std::process::id()));
    let result = run_all(root, &target_dir, &scratch, &targets, seconds);
    let _ = fs::remove_dir_all(&scratch);
    let failed = result?;
    if !failed.is_empty() {
        bail!("fuzz target(s) failed: {}", failed.join(", "));
    }
    Ok(())
}

fn run_all(
    root: &Path,
    target_dir: &Path,
    scratch: &Path,
    targets: &[String],
    seconds: u64,
) -> Result<Vec<String>> {
    let mut failed = Vec::new();
    for name in targets {
        let seeds = root.join("fuzz/corpus").join(name);
        let work = scratch.join(name);
        let corpus = work.join("corpus");
        let tmp = work.join("tmp");
        fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
        fs::create_dir_all(&tmp)?;
        let mut seeded = 0;
        if let Ok(entries) = fs::read_dir(&seeds) {
            for entry in entries.flatten() {
                fs::copy(entry.path(), corpus.join(entry.file_name()))?;
                seeded += 1;
            }
        }
        let artifacts = target_dir.join("artifacts").join(name);
        fs::create_dir_all(&artifacts)?;
        let started = Instant::now();
        let out = cargo_fuzz(root)
            // The targets write their stand-in /proc trees under TMPDIR.
            .env("TMPDIR", &tmp)
            .args(["run", name.as_str()])
            .arg(&corpus)
            .arg("--target-dir")
            .arg(target_dir)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .capture()?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stats = Stats::of(&log);
        let corpus_after = fs::read_dir(&corpus).map_or(0, |d| d.count());
        eprintln!(
            "xtask: fuzz: {name}: {} execs in {:.0} s, coverage {} edges / {} features, \
             corpus {seeded} seeds -> {corpus_after}",
            stats.execs.map_or("?".into(), |n| n.to_string()),
            started.elapsed().as_secs_f64(),
            stats.cov.map_or("?".into(), |n| n.to_string()),
            stats.ft.map_or("?".into(), |n| n.to_string()),
        );
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("xtask: fuzz: {name} FAILED ({}):", out.status);
            for line in tail.iter().rev() {
                eprintln!("    {line}");
            }
            match &stats.artifact {
                Some(path) => eprintln!("xtask: fuzz: {name}: the input is kept at {path}"),
                None => eprintln!(
                    "xtask: fuzz: {name}: no input was written (see {})",
                    artifacts.display()
                ),
            }
            failed.push(name.clone());
        }
    }
    Ok(failed)
}

/// cargo-fuzz on nightly. The eBPF object is not built (AYA_BUILD_SKIP): the targets
/// never load it, and the fuzz build then needs no bpf-linker.
fn cargo_fuzz(root: &Path) -> Cmd {
    Cmd::new("cargo")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
        .env("AYA_BUILD_SKIP", "1")
        .dir(&root.join("fuzz"))
        .args(["+nightly", "fuzz"])
}

/// The targets: one file each under fuzz/fuzz_targets/.
fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// What libFuzzer's output says about a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub execs: Option<u64>,
    pub cov: Option<u64>,
    pub ft: Option<u64>,
    pub artifact: Option<String>,
}

impl Stats {
    pub fn of(log: &str) -> Stats {
        let mut s = Stats::default();
        for line in log.lines() {
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                s.execs = n.trim().parse().ok();
            }
            // Progress lines: `#1234	NEW    cov: 567 ft: 890 corp: 12/3456b ...`.
            if line.starts_with('#') {
                let mut words = line.split_whitespace();
                while let Some(w) = words.next() {
                    match w {
                        "cov:" => s.cov = words.next().and_then(|n| n.parse().ok()),
                        "ft:" => s.ft = words.next().and_then(|n| n.parse().ok()),
                        _ => {}
                    }
                }
            }
            if let Some(rest) = line.split("Test unit written to ").nth(1) {
                s.artifact = Some(rest.trim().to_string());
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_come_from_the_progress_lines_and_final_stats() {
        let log = "INFO: Seed: 1\n\
                   #2\tINITED cov: 10 ft: 12 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #900\tNEW    cov: 57 ft: 80 corp: 9/300b lim: 4 exec/s: 0 rss: 31Mb\n\
                   Done 1000 runs in 2 second(s)\n\
                   stat::number_of_executed_units: 1000\n";
        assert_eq!(
            Stats::of(log),
            Stats {
                execs: Some(1000),
                cov: Some(57),
                ft: Some(80),
                artifact: None,
            }
        );
        let crash = "==1== ERROR: libFuzzer: deadly signal\n\
                     artifact_prefix='/t/'; Test unit written to /t/crash-abc\n";
        assert_eq!(Stats::of(crash).artifact.as_deref(), Some("/t/crash-abc"));
    }
}
