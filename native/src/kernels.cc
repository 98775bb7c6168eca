// oneDNN kernels (see kernels.h).
//
// Layouts: activations are given to oneDNN as `nhwc` memory over the caller's buffer, so nothing is
// copied. Filters are declared `any`: oneDNN picks its blocked weight layout (e.g. OIhw8i8o on AVX2)
// and a cached reorder converts the HWIO filter into a per-shape scratch buffer on each call (filters
// are small: 0.4% of the activations' bytes on the reference CNN), and the filter gradient back from
// it. Primitive descriptors, primitives and scratch buffers are cached per thread (each Node worker
// thread is its own engine) and per shape: creating a convolution primitive costs 0.1–1 ms.
#include "kernels.h"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace harden {
namespace {

engine &eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}

stream &strm() {
  thread_local stream s(eng());
  return s;
}

struct Entry {
  virtual ~Entry() = default;
};

thread_local std::unordered_map<std::string, std::unique_ptr<Entry>> cache;

template <class T, class Make>
T &cached(const std::string &key, Make make) {
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, std::unique_ptr<Entry>(make())).first;
  return static_cast<T &>(*it->second);
}

// 64-byte aligned float scratch, kept with its primitive.
struct Buffer {
  void *p = nullptr;
  size_t bytes = 0;
  explicit Buffer(size_t n = 0) { resize(n); }
  ~Buffer() { std::free(p); }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  void resize(size_t n) {
    std::free(p);
    bytes = n;
    p = n ? std::aligned_alloc(64, (n + 63) / 64 * 64) : nullptr;
  }
};

std::string conv_key(const char *kind, const ConvGeo &g, int extra) {
  std::ostringstream k;
  k << kind << ':' << omp_get_max_threads() << ':' << extra;
  for (int64_t v : {g.n, g.h, g.w, g.c, g.o, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.pb, g.pr}) k << ',' << v;
  return k.str();
}

memory::desc nhwc(int64_t n, int64_t c, int64_t h, int64_t w) { return memory::desc({n, c, h, w}, dt::f32, tag::nhwc); }
memory::desc weights(const ConvGeo &g, tag t) { return memory::desc({g.o, g.c, g.kh, g.kw}, dt::f32, t); }
memory::desc vec(int64_t c) { return memory::desc({c}, dt::f32, tag::x); }

memory::dims strides(const ConvGeo &g) { return {g.sh, g.sw}; }
memory::dims dilates(const ConvGeo &g) { return {g.dh - 1, g.dw - 1}; }
memory::dims pad_l(const ConvGeo &g) { return {g.pt, g.pl}; }
memory::dims pad_r(const ConvGeo &g) { return {g.pb, g.pr}; }

convolution_forward::desc conv_fwd_desc(const ConvGeo &g, bool bias) {
  auto src = nhwc(g.n, g.c, g.h, g.w);
  auto dst = nhwc(g.n, g.o, g.oh, g.ow);
  auto wei = weights(g, tag::any);
  if (bias) {
    return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src, wei, vec(g.o), dst, strides(g),
                                     dilates(g), pad_l(g), pad_r(g));
  }
  return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src, wei, dst, strides(g), dilates(g),
                                   pad_l(g), pad_r(g));
}

// A reorder from the user's HWIO filter to the layout a primitive chose, or back (for gradients).
struct WeightReorder {
  bool needed = false;
  memory::desc user, inner;
  reorder prim;
  Buffer buf;
  void init(const memory::desc &user_md, const memory::desc &inner_md, bool to_user) {
    user = user_md;
    inner = inner_md;
    needed = user_md != inner_md;
    if (!needed) return;
    buf.resize(inner_md.get_size());
    prim = to_user ? reorder(reorder::primitive_desc(eng(), inner_md, eng(), user_md)) : reorder(reorder::primitive_desc(eng(), user_md, eng(), inner_md));
  }
};

struct ConvFwd : Entry {
  convolution_forward::primitive_desc pd;
  convolution_forward prim;
  WeightReorder w;
};

