//! vippyd: the daemon.
fn main() {
    eprintln!("vippyd: not built yet");
    std::process::exit(2);
}
