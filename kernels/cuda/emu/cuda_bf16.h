// Stand-in for CUDA's <cuda_bf16.h> in the host emulation (see shim.h): storage and the
// conversions the kernels use, rounding to nearest even (NaN stays a quiet NaN).
#pragma once
#include <cstdint>
#include <cstring>
struct __nv_bfloat16 {
    unsigned short x;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return {(unsigned short)((b >> 16) | 0x40)};
    b += 0x7fffu + ((b >> 16) & 1u);
    return {(unsigned short)(b >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 h) { uint32_t b = uint32_t(h.x) << 16; float f; memcpy(&f, &b, 4); return f; }
// Direct double -> bf16 rounding (one rounding step, as CUDA's __double2bfloat16): round the
// double to 8 significant bits, which float holds exactly (bf16 subnormals are not handled).
inline __nv_bfloat16 __double2bfloat16(double d) {
    if (d != d) return {0x7fc0};
    uint64_t b;
    memcpy(&b, &d, 8);
    b += ((1ull << 44) - 1) + ((b >> 45) & 1);
    b &= ~((1ull << 45) - 1);
    memcpy(&d, &b, 8);
    return __float2bfloat16_rn((float)d);
}
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return {u}; }
