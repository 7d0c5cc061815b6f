pub mod json;
pub mod sockets;
