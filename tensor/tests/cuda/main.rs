//! Every op family on a GPU against the CPU (feature `cuda`). One test binary, so the embedded
//! PTX is linked once (the GPU bundle travels to a machine with a GPU, see scripts/gpu-build.sh).
//! Without a GPU each test prints `skipped: <reason>` and passes; `REQUIRE_GPU=1` fails instead.
#![cfg(feature = "cuda")]
#[macro_use]
mod common;
mod copy;
mod elementwise;
mod index;
mod nn;
mod nn_conv;
mod norm;
mod optim;
mod reduce;
mod rng;
