//! `cargo xtask deb`: the Debian package, `<target>/debian/netstat-ebpf_<version>-1_<arch>.deb`.
//!
//! cargo-deb packages what `[package.metadata.deb]` in netstat-user/Cargo.toml lists. This
//! task only does what cargo-deb cannot: it builds first (xtask's build, with the eBPF
//! object; cargo-deb's own build would build the whole workspace, whose eBPF crate only
//! builds for the bpf target), and stages under `<target>/release/deb-stage/usr` the files
//! that are generated rather than kept in the repository:
//!
//! * the man page and shell completions found in `<target>/dist` (generated from the clap
//!   definition), renamed for the installed command, `netstat-ebpf`: a completion file
//!   registers itself for a command name, and one registered for `netstat` would take over
//!   net-tools' (and clash with bash-completion's own `netstat` file);
//! * `changelog.Debian.gz`, which Debian expects in every package's doc directory.
//!
//! Whatever `<target>/dist` lacks is said, and the package is built without it.
use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result, bail};

use crate::{cmd::Cmd, parse};

/// The Debian package and the name of the command it installs (net-tools keeps `netstat`).
pub const NAME: &str = "netstat-ebpf";
/// The name the generators give the command (the binary's own name).
const BUILT_NAME: &str = "netstat";

/// What one generated file is, from its name and first lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    ManPage,
    Bash,
    Zsh,
    Fish,
}

impl Generated {
    /// Where it goes, relative to the package root.
    fn installed_as(self) -> String {
        match self {
            Generated::ManPage => format!("usr/share/man/man8/{NAME}.8.gz"),
            Generated::Bash => format!("usr/share/bash-completion/completions/{NAME}"),
            // Debian's zsh reads vendor completions from here (not site-functions).
            Generated::Zsh => format!("usr/share/zsh/vendor-completions/_{NAME}"),
            Generated::Fish => format!("usr/share/fish/vendor_completions.d/{NAME}.fish"),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Generated::ManPage => "man page",
            Generated::Bash => "bash completion",
            Generated::Zsh => "zsh completion",
            Generated::Fish => "fish completion",
        }
    }

    const ALL: [Generated; 4] = [
        Generated::ManPage,
        Generated::Bash,
        Generated::Zsh,
        Generated::Fish,
    ];
}

/// Classifies a file of `<target>/dist`; `None` for anything else (other shells, notes).
pub fn classify(file_name: &str, text: &str) -> Option<Generated> {
    let first = text.lines().next().unwrap_or_default();
    if file_name == format!("{BUILT_NAME}.8") || file_name == format!("{NAME}.8") {
        Some(Generated::ManPage)
    } else if first.starts_with("#compdef") {
        Some(Generated::Zsh)
    } else if file_name.ends_with(".fish") {
        Some(Generated::Fish)
    } else if text
        .lines()
        .any(|l| l.trim_start().starts_with("complete -F "))
    {
        Some(Generated::Bash)
    } else {
        None
    }
}

