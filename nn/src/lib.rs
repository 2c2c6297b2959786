//! Layers, optimisers and checkpoints: what models are defined, trained, saved and resumed with.
//!
//! - [`Param`] and the [`Module`] convention (PyTorch state-dict names, freezing, train/eval);
//! - [`layers`]: Linear, Conv2d, ConvTranspose2d, norms, Embedding, Dropout, up/down-sampling,
//!   MLP, multi-head attention, time embeddings, AdaGN/AdaLN;
//! - [`optim`]: SGD, Adam, AdamW (PyTorch's exact rules), clipping, LR schedules, EMA;
//! - [`checkpoint`] and [`train_state`]: atomic safetensors checkpoints and bit-exact resume;
//! - [`training`]: the shared loop (progress bar, JSONL log, Ctrl-C, NaN stop);
//! - [`testing`]: the every-parameter-gets-a-gradient check.
pub mod checkpoint;
mod error;
pub mod init;
pub mod layers;
mod module;
pub mod optim;
mod param;
pub mod testing;
pub mod train_state;
pub mod training;

pub use checkpoint::{load_module, save_module, LoadReport};
pub use error::{Error, Result};
pub use module::{visit_child, visit_list, ModeFlag, Module, ModuleExt, Visitor};
pub use optim::{Adam, Ema, EmaMode, GradSet, LrSchedule, OptimState, Optimizer, Sgd};
pub use param::Param;
pub use train_state::{CheckpointDir, TrainState};
