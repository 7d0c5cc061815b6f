//! `netstat`: everything lives in the library; this only maps the run to an exit code.
fn main() {
    one_malloc_arena();
    std::process::exit(netstat_user::app::main_with(std::env::args_os()));
}

/// glibc gives each thread that allocates its own malloc arena and keeps what was freed
/// there: the helper threads of the agent and the live modes (sock_diag dumps of tens of
/// thousands of timewait sockets, the metrics responder) left the agent at 96 MB RSS and
/// `--watch` at 152 MB after two minutes of the soak, 38 MB and 89 MB with one arena.
/// Nothing here allocates from several threads at a rate where one arena's lock matters.
/// A `MALLOC_ARENA_MAX` in the environment still wins.
fn one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
