//! Entry points for the fuzz targets under `fuzz/` (cargo-fuzz): the few private parsers
//! they drive, behind thin wrappers so the targets run the real code rather than copies.
//! Not an API: hidden from the docs, shaped by what the targets need.
use crate::{
    model::InetSocket,
    source::netlink::{Decoder, DumpRequest, NetlinkError, Progress},
};

/// `sequence_number` of the first netlink header in `data` (bytes 8..12), 0 if shorter.
/// The decoders skip messages of other dumps; taking the sequence from the input lets
/// arbitrary bytes reach the parsers as a real dump's replies do.
pub fn first_seq(data: &[u8]) -> u32 {
    data.get(8..12)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

/// What [`crate::source::netlink::dump_each`] makes of these datagrams, as if the kernel
/// had sent them in reply to `req`: the rows delivered and how the dump ended
/// (`Ok(true)`: NLMSG_DONE seen; `Ok(false)`: the datagrams ran out first).
pub fn sock_diag_dump(
    req: DumpRequest,
    datagrams: &[&[u8]],
) -> (Vec<InetSocket>, Result<bool, NetlinkError>) {
    let seq = datagrams.first().map_or(0, |d| first_seq(d));
    let mut decoder = Decoder::new(req, seq);
    let mut rows = Vec::new();
    for d in datagrams {
        let progress = decoder.feed(d);
        rows.extend(decoder.take_rows());
        match progress {
            Ok(Progress::Done) => return (rows, Ok(true)),
            Ok(Progress::More) => {}
            Err(e) => return (rows, Err(e)),
        }
    }
    (rows, Ok(false))
}
