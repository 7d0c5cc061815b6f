//! Pure parsers of the SNMP counter files, reading them exactly as net-tools 2.10's
//! `statistics.c` does: same line splitting, same tokenising, the same C number
//! conversions (`strtoull`, `sscanf("%s %llu")`), the same behaviour on odd input.
//! This matters because odd input changes what gets printed.
//!
//! Three layouts:
//! * `/proc/net/snmp`, `/proc/net/netstat`: pairs of lines `Title: k1 k2 …` /
//!   `Title: v1 v2 …` ([`parse_pairs`], net-tools' `process_fd()`);
//! * `/proc/net/snmp6`: one `Name value` per line, and a section is the name's prefix
//!   up to the first `6` ([`parse_snmp6`], `process6_fd()`);
//! * `/proc/net/sctp/snmp`: one `Name value` per line, all in one section
//!   ([`parse_name_values`], `process_fd2()`).

use crate::model::stats::Block;

/// A pairs-of-lines file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairFile {
    /// The sections before the end of the file or the first malformed pair.
    pub blocks: Vec<Block>,
    /// A pair of lines lacked a `:` (net-tools stops there: `Problem while parsing …`).
    pub malformed: bool,
}

/// C's `isspace()` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The separators net-tools' tokenisers use (`strspn`/`strcspn` with `" \t\n"`).
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

/// The C string that starts at `s`: everything before the first NUL.
fn c_str(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n])
}

/// Number of leading bytes of `s` that satisfy `f`.
fn span(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    s.iter().position(|&b| !f(b)).unwrap_or(s.len())
}

/// glibc's base-10 conversion shared by `strtoull()` and scanf's `%llu`: leading white
/// space, an optional sign, digits. Returns the value and how many bytes the number
/// took, or `None` when there is no digit. Overflow gives `u64::MAX`; a minus sign
/// negates modulo 2^64 (`"-1"` is `u64::MAX`).
pub fn c_ull(s: &[u8]) -> Option<(u64, usize)> {
    let mut i = span(s, is_c_space);
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = span(&s[i..], |b| b.is_ascii_digit());
    if digits == 0 {
        return None;
    }
    let mut value: Option<u64> = Some(0);
    for &d in &s[i..i + digits] {
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(d - b'0')));
    }
    let value = match value {
        None => u64::MAX,
        Some(v) if negative => v.wrapping_neg(),
        Some(v) => v,
    };
    Some((value, i + digits))
}

/// `strtoull(s, &end, 10)`: 0 and nothing consumed when there is no number.
pub fn strtoull(s: &[u8]) -> (u64, usize) {
    c_ull(s).unwrap_or((0, 0))
}

/// The lines `getline()` returns: each with its `\n`, the last one possibly without.
fn getlines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split_inclusive(|&b| b == b'\n')
}