struct ConvBwdData : Entry {
  convolution_backward_data::primitive_desc pd;
  convolution_backward_data prim;
  WeightReorder w;
};

struct ConvBwdWeights : Entry {
  convolution_backward_weights::primitive_desc pd;
  convolution_backward_weights prim;
  WeightReorder w;
};

memory mem(const memory::desc &md, const void *p) { return memory(md, eng(), const_cast<void *>(p)); }

// The user's HWIO filter `w` in the layout the primitive chose: reordered into the entry's buffer
// when that layout differs, else `w` itself.
memory innerWeights(WeightReorder &r, stream &s, const float *w) {
  memory wu = mem(r.user, w);
  if (!r.needed) return wu;
  memory wi = mem(r.inner, r.buf.p);
  r.prim.execute(s, wu, wi);
  return wi;
}

bool empty(const ConvGeo &g) { return g.n == 0 || g.oh == 0 || g.ow == 0 || g.o == 0 || g.c == 0; }

// Input-channel counts up to which the input gradient runs as GEMM + col2im (see below).
constexpr int64_t GEMM_BACKWARD_DATA_MAX_CHANNELS = 4;

} // namespace

void conv2d_forward(const ConvGeo &g, const float *x, const float *w, const float *bias, float *y, Activation act) {
  if (empty(g)) return;
  auto &e = cached<ConvFwd>(conv_key("fwd", g, (bias ? 1 : 0) + 2 * int(act)), [&] {
    auto *c = new ConvFwd();
    primitive_attr attr;
    if (act == Activation::relu) {
      post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    c->pd = convolution_forward::primitive_desc(conv_fwd_desc(g, bias != nullptr), attr, eng());
    c->prim = convolution_forward(c->pd);
    c->w.init(weights(g, tag::hwio), c->pd.weights_desc(), false);
    return c;
  });
  auto &s = strm();
  memory wi = innerWeights(e.w, s, w);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, mem(e.pd.src_desc(), x)}, {DNNL_ARG_WEIGHTS, wi}, {DNNL_ARG_DST, mem(e.pd.dst_desc(), y)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, mem(vec(g.o), bias));
  e.prim.execute(s, args);
  s.wait();
}

namespace {

// A growable scratch buffer per thread (col2im columns).
float *scratch(size_t floats) {
  thread_local Buffer buf;
  if (buf.bytes < floats * sizeof(float)) buf.resize(floats * sizeof(float));
  return static_cast<float *>(buf.p);
}

// dx for convolutions with few input channels, as GEMM + col2im: with HWIO filters viewed as
// W[(p, q, c), o], the columns cols[(n, a, b), (p, q, c)] = Σ_o dy[(n, a, b), o] · W[(p, q, c), o] are
// one sgemm, and each column adds into dx[n, a·s + p·d − pad, b·s + q·d − pad, c]. oneDNN's direct
// kernel vectorises over 8 input channels and runs 3–5× slower than the forward pass when there are
// 1 or 3 (the first layer of every model, where an attack's input gradient ends): 9.1 ms against
// 1.9 ms forward for [64, 32, 32, 3] → 32, 3.0 against 0.4 ms for [32, 28, 28, 1] → 32.
void conv2d_backward_data_gemm(const ConvGeo &g, const float *dy, const float *w, float *dx) {
  const int64_t taps = g.kh * g.kw * g.c;
  const int64_t rows = g.n * g.oh * g.ow;
  float *cols = scratch(size_t(rows * taps));
  auto status = dnnl_sgemm('N', 'T', rows, taps, g.o, 1.f, dy, g.o, w, g.o, 0.f, cols, taps);
  if (status != dnnl_success) throw error(status, "dnnl_sgemm failed");
  const int64_t image = g.h * g.w * g.c;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.n; n++) {
    float *out = dx + n * image;
    std::memset(out, 0, sizeof(float) * image);
    for (int64_t a = 0; a < g.oh; a++) {
      for (int64_t b = 0; b < g.ow; b++) {
        const float *col = cols + ((n * g.oh + a) * g.ow + b) * taps;
        for (int64_t p = 0; p < g.kh; p++) {
          const int64_t i = a * g.sh + p * g.dh - g.pt;
          if (i < 0 || i >= g.h) continue;
          for (int64_t q = 0; q < g.kw; q++) {
            const int64_t j = b * g.sw + q * g.dw - g.pl;
            if (j < 0 || j >= g.w) continue;
            float *dst = out + (i * g.w + j) * g.c;
            const float *src = col + (p * g.kw + q) * g.c;
            for (int64_t c = 0; c < g.c; c++) dst[c] += src[c];
          }
        }
      }
    }
  }
}

} // namespace

