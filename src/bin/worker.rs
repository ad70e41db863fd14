//! The training worker's entry point (wasm only): install the panic hook and serve messages.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    interlab::worker::serve();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("interlab-worker runs inside the browser as a Web Worker; build it with trunk (see README).");
    std::process::exit(2);
}
