//! C's error texts, as net-tools prints them with `perror()` and `strerror()`.
use std::io;

/// `strerror(errno)` of an I/O error: Rust's text without its ` (os error N)` suffix.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map_or_else(|| text.clone(), str::to_owned),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_strerror() {
        assert_eq!(
            strerror(&io::Error::from_raw_os_error(libc::ENOENT)),
            "No such file or directory"
        );
        assert_eq!(strerror(&io::Error::other("plain")), "plain");
    }
}