void conv2d_backward_data(const ConvGeo &g, const float *dy, const float *w, float *dx) {
  if (empty(g)) {
    std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.c);
    return;
  }
  if (g.c <= GEMM_BACKWARD_DATA_MAX_CHANNELS) {
    conv2d_backward_data_gemm(g, dy, w, dx);
    return;
  }
  auto &e = cached<ConvBwdData>(conv_key("bwd_data", g, 0), [&] {
    auto *c = new ConvBwdData();
    auto hint = convolution_forward::primitive_desc(conv_fwd_desc(g, false), eng());
    auto d = convolution_backward_data::desc(algorithm::convolution_direct, nhwc(g.n, g.c, g.h, g.w), weights(g, tag::any),
                                             nhwc(g.n, g.o, g.oh, g.ow), strides(g), dilates(g), pad_l(g), pad_r(g));
    c->pd = convolution_backward_data::primitive_desc(d, eng(), hint);
    c->prim = convolution_backward_data(c->pd);
    c->w.init(weights(g, tag::hwio), c->pd.weights_desc(), false);
    return c;
  });
  auto &s = strm();
  memory wi = innerWeights(e.w, s, w);
  e.prim.execute(s, {{DNNL_ARG_DIFF_DST, mem(e.pd.diff_dst_desc(), dy)}, {DNNL_ARG_WEIGHTS, wi}, {DNNL_ARG_DIFF_SRC, mem(e.pd.diff_src_desc(), dx)}});
  s.wait();
}

void conv2d_backward_weights(const ConvGeo &g, const float *x, const float *dy, float *dw, float *dbias) {
  if (empty(g)) {
    std::memset(dw, 0, sizeof(float) * g.kh * g.kw * g.c * g.o);
    if (dbias) std::memset(dbias, 0, sizeof(float) * g.o);
    return;
  }
  auto &e = cached<ConvBwdWeights>(conv_key("bwd_weights", g, dbias ? 1 : 0), [&] {
    auto *c = new ConvBwdWeights();
    auto hint = convolution_forward::primitive_desc(conv_fwd_desc(g, dbias != nullptr), eng());
    auto src = nhwc(g.n, g.c, g.h, g.w);
    auto ddst = nhwc(g.n, g.o, g.oh, g.ow);
    auto dwei = weights(g, tag::any);
    auto d = dbias ? convolution_backward_weights::desc(algorithm::convolution_direct, src, dwei, vec(g.o), ddst, strides(g), dilates(g),
                                                        pad_l(g), pad_r(g))
                   : convolution_backward_weights::desc(algorithm::convolution_direct, src, dwei, ddst, strides(g), dilates(g), pad_l(g),
                                                        pad_r(g));
    c->pd = convolution_backward_weights::primitive_desc(d, eng(), hint);
    c->prim = convolution_backward_weights(c->pd);
    c->w.init(weights(g, tag::hwio), c->pd.diff_weights_desc(), true);
    return c;
  });
  auto &s = strm();
  auto wu = mem(e.w.user, dw);
  memory wi = e.w.needed ? mem(e.w.inner, e.w.buf.p) : wu;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, mem(e.pd.src_desc(), x)}, {DNNL_ARG_DIFF_DST, mem(e.pd.diff_dst_desc(), dy)}, {DNNL_ARG_DIFF_WEIGHTS, wi}};
  if (dbias) args.emplace(DNNL_ARG_DIFF_BIAS, mem(vec(g.o), dbias));
  e.prim.execute(s, args);
  if (e.w.needed) e.w.prim.execute(s, wi, wu);
  s.wait();
}

