//! The man page and the bash, zsh and fish completions (netstat-docs) against the parser:
//! each names every option spelling the parser accepts and nothing else, the man page
//! carries every option's help and its own sections and renders without warnings, and
//! `netstat -h` is net-tools' text followed by a section naming exactly our extensions.
//!
//! The option lists come from `netstat_user::cli` (the walker's tables and the clap args),
//! never from a list written here. No root needed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use netstat_docs::{SHELLS, Shell, completion, completion_path, man_page, man_path, write_to};
use netstat_tests::{TempDir, ours, real};
use netstat_user::cli;

/// Every spelling the parser accepts: `--long` and `-c`.
fn accepted() -> BTreeSet<String> {
    let accepted = cli::accepted_options();
    let longs = accepted.longs.iter().map(|l| format!("--{l}"));
    let shorts = accepted.shorts.iter().map(|c| format!("-{c}"));
    longs.chain(shorts).collect()
}

/// `text` as roff's escaping writes it (the `roff` crate: backslash, hyphen, apostrophe).
fn roff(text: &str) -> String {
    text.replace('\\', r"\\")
        .replace('-', r"\-")
        .replace('\'', r"\*(Aq")
}

fn man_text() -> String {
    String::from_utf8(man_page()).expect("the man page is UTF-8")
}

fn completion_text(shell: Shell) -> String {
    String::from_utf8(completion(shell)).expect("the completion script is UTF-8")
}

/// The sorted difference of two option sets, for messages.
fn missing(want: &BTreeSet<String>, got: &BTreeSet<String>) -> Vec<String> {
    want.difference(got).cloned().collect()
}

fn assert_same_options(what: &str, got: &BTreeSet<String>) {
    let want = accepted();
    assert!(
        want == *got,
        "{what}: options the parser accepts but missing: {:?}; named but not accepted: {:?}",
        missing(&want, got),
        missing(got, &want)
    );
}

// --- the man page ----------------------------------------------------------------------

/// The options of the man page's `.TP` tags (`\fB\-t\fR, \fB\-\-tcp\fR`), as `-t`/`--tcp`.
fn man_options(man: &str) -> BTreeSet<String> {
    let mut options = BTreeSet::new();
    let mut lines = man.lines();
    while let Some(line) = lines.next() {
        if line != ".TP" {
            continue;
        }
        let tag = lines.next().unwrap_or_default();
        for bold in tag.split(r"\fB").skip(1) {
            let Some((word, _)) = bold.split_once(r"\fR") else {
                continue;
            };
            let word = word.replace(r"\-", "-");
            if word.starts_with('-') && word.len() > 1 {
                options.insert(word);
            }
        }
    }
    options
}

#[test]
fn man_page_tags_every_accepted_option_and_nothing_else() {
    let man = man_text();
    // Every spelling also appears as roff writes it: `\-\-watch`, `\-t`.
    for option in accepted() {
        let needle = format!(r"\fB{}\fR", roff(&option));
        assert!(man.contains(&needle), "{needle} not in the man page");
    }
    // The tags hold each option of a section once: LIVE MODES AND THE AGENT repeats the
    // four modes, nothing else.
    let options = man_options(&man);
    let in_live_modes = man_options(
        man.split(".SH \"LIVE MODES AND THE AGENT\"")
            .nth(1)
            .unwrap(),
    );
    assert_eq!(
        in_live_modes,
        ["--watch", "--audit", "--json", "--agent"]
            .map(String::from)
            .into()
    );
    assert_same_options("man page", &options);
}

#[test]
fn man_page_carries_every_option_help() {
    let man = man_text();
    for arg in cli::command().get_arguments().filter(|a| !a.is_hide_set()) {
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        assert!(!help.is_empty(), "{:?} has no help", arg.get_id());
        assert!(
            man.contains(&roff(&help)),
            "the help of {:?} is not in the man page: {help}",
            arg.get_id()
        );
    }
}

