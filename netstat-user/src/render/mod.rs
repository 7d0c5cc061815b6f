pub mod sockets;
pub mod json;