void matmul(const float *a, const float *b, float *c, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k, bool trans_a,
            bool trans_b) {
  const int64_t batch = batch_a > batch_b ? batch_a : batch_b;
  if (k == 0) {
    std::memset(c, 0, sizeof(float) * batch * m * n);
    return;
  }
  for (int64_t i = 0; i < batch; i++) {
    const float *ai = a + (batch_a == 1 ? 0 : i) * m * k;
    const float *bi = b + (batch_b == 1 ? 0 : i) * k * n;
    auto status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.f, ai, trans_a ? m : k, bi, trans_b ? k : n, 0.f,
                             c + i * m * n, n);
    if (status != dnnl_success) throw error(status, "dnnl_sgemm failed");
  }
}

void bias_activation(float *y, int64_t rows, int64_t cols, const float *bias, int64_t bias_len, Activation act) {
  const bool relu = act == Activation::relu;
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; r++) {
    float *row = y + r * cols;
    for (int64_t j = 0; j < cols; j++) {
      float v = row[j] + (bias ? bias[bias_len == 1 ? 0 : j % bias_len] : 0.f);
      row[j] = relu && v < 0.f ? 0.f : v;
    }
  }
}

namespace {

std::string pool_key(const char *kind, bool max, const PoolGeo &g) {
  std::ostringstream k;
  k << kind << ':' << omp_get_max_threads() << ':' << max;
  for (int64_t v : {g.n, g.h, g.w, g.c, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.pb, g.pr}) k << ',' << v;
  return k.str();
}

// Average pooling divides by the pixels inside the image (TensorFlow's forward pass); its gradient,
// as tfjs computes it on every backend, divides by the whole window (padding included). The two
// agree without padding, the only average pools the models use.
algorithm pool_alg(bool max, bool backward) {
  return max ? algorithm::pooling_max : backward ? algorithm::pooling_avg_include_padding : algorithm::pooling_avg_exclude_padding;
}

pooling_forward::desc pool_desc(bool max, const PoolGeo &g, prop_kind prop, bool backward = false) {
  return pooling_forward::desc(prop, pool_alg(max, backward), nhwc(g.n, g.c, g.h, g.w),
                               nhwc(g.n, g.c, g.oh, g.ow), {g.sh, g.sw}, {g.kh, g.kw}, {g.pt, g.pl}, {g.pb, g.pr});
}

struct PoolFwd : Entry {
  pooling_forward::primitive_desc pd;
  pooling_forward prim;
};

struct PoolBwd : Entry {
  pooling_forward::primitive_desc fpd;
  pooling_forward fprim;
  pooling_backward::primitive_desc pd;
  pooling_backward prim;
  Buffer y, ws;
};

} // namespace

void pool_forward(bool max, const PoolGeo &g, const float *x, float *y) {
  if (g.n * g.c * g.oh * g.ow == 0) return;
  auto &e = cached<PoolFwd>(pool_key("pool_fwd", max, g), [&] {
    auto *c = new PoolFwd();
    c->pd = pooling_forward::primitive_desc(pool_desc(max, g, prop_kind::forward_inference), eng());
    c->prim = pooling_forward(c->pd);
    return c;
  });
  auto &s = strm();
  e.prim.execute(s, {{DNNL_ARG_SRC, mem(e.pd.src_desc(), x)}, {DNNL_ARG_DST, mem(e.pd.dst_desc(), y)}});
  s.wait();
}

