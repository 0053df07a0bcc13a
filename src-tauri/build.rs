fn main() {
    // tauri.conf.json sits at the workspace root while the shell's sources (and capabilities)
    // live in src-tauri/: point the capability glob there.
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*");
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {e:#}");
    }
}
