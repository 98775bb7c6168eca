// N-API binding of the oneDNN kernels (kernels.h). Tensors are Float32Arrays that the kernels read
// and write in place; the engine passes views on the wasm heap. Every length is checked against the
// geometry before a kernel runs: a short view would otherwise let oneDNN write past a tensor.
#include <napi.h>

#include <dnnl.hpp>
#include <string>

#include "kernels.h"

namespace {

using harden::Activation;

struct Args {
  const Napi::CallbackInfo &info;
  bool failed = false;

  void fail(const std::string &message) {
    if (!failed) Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
    failed = true;
  }

  // A Float32Array argument with at least `need` elements (or null/undefined when `optional`).
  float *f32(size_t i, int64_t need, const char *name, bool optional = false) {
    if (failed) return nullptr;
    Napi::Value v = info[i];
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      fail(std::string(name) + " must be a Float32Array");
      return nullptr;
    }
    auto a = v.As<Napi::Float32Array>();
    if (int64_t(a.ElementLength()) < need) {
      fail(std::string(name) + " has " + std::to_string(a.ElementLength()) + " elements, needs " + std::to_string(need));
      return nullptr;
    }
    return a.Data();
  }

  int64_t i64(size_t i, const char *name) {
    if (failed) return 0;
    if (!info[i].IsNumber()) {
      fail(std::string(name) + " must be a number");
      return 0;
    }
    int64_t v = info[i].As<Napi::Number>().Int64Value();
    if (v < 0) fail(std::string(name) + " must be ≥ 0");
    return v;
  }

  // An Int32Array of exactly `n` non-negative values.
  const int32_t *geo(size_t i, size_t n) {
    if (failed) return nullptr;
    Napi::Value v = info[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || v.As<Napi::Int32Array>().ElementLength() != n) {
      fail("geometry must be an Int32Array of " + std::to_string(n) + " values");
      return nullptr;
    }
    const int32_t *g = v.As<Napi::Int32Array>().Data();
    for (size_t k = 0; k < n; k++)
      if (g[k] < 0) fail("geometry values must be ≥ 0");
    return g;
  }
};

template <class F>
Napi::Value guarded(const Napi::CallbackInfo &info, F body) {
  try {
    body();
  } catch (const dnnl::error &e) {
    Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const std::exception &e) {
    Napi::Error::New(info.Env(), e.what()).ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

Activation activation(Args &a, size_t i) {
  int64_t v = a.i64(i, "activation");
  if (v > 1) a.fail("activation must be 0 (linear) or 1 (relu)");
  return Activation(v);
}

// [n, h, w, c, o, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr]
bool conv_geo(Args &a, size_t i, harden::ConvGeo &g) {
  const int32_t *v = a.geo(i, 17);
  if (!v) return false;
  g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16]};
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1) a.fail("strides and dilations must be ≥ 1");
  return !a.failed;
}

// [n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr]
bool pool_geo(Args &a, size_t i, harden::PoolGeo &g) {
  const int32_t *v = a.geo(i, 14);
  if (!v) return false;
  g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  if (g.sh < 1 || g.sw < 1 || g.kh < 1 || g.kw < 1) a.fail("strides and window must be ≥ 1");
  return !a.failed;
}

Napi::Value Conv2dForward(const Napi::CallbackInfo &info) {
  Args a{info};
  harden::ConvGeo g;
  if (!conv_geo(a, 0, g)) return info.Env().Undefined();
  float *x = a.f32(1, g.n * g.h * g.w * g.c, "x");
  float *w = a.f32(2, g.kh * g.kw * g.c * g.o, "filter");
  float *bias = a.f32(3, g.o, "bias", true);
  float *y = a.f32(4, g.n * g.oh * g.ow * g.o, "y");
  Activation act = activation(a, 5);
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::conv2d_forward(g, x, w, bias, y, act); });
}

Napi::Value Conv2dBackwardData(const Napi::CallbackInfo &info) {
  Args a{info};
  harden::ConvGeo g;
  if (!conv_geo(a, 0, g)) return info.Env().Undefined();
  float *dy = a.f32(1, g.n * g.oh * g.ow * g.o, "dy");
  float *w = a.f32(2, g.kh * g.kw * g.c * g.o, "filter");
  float *dx = a.f32(3, g.n * g.h * g.w * g.c, "dx");
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::conv2d_backward_data(g, dy, w, dx); });
}

Napi::Value Conv2dBackwardFilter(const Napi::CallbackInfo &info) {
  Args a{info};
  harden::ConvGeo g;
  if (!conv_geo(a, 0, g)) return info.Env().Undefined();
  float *x = a.f32(1, g.n * g.h * g.w * g.c, "x");
  float *dy = a.f32(2, g.n * g.oh * g.ow * g.o, "dy");
  float *dw = a.f32(3, g.kh * g.kw * g.c * g.o, "dw");
  float *dbias = a.f32(4, g.o, "dbias", true);
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::conv2d_backward_weights(g, x, dy, dw, dbias); });
}

