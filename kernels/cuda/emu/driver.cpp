// Runs kernels of kernels/cuda/*.cu on the CPU through the emulation in shim.h, as scripted by
// kernels/tests/cuda_emulated/ (which also checks the results).
//
// Usage: driver SCRIPT OUT. SCRIPT is whitespace-separated text, one command per line:
//   buf ID HEX          a buffer holding these bytes ('-' for none)
//   run LABEL KERNEL GX GY GZ BX BY BZ NARGS ARG...
//                       launch KERNEL; an ARG is 'pID' or 'pID+BYTES' (a pointer into buffer ID),
//                       'null', or 'xHEX': the bytes of a by-value parameter, whose size must equal
//                       the kernel's parameter type's size (as the CUDA driver's would)
//   out ID              append 'ID HEX' to OUT
// Every buffer is surrounded by guard bytes, checked after each launch (out-of-bounds writes).
#include "shim.h"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "../common.cuh"
#include "../gemm.cuh"
#include "../from_f64.cuh"
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>

// Each source in its own namespace: they repeat helper names (m_exp, nan_max, ...).
namespace copy_cu {
#include "../copy.cu"
}
namespace elementwise_cu {
#include "../elementwise.cu"
}
namespace reduce_cu {
#include "../reduce.cu"
}
namespace softmax_cu {
#include "../softmax.cu"
}
namespace norm_cu {
#include "../norm.cu"
}
namespace index_cu {
#include "../index.cu"
}
namespace optim_cu {
#include "../optim.cu"
}
namespace gemm_cu {
#include "../gemm.cu"
}
#undef TILE
namespace conv_cu {
#include "../conv.cu"
}
namespace pool_cu {
#include "../pool.cu"
}
namespace rng_cu {
#include "../rng.cu"
}

static const size_t GUARD = 64;
static const unsigned char GUARD_BYTE = 0xA5;
struct Buffer {
    std::vector<unsigned char> bytes; // GUARD + payload + GUARD
    size_t len = 0;
    unsigned char *data() { return bytes.data() + GUARD; }
};
static std::map<long, Buffer> bufs;
static std::string label, kernel_name;

[[noreturn]] static void fail(const std::string &msg) {
    fprintf(stderr, "emulated %s (%s): %s\n", kernel_name.c_str(), label.c_str(), msg.c_str());
    exit(2);
}

static std::vector<unsigned char> unhex(const std::string &h) {
    if (h == "-") return {};
    std::vector<unsigned char> v(h.size() / 2);
    for (size_t i = 0; i < v.size(); ++i) v[i] = (unsigned char)std::stoi(h.substr(2 * i, 2), nullptr, 16);
    return v;
}

template <typename A> static A read_arg(std::istream &in, int k) {
    std::string tok;
    in >> tok;
    if constexpr (std::is_pointer_v<A>) {
        if (tok == "null") return nullptr;
        if (tok.empty() || tok[0] != 'p') fail("parameter " + std::to_string(k) + " is a pointer, got " + tok);
        size_t plus = tok.find('+');
        long id = std::stol(tok.substr(1, plus));
        size_t off = plus == std::string::npos ? 0 : std::stoul(tok.substr(plus + 1));
        if (!bufs.count(id)) fail("no buffer " + std::to_string(id));
        return (A)(bufs[id].data() + off);
    } else {
        if (tok.empty() || tok[0] != 'x') fail("parameter " + std::to_string(k) + " is a value, got " + tok);
        auto b = unhex(tok.substr(1));
        if (b.size() != sizeof(A))
            fail("parameter " + std::to_string(k) + " has " + std::to_string(b.size()) + " bytes, the kernel takes " +
                 std::to_string(sizeof(A)));
        A a;
        memcpy((void *)&a, b.data(), sizeof(A));
        return a;
    }
}

template <typename... A, size_t... I>
static std::tuple<A...> read_args(std::istream &in, std::index_sequence<I...>) {
    return std::tuple<A...>{read_arg<A>(in, (int)I)...}; // braces: read left to right
}

template <typename... A> static void run(void (*f)(A...), dim3 grid, dim3 block, int nargs, std::istream &in) {
    if (nargs != (int)sizeof...(A))
        fail("given " + std::to_string(nargs) + " parameters, the kernel takes " + std::to_string(sizeof...(A)));
    auto args = read_args<A...>(in, std::index_sequence_for<A...>{});
    emu::launch(grid, block, [&] { std::apply(f, args); });
}

using Runner = std::function<void(dim3, dim3, int, std::istream &)>;
static std::map<std::string, Runner> table;
#define K(ns, name) table[#name] = [](dim3 g, dim3 b, int n, std::istream &in) { run(ns::name, g, b, n, in); };
#define KF(ns, name) K(ns, name##_f32) K(ns, name##_f64)
#define KB(ns, name) K(ns, name##_b8) K(ns, name##_b16) K(ns, name##_b32) K(ns, name##_b64)