/// The pieces `fgets(buf, size, f)` returns: at most `size - 1` bytes, ending after a
/// `\n` when there is one within that limit.
fn fgets_chunks(text: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let max = size.saturating_sub(1).max(1);
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(max);
        let end = rest[..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(limit, |n| n + 1);
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

/// `/proc/net/snmp` and `/proc/net/netstat` (net-tools' `process_fd()`).
///
/// Lines go in pairs: a line that is exactly `\n` is skipped when a pair would start
/// (the blank first line of 2.6 kernels); a title line with nothing after it is
/// dropped. The title is the first line up to its first `:` (the second line's title is
/// not checked). Keys are the first line's words after the `:` (split on space, tab and
/// newline); each takes the next number from the second line with `strtoull`, so a
/// missing or non-numeric value is 0 and a negative one wraps. A pair in which either
/// line has no `:` ends the file with `malformed` set.
pub fn parse_pairs(text: &[u8]) -> PairFile {
    let mut file = PairFile::default();
    let mut lines = getlines(text);
    while let Some(first) = lines.next() {
        if first.first() == Some(&b'\n') {
            continue;
        }
        let Some(second) = lines.next() else {
            break;
        };
        let (first, second) = (c_str(first), c_str(second));
        let (Some(colon1), Some(colon2)) = (
            first.iter().position(|&b| b == b':'),
            second.iter().position(|&b| b == b':'),
        ) else {
            file.malformed = true;
            break;
        };
        let keys = &first[colon1 + 1..];
        let values = &second[colon2 + 1..];
        let mut block = Block {
            title: first[..colon1].to_vec(),
            pairs: Vec::new(),
        };
        let (mut sp, mut np) = (0usize, 0usize);
        loop {
            sp += span(&keys[sp..], is_sep);
            np += span(&values[np..], is_sep);
            let end = sp + span(&keys[sp..], |b| !is_sep(b));
            let key = &keys[sp..end];
            if !key.is_empty() {
                let (value, used) = strtoull(&values[np..]);
                np += used;
                block.pairs.push((key.to_vec(), value));
            }
            if end >= keys.len() {
                break;
            }
            sp = end + 1;
        }
        file.blocks.push(block);
    }
    file
}

/// `cpytitle()`: the name up to and including its first `6` (all of it without one).
fn snmp6_title(name: &[u8]) -> Vec<u8> {
    match name.iter().position(|&b| b == b'6') {
        Some(n) => name[..=n].to_vec(),
        None => name.to_vec(),
    }
}

/// `strstr(haystack, needle) != NULL`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `/proc/net/snmp6` (net-tools' `process6_fd()`).
///
/// Each `fgets()` piece (at most 1023 bytes) is scanned with `sscanf("%s %llu")`.
/// What fails to scan keeps the previous value, as the C variables do: a blank line
/// repeats the previous counter, a name without a number takes the previous number.
/// The first name's title (see `cpytitle()`) opens the first section; a name that does
/// not contain the current title *anywhere* opens a new one.
///
/// Before the first name and number are scanned, net-tools' variables are uninitialised
/// (a blank or number-less first line prints stack garbage); here they are empty and 0,
/// as for a zeroed stack. The kernel's file always starts with a name and a number.
pub fn parse_snmp6(text: &[u8]) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut name: Vec<u8> = Vec::new();
    let mut value: u64 = 0;
    for chunk in fgets_chunks(text, 1024) {
        let line = c_str(chunk);
        let start = span(line, is_c_space);
        if start < line.len() {
            let rest = &line[start..];
            let len = span(rest, |b| !is_c_space(b));
            name = rest[..len].to_vec();
            if let Some((v, _)) = c_ull(&rest[len..]) {
                value = v;
            }
        }
        let new_block = match blocks.last() {
            None => true,
            Some(b) => !contains(&name, &b.title),
        };
        if new_block {
            blocks.push(Block {
                title: snmp6_title(&name),
                pairs: Vec::new(),
            });
        }
        if let Some(b) = blocks.last_mut() {
            b.pairs.push((name.clone(), value));
        }
    }
    blocks
}

/// `/proc/net/sctp/snmp` (net-tools' `process_fd2()`): per `fgets()` piece, the name
/// runs to the first space, tab or newline, and the number (`strtoul`) is whatever
/// follows the separators; a piece with nothing after its name is skipped.
///
/// net-tools cuts the name in its line buffer and reads the number from the byte after
/// the cut, which for a last line without `\n` is a byte left over from an earlier,
/// longer line. The buffer is emulated (zeroed at first) so that case reads the same.
pub fn parse_name_values(text: &[u8]) -> Vec<(Vec<u8>, u64)> {
    const SIZE: usize = 1024;
    let mut buf = [0u8; SIZE];
    let mut pairs = Vec::new();
    for chunk in fgets_chunks(text, SIZE) {
        let n = chunk.len().min(SIZE - 1);
        buf[..n].copy_from_slice(&chunk[..n]);
        buf[n] = 0;
        let cut = span(&buf, |b| b != 0 && !is_sep(b));
        let name = buf[..cut].to_vec();
        if let Some(b) = buf.get_mut(cut) {
            *b = 0;
        }
        let Some(after) = buf.get(cut + 1..) else {
            continue;
        };
        let after = c_str(after);
        let at = span(after, is_sep);
        if at < after.len() {
            pairs.push((name, strtoull(&after[at..]).0));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    fn block(title: &str, pairs: &[(&str, u64)]) -> Block {
        Block {
            title: b(title),
            pairs: pairs.iter().map(|(k, v)| (b(k), *v)).collect(),
        }
    }

    #[test]
    fn strtoull_follows_glibc() {
        assert_eq!(strtoull(b"42 7"), (42, 2));
        assert_eq!(strtoull(b"  \t42"), (42, 5));
        assert_eq!(strtoull(b"+42"), (42, 3));
        assert_eq!(strtoull(b"-1"), (u64::MAX, 2));
        assert_eq!(strtoull(b"-5 "), (u64::MAX - 4, 2));
        assert_eq!(strtoull(b"18446744073709551615"), (u64::MAX, 20));
        assert_eq!(strtoull(b"18446744073709551616x"), (u64::MAX, 20));
        assert_eq!(strtoull(b"-99999999999999999999"), (u64::MAX, 21));
        assert_eq!(strtoull(b"0x10"), (0, 1));
        assert_eq!(strtoull(b"abc"), (0, 0));
        assert_eq!(strtoull(b"  -x"), (0, 0));
        assert_eq!(strtoull(b""), (0, 0));
        assert_eq!(strtoull(b"\x0b\x0c\r7"), (7, 4));
    }

    #[test]
    fn pairs_of_lines_become_blocks() {
        let text = b"Ip: Forwarding DefaultTTL\nIp: 2 64\nTcp: RtoAlgorithm MaxConn\nTcp: 1 -1\n";
        let f = parse_pairs(text);
        assert!(!f.malformed);
        assert_eq!(
            f.blocks,
            [
                block("Ip", &[("Forwarding", 2), ("DefaultTTL", 64)]),
                block("Tcp", &[("RtoAlgorithm", 1), ("MaxConn", u64::MAX)]),
            ]
        );
    }

    #[test]
    fn blank_lines_only_skip_where_a_pair_starts() {
        let f = parse_pairs(b"\n\nIp: A\nIp: 1\n\nX: B\nX: 2\n");
        assert_eq!(
            f.blocks,
            [block("Ip", &[("A", 1)]), block("X", &[("B", 2)])]
        );
        assert!(!f.malformed);
        // A blank second line of a pair has no ':'.
        let f = parse_pairs(b"Ip: A\n\nIp: 1\n");
        assert!(f.malformed);
        assert!(f.blocks.is_empty());
    }

    #[test]
    fn a_title_line_without_its_values_is_dropped() {
        let f = parse_pairs(b"Ip: A\nIp: 1\nUdp: B C\n");
        assert_eq!(f.blocks, [block("Ip", &[("A", 1)])]);
        assert!(!f.malformed);
    }

    #[test]
    fn a_line_without_colon_stops_the_file() {
        let f = parse_pairs(b"Ip: A\nIp: 1\ngarbage\nmore garbage\nUdp: B\nUdp: 2\n");
        assert_eq!(f.blocks, [block("Ip", &[("A", 1)])]);
        assert!(f.malformed);
        // Only the first line's ':' counts as the title's end; the values line may
        // carry any title.
        let f = parse_pairs(b"Ip: A\nOther: 1\n");
        assert_eq!(f.blocks, [block("Ip", &[("A", 1)])]);
    }

    #[test]
    fn missing_odd_and_extra_values() {
        // Fewer values than keys: 0; letters: 0 and the pointer does not move, so every
        // later key gets 0 too; extra values are ignored.
        let f = parse_pairs(b"T: A B C\nT: 5\nU: A B C\nU: 1 x 3\nV: A\nV: 1 2 3\n");
        assert_eq!(
            f.blocks,
            [
                block("T", &[("A", 5), ("B", 0), ("C", 0)]),
                block("U", &[("A", 1), ("B", 0), ("C", 0)]),
                block("V", &[("A", 1)]),
            ]
        );
    }

    #[test]
    fn tabs_spaces_and_no_final_newline() {
        let f = parse_pairs(b"Odd Title:\tA  \t B \nx:  7\t\t8");
        assert_eq!(f.blocks, [block("Odd Title", &[("A", 7), ("B", 8)])]);
        let f = parse_pairs(b"T:\nT:\n");
        assert_eq!(f.blocks, [block("T", &[])]);
        // A NUL ends the C string: here it hides the ':'.
        let f = parse_pairs(b"T\0: A\nT: 1\n");
        assert!(f.malformed);
    }

    #[test]
    fn snmp6_sections_follow_the_title_prefix() {
        let text = b"Ip6InReceives                   \t7\n\
                     Ip6OutRequests 18\n\
                     Icmp6InMsgs 1\n\
                     Icmp6InType1 1\n\
                     Udp6InDatagrams 0\n\
                     UdpLite6InDatagrams 0\n";
        assert_eq!(
            parse_snmp6(text),
            [
                block("Ip6", &[("Ip6InReceives", 7), ("Ip6OutRequests", 18)]),
                block("Icmp6", &[("Icmp6InMsgs", 1), ("Icmp6InType1", 1)]),
                block("Udp6", &[("Udp6InDatagrams", 0)]),
                block("UdpLite6", &[("UdpLite6InDatagrams", 0)]),
            ]
        );
    }

    #[test]
    fn snmp6_title_is_matched_anywhere_in_the_name() {
        // "XIp6Y" contains "Ip6": no new section. A name without '6' is its own title.
        assert_eq!(
            parse_snmp6(b"Ip6A 1\nXIp6Y 2\nPlain 3\nPlainer 4\n"),
            [
                block("Ip6", &[("Ip6A", 1), ("XIp6Y", 2)]),
                block("Plain", &[("Plain", 3), ("Plainer", 4)]),
            ]
        );
    }

    #[test]
    fn snmp6_failed_scans_keep_the_previous_values() {
        assert_eq!(
            parse_snmp6(b"Ip6A 5\n\n   \nIp6B\nIp6C x\nIp6D -1\n"),
            [block(
                "Ip6",
                &[
                    ("Ip6A", 5),
                    ("Ip6A", 5),
                    ("Ip6A", 5),
                    ("Ip6B", 5),
                    ("Ip6C", 5),
                    ("Ip6D", u64::MAX)
                ]
            )]
        );
        // Before any name: an empty name (its own empty title), value 0.
        assert_eq!(
            parse_snmp6(b"\nIp6A 1\n"),
            [block("", &[("", 0), ("Ip6A", 1)])]
        );
    }

    #[test]
    fn snmp6_long_lines_are_read_in_fgets_pieces() {
        let mut text = b"Ip6A ".to_vec();
        text.extend(std::iter::repeat_n(b' ', 1018));
        text.extend_from_slice(b"Icmp6B 9\n");
        // The first piece is "Ip6A" + 1019 spaces (no number: value stays 0), the second
        // "Icmp6B 9\n".
        assert_eq!(
            parse_snmp6(&text),
            [
                block("Ip6", &[("Ip6A", 0)]),
                block("Icmp6", &[("Icmp6B", 9)])
            ]
        );
    }

    #[test]
    fn sctp_name_values() {
        let text = b"SctpCurrEstab                   \t1\nSctpActiveEstabs 2\nLonely\n\nX\tabc\n";
        assert_eq!(
            parse_name_values(text),
            [
                (b("SctpCurrEstab"), 1),
                (b("SctpActiveEstabs"), 2),
                (b("X"), 0)
            ]
        );
        // A line starting with a separator has an empty name.
        assert_eq!(parse_name_values(b" 5\n"), [(b(""), 5)]);
    }

    #[test]
    fn sctp_last_line_without_newline_reads_leftover_bytes() {
        // After "SctpCurrEstab 5\n" (cut at the space), the buffer holds
        // "SctpX\0rrEstab\05\n": the number is read from "rrEstab" (strtoul: 0).
        assert_eq!(
            parse_name_values(b"SctpCurrEstab 5\nSctpX"),
            [(b("SctpCurrEstab"), 5), (b("SctpX"), 0)]
        );
        // The same line first in the file: the zeroed buffer has nothing after it.
        assert_eq!(parse_name_values(b"SctpX"), []);
    }
}