// (a, b, c, batchA, batchB, m, n, k, transA, transB)
Napi::Value MatMul(const Napi::CallbackInfo &info) {
  Args a{info};
  int64_t ba = a.i64(3, "batchA"), bb = a.i64(4, "batchB"), m = a.i64(5, "m"), n = a.i64(6, "n"), k = a.i64(7, "k");
  if (!a.failed && ba != bb && ba != 1 && bb != 1) a.fail("batch sizes must match or be 1");
  bool ta = info[8].ToBoolean(), tb = info[9].ToBoolean();
  float *pa = a.f32(0, ba * m * k, "a");
  float *pb = a.f32(1, bb * k * n, "b");
  float *pc = a.f32(2, (ba > bb ? ba : bb) * m * n, "c");
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::matmul(pa, pb, pc, ba, bb, m, n, k, ta, tb); });
}

// (y, rows, cols, bias | null, activation)
Napi::Value BiasActivation(const Napi::CallbackInfo &info) {
  Args a{info};
  int64_t rows = a.i64(1, "rows"), cols = a.i64(2, "cols");
  float *y = a.f32(0, rows * cols, "y");
  float *bias = a.f32(3, 1, "bias", true);
  int64_t bias_len = bias ? int64_t(info[3].As<Napi::Float32Array>().ElementLength()) : 0;
  if (bias && bias_len != 1 && bias_len != cols) a.fail("bias must have 1 or cols elements");
  Activation act = activation(a, 4);
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::bias_activation(y, rows, cols, bias, bias_len, act); });
}

// (max, geo, x, y)
Napi::Value PoolForward(const Napi::CallbackInfo &info) {
  Args a{info};
  bool max = info[0].ToBoolean();
  harden::PoolGeo g;
  if (!pool_geo(a, 1, g)) return info.Env().Undefined();
  float *x = a.f32(2, g.n * g.h * g.w * g.c, "x");
  float *y = a.f32(3, g.n * g.oh * g.ow * g.c, "y");
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::pool_forward(max, g, x, y); });
}

// (max, geo, x | null, dy, dx)
Napi::Value PoolBackward(const Napi::CallbackInfo &info) {
  Args a{info};
  bool max = info[0].ToBoolean();
  harden::PoolGeo g;
  if (!pool_geo(a, 1, g)) return info.Env().Undefined();
  float *x = a.f32(2, g.n * g.h * g.w * g.c, "x", !max);
  float *dy = a.f32(3, g.n * g.oh * g.ow * g.c, "dy");
  float *dx = a.f32(4, g.n * g.h * g.w * g.c, "dx");
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::pool_backward(max, g, x, dy, dx); });
}

// (m, c, eps, x, gamma, beta, y, mean, variance)
Napi::Value BatchNormForward(const Napi::CallbackInfo &info) {
  Args a{info};
  int64_t m = a.i64(0, "m"), c = a.i64(1, "c");
  float eps = info[2].ToNumber().FloatValue();
  float *x = a.f32(3, m * c, "x"), *gamma = a.f32(4, c, "gamma"), *beta = a.f32(5, c, "beta"), *y = a.f32(6, m * c, "y");
  float *mean = a.f32(7, c, "mean"), *variance = a.f32(8, c, "variance");
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::batch_norm_forward(m, c, eps, x, gamma, beta, y, mean, variance); });
}

// (m, c, eps, x, dy, mean, variance, gamma, dx, dgamma, dbeta)
Napi::Value BatchNormBackward(const Napi::CallbackInfo &info) {
  Args a{info};
  int64_t m = a.i64(0, "m"), c = a.i64(1, "c");
  float eps = info[2].ToNumber().FloatValue();
  float *x = a.f32(3, m * c, "x"), *dy = a.f32(4, m * c, "dy"), *mean = a.f32(5, c, "mean"), *variance = a.f32(6, c, "variance");
  float *gamma = a.f32(7, c, "gamma"), *dx = a.f32(8, m * c, "dx"), *dgamma = a.f32(9, c, "dgamma"), *dbeta = a.f32(10, c, "dbeta");
  if (a.failed) return info.Env().Undefined();
  return guarded(info, [&] { harden::batch_norm_backward(m, c, eps, x, dy, mean, variance, gamma, dx, dgamma, dbeta); });
}

Napi::Value Info(const Napi::CallbackInfo &info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("version", harden::version());
  o.Set("isa", harden::isa_name());
  o.Set("threads", harden::get_threads());
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo &info) {
  Args a{info};
  int64_t n = a.i64(0, "threads");
  if (!a.failed && n < 1) a.fail("threads must be ≥ 1");
  if (!a.failed) harden::set_threads(int(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), harden::get_threads()); }

Napi::Value CachedPrimitives(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), double(harden::cached_primitives())); }

Napi::Value ClearCache(const Napi::CallbackInfo &info) {
  harden::clear_cache();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2dForward", Napi::Function::New(env, Conv2dForward));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, Conv2dBackwardData));
  exports.Set("conv2dBackwardFilter", Napi::Function::New(env, Conv2dBackwardFilter));
  exports.Set("matMul", Napi::Function::New(env, MatMul));
  exports.Set("biasActivation", Napi::Function::New(env, BiasActivation));
  exports.Set("poolForward", Napi::Function::New(env, PoolForward));
  exports.Set("poolBackward", Napi::Function::New(env, PoolBackward));
  exports.Set("batchNormForward", Napi::Function::New(env, BatchNormForward));
  exports.Set("batchNormBackward", Napi::Function::New(env, BatchNormBackward));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("cachedPrimitives", Napi::Function::New(env, CachedPrimitives));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache));
  return exports;
}

} // namespace

NODE_API_MODULE(harden_dnnl, Init)
