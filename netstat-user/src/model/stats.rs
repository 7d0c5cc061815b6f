//! The counters of `-s`, one section at a time, as the SNMP files give them: what the
//! sentence printer (stats/render.rs) and the JSON records (render/json/stats.rs) read.

/// One section of a file: its title and its counters, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    pub title: Vec<u8>,
    pub pairs: Vec<(Vec<u8>, u64)>,
}
