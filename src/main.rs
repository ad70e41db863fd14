//! The web entry point: install the panic hook and mount the app. Nothing else.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    interlab::ui::mount();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("interlab-web is the browser entry; build it with trunk (see README). For the native CLI run `cargo run --bin interlab`.");
    std::process::exit(2);
}