namespace {

// Max-pool gradient, direct: each output pixel's gradient goes to the first maximum of its window
// (row-major, as tfjs's kernels choose), channels innermost. oneDNN's path (a forward pass that
// writes the argmax workspace, then the backward pass) took 4.4 ms for [32, 24, 24, 32] where this
// reads x once: 0.6 ms.
void max_pool_backward_direct(const PoolGeo &g, const float *x, const float *dy, float *dx) {
  const int64_t image = g.h * g.w * g.c;
#pragma omp parallel
  {
    std::vector<float> best(size_t(g.c));
    std::vector<int64_t> where(size_t(g.c));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.n; n++) {
      const float *xi = x + n * image;
      float *out = dx + n * image;
      std::memset(out, 0, sizeof(float) * image);
      for (int64_t a = 0; a < g.oh; a++) {
        for (int64_t b = 0; b < g.ow; b++) {
          bool first = true;
          for (int64_t p = 0; p < g.kh; p++) {
            const int64_t i = a * g.sh + p - g.pt;
            if (i < 0 || i >= g.h) continue;
            for (int64_t q = 0; q < g.kw; q++) {
              const int64_t j = b * g.sw + q - g.pl;
              if (j < 0 || j >= g.w) continue;
              const int64_t base = (i * g.w + j) * g.c;
              const float *v = xi + base;
              if (first) {
                for (int64_t c = 0; c < g.c; c++) {
                  best[c] = v[c];
                  where[c] = base + c;
                }
                first = false;
              } else {
                for (int64_t c = 0; c < g.c; c++) {
                  if (v[c] > best[c]) {
                    best[c] = v[c];
                    where[c] = base + c;
                  }
                }
              }
            }
          }
          if (first) continue; // a window entirely in the padding
          const float *d = dy + ((n * g.oh + a) * g.ow + b) * g.c;
          for (int64_t c = 0; c < g.c; c++) out[where[c]] += d[c];
        }
      }
    }
  }
}

} // namespace

void pool_backward(bool max, const PoolGeo &g, const float *x, const float *dy, float *dx) {
  if (g.n * g.c * g.oh * g.ow == 0) {
    std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.c);
    return;
  }
  if (max) {
    max_pool_backward_direct(g, x, dy, dx);
    return;
  }
  auto &e = cached<PoolBwd>(pool_key("pool_bwd", max, g), [&] {
    auto *c = new PoolBwd();
    c->fpd = pooling_forward::primitive_desc(pool_desc(max, g, prop_kind::forward_training, true), eng());
    auto d = pooling_backward::desc(pool_alg(max, true), nhwc(g.n, g.c, g.h, g.w),
                                    nhwc(g.n, g.c, g.oh, g.ow), {g.sh, g.sw}, {g.kh, g.kw}, {g.pt, g.pl}, {g.pb, g.pr});
    c->pd = pooling_backward::primitive_desc(d, eng(), c->fpd);
    c->prim = pooling_backward(c->pd);
    if (max) {
      c->fprim = pooling_forward(c->fpd);
      c->y.resize(c->fpd.dst_desc().get_size());
      c->ws.resize(c->fpd.workspace_desc().get_size());
    }
    return c;
  });
  auto &s = strm();
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, mem(e.pd.diff_dst_desc(), dy)}, {DNNL_ARG_DIFF_SRC, mem(e.pd.diff_src_desc(), dx)}};
  if (max) {
    // The argmax (workspace) of a forward pass over x, as the gradient needs it.
    auto ws = mem(e.fpd.workspace_desc(), e.ws.p);
    e.fprim.execute(s, {{DNNL_ARG_SRC, mem(e.fpd.src_desc(), x)}, {DNNL_ARG_DST, mem(e.fpd.dst_desc(), e.y.p)}, {DNNL_ARG_WORKSPACE, ws}});
    args.emplace(DNNL_ARG_WORKSPACE, ws);
  }
  e.prim.execute(s, args);
  s.wait();
}

