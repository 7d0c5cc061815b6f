//! The order of the interface table: net-tools' `nstrcmp()` (`lib/nstrcmp.c`), a
//! "natural" comparison that knows about trailing numbers and `:N` alias suffixes, and the
//! sorted, de-duplicated list `if_cache_add()` keeps (`lib/interface.c`).
//!
//! `nstrcmp(a, b)`:
//! 1. cut a `:digits` alias suffix off both names;
//! 2. split each rest into a prefix and its trailing digits; compare the prefixes
//!    byte-wise, a shorter prefix that is a head of the longer one first;
//! 3. then the trailing numbers (`atoi()`: `eth2 < eth10`, `eth01 == eth1` here);
//! 4. then the cut names byte-wise (`eth01 < eth1`);
//! 5. then the alias numbers (none counts as -1), then the alias texts.
//!
//! That is a lexicographic order over a tuple of keys, hence a total order whenever no
//! two names tie on every key; `if_cache_add()` walks from the tail to the last entry
//! not greater than the new name and returns it when equal, which over a sorted list is
//! what the binary search here finds. (Names tie on every key only when they are equal,
//! or in a contrived case: an alias number whose `atoi()` wraps to -1, `x:4294967295`
//! against `x`.)
use std::cmp::Ordering;

/// `atoi()` of a run of ASCII digits: glibc's `(int) strtol(s, NULL, 10)`, saturating at
/// `LONG_MAX` and then truncated to 32 bits.
fn atoi(digits: &[u8]) -> i32 {
    let mut value: i64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .unwrap_or(i64::MAX);
    }
    // Truncation is what the C cast does on Linux.
    value as i32
}

/// A name split into the keys `nstrcmp()` compares.
struct Key<'a> {
    /// The name without its alias suffix.
    base: &'a [u8],
    /// Length of `base` without its trailing digits (`rindex_nondigit()`).
    index: usize,
    /// `atoi()` of the trailing digits (0 when there are none).
    number: i32,
    /// The digits after the alias colon.
    alias: Option<&'a [u8]>,
}

impl<'a> Key<'a> {
    fn new(name: &'a [u8]) -> Self {
        let (base, alias) = cut_alias(name);
        let index = base
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        Key {
            base,
            index,
            number: atoi(&base[index..]),
            alias,
        }
    }
}

/// `cutalias()`: a name ending in `:digits` splits there.
fn cut_alias(name: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut digit = false;
    for pos in (1..=name.len()).rev() {
        let c = name[pos - 1];
        if c == b':' && digit {
            return (&name[..pos - 1], Some(&name[pos..]));
        }
        if !c.is_ascii_digit() {
            break;
        }
        digit = true;
    }
    (name, None)
}

/// net-tools' `nstrcmp()`.
pub fn nstrcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (ka, kb) = (Key::new(a), Key::new(b));
    let common = ka.index.min(kb.index);
    ka.base[..common]
        .cmp(&kb.base[..common])
        .then(ka.index.cmp(&kb.index))
        .then(ka.number.cmp(&kb.number))
        .then_with(|| ka.base.cmp(kb.base))
        .then_with(|| {
            let number = |k: &Key<'_>| k.alias.map_or(-1, atoi);
            number(&ka).cmp(&number(&kb))
        })
        .then_with(|| match (ka.alias, kb.alias) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => Ordering::Equal,
        })
}

/// The interface list, kept in `nstrcmp()` order without duplicates.
#[derive(Debug)]
pub struct IfList<T> {
    entries: Vec<(Vec<u8>, T)>,
}

