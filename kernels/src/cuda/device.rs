//! Finding and holding a GPU: the probe (in the order that never panics), the context, its one
//! stream, and the modules and functions loaded from the embedded PTX (each once per context).
use super::{CudaError, Result};
use crate::ptx::{PtxArch, PtxModule};
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream, DeviceRepr};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use crate::cuda_params::{StridedLayout, MAX_DIMS};

/// One GPU with its context, stream and loaded kernels.
pub struct GpuDevice {
    ordinal: usize,
    arch: PtxArch,
    name: String,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<String, CudaFunction>>,
}

impl std::fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuDevice({} {:?}, {})", self.ordinal, self.arch, self.name)
    }
}

type Registry = Mutex<HashMap<(usize, Option<PtxArch>), Arc<GpuDevice>>>;

fn registry() -> &'static Registry {
    static DEVICES: OnceLock<Registry> = OnceLock::new();
    DEVICES.get_or_init(|| Mutex::new(HashMap::new()))
}

impl GpuDevice {
    /// The device `ordinal`, loading the PTX variant its compute capability calls for. Opened once
    /// per process; later calls return the same handle.
    pub fn get(ordinal: usize) -> Result<Arc<GpuDevice>> {
        GpuDevice::get_with_arch(ordinal, None)
    }

    /// Like [`GpuDevice::get`] but loading the PTX compiled for `arch` (`Some(Sm80)` on a Hopper
    /// GPU exercises the Ampere variant; the tests load both). Each choice is its own handle.
    pub fn get_with_arch(ordinal: usize, arch: Option<PtxArch>) -> Result<Arc<GpuDevice>> {
        let mut devices = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = devices.get(&(ordinal, arch)) {
            return Ok(d.clone());
        }
        let dev = Arc::new(GpuDevice::open(ordinal, arch)?);
        devices.insert((ordinal, arch), dev.clone());
        Ok(dev)
    }

    /// The probe, in the order that cannot panic: is libcuda loadable at all (with dynamic loading
    /// the first call into a missing library panics), then the device count, then the context.
    fn open(ordinal: usize, arch: Option<PtxArch>) -> Result<GpuDevice> {
        // SAFETY: only tries to dlopen the driver library; calls nothing in it.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(CudaError::NoDriver);
        }
        let count = CudaContext::device_count().map(|c| c.max(0) as usize).unwrap_or(0);
        if ordinal >= count {
            return Err(CudaError::NoDevice { ordinal, count });
        }
        let ctx = CudaContext::new(ordinal)?;
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let (major, minor) = ctx.compute_capability()?;
        let native = PtxArch::for_compute_capability(major, minor).ok_or(CudaError::UnsupportedGpu {
            name: name.clone(),
            major,
            minor,
        })?;
        // SAFETY: every allocation, copy and launch of this device goes to its one stream (see
        // `stream`), so stream-ordering alone keeps uses and frees in order; the per-allocation
        // events cudarc would otherwise record guard against cross-stream use that cannot happen.
        unsafe { ctx.disable_event_tracking() };
        // A tuning step only: a device without memory pools (cudarc then allocates synchronously)
        // works without it.
        let _ = keep_freed_memory_pooled(&ctx);
        let stream = ctx.default_stream();
        Ok(GpuDevice {
            ordinal,
            arch: arch.unwrap_or(native),
            name,
            ctx,
            stream,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
    pub fn arch(&self) -> PtxArch {
        self.arch
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }
    /// The device's one stream: allocations, copies and launches are all ordered on it.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }
    /// Waits for everything queued on the stream; a kernel fault surfaces here at the latest.
    pub fn synchronize(&self) -> Result<()> {
        Ok(self.stream.synchronize()?)
    }

    /// The kernel `kernel` of `module`, loading the module's PTX on first use.
    pub fn function(&self, module: &'static PtxModule, kernel: &str) -> Result<CudaFunction> {
        // Each test (and any caller) may run on its own thread: make the context current there
        // before touching modules (cudarc's `load_module` binds it, `load_function` does not).
        self.ctx.bind_to_thread()?;
        let key = format!("{}/{kernel}", module.name);
        if let Some(f) = self.functions.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(f.clone());
        }
        let loaded = {
            let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
            match modules.get(module.name) {
                Some(m) => m.clone(),
                None => {
                    let m = self.ctx.load_module(Ptx::from_src(module.ptx(self.arch))).map_err(|e| {
                        CudaError::Load { module: module.name, kernel: kernel.into(), msg: e.to_string() }
                    })?;
                    modules.insert(module.name, m.clone());
                    m
                }
            }
        };
        let f = loaded.load_function(kernel).map_err(|e| CudaError::Load {
            module: module.name,
            kernel: kernel.into(),
            msg: e.to_string(),
        })?;
        self.functions.lock().unwrap_or_else(|p| p.into_inner()).insert(key, f.clone());
        Ok(f)
    }
}

/// Sets the device's default memory pool (the one stream-ordered allocations come from) to keep
/// freed memory instead of returning it to the driver at every synchronisation: a training step
/// frees and reallocates the same sizes each time, and remapping them costs more than the step's
/// small kernels. Like PyTorch's caching allocator, the pool then keeps its high-water mark.
fn keep_freed_memory_pooled(ctx: &CudaContext) -> Result<()> {
    use cudarc::driver::{result, sys};
    let mut threshold: u64 = u64::MAX;
    // SAFETY: `cu_device` is the context's own device handle; the release threshold attribute
    // takes a `cuuint64_t`, which `threshold` is, and the pointer lives across the call.
    unsafe {
        let pool = result::device::get_default_mem_pool(ctx.cu_device())?;
        result::mem_pool::set_attribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )?;
    }
    Ok(())
}

