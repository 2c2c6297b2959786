// Stand-in for CUDA's <cuda_fp16.h> in the host emulation (see shim.h): storage and the
// conversions the kernels use, through GCC's _Float16 (round to nearest even).
#pragma once
#include <cstring>
struct __half {
    unsigned short x;
};
inline __half emu_to_half(_Float16 h) { __half r; memcpy(&r.x, &h, 2); return r; }
inline __half __float2half_rn(float f) { return emu_to_half((_Float16)f); }
inline __half __double2half(double d) { return emu_to_half((_Float16)d); }
inline float __half2float(__half h) { _Float16 v; memcpy(&v, &h.x, 2); return (float)v; }
inline unsigned short __half_as_ushort(__half h) { return h.x; }
inline __half __ushort_as_half(unsigned short u) { return {u}; }
