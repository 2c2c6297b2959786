//! The op enum: one variant per differentiable operation, carrying what its backward rule needs
//! (saved statistics, indices, parameters). `OpKind` is its field-less twin; `OpKind::ALL` lists
//! every kind, and the gradient-check test matches on `OpKind` exhaustively, so an op cannot be
//! added without a gradient check.
use tensor::{BinaryOp, Conv2dParams, DType, NormStats, ReduceOp, ResizeKind, Tensor, UnaryOp};

#[derive(Clone, Debug)]
pub enum Op {
    // elementwise
    Unary(UnaryOp),
    Binary(BinaryOp),
    // reductions
    Reduce {
        op: ReduceOp,
        dims: Vec<isize>,
        keepdim: bool,
    },
    Variance {
        dims: Vec<isize>,
        unbiased: bool,
        keepdim: bool,
    },
    // views and layout
    Reshape,
    Permute {
        dims: Vec<usize>,
    },
    Slice {
        dim: usize,
        start: usize,
        len: usize,
        step: usize,
    },
    Expand,
    // joining, indexing, selection
    Cat {
        dim: usize,
        sizes: Vec<usize>,
    },
    IndexSelect {
        dim: isize,
        index: Tensor,
    },
    Gather {
        dim: isize,
        index: Tensor,
    },
    ScatterAdd {
        dim: isize,
        index: Tensor,
    },
    IndexAdd {
        dim: isize,
        index: Tensor,
    },
    WhereCond {
        mask: Tensor,
    },
    MaskedFill {
        mask: Tensor,
    },
    Pad {
        pads: Vec<(usize, usize)>,
    },
    ToDType {
        from: DType,
    },
    Embedding {
        ids: Tensor,
    },
    // linear algebra and networks
    Matmul,
    /// `x·wᵀ + b` (a `Linear` layer); inputs `[x, w]` or `[x, w, b]`.
    Linear,
    Conv2d {
        params: Conv2dParams,
    },
    ConvTranspose2d {
        params: Conv2dParams,
    },
    MaxPool2d {
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        argmax: Tensor,
    },
    AvgPool2d {
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    },
    Resize {
        kind: ResizeKind,
        mh: Tensor,
        mwt: Tensor,
    },
    Softmax {
        dim: isize,
    },
    LogSoftmax {
        dim: isize,
    },
    /// `softmax(scale · x)` over the last dim, optionally causal (attention's scores).
    ScaledSoftmax {
        scale: f64,
        causal: bool,
    },
    LayerNorm {
        norm_shape: Vec<usize>,
        stats: NormStats,
        has_gamma: bool,
    },
    RmsNorm {
        norm_shape: Vec<usize>,
        stats: NormStats,
    },
    GroupNorm {
        groups: usize,
        stats: NormStats,
        has_gamma: bool,
    },
    /// `silu(group_norm(x))` in one op (the normalised values are recomputed in the backward pass).
    GroupNormSilu {
        groups: usize,
        eps: f64,
        stats: NormStats,
        has_gamma: bool,
    },
    CrossEntropy {
        targets: Tensor,
        ignore_index: Option<i64>,
        label_smoothing: f64,
        count: usize,
    },
}

macro_rules! op_kinds {
    ($($k:ident => $name:literal),* $(,)?) => {
        /// Every kind of differentiable op, without its data.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpKind { $($k),* }
        impl OpKind {
            /// All kinds, in declaration order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$k),*];
            pub fn name(self) -> &'static str {
                match self { $(OpKind::$k => $name),* }
            }
        }
    };
}

op_kinds! {
    Neg => "neg", Abs => "abs", Exp => "exp", Log => "log", Log1p => "log1p", Sqrt => "sqrt",
    Rsqrt => "rsqrt", Square => "square", Recip => "recip", Sin => "sin", Cos => "cos",
    Tanh => "tanh", Sigmoid => "sigmoid", Relu => "relu", Silu => "silu", GeluTanh => "gelu_tanh",
    GeluErf => "gelu_erf", Softplus => "softplus", Powf => "powf", Clamp => "clamp",
    Affine => "affine",
    Add => "add", Sub => "sub", Mul => "mul", Div => "div", Pow => "pow", Maximum => "maximum",
    Minimum => "minimum",
    Sum => "sum", Mean => "mean", Max => "max", Min => "min", LogSumExp => "logsumexp",
    Norm => "norm", Variance => "var",
    Reshape => "reshape", Permute => "permute", Slice => "slice", Expand => "expand",
    Cat => "cat", IndexSelect => "index_select", Gather => "gather", ScatterAdd => "scatter_add",
    IndexAdd => "index_add", WhereCond => "where_cond", MaskedFill => "masked_fill", Pad => "pad",
    ToDType => "to_dtype", Embedding => "embedding",
    Matmul => "matmul", Linear => "linear", Conv2d => "conv2d", ConvTranspose2d => "conv_transpose2d",
    MaxPool2d => "max_pool2d", AvgPool2d => "avg_pool2d", ResizeNearest => "upsample_nearest",
    ResizeArea => "resize_area", ResizeBicubic => "upsample_bicubic", Softmax => "softmax",
    LogSoftmax => "log_softmax", ScaledSoftmax => "scaled_softmax", LayerNorm => "layer_norm", RmsNorm => "rms_norm",
    GroupNorm => "group_norm", GroupNormSilu => "group_norm_silu", CrossEntropy => "cross_entropy",
}