namespace {

const auto BN_FLAGS = normalization_flags::use_scale | normalization_flags::use_shift;

std::string bn_key(const char *kind, int64_t m, int64_t c, float eps) {
  std::ostringstream k;
  k << kind << ':' << omp_get_max_threads() << ':' << m << ',' << c << ',' << eps;
  return k.str();
}

batch_normalization_forward::desc bn_desc(int64_t m, int64_t c, float eps) {
  return batch_normalization_forward::desc(prop_kind::forward_training, nhwc(m, c, 1, 1), eps, BN_FLAGS);
}

struct BnFwd : Entry {
  batch_normalization_forward::primitive_desc pd;
  batch_normalization_forward prim;
};

struct BnBwd : Entry {
  batch_normalization_backward::primitive_desc pd;
  batch_normalization_backward prim;
  Buffer shift; // zeros: oneDNN 2.6 asks for the shift argument, which no gradient depends on
};

} // namespace

void batch_norm_forward(int64_t m, int64_t c, float eps, const float *x, const float *gamma, const float *beta, float *y, float *mean,
                        float *variance) {
  if (m == 0 || c == 0) return;
  auto &e = cached<BnFwd>(bn_key("bn_fwd", m, c, eps), [&] {
    auto *b = new BnFwd();
    b->pd = batch_normalization_forward::primitive_desc(bn_desc(m, c, eps), eng());
    b->prim = batch_normalization_forward(b->pd);
    return b;
  });
  auto &s = strm();
  e.prim.execute(s, {{DNNL_ARG_SRC, mem(e.pd.src_desc(), x)},
                     {DNNL_ARG_DST, mem(e.pd.dst_desc(), y)},
                     {DNNL_ARG_SCALE, mem(vec(c), gamma)},
                     {DNNL_ARG_SHIFT, mem(vec(c), beta)},
                     {DNNL_ARG_MEAN, mem(e.pd.mean_desc(), mean)},
                     {DNNL_ARG_VARIANCE, mem(e.pd.variance_desc(), variance)}});
  s.wait();
}

void batch_norm_backward(int64_t m, int64_t c, float eps, const float *x, const float *dy, const float *mean, const float *variance,
                         const float *gamma, float *dx, float *dgamma, float *dbeta) {
  if (m == 0 || c == 0) return;
  auto &e = cached<BnBwd>(bn_key("bn_bwd", m, c, eps), [&] {
    auto *b = new BnBwd();
    auto hint = batch_normalization_forward::primitive_desc(bn_desc(m, c, eps), eng());
    auto d = batch_normalization_backward::desc(prop_kind::backward, nhwc(m, c, 1, 1), nhwc(m, c, 1, 1), eps, BN_FLAGS);
    b->pd = batch_normalization_backward::primitive_desc(d, eng(), hint);
    b->prim = batch_normalization_backward(b->pd);
    b->shift.resize(sizeof(float) * c);
    std::memset(b->shift.p, 0, sizeof(float) * c);
    return b;
  });
  auto &s = strm();
  e.prim.execute(s, {{DNNL_ARG_SRC, mem(e.pd.src_desc(), x)},
                     {DNNL_ARG_DIFF_DST, mem(e.pd.diff_dst_desc(), dy)},
                     {DNNL_ARG_MEAN, mem(e.pd.mean_desc(), mean)},
                     {DNNL_ARG_VARIANCE, mem(e.pd.variance_desc(), variance)},
                     {DNNL_ARG_SCALE, mem(vec(c), gamma)},
                     {DNNL_ARG_SHIFT, mem(vec(c), e.shift.p)},
                     {DNNL_ARG_DIFF_SRC, mem(e.pd.diff_src_desc(), dx)},
                     {DNNL_ARG_DIFF_SCALE, mem(vec(c), dgamma)},
                     {DNNL_ARG_DIFF_SHIFT, mem(vec(c), dbeta)}});
  s.wait();
}

std::string isa_name() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "generic";
  }
}

std::string version() {
  const dnnl_version_t *v = dnnl_version();
  std::ostringstream s;
  s << v->major << '.' << v->minor << '.' << v->patch;
  return s.str();
}

int get_threads() { return omp_get_max_threads(); }

void set_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }

int64_t cached_primitives() { return int64_t(cache.size()); }

void clear_cache() { cache.clear(); }

} // namespace harden
