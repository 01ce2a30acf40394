//! vippyctl: talks to vippyd's management socket.
fn main() {
    eprintln!("vippyctl: not built yet");
    std::process::exit(2);
}
