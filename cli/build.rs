//! Embeds the shipped teacher weights when `weights/teacher.safetensors` exists (it does in the
//! repository; the check only keeps a partial checkout buildable).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let weights = std::path::Path::new(&dir).join("../weights/teacher.safetensors");
    println!("cargo::rerun-if-changed={}", weights.display());
    println!("cargo::rustc-check-cfg=cfg(shipped_teacher)");
    if weights.exists() {
        println!("cargo::rustc-cfg=shipped_teacher");
    }
}
