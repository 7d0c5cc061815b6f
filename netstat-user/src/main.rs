//! `netstat`: everything lives in the library; this only maps the run to an exit code.
fn main() {
    std::process::exit(netstat_user::app::main_with(std::env::args_os()));
}
