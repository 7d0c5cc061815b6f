//! The C stdio that net-tools' route printers read their files with, as pure functions
//! over bytes: `fgets()` pieces, `sscanf()` conversions and `proc_gen_fmt()`'s header
//! matching (`lib/proc.c`).
//!
//! The printers keep their `sscanf()` targets across lines, so a short line prints with
//! the values of the line before it; [`Slots`] keeps them the same way.

/// C `isspace()` in the C locale.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Successive `fgets(buf, size, fp)` results over a whole file: pieces of at most
/// `size - 1` bytes that end after the first `\n` (a longer line comes in several pieces).
#[derive(Debug, Clone)]
pub struct Fgets<'a> {
    rest: &'a [u8],
}

impl<'a> Fgets<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        Fgets { rest: text }
    }

    /// The next piece `fgets(buf, size, fp)` returns, or `None` at the end of the file.
    pub fn next_piece(&mut self, size: usize) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let max = size.saturating_sub(1).max(1);
        let window = &self.rest[..self.rest.len().min(max)];
        let len = match window.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => window.len(),
        };
        let (piece, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(piece)
    }
}

/// One `sscanf()` conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `%Ns`: up to N bytes that are not white space.
    Str(usize),
    /// `%X` / `%Nx`: hexadecimal into an `unsigned int`.
    Hex(Option<usize>),
    /// `%d`: decimal into an `int` (kept as its bit pattern).
    Dec,
}

/// A value a conversion stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Str(Vec<u8>),
    Num(u32),
}

/// The targets of a `sscanf()` call, kept from line to line as the C variables are.
#[derive(Debug, Clone)]
pub struct Slots {
    kinds: Vec<Kind>,
    values: Vec<Slot>,
}

impl Slots {
    /// Targets of the given kinds; strings start empty and numbers at 0 (the C variables
    /// are uninitialised until the first line sets them).
    pub fn new(kinds: &[Kind]) -> Self {
        let values = kinds
            .iter()
            .map(|k| match k {
                Kind::Str(_) => Slot::Str(Vec::new()),
                Kind::Hex(_) | Kind::Dec => Slot::Num(0),
            })
            .collect();
        Slots {
            kinds: kinds.to_vec(),
            values,
        }
    }

    pub fn bytes(&self, i: usize) -> &[u8] {
        match self.values.get(i) {
            Some(Slot::Str(s)) => s,
            _ => &[],
        }
    }

    pub fn uint(&self, i: usize) -> u32 {
        match self.values.get(i) {
            Some(Slot::Num(n)) => *n,
            _ => 0,
        }
    }

    /// `%d` targets are `int`s.
    pub fn int(&self, i: usize) -> i32 {
        self.uint(i) as i32
    }

    /// `sscanf(line, fmt, ...)` where `fmt` lists the slots to fill in order (`None` is a
    /// `%*s` that is read and dropped). Returns how many slots were filled (C returns EOF,
    /// -1, instead of 0 when the line is blank; every caller treats both the same).
    pub fn scan(&mut self, line: &[u8], fmt: &[Option<usize>]) -> usize {
        let mut s = Scanner::new(line);
        let mut filled = 0;
        for &conv in fmt {
            let Some(i) = conv else {
                if s.string(usize::MAX).is_none() {
                    break;
                }
                continue;
            };
            let (Some(kind), Some(slot)) = (self.kinds.get(i), self.values.get_mut(i)) else {
                break;
            };
            let ok = match (*kind, slot) {
                (Kind::Str(width), Slot::Str(v)) => match s.string(width) {
                    Some(text) => {
                        v.clear();
                        v.extend_from_slice(text);
                        true
                    }
                    None => false,
                },
                (Kind::Hex(width), Slot::Num(n)) => match s.hex(width) {
                    Some(value) => {
                        *n = value;
                        true
                    }
                    None => false,
                },
                (Kind::Dec, Slot::Num(n)) => match s.dec() {
                    Some(value) => {
                        *n = value as u32;
                        true
                    }
                    None => false,
                },
                _ => false,
            };
            if !ok {
                break;
            }
            filled += 1;
        }
        filled
    }
}

