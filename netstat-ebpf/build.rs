use which::which;

/// Rebuild the kernel programs when bpf-linker changes: it is the linker of the
/// bpfel-unknown-none target, and cargo cannot see that dependency by itself.
fn main() {
    match which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(err) => println!("cargo:warning=bpf-linker not found ({err}); run `cargo xtask setup`"),
    }
}
