//! Copies rustls-ffi's C header next to the build outputs.
//!
//! rustls-ffi declares `links = "rustls_ffi"` and exports its header folder,
//! which cargo hands to direct dependents as `DEP_RUSTLS_FFI_INCLUDE`.
//! The destination folder comes from `GORUSTLS_INCLUDE_DIR` (set by
//! build/librustls.sh); without it the header is left in OUT_DIR.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=GORUSTLS_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=DEP_RUSTLS_FFI_INCLUDE");
    let src = PathBuf::from(
        env::var_os("DEP_RUSTLS_FFI_INCLUDE").expect("rustls-ffi did not export its include folder"),
    )
    .join("rustls.h");
    let dest = match env::var_os("GORUSTLS_INCLUDE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env::var_os("OUT_DIR").unwrap()).join("include"),
    };
    fs::create_dir_all(&dest).expect("create include folder");
    fs::copy(&src, dest.join("rustls.h")).expect("copy rustls.h");
    println!("cargo:rerun-if-changed={}", src.display());
}