/// glibc `sscanf()` conversions over one line (the C string ends at a NUL byte).
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(line: &'a [u8]) -> Self {
        let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
        Scanner {
            s: &line[..end],
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// `%Ns`: `None` when only white space is left.
    pub fn string(&mut self, width: usize) -> Option<&'a [u8]> {
        self.skip_space();
        let start = self.pos;
        while self.pos - start < width && self.peek().is_some_and(|b| !is_space(b)) {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// The sign and digits glibc collects for an integer conversion: `(negative, digits)`.
    fn digits(&mut self, width: Option<usize>, hex: bool) -> Option<(bool, &'a [u8])> {
        self.skip_space();
        let mut left = width.unwrap_or(usize::MAX);
        let mut negative = false;
        let mut any = false;
        if left > 0 && matches!(self.peek(), Some(b'+' | b'-')) {
            negative = self.peek() == Some(b'-');
            self.pos += 1;
            left -= 1;
        }
        let mut start = self.pos;
        if hex && left > 0 && self.peek() == Some(b'0') {
            // "0x" is a prefix; "0" alone (or "0x" without digits) is the number 0.
            self.pos += 1;
            left -= 1;
            any = true;
            if left > 0 && matches!(self.peek(), Some(b'x' | b'X')) {
                self.pos += 1;
                left -= 1;
                start = self.pos;
            }
        }
        let digit = |b: u8| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        };
        while left > 0 && self.peek().is_some_and(digit) {
            self.pos += 1;
            left -= 1;
            any = true;
        }
        any.then(|| (negative, &self.s[start..self.pos]))
    }

    /// `%x`: `strtoul()`'s value (saturated, negated for a `-`) cut to `unsigned int`.
    pub fn hex(&mut self, width: Option<usize>) -> Option<u32> {
        let (negative, digits) = self.digits(width, true)?;
        let mut value: u64 = 0;
        for &d in digits {
            let v = u64::from(char::from(d).to_digit(16).unwrap_or(0));
            value = match value.checked_mul(16).and_then(|x| x.checked_add(v)) {
                Some(x) => x,
                None => return Some(u32::MAX),
            };
        }
        let value = if negative {
            value.wrapping_neg()
        } else {
            value
        };
        Some(value as u32)
    }

    /// `%d`: `strtol()`'s value (saturated) cut to `int`.
    pub fn dec(&mut self) -> Option<i32> {
        let (negative, digits) = self.digits(None, false)?;
        let mut value: i64 = 0;
        let mut saturated = false;
        for &d in digits {
            let v = i64::from(d - b'0');
            match value.checked_mul(10).and_then(|x| x.checked_add(v)) {
                Some(x) => value = x,
                None => {
                    saturated = true;
                    break;
                }
            }
        }
        let value = match (negative, saturated) {
            (false, false) => value,
            (true, false) => -value,
            (false, true) => i64::MAX,
            (true, true) => i64::MIN,
        };
        Some(value as i32)
    }
}

/// A `/proc` header without one of the fields a printer needs (`proc_gen_fmt()` warns
/// ``warning: %s does not contain required field %s`` and the printer gives up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField(pub &'static str);

/// `proc_gen_fmt()`: matches the header's titles against `titles`, in order. The result
/// lists, per header column, the index in `titles` it fills, or `None` for a column read
/// and dropped (`%*s`). A title the header lacks (or has out of order) is an error.
pub fn proc_gen_fmt(
    header: &[u8],
    titles: &[&'static str],
) -> Result<Vec<Option<usize>>, MissingField> {
    let header = &header[..header.iter().position(|&b| b == 0).unwrap_or(header.len())];
    let mut fmt = Vec::new();
    let mut want = 0;
    let mut rest = header;
    while let Some(&title) = titles.get(want) {
        let start = rest
            .iter()
            .position(|&b| !(is_space(b) || b == b'|'))
            .unwrap_or(rest.len());
        rest = &rest[start..];
        let end = rest
            .iter()
            .position(|&b| matches!(b, b'|' | b' ' | b'\t' | b'\n'));
        let head = &rest[..end.unwrap_or(rest.len())];
        if head == title.as_bytes() {
            fmt.push(Some(want));
            want += 1;
        } else {
            fmt.push(None);
        }
        match end {
            Some(e) => rest = &rest[e + 1..],
            // C appends a space to the header, so the token after the last one is empty
            // and the walk ends there.
            None if !head.is_empty() => rest = &[],
            None => break,
        }
    }
    match titles.get(want) {
        Some(&missing) => Err(MissingField(missing)),
        None => Ok(fmt),
    }
}

/// `proc_guess_fmt()`: the OR of the flags whose keyword occurs in the header line.
pub fn proc_guess_fmt(header: &[u8], keys: &[(&str, i32)]) -> i32 {
    let header = &header[..header.iter().position(|&b| b == 0).unwrap_or(header.len())];
    keys.iter()
        .filter(|(key, _)| header.windows(key.len()).any(|w| w == key.as_bytes()))
        .fold(0, |flags, (_, f)| flags | f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fgets_splits_long_lines() {
        let mut f = Fgets::new(b"abc\ndefgh\n\nxy");
        assert_eq!(f.next_piece(1023), Some(&b"abc\n"[..]));
        assert_eq!(f.next_piece(4), Some(&b"def"[..]));
        assert_eq!(f.next_piece(4), Some(&b"gh\n"[..]));
        assert_eq!(f.next_piece(4), Some(&b"\n"[..]));
        assert_eq!(f.next_piece(4), Some(&b"xy"[..]));
        assert_eq!(f.next_piece(4), None);
        assert_eq!(Fgets::new(b"").next_piece(10), None);
    }

    #[test]
    fn strings_stop_at_width_and_space() {
        let mut s = Scanner::new(b"  eth0\tabcdefgh x\0hidden");
        assert_eq!(s.string(15), Some(&b"eth0"[..]));
        assert_eq!(s.string(4), Some(&b"abcd"[..]));
        assert_eq!(s.string(4), Some(&b"efgh"[..]));
        assert_eq!(s.string(4), Some(&b"x"[..]));
        // The C string ends at the NUL.
        assert_eq!(s.string(4), None);
    }

    #[test]
    fn hex_follows_glibc() {
        let hex = |t: &[u8], w| Scanner::new(t).hex(w);
        assert_eq!(hex(b"0003", None), Some(3));
        assert_eq!(hex(b" 80200001", Some(8)), Some(0x8020_0001));
        assert_eq!(hex(b"ffffffff", Some(8)), Some(u32::MAX));
        assert_eq!(hex(b"0x1f", None), Some(0x1f));
        assert_eq!(hex(b"0xg", None), Some(0));
        assert_eq!(hex(b"-1", None), Some(u32::MAX));
        assert_eq!(hex(b"123456789", None), Some(0x2345_6789));
        assert_eq!(hex(b"fffffffffffffffff", None), Some(u32::MAX));
        assert_eq!(hex(b"g", None), None);
        assert_eq!(hex(b"-", None), None);
        assert_eq!(hex(b"", None), None);
        let mut s = Scanner::new(b"4080");
        assert_eq!(s.hex(Some(2)), Some(0x40));
        assert_eq!(s.hex(Some(2)), Some(0x80));
    }

    #[test]
    fn dec_follows_glibc() {
        let dec = |t: &[u8]| Scanner::new(t).dec();
        assert_eq!(dec(b"  42x"), Some(42));
        assert_eq!(dec(b"-1"), Some(-1));
        assert_eq!(dec(b"+7"), Some(7));
        assert_eq!(dec(b"4294967295"), Some(-1));
        assert_eq!(dec(b"99999999999999999999"), Some(-1));
        assert_eq!(dec(b"-99999999999999999999"), Some(0));
        assert_eq!(dec(b"x"), None);
        assert_eq!(dec(b"+"), None);
    }

    #[test]
    fn slots_keep_old_values_after_a_short_line() {
        let mut slots = Slots::new(&[Kind::Str(3), Kind::Dec, Kind::Hex(None)]);
        let fmt = [Some(0), Some(1), Some(2)];
        // "abc", then "d" fails as %d: the other slots keep their start values.
        assert_eq!(slots.scan(b"abcd 5 ff", &fmt), 1);
        assert_eq!(slots.bytes(0), b"abc");
        assert_eq!(slots.int(1), 0);
        assert_eq!(slots.scan(b"xy 7 10\n", &fmt), 3);
        assert_eq!(slots.scan(b"zz\n", &fmt), 1);
        assert_eq!(
            (slots.bytes(0), slots.int(1), slots.uint(2)),
            (&b"zz"[..], 7, 16)
        );
        assert_eq!(slots.scan(b"\n", &fmt), 0);
        // %*s reads and drops a column.
        assert_eq!(slots.scan(b"skip q 1 2", &[None, Some(0), Some(1)]), 2);
        assert_eq!(slots.bytes(0), b"q");
    }

    const ROUTE_HEADER: &[u8] = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n";
    const TITLES: &[&str] = &[
        "Iface",
        "Destination",
        "Gateway",
        "Flags",
        "RefCnt",
        "Use",
        "Metric",
        "Mask",
        "MTU",
        "Window",
        "IRTT",
    ];

    #[test]
    fn gen_fmt_maps_the_kernel_header() {
        let fmt = proc_gen_fmt(ROUTE_HEADER, TITLES).expect("complete header");
        assert_eq!(fmt, (0..11).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn gen_fmt_skips_unknown_columns_and_reports_missing_ones() {
        let fmt = proc_gen_fmt(b"A|x b  c\n", &["A", "b"]).expect("found");
        assert_eq!(fmt, vec![Some(0), None, Some(1)]);
        assert_eq!(
            proc_gen_fmt(b"A c b\n", &["A", "b", "c"]),
            Err(MissingField("c"))
        );
        assert_eq!(proc_gen_fmt(b"", &["A"]), Err(MissingField("A")));
        assert_eq!(proc_gen_fmt(b"A", &["A"]), Ok(vec![Some(0)]));
    }

    #[test]
    fn guess_fmt_looks_for_substrings() {
        let keys = [
            ("IRTT", 1),
            ("TOS", 2),
            ("HHRef", 4),
            ("HHUptod", 8),
            ("SpecDst", 16),
            ("HH", 32),
            ("ARP", 64),
        ];
        let modern = b"Iface\tDestination\tGateway \tFlags\t\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst\n";
        assert_eq!(proc_guess_fmt(modern, &keys), 63);
        let old = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tHH\tARP\n";
        assert_eq!(proc_guess_fmt(old, &keys), 97);
        assert_eq!(proc_guess_fmt(b"", &keys), 0);
    }
}