/// `text` with every occurrence of the word `from` replaced by `to`, a word being bounded
/// by characters outside `ident` (or the ends of the text).
fn rename_word(text: &str, from: &str, to: &str, ident: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(i) = rest.find(from) {
        let before = rest[..i]
            .chars()
            .next_back()
            .or(if i == 0 { prev } else { None });
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(&ident) || after.is_some_and(&ident) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        prev = from.chars().next_back();
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

fn shell_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn zsh_word(c: char) -> bool {
    shell_word(c) || c == '-'
}

/// The last word of each line whose first word is `keyword`, renamed.
fn rename_last_word_of(text: &str, keyword: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let is_it = body.split_whitespace().next() == Some(keyword);
        match body.rsplit_once(' ') {
            Some((head, last)) if is_it && last == from => {
                out.push_str(head);
                out.push(' ');
                out.push_str(to);
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// A generated file's text, made to name `netstat-ebpf` where it registers itself;
/// `Err` when it has no registration this knows how to rename (then the generator's
/// output changed shape and this needs a look, rather than a package whose completion
/// silently serves the wrong command). Already renamed text comes back unchanged.
pub fn renamed(kind: Generated, text: &str) -> Result<String, String> {
    let from = BUILT_NAME;
    let (text, ok) = match kind {
        // The page documents the command as `netstat`; only the file is renamed.
        Generated::ManPage => (text.to_owned(), true),
        Generated::Bash => {
            // `_netstat` is also bash-completion's function for net-tools' netstat.
            let t = rename_word(text, "_netstat", "_netstat_ebpf", shell_word);
            let t = rename_last_word_of(&t, "complete", from, NAME);
            let ok = t.lines().any(|l| {
                l.split_whitespace().next() == Some("complete")
                    && l.split_whitespace().next_back() == Some(NAME)
            });
            (t, ok)
        }
        Generated::Zsh => {
            // Autoloaded as `_netstat-ebpf`, the file's function must bear that name.
            let t = rename_word(text, "_netstat", "_netstat-ebpf", zsh_word);
            let t = rename_last_word_of(&t, "#compdef", from, NAME);
            let t = rename_last_word_of(&t, "compdef", from, NAME);
            let ok = t.lines().next() == Some(&format!("#compdef {NAME}"));
            (t, ok)
        }
        Generated::Fish => {
            let t = text.replace(
                &format!("complete -c {from} "),
                &format!("complete -c {NAME} "),
            );
            let ok = t.contains(&format!("complete -c {NAME} "));
            (t, ok)
        }
    };
    if ok {
        Ok(text)
    } else {
        Err(format!(
            "the {} has no registration for `{from}` that this knows how to rename to `{NAME}`",
            kind.what()
        ))
    }
}

/// One generated file found in `<target>/dist`.
struct Found {
    kind: Generated,
    path: PathBuf,
}

/// Every file under `dir`, recursively (none if it does not exist).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn generated_in(dist: &Path) -> Result<Vec<Found>> {
    let mut found: Vec<Found> = Vec::new();
    for path in files_under(dist)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Not text (a .gz, say): not one of ours.
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let Some(kind) = classify(name, &text) else {
            continue;
        };
        if let Some(other) = found.iter().find(|f| f.kind == kind) {
            bail!(
                "two {}s in {}: {} and {}",
                kind.what(),
                dist.display(),
                other.path.display(),
                path.display()
            );
        }
        found.push(Found { kind, path });
    }
    Ok(found)
}

/// Builds the package from the binary `cargo xtask build` made; returns its path.
pub fn deb(root: &Path, target: &Path) -> Result<PathBuf> {
    let stage = target.join("release").join("deb-stage");
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    let doc = stage.join("usr/share/doc").join(NAME);
    fs::create_dir_all(&doc).with_context(|| format!("creating {}", doc.display()))?;

    let metadata = crate::cargo(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .read()?;
    let version = parse::package_version(&metadata, "netstat-user")
        .context("no netstat-user version in `cargo metadata`")?;
    let changelog = debian_changelog(root, &version);
    gzip_to(changelog.as_bytes(), &doc.join("changelog.Debian.gz"))?;

    let dist = target.join("dist");
    let found = generated_in(&dist)?;
    for kind in Generated::ALL {
        let Some(f) = found.iter().find(|f| f.kind == kind) else {
            eprintln!(
                "xtask: deb: WITHOUT {}: none in {} (generated there from the clap \
                 definition)",
                kind.what(),
                dist.display()
            );
            continue;
        };
        let text =
            fs::read_to_string(&f.path).with_context(|| format!("reading {}", f.path.display()))?;
        let text =
            renamed(kind, &text).map_err(|e| anyhow::anyhow!("{}: {e}", f.path.display()))?;
        let dest = stage.join(kind.installed_as());
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if kind == Generated::ManPage {
            gzip_to(text.as_bytes(), &dest)?;
        } else {
            fs::write(&dest, text).with_context(|| format!("writing {}", dest.display()))?;
        }
        eprintln!(
            "xtask: deb: {} {} -> /{}",
            kind.what(),
            f.path.display(),
            kind.installed_as()
        );
    }

    let out_dir = target.join("debian");
    let cmd = crate::cargo(root)
        .args(["deb", "--package", "netstat-user", "--no-build", "--output"])
        .arg(&out_dir);
    // cargo-deb prints the package's path on stdout.
    let printed = cmd.read()?;
    let deb = printed
        .lines()
        .map(str::trim)
        .rfind(|l| l.ends_with(".deb"))
        .map(PathBuf::from)
        .with_context(|| format!("`{cmd}` printed no .deb path: {printed:?}"))?;
    if !deb.is_file() {
        bail!("`{cmd}` said it wrote {}, which is missing", deb.display());
    }
    Ok(deb)
}

/// A one-entry Debian changelog naming the commit, dated by it (reproducible builds).
fn debian_changelog(root: &Path, version: &str) -> String {
    let git = |format: &str| {
        Cmd::new("git")
            .arg("-C")
            .arg(root)
            .args(["log", "-1", &format!("--format={format}")])
            .probe()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let commit = git("%h").map_or_else(
        || "Built outside a git checkout.".to_owned(),
        |c| format!("Built from commit {c}."),
    );
    let date = git("%cD")
        .or_else(|| {
            Cmd::new("date")
                .arg("-R")
                .probe()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".to_owned());
    format!(
        "{NAME} ({version}-1) unstable; urgency=medium\n\n  * {commit}\n\n \
         -- netstat-ebpf maintainers <maintainers@netstat-ebpf.invalid>  {date}\n"
    )
}

/// Gzips `bytes` into `dest` as Debian wants (`-9n`: best, no name or time stamp).
fn gzip_to(bytes: &[u8], dest: &Path) -> Result<()> {
    let plain = dest.with_extension("");
    fs::write(&plain, bytes).with_context(|| format!("writing {}", plain.display()))?;
    Cmd::new("gzip")
        .args(["-9n", "--force"])
        .arg(&plain)
        .run()?;
    if !dest.is_file() {
        bail!("gzip did not write {}", dest.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of clap_complete 4.5's bash output for a command without subcommands.
    const BASH: &str = r#"_netstat() {
    local i cur prev opts cmd
    COMPREPLY=()
    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="netstat"
                ;;
        esac
    done
    case "${cmd}" in
        netstat)
            opts="-a -n -p --all"
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _netstat -o nosort -o bashdefault -o default netstat
else
    complete -F _netstat -o bashdefault -o default netstat
fi
"#;

    const ZSH: &str = r#"#compdef netstat

autoload -U is-at-least

_netstat() {
    typeset -A opt_args
    _arguments "${_arguments_options[@]}" : \
'-a[all]' \
&& ret=0
}

(( $+functions[_netstat_commands] )) ||
_netstat_commands() {
    local commands; commands=()
}

if [ "$funcstack[1]" = "_netstat" ]; then
    _netstat "$@"
else
    compdef _netstat netstat
fi
"#;

    const FISH: &str = "complete -c netstat -s a -l all -d 'all sockets'\n\
complete -c netstat -s p -l programs -d 'PID/Program name'\n";

    #[test]
    fn files_are_told_apart_by_name_and_content() {
        assert_eq!(
            classify("netstat.8", ".TH NETSTAT 8"),
            Some(Generated::ManPage)
        );
        assert_eq!(classify("netstat.bash", BASH), Some(Generated::Bash));
        assert_eq!(classify("netstat", BASH), Some(Generated::Bash));
        assert_eq!(classify("_netstat", ZSH), Some(Generated::Zsh));
        assert_eq!(classify("netstat.fish", FISH), Some(Generated::Fish));
        assert_eq!(classify("netstat.elv", "set edit:completion"), None);
        assert_eq!(classify("route.8", ".TH ROUTE 8"), None);
    }

    #[test]
    fn bash_completion_registers_for_netstat_ebpf_only() {
        let out = renamed(Generated::Bash, BASH).unwrap();
        assert!(out.starts_with("_netstat_ebpf() {"), "{out}");
        assert!(
            out.contains(
                "    complete -F _netstat_ebpf -o nosort -o bashdefault -o default netstat-ebpf\n"
            ),
            "{out}"
        );
        // Internal state words stay as they were.
        assert!(out.contains("cmd=\"netstat\""), "{out}");
        assert!(out.contains("        netstat)\n"), "{out}");
        assert!(!out.contains("_netstat "), "{out}");
        assert_eq!(renamed(Generated::Bash, &out).unwrap(), out, "idempotent");
    }

    #[test]
    fn zsh_completion_is_autoloadable_as_netstat_ebpf() {
        let out = renamed(Generated::Zsh, ZSH).unwrap();
        assert!(out.starts_with("#compdef netstat-ebpf\n"), "{out}");
        assert!(out.contains("\n_netstat-ebpf() {"), "{out}");
        assert!(
            out.contains(
                "if [ \"$funcstack[1]\" = \"_netstat-ebpf\" ]; then\n    _netstat-ebpf \"$@\""
            ),
            "{out}"
        );
        assert!(
            out.contains("    compdef _netstat-ebpf netstat-ebpf\n"),
            "{out}"
        );
        // A helper's name is a longer word: left alone.
        assert!(out.contains("_netstat_commands() {"), "{out}");
        assert_eq!(renamed(Generated::Zsh, &out).unwrap(), out, "idempotent");
    }

    #[test]
    fn fish_completion_names_the_command() {
        let out = renamed(Generated::Fish, FISH).unwrap();
        assert_eq!(out.matches("complete -c netstat-ebpf ").count(), 2, "{out}");
        assert!(!out.contains("complete -c netstat "), "{out}");
    }

    #[test]
    fn unknown_shapes_are_refused_not_packaged() {
        let err = renamed(Generated::Bash, "complete -F _x other\n").unwrap_err();
        assert!(err.contains("bash completion"), "{err}");
        assert!(renamed(Generated::Zsh, "#compdef other\n").is_err());
        assert!(renamed(Generated::Fish, "complete -c other -s a\n").is_err());
        assert!(renamed(Generated::ManPage, ".TH NETSTAT 8\n").is_ok());
    }

    #[test]
    fn word_renames_respect_word_bounds() {
        let id = shell_word;
        assert_eq!(
            rename_word("_netstat _netstat_x x_netstat", "_netstat", "_N", id),
            "_N _netstat_x x_netstat"
        );
        assert_eq!(rename_word("_netstat", "_netstat", "_N", id), "_N");
        assert_eq!(
            rename_word("a_netstat_netstat", "_netstat", "_N", id),
            "a_netstat_netstat"
        );
    }
}
