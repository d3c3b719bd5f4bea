//! Re-exports every `rustls_*` C symbol of rustls-ffi from one static archive.
//!
//! The crate has no code of its own: naming the dependency keeps the linker
//! from dropping it, and `crate-type = ["staticlib"]` bundles it with the Rust
//! standard library into a single `.a` that cgo can link.

// Our two features are exclusive build flavours: `aws-lc-rs` (which also
// compiles ring, for rustls.RingAESGCMProvider) or `ring` alone.
#[cfg(all(feature = "aws-lc-rs", feature = "ring"))]
compile_error!("enable exactly one build flavour: aws-lc-rs or ring");

pub extern crate rustls_ffi;
