//! The parse-and-print helpers the cli tests share.

use super::families::af_list;
use super::help::USAGE;
use super::*;

pub(super) const NO_SELINUX: Env = Env {
    posixly_correct: false,
    selinux_enabled: false,
};

pub(super) fn run_env(args: &[&str], env: &Env) -> Result<(Options, Vec<String>), CliExit> {
    parse_with(std::iter::once("netstat").chain(args.iter().copied()), env)
}

pub(super) fn run(args: &[&str]) -> Result<(Options, Vec<String>), CliExit> {
    run_env(args, &NO_SELINUX)
}

pub(super) fn ok(args: &[&str]) -> Options {
    match run(args) {
        Ok((options, warnings)) => {
            assert!(warnings.is_empty(), "{args:?}: warnings {warnings:?}");
            options
        }
        Err(exit) => panic!("{args:?}: unexpected {exit:?}"),
    }
}

pub(super) fn fail(args: &[&str]) -> CliExit {
    match run(args) {
        Ok((options, _)) => panic!("{args:?}: parsed as {options:?}"),
        Err(exit) => exit,
    }
}

/// (stdout, stderr, exit code) as net-tools prints them.
pub(super) fn output(exit: &CliExit) -> (String, String, i32) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    exit.write(&mut out, &mut err).expect("write to Vec");
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        exit.exit_code(),
    )
}

pub(super) fn usage_with(message: &str) -> String {
    format!("{message}\n{USAGE}{}", af_list())
}

/// A getopt error: the message, usage and family list on stderr, exit 3.
pub(super) fn assert_getopt_error(args: &[&str], message: &str) {
    let exit = fail(args);
    assert_eq!(
        output(&exit),
        (String::new(), usage_with(message), 3),
        "{args:?}"
    );
}

/// usage and family list on stderr, exit 3, no message.
pub(super) fn assert_plain_usage(args: &[&str]) {
    let exit = fail(args);
    assert_eq!(
        output(&exit),
        (String::new(), format!("{USAGE}{}", af_list()), 3),
        "{args:?}"
    );
}

pub(super) fn assert_stderr(args: &[&str], stderr: &str, code: i32) {
    let exit = fail(args);
    assert_eq!(
        output(&exit),
        (String::new(), stderr.to_owned(), code),
        "{args:?}"
    );
}