#[test]
fn man_page_has_its_sections() {
    let man = man_text();
    assert!(
        man.contains("\n.TH NETSTAT 8 \"\" \"netstat "),
        "title line: {}",
        man.lines().find(|l| l.starts_with(".TH")).unwrap_or("none")
    );
    let headings: Vec<&str> = man
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|h| h.trim_matches('"'))
        .collect();
    for heading in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "MODES",
        "SOCKETS",
        "ADDRESS FAMILIES",
        "DISPLAY OPTIONS",
        "OPERANDS",
        "EXTENSIONS (NOT IN NET-TOOLS 2.10)",
        "LIVE-MODE FILTERS (NOT IN NET-TOOLS 2.10)",
        "LIVE MODES AND THE AGENT",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "SEE ALSO",
    ] {
        assert!(headings.contains(&heading), "no {heading} in {headings:?}");
    }
    assert_eq!(
        headings.len(),
        headings.iter().collect::<BTreeSet<_>>().len(),
        "a section twice: {headings:?}"
    );
    // net-tools' exit codes, each a tag of EXIT STATUS.
    let exit = man.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
    let exit = exit.split("\n.SH ").next().unwrap();
    for code in ["0", "1", "3"] {
        assert!(
            exit.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit {code}"
        );
    }
    // Each new mode says it needs root.
    let live = man
        .split(".SH \"LIVE MODES AND THE AGENT\"")
        .nth(1)
        .unwrap();
    for mode in ["watch", "audit", "agent"] {
        let start = format!(".TP\n\\fB\\-\\-{mode}\\fR\n");
        let entry = live.split(&start).nth(1).expect("entry").lines().next();
        assert!(
            entry.is_some_and(|e| e.contains("Needs root")),
            "--{mode}: {entry:?}"
        );
    }
}

/// The first of these tools that is installed.
fn tool(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| Path::new(p).is_file())
        .map(|p| (*p).to_owned())
}

#[test]
fn man_page_renders_without_warnings() {
    let dir = TempDir::new("man");
    let page = dir.path().join("netstat.8");
    std::fs::write(&page, man_page()).expect("write the man page");
    let mut checked = 0;
    // groff with every warning on; -z: format, print nothing.
    if let Some(groff) = tool(&["/usr/bin/groff"]) {
        let out = Command::new(groff)
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&page)
            .output()
            .expect("run groff");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "groff: {}: {stderr}",
            out.status
        );
        checked += 1;
    }
    // man-db, as a reader would open it, with its own warning set.
    if let Some(man) = tool(&["/usr/bin/man"]) {
        let out = Command::new(man)
            .args(["--warnings=w", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING")
            .env_remove("MANPAGER")
            .env_remove("PAGER")
            .output()
            .expect("run man");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "man -l: {}: {stderr}",
            out.status
        );
        // Without a terminal man prints plain text; overstrikes (`N\bN`) are dropped anyway.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        for heading in [
            "NAME",
            "SYNOPSIS",
            "EXIT STATUS",
            "LIVE MODES AND THE AGENT",
        ] {
            assert!(
                text.lines().any(|l| l == heading),
                "man -l shows no {heading}"
            );
        }
        checked += 1;
    }
    if checked == 0 {
        // `cargo xtask setup` installs groff-base and man-db where apt has them.
        eprintln!("note: neither groff nor man is installed: the man page was not rendered");
    }
}

// --- completions ---------------------------------------------------------------------------

/// The words of bash's `opts="..."` lists (the first one is the empty initial value).
fn bash_options(script: &str) -> BTreeSet<String> {
    script
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("opts=\"")?.strip_suffix('"'))
        .flat_map(str::split_whitespace)
        .map(String::from)
        .collect()
}

/// The options of zsh's `_arguments` specs: `'-t[help]'`, `'*--state=[help]:...'`.
fn zsh_options(script: &str) -> BTreeSet<String> {
    script
        .lines()
        .filter_map(|l| l.strip_prefix('\''))
        .map(|spec| spec.strip_prefix('*').unwrap_or(spec))
        .filter(|spec| spec.starts_with('-'))
        .map(|spec| {
            let end = spec.find(['[', '=', '+']).unwrap_or(spec.len());
            spec[..end].to_owned()
        })
        .collect()
}

/// The options of fish's `complete -c netstat -s t -l tcp ...` lines.
fn fish_options(script: &str) -> BTreeSet<String> {
    let mut options = BTreeSet::new();
    for line in script
        .lines()
        .filter(|l| l.starts_with("complete -c netstat "))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            let value = pair[1].trim_matches('\'');
            match pair[0] {
                "-s" => options.insert(format!("-{value}")),
                "-l" => options.insert(format!("--{value}")),
                _ => false,
            };
        }
    }
    options
}

#[test]
fn bash_completion_offers_every_accepted_option_and_nothing_else() {
    assert_same_options("bash", &bash_options(&completion_text(Shell::Bash)));
}

#[test]
fn zsh_completion_offers_every_accepted_option_and_nothing_else() {
    assert_same_options("zsh", &zsh_options(&completion_text(Shell::Zsh)));
}

#[test]
fn fish_completion_offers_every_accepted_option_and_nothing_else() {
    let script = completion_text(Shell::Fish);
    assert_same_options("fish", &fish_options(&script));
    // fish 3 reads a bare `?` as a wildcard.
    assert!(!script.contains(" -s ? "), "bare -s ?");
}