impl<T> Default for IfList<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<T> IfList<T> {
    /// `if_cache_add()`: the entry for `name`, created with `new()` if absent.
    pub fn add(&mut self, name: &[u8], new: impl FnOnce() -> T) -> &mut T {
        let after = self
            .entries
            .partition_point(|(e, _)| nstrcmp(e, name) != Ordering::Greater);
        let index = if after > 0 && nstrcmp(&self.entries[after - 1].0, name) == Ordering::Equal {
            after - 1
        } else {
            self.entries.insert(after, (name.to_vec(), new()));
            after
        };
        &mut self.entries[index].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &T)> {
        self.entries.iter().map(|(n, t)| (n.as_slice(), t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(o: Ordering) -> i32 {
        match o {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    /// The self-test table of `lib/nstrcmp.c` (`NSTRCMP_TEST`), verbatim.
    #[test]
    fn net_tools_own_test_vectors() {
        let cases: &[(&str, &str, i32)] = &[
            ("eth1", "eth1", 0),
            ("eth0:1", "eth0:1", 0),
            ("lan", "lan", 0),
            ("100", "100", 0),
            ("", "", 0),
            (":", ":", 0),
            ("a:b:c", "a:b:c", 0),
            ("a:", "a:", 0),
            (":a", ":a", 0),
            ("a", "aa", -1),
            ("eth0", "eth1", -1),
            ("eth1", "eth20", -1),
            ("eth20", "eth100", -1),
            ("eth1", "eth13", -1),
            ("eth", "eth2", -1),
            ("eth0:1", "eth0:2", -1),
            ("eth1:10", "eth13:10", -1),
            ("eth1:1", "eth1:13", -1),
            ("a", "a:", -1),
            ("aa", "a", 1),
            ("eth2", "eth1", 1),
            ("eth13", "eth1", 1),
            ("eth2", "eth", 1),
            ("eth2:10", "eth2:1", 1),
            ("eth2:5", "eth2:4", 1),
            ("eth3:2", "eth2:3", 1),
            ("eth13:1", "eth1:0", 1),
            ("a:", "a", 1),
            ("a1b12", "a1b2", 1),
            ("eth1", "eth01", 1),
            ("eth01", "eth1", -1),
            ("eth1:1", "eth01:1", 1),
            ("eth01:1", "eth1:1", -1),
            ("eth1:1", "eth01:01", 1),
            ("eth1:01", "eth01:1", 1),
            ("eth01:1", "eth1:01", -1),
            ("eth01:01", "eth1:1", -1),
        ];
        for &(a, b, want) in cases {
            assert_eq!(
                sign(nstrcmp(a.as_bytes(), b.as_bytes())),
                want,
                "nstrcmp({a:?}, {b:?})"
            );
        }
    }

    #[test]
    fn more_awkward_names() {
        // All digits: the prefix is empty, the number decides.
        assert_eq!(nstrcmp(b"9", b"10"), Ordering::Less);
        // Numbers beyond 32 bits wrap like (int) strtol().
        assert_eq!(atoi(b"4294967297"), 1);
        assert_eq!(atoi(b"99999999999999999999"), -1);
        assert_eq!(nstrcmp(b"d4294967297", b"d2"), Ordering::Less);
        // Bytes compare unsigned, as strncmp() does.
        assert_eq!(nstrcmp(b"\xc3x", b"zx"), Ordering::Greater);
        // "a:b" has no alias (the suffix is not digits).
        assert_eq!(cut_alias(b"a:b"), (&b"a:b"[..], None));
        assert_eq!(cut_alias(b"veth0:12"), (&b"veth0"[..], Some(&b"12"[..])));
    }

    #[test]
    fn list_is_sorted_naturally_without_duplicates() {
        let mut list: IfList<u32> = IfList::default();
        for (i, name) in [
            "lo", "d10", "d2", "veth0", "d1", "eth0:1", "eth0", "d2", "eth0:0",
        ]
        .iter()
        .enumerate()
        {
            let i = u32::try_from(i).expect("small");
            list.add(name.as_bytes(), || i);
        }
        let names: Vec<(String, u32)> = list
            .iter()
            .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), *v))
            .collect();
        assert_eq!(
            names,
            [
                ("d1".to_owned(), 4),
                ("d2".to_owned(), 2),
                ("d10".to_owned(), 1),
                ("eth0".to_owned(), 6),
                ("eth0:0".to_owned(), 8),
                ("eth0:1".to_owned(), 5),
                ("lo".to_owned(), 0),
                ("veth0".to_owned(), 3),
            ]
        );
    }
}