impl Op {
    pub fn kind(&self) -> OpKind {
        use OpKind as K;
        match self {
            Op::Unary(u) => match u {
                UnaryOp::Neg => K::Neg,
                UnaryOp::Abs => K::Abs,
                UnaryOp::Exp => K::Exp,
                UnaryOp::Log => K::Log,
                UnaryOp::Log1p => K::Log1p,
                UnaryOp::Sqrt => K::Sqrt,
                UnaryOp::Rsqrt => K::Rsqrt,
                UnaryOp::Square => K::Square,
                UnaryOp::Recip => K::Recip,
                UnaryOp::Sin => K::Sin,
                UnaryOp::Cos => K::Cos,
                UnaryOp::Tanh => K::Tanh,
                UnaryOp::Sigmoid => K::Sigmoid,
                UnaryOp::Relu => K::Relu,
                UnaryOp::Silu => K::Silu,
                UnaryOp::GeluTanh => K::GeluTanh,
                UnaryOp::GeluErf => K::GeluErf,
                UnaryOp::Softplus => K::Softplus,
                UnaryOp::Powf(_) => K::Powf,
                UnaryOp::Clamp(..) => K::Clamp,
                UnaryOp::Affine(..) => K::Affine,
            },
            Op::Binary(b) => match b {
                BinaryOp::Add => K::Add,
                BinaryOp::Sub => K::Sub,
                BinaryOp::Mul => K::Mul,
                BinaryOp::Div => K::Div,
                BinaryOp::Pow => K::Pow,
                BinaryOp::Maximum => K::Maximum,
                BinaryOp::Minimum => K::Minimum,
            },
            Op::Reduce { op, .. } => match op {
                ReduceOp::Sum => K::Sum,
                ReduceOp::Mean => K::Mean,
                ReduceOp::Max => K::Max,
                ReduceOp::Min => K::Min,
                ReduceOp::LogSumExp => K::LogSumExp,
                ReduceOp::Norm2 => K::Norm,
            },
            Op::Variance { .. } => K::Variance,
            Op::Reshape => K::Reshape,
            Op::Permute { .. } => K::Permute,
            Op::Slice { .. } => K::Slice,
            Op::Expand => K::Expand,
            Op::Cat { .. } => K::Cat,
            Op::IndexSelect { .. } => K::IndexSelect,
            Op::Gather { .. } => K::Gather,
            Op::ScatterAdd { .. } => K::ScatterAdd,
            Op::IndexAdd { .. } => K::IndexAdd,
            Op::WhereCond { .. } => K::WhereCond,
            Op::MaskedFill { .. } => K::MaskedFill,
            Op::Pad { .. } => K::Pad,
            Op::ToDType { .. } => K::ToDType,
            Op::Embedding { .. } => K::Embedding,
            Op::Matmul => K::Matmul,
            Op::Linear => K::Linear,
            Op::Conv2d { .. } => K::Conv2d,
            Op::ConvTranspose2d { .. } => K::ConvTranspose2d,
            Op::MaxPool2d { .. } => K::MaxPool2d,
            Op::AvgPool2d { .. } => K::AvgPool2d,
            Op::Resize { kind, .. } => match kind {
                ResizeKind::Nearest => K::ResizeNearest,
                ResizeKind::Area => K::ResizeArea,
                ResizeKind::Bicubic => K::ResizeBicubic,
            },
            Op::Softmax { .. } => K::Softmax,
            Op::LogSoftmax { .. } => K::LogSoftmax,
            Op::ScaledSoftmax { .. } => K::ScaledSoftmax,
            Op::LayerNorm { .. } => K::LayerNorm,
            Op::RmsNorm { .. } => K::RmsNorm,
            Op::GroupNorm { .. } => K::GroupNorm,
            Op::GroupNormSilu { .. } => K::GroupNormSilu,
            Op::CrossEntropy { .. } => K::CrossEntropy,
        }
    }
}
