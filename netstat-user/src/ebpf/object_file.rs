//! Edits of the eBPF object before aya loads it, for what aya 0.14's loader cannot set:
//! the flags of a map definition.
use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

/// `bpf_map_def.map_flags`: after `type`, `key_size`, `value_size`, `max_entries` (all
/// `u32`) in the legacy `maps` section that aya-ebpf's `#[map]` statics go to.
const MAP_FLAGS_OFFSET: u64 = 16;
const BPF_F_NO_PREALLOC: u32 = 1;

/// A copy of `elf` whose maps `names` are preallocated (`BPF_F_NO_PREALLOC` cleared).
/// Every name must be a map definition of the object.
pub fn preallocated(elf: &[u8], names: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = elf.to_vec();
    for (name, at) in flag_offsets(elf, names)? {
        let field: &mut [u8; 4] = out
            .get_mut(at..at + 4)
            .and_then(|f| f.try_into().ok())
            .ok_or_else(|| format!("map {name}: definition outside the file"))?;
        let flags = u32::from_le_bytes(*field) & !BPF_F_NO_PREALLOC;
        *field = flags.to_le_bytes();
    }
    Ok(out)
}

/// The file offset of each named map's `map_flags`.
fn flag_offsets<'n>(elf: &[u8], names: &[&'n str]) -> Result<Vec<(&'n str, usize)>, String> {
    let file = object::File::parse(elf).map_err(|e| e.to_string())?;
    names
        .iter()
        .map(|&name| {
            let sym = file
                .symbols()
                .find(|s| s.name() == Ok(name))
                .ok_or_else(|| format!("no symbol {name}"))?;
            let section = sym
                .section_index()
                .and_then(|i| file.section_by_index(i).ok())
                .ok_or_else(|| format!("symbol {name} is in no section"))?;
            if section.name() != Ok("maps") {
                return Err(format!(
                    "symbol {name} is in section {:?}, not a map definition",
                    section.name().unwrap_or("?")
                ));
            }
            let (start, size) = section
                .file_range()
                .ok_or_else(|| format!("map {name}: its section has no file data"))?;
            let at = sym.address() - section.address() + MAP_FLAGS_OFFSET;
            if at + 4 > size {
                return Err(format!("map {name}: definition past its section's end"));
            }
            Ok((name, (start + at) as usize))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The object this binary embeds (empty when built with AYA_BUILD_SKIP).
    fn built() -> Option<&'static [u8]> {
        (!super::super::OBJECT.is_empty()).then_some(super::super::OBJECT)
    }

    #[test]
    fn owner_maps_lose_only_the_no_prealloc_flag() {
        let Some(elf) = built() else {
            eprintln!("NOTE: built without the eBPF object (AYA_BUILD_SKIP): not checked");
            return;
        };
        let names = super::super::RUNTIME_ALLOC_MAPS;
        let before = flag_offsets(elf, names).expect("every map found");
        let patched = preallocated(elf, names).expect("patched");
        assert_eq!(patched.len(), elf.len());
        for (name, at) in before {
            let was = u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
            let now = u32::from_le_bytes(patched[at..at + 4].try_into().unwrap());
            assert_eq!(
                was & BPF_F_NO_PREALLOC,
                BPF_F_NO_PREALLOC,
                "{name} was built so"
            );
            assert_eq!(now, was & !BPF_F_NO_PREALLOC, "{name}");
        }
        let changed = elf.iter().zip(&patched).filter(|(a, b)| a != b).count();
        assert_eq!(changed, names.len(), "one byte per map");
    }

    #[test]
    fn a_name_that_is_no_map_is_an_error() {
        let Some(elf) = built() else {
            return;
        };
        assert!(
            preallocated(elf, &["NO_SUCH_MAP"])
                .unwrap_err()
                .contains("NO_SUCH_MAP")
        );
        // A program's symbol is in its own section.
        let err = preallocated(elf, &["sock_create"]).unwrap_err();
        assert!(err.contains("not a map definition"), "{err}");
    }
}
