// oneDNN kernels for harden's native engine. Every tensor is float32, row-major, in TensorFlow.js
// layouts: activations NHWC, conv filters HWIO ([kh, kw, in, out]), matrices row-major. Kernels
// read and write the caller's buffers in place (views on the wasm heap); nothing is copied in or out
// except where oneDNN's chosen weight layout needs a reorder (see kernels.cc).
#pragma once

#include <cstdint>
#include <string>

namespace harden {

// One convolution's geometry, in the caller's terms (tfjs computeConv2DInfo). Dilation 1 = none.
struct ConvGeo {
  int64_t n, h, w, c;     // input
  int64_t o, kh, kw;      // output channels, filter taps
  int64_t oh, ow;         // output size
  int64_t sh, sw, dh, dw; // strides, dilations
  int64_t pt, pl, pb, pr; // padding before/after (may be asymmetric: tfjs 'same')
};

enum class Activation { linear = 0, relu = 1 };

void conv2d_forward(const ConvGeo &g, const float *x, const float *w, const float *bias, float *y, Activation act);
void conv2d_backward_data(const ConvGeo &g, const float *dy, const float *w, float *dx);
// dbias may be null.
void conv2d_backward_weights(const ConvGeo &g, const float *x, const float *dy, float *dw, float *dbias);

// C[b] = op(A[b]) · op(B[b]), row-major; a batch count of 1 broadcasts. op(A) is M×K, op(B) K×N.
void matmul(const float *a, const float *b, float *c, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b);
// y[., j] += bias[j % bias_len] then activation, over rows×cols.
void bias_activation(float *y, int64_t rows, int64_t cols, const float *bias, int64_t bias_len, Activation act);

// Pooling over NHWC; `max` or average excluding padding (TensorFlow's definition).
struct PoolGeo {
  int64_t n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr;
};
void pool_forward(bool max, const PoolGeo &g, const float *x, float *y);
// x is needed for max pooling only (the argmax is recomputed from it).
void pool_backward(bool max, const PoolGeo &g, const float *x, const float *dy, float *dx);

// Training-mode batch norm over [m, c] (every axis but the last flattened into m): biased batch
// variance, y = γ·(x − μ)/√(var + ε) + β.
void batch_norm_forward(int64_t m, int64_t c, float eps, const float *x, const float *gamma, const float *beta, float *y,
                        float *mean, float *variance);
void batch_norm_backward(int64_t m, int64_t c, float eps, const float *x, const float *dy, const float *mean,
                         const float *variance, const float *gamma, float *dx, float *dgamma, float *dbeta);

std::string isa_name();
std::string version();
int get_threads();
void set_threads(int n);
// Cached primitives in this thread (for tests and memory checks).
int64_t cached_primitives();
void clear_cache();

} // namespace harden