// SAFETY: repr(C) plain data with the same field order, types and padding as the C struct.
unsafe impl DeviceRepr for StridedLayout {}

impl StridedLayout {
    /// Packs a view, first dropping size-1 dimensions and merging neighbours that are laid out
    /// back to back, so most views fit in [`MAX_DIMS`] and the kernel's index loop is short
    /// ([`StridedLayout::pack`], with a view that does not fit as an error).
    pub fn new(shape: &[usize], strides: &[usize], offset: usize) -> Result<StridedLayout> {
        StridedLayout::pack(shape, strides, offset).ok_or(CudaError::TooManyDims { rank: shape.len() })
    }
    /// A contiguous run of `n` elements from `offset`.
    pub fn contiguous(n: usize, offset: usize) -> Result<StridedLayout> {
        StridedLayout::new(&[n], &[1], offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element offsets of a packed layout, computed the way the kernel does.
    fn offsets(l: &StridedLayout, n: usize) -> Vec<i64> {
        (0..n as u64)
            .map(|mut i| {
                let mut off = l.offset;
                for d in (0..l.ndim as usize).rev() {
                    let k = l.dims[d] as u64;
                    off += (i % k) as i64 * l.strides[d];
                    i /= k;
                }
                off
            })
            .collect()
    }

    #[test]
    fn merged_layout_visits_the_same_offsets() {
        // [2, 3, 4] contiguous merges to one run; a transposed view stays two dims; a broadcast
        // dim keeps stride 0; size-1 dims vanish.
        let cases: Vec<(Vec<usize>, Vec<usize>, usize, u32)> = vec![
            (vec![2, 3, 4], vec![12, 4, 1], 5, 1),
            (vec![3, 4], vec![1, 3], 0, 2),
            (vec![2, 1, 3], vec![0, 7, 1], 2, 2),
            (vec![2, 3, 1, 4], vec![24, 8, 99, 2], 1, 1),
            (vec![1, 1], vec![5, 5], 3, 0),
        ];
        for (shape, strides, offset, ndim) in cases {
            let l = StridedLayout::new(&shape, &strides, offset).unwrap();
            assert_eq!(l.ndim, ndim, "{shape:?} {strides:?}");
            let n: usize = shape.iter().product();
            let mut want = Vec::new();
            for i in 0..n {
                let (mut rem, mut off) = (i, offset as i64);
                for d in (0..shape.len()).rev() {
                    off += (rem % shape[d]) as i64 * strides[d] as i64;
                    rem /= shape[d];
                }
                want.push(off);
            }
            assert_eq!(offsets(&l, n), want, "{shape:?} {strides:?}");
        }
    }

    #[test]
    fn too_many_dims_is_an_error() {
        let shape = vec![2; 9];
        let strides: Vec<usize> = (0..9).map(|d| 1 << (2 * d)).collect();
        assert!(matches!(StridedLayout::new(&shape, &strides, 0), Err(CudaError::TooManyDims { rank: 9 })));
    }

    #[test]
    fn probe_without_a_driver_is_an_error_not_a_panic() {
        // On a machine with a GPU this opens it; everywhere else it must return an error.
        match GpuDevice::get(0) {
            Ok(d) => eprintln!("found {d:?}"),
            Err(e) => eprintln!("no GPU: {e}"),
        }
        assert!(matches!(GpuDevice::get(usize::MAX - 1), Err(CudaError::NoDriver | CudaError::NoDevice { .. })));
    }
}