static void register_kernels() {
    KB(copy_cu, copy_strided) KB(copy_cu, fill)
    K(copy_cu, cast_f32_f64) K(copy_cu, cast_f64_f32) K(copy_cu, cast_f32_f16) K(copy_cu, cast_f16_f32)
    K(copy_cu, cast_f32_bf16) K(copy_cu, cast_bf16_f32) K(copy_cu, cast_f64_f16) K(copy_cu, cast_f16_f64)
    K(copy_cu, cast_f64_bf16) K(copy_cu, cast_bf16_f64) K(copy_cu, cast_f16_bf16) K(copy_cu, cast_bf16_f16)
    K(copy_cu, cast_i64_f32) K(copy_cu, cast_i64_f64) K(copy_cu, cast_u8_f32) K(copy_cu, cast_u8_f64)
    K(copy_cu, cast_f32_i64) K(copy_cu, cast_f64_i64) K(copy_cu, cast_f32_u8) K(copy_cu, cast_f64_u8)
    K(copy_cu, cast_i64_u8) K(copy_cu, cast_u8_i64)
    KF(elementwise_cu, unary) KF(elementwise_cu, unary_backward) KF(elementwise_cu, binary)
    KF(elementwise_cu, binary_backward) KF(elementwise_cu, masked_fill)
    K(elementwise_cu, unary_vec4_f32) K(elementwise_cu, binary_vec4_f32)
    KF(elementwise_cu, cmp) K(elementwise_cu, cmp_i64) K(elementwise_cu, cmp_u8) KB(elementwise_cu, where)
    KF(reduce_cu, reduce_rows) KF(reduce_cu, arg_reduce_rows) KF(reduce_cu, arg_mask)
    KF(softmax_cu, softmax) KF(softmax_cu, softmax_backward)
    KF(norm_cu, norm_rows_forward) KF(norm_cu, norm_rows_backward_dx) KF(norm_cu, norm_param_partials)
    KF(norm_cu, gn_param_partials) KF(norm_cu, colsum) KF(norm_cu, ce_rows) KF(norm_cu, ce_mean)
    KF(norm_cu, ce_backward)
    KB(index_cu, scatter_strided) KB(index_cu, index_select) KB(index_cu, gather) KB(index_cu, one_hot)
    KF(index_cu, scatter_add) KF(index_cu, index_add)
    KF(optim_cu, adam) KF(optim_cu, sgd) KF(optim_cu, sgd_momentum) KF(optim_cu, sumsq_partial)
    K(optim_cu, sumsq_final)
    KF(gemm_cu, gemm)
    KF(conv_cu, im2col) KF(conv_cu, col2im)
    KF(pool_cu, max_pool2d) KF(pool_cu, max_pool2d_backward) KF(pool_cu, avg_pool2d)
    KF(pool_cu, avg_pool2d_backward)
}

static void check_guards() {
    for (auto &[id, b] : bufs)
        for (size_t i = 0; i < GUARD; ++i)
            if (b.bytes[i] != GUARD_BYTE || b.bytes[GUARD + b.len + i] != GUARD_BYTE)
                fail("wrote outside buffer " + std::to_string(id) + " (" + std::to_string(b.len) + " bytes)");
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: driver SCRIPT OUT\n");
        return 1;
    }
    register_kernels();
    std::ifstream script(argv[1]);
    std::ofstream out(argv[2]);
    std::string line;
    while (std::getline(script, line)) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        if (cmd == "buf") {
            long id;
            std::string hex;
            in >> id >> hex;
            auto payload = unhex(hex);
            Buffer b;
            b.len = payload.size();
            b.bytes.assign(2 * GUARD + b.len, GUARD_BYTE);
            std::copy(payload.begin(), payload.end(), b.bytes.begin() + GUARD);
            bufs[id] = std::move(b);
        } else if (cmd == "run") {
            dim3 g, b;
            int nargs;
            in >> label >> kernel_name >> g.x >> g.y >> g.z >> b.x >> b.y >> b.z >> nargs;
            auto it = table.find(kernel_name);
            if (it == table.end()) fail("no such kernel in the driver's table");
            it->second(g, b, nargs, in);
            check_guards();
        } else if (cmd == "out") {
            long id;
            in >> id;
            static const char *hexd = "0123456789abcdef";
            std::string h;
            for (size_t i = 0; i < bufs[id].len; ++i) {
                h += hexd[bufs[id].data()[i] >> 4];
                h += hexd[bufs[id].data()[i] & 15];
            }
            out << id << ' ' << (h.empty() ? "-" : h) << '\n';
        } else if (!cmd.empty()) {
            fprintf(stderr, "unknown command %s\n", cmd.c_str());
            return 1;
        }
    }
    return 0;
}
