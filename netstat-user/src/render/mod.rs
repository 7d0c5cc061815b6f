pub mod sockets;
