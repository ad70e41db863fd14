//! Why: a WGSL typo must fail `cargo test`, not a user's page load. Every file in `shaders/`
//! is parsed and validated with naga (the compiler wgpu itself uses), every file is
//! registered as a `Kernel`, and every file carries the documented header.

use interlab::gpu::Kernel;

fn shader_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no shaders found in {}", dir.display());
    v
}

#[test]
fn every_wgsl_file_validates_with_naga() {
    for path in shader_files() {
        let src = std::fs::read_to_string(&path).unwrap();
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&src)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&src)));
    }
}

#[test]
fn every_wgsl_file_is_a_registered_kernel_with_a_header() {
    let registered: Vec<&str> = Kernel::ALL.iter().map(|k| k.file()).collect();
    for path in shader_files() {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(registered.contains(&name), "{name} is not a Kernel variant");
        let src = std::fs::read_to_string(&path).unwrap();
        for section in ["Bindings", "Dispatch", "CPU reference", "Tests"] {
            assert!(
                src.lines().take(40).any(|l| l.starts_with("//") && l.contains(section)),
                "{name}: header lacks '{section}'"
            );
        }
    }
    for k in Kernel::ALL {
        assert!(!k.source().is_empty());
    }
}