/// What bash's completion function offers after `netstat WORD`.
fn bash_complete(script: &Path, cwd: &Path, word: &str) -> BTreeSet<String> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            r#"source "$1" || exit 1
               COMP_WORDS=(netstat "$2"); COMP_CWORD=1
               _netstat netstat "$2" netstat || exit 1
               printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .args(["bash".as_ref(), script.as_os_str(), word.as_ref()])
        .current_dir(cwd)
        .output()
        .expect("run bash");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "bash completion for {word:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completion_runs() {
    let dir = TempDir::new("bash");
    let script = dir.path().join("netstat");
    std::fs::write(&script, completion(Shell::Bash)).expect("write the script");
    // From an empty directory: bash expands the offered words as globs (`-?`).
    let cwd = TempDir::new("bash-cwd");
    let offered = bash_complete(&script, cwd.path(), "-");
    assert_same_options("bash, completing -", &offered);
    let longs: BTreeSet<String> = accepted()
        .into_iter()
        .filter(|o| o.starts_with("--"))
        .collect();
    assert_eq!(bash_complete(&script, cwd.path(), "--"), longs);
    assert_eq!(
        bash_complete(&script, cwd.path(), "--wa"),
        BTreeSet::from(["--watch".to_owned()])
    );
}

/// zsh and fish check their scripts' syntax where they are installed.
#[test]
fn zsh_and_fish_scripts_parse_where_installed() {
    let dir = TempDir::new("shells");
    for (shell, program, args) in [
        (Shell::Zsh, "zsh", &["-n"][..]),
        (Shell::Fish, "fish", &["--no-execute"][..]),
    ] {
        let Some(path) = tool(&[&format!("/usr/bin/{program}"), &format!("/bin/{program}")]) else {
            eprintln!("note: {program} is not installed: its script's syntax was not checked");
            continue;
        };
        let script = dir.path().join(program);
        std::fs::write(&script, completion(shell)).expect("write the script");
        let out = Command::new(path)
            .args(args)
            .arg(&script)
            .output()
            .expect("run the shell");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// --- the files -----------------------------------------------------------------------------

#[test]
fn write_to_writes_the_man_page_and_every_completion() {
    let dir = TempDir::new("dist");
    let written = write_to(dir.path()).expect("write the documents");
    let mut expected = vec![(dir.path().join(man_path()), man_page())];
    for shell in SHELLS {
        expected.push((dir.path().join(completion_path(shell)), completion(shell)));
    }
    let paths: Vec<_> = expected.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(written, paths);
    for (path, bytes) in expected {
        assert_eq!(std::fs::read(&path).expect("read back"), bytes, "{path:?}");
    }
    let relative: Vec<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        relative,
        [
            "man/man8/netstat.8",
            "completions/bash/netstat",
            "completions/zsh/_netstat",
            "completions/fish/netstat.fish"
        ]
    );
}

// --- netstat -h ------------------------------------------------------------------------------

/// `-h` and `--help` of the built binary: stdout is net-tools' stdout followed by our
/// section, stderr and the exit code are net-tools'. The section names exactly the clap
/// args of the extension headings (`cli::is_extension`), each once.
#[test]
fn help_is_net_tools_text_then_exactly_the_extensions() {
    for flag in ["-h", "--help"] {
        let ours = Command::new(ours())
            .arg(flag)
            .output()
            .expect("run netstat");
        let real = Command::new(real())
            .arg(flag)
            .env("LC_ALL", "C")
            .output()
            .expect("run net-tools netstat");
        assert_eq!(ours.status.code(), real.status.code(), "{flag}");
        assert_eq!(ours.stderr, real.stderr, "{flag}: stderr");
        let section = ours
            .stdout
            .strip_prefix(real.stdout.as_slice())
            .unwrap_or_else(|| panic!("{flag}: stdout does not start with net-tools' text"));
        let section = String::from_utf8(section.to_vec()).expect("UTF-8");
        assert_eq!(section, cli::extensions_help(), "{flag}");

        let named: Vec<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix("        --"))
            .map(|l| format!("--{}", l.split(' ').next().unwrap_or_default()))
            .collect();
        let extensions: Vec<String> = cli::command()
            .get_arguments()
            .filter(|a| cli::is_extension(a))
            .map(|a| format!("--{}", a.get_long().expect("a long option")))
            .collect();
        assert!(!extensions.is_empty());
        assert_eq!(named, extensions, "{flag}");
        // ...and those are options the parser accepts that net-tools does not.
        let accepted = accepted();
        assert!(named.iter().all(|n| accepted.contains(n)), "{named:?}");
        let real_text = String::from_utf8_lossy(&real.stdout);
        for name in &named {
            assert!(
                !real_text.contains(name.as_str()),
                "{name} is in net-tools' text"
            );
        }
    }
}
