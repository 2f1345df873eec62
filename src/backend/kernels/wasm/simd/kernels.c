// Latent Studio's WebAssembly SIMD kernels for the tfjs wasm backend's training step.
//
// This module imports the tfjs-backend-wasm module's own memory and works on tensors in place:
// every pointer argument is a tensor's offset in that heap (BackendWasm.getMemoryOffset). It must
// never write anywhere else, so it has no data, no stack (no arrays, no spills: checked by
// build.sh) and no libc; outputs that need zeros are zeroed by the caller.
//
// Build: src/backend/kernels/wasm/simd/build.sh (clang with the wasm32 target and wasm-ld), which
// regenerates src/backend/kernels/wasm/simdBinary.ts. All tensors are NHWC float32.

#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef v128_t vf;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define SPLAT(x) wasm_f32x4_splat(x)
// Broadcast of a float in memory (one instruction where the engine has one).
#define BCAST(p) wasm_v128_load32_splat(p)
#define FMA(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }
// floor(a / b) for b > 0.
static inline int floordiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output positions p in [0, out) whose input row p * s + k - pad lies in [0, in).
static inline int first_valid(int k, int pad, int s) { return imax(0, floordiv(pad - k + s - 1, s)); }
static inline int end_valid(int k, int pad, int s, int in, int out) { return imin(out, floordiv(in - 1 + pad - k, s) + 1); }

// Filter gradient of a Conv2D (dilation 1):
//   dw[kh, kw, c, co] = sum over n, p, q of x[n, p*sh + kh - top, q*sw + kw - left, c] * dy[n, p, q, co]
// The caller zeroes dw. Rows of the output (n, p) are the outer loop, so the few input rows a row
// of dy touches stay in cache while every filter tap and channel tile uses them; each tile's sums
// live in registers over a row and are added into dw (which stays in L1) after it.

// Vectorized over output channels: CO % 4 == 0. Tiles of 4 input x 8 output channels, or 1 x 16
// for a single input channel, and narrower at the edges.
static void filter_grad_row_co(const float* x, const float* dy, float* dw, int W, int C, int OW, int CO, int KW, int sw,
                               int left, int kh_row_base, int q0, int q1, int kw) {
  // x points at the input row (n, ih, 0, 0), dy at the output row (n, p, 0, 0), dw at tap (kh, kw).
  (void)W;
  (void)KW;
  (void)kh_row_base;
  const int xs = sw * C;
  for (int co = 0; co < CO;) {
    const int wide = co + 8 <= CO;
    const int xwide = C == 1 && co + 16 <= CO;
    for (int c = 0; c < C;) {
      const int cn = C - c >= 4 ? 4 : 1;
      const float* xr = x + (q0 * sw + kw - left) * C + c;
      const float* dr = dy + q0 * CO + co;
      float* o = dw + c * CO + co;
      if (cn == 4 && wide) {
        vf a00 = SPLAT(0), a01 = SPLAT(0), a10 = SPLAT(0), a11 = SPLAT(0);
        vf a20 = SPLAT(0), a21 = SPLAT(0), a30 = SPLAT(0), a31 = SPLAT(0);
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) {
          const vf d0 = LD(dr), d1 = LD(dr + 4);
          vf s = BCAST(xr);
          FMA(a00, s, d0); FMA(a01, s, d1);
          s = BCAST(xr + 1);
          FMA(a10, s, d0); FMA(a11, s, d1);
          s = BCAST(xr + 2);
          FMA(a20, s, d0); FMA(a21, s, d1);
          s = BCAST(xr + 3);
          FMA(a30, s, d0); FMA(a31, s, d1);
        }
        ST(o, wasm_f32x4_add(LD(o), a00)); ST(o + 4, wasm_f32x4_add(LD(o + 4), a01));
        o += CO;
        ST(o, wasm_f32x4_add(LD(o), a10)); ST(o + 4, wasm_f32x4_add(LD(o + 4), a11));
        o += CO;
        ST(o, wasm_f32x4_add(LD(o), a20)); ST(o + 4, wasm_f32x4_add(LD(o + 4), a21));
        o += CO;
        ST(o, wasm_f32x4_add(LD(o), a30)); ST(o + 4, wasm_f32x4_add(LD(o + 4), a31));
      } else if (cn == 4) {
        vf a0 = SPLAT(0), a1 = SPLAT(0), a2 = SPLAT(0), a3 = SPLAT(0);
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) {
          const vf d0 = LD(dr);
          FMA(a0, BCAST(xr), d0);
          FMA(a1, BCAST(xr + 1), d0);
          FMA(a2, BCAST(xr + 2), d0);
          FMA(a3, BCAST(xr + 3), d0);
        }
        ST(o, wasm_f32x4_add(LD(o), a0));
        ST(o + CO, wasm_f32x4_add(LD(o + CO), a1));
        ST(o + 2 * CO, wasm_f32x4_add(LD(o + 2 * CO), a2));
        ST(o + 3 * CO, wasm_f32x4_add(LD(o + 3 * CO), a3));
      } else if (xwide) {
        vf a0 = SPLAT(0), a1 = SPLAT(0), a2 = SPLAT(0), a3 = SPLAT(0);
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) {
          const vf s = BCAST(xr);
          FMA(a0, s, LD(dr)); FMA(a1, s, LD(dr + 4)); FMA(a2, s, LD(dr + 8)); FMA(a3, s, LD(dr + 12));
        }
        ST(o, wasm_f32x4_add(LD(o), a0)); ST(o + 4, wasm_f32x4_add(LD(o + 4), a1));
        ST(o + 8, wasm_f32x4_add(LD(o + 8), a2)); ST(o + 12, wasm_f32x4_add(LD(o + 12), a3));
      } else if (wide) {
        vf a0 = SPLAT(0), a1 = SPLAT(0);
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) {
          const vf s = BCAST(xr);
          FMA(a0, s, LD(dr)); FMA(a1, s, LD(dr + 4));
        }
        ST(o, wasm_f32x4_add(LD(o), a0)); ST(o + 4, wasm_f32x4_add(LD(o + 4), a1));
      } else {
        vf a0 = SPLAT(0);
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) FMA(a0, BCAST(xr), LD(dr));
        ST(o, wasm_f32x4_add(LD(o), a0));
      }
      c += cn;
    }
    co += xwide ? 16 : wide ? 8 : 4;
  }
}

// Vectorized over input channels: C % 4 == 0 (for few output channels, e.g. a 1-channel output
// layer). Tiles of 16 (or 8, or 4) input channels x 1 output channel.
static void filter_grad_row_c(const float* x, const float* dy, float* dw, int C, int CO, int sw, int left, int q0, int q1,
                              int kw) {
  const int xs = sw * C;
  for (int co = 0; co < CO; co++) {
    for (int c = 0; c < C;) {
      const int cn = C - c >= 16 ? 16 : C - c >= 8 ? 8 : 4;
      const float* xr = x + (q0 * sw + kw - left) * C + c;
      const float* dr = dy + q0 * CO + co;
      vf a0 = SPLAT(0), a1 = SPLAT(0), a2 = SPLAT(0), a3 = SPLAT(0);
      if (cn == 16) {
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) {
          const vf s = BCAST(dr);
          FMA(a0, LD(xr), s); FMA(a1, LD(xr + 4), s); FMA(a2, LD(xr + 8), s); FMA(a3, LD(xr + 12), s);
        }
      } else if (cn == 8) {
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) {
          const vf s = BCAST(dr);
          FMA(a0, LD(xr), s); FMA(a1, LD(xr + 4), s);
        }
      } else {
        for (int q = q0; q < q1; q++, xr += xs, dr += CO) FMA(a0, LD(xr), BCAST(dr));
      }
      float* o = dw + c * CO + co;
#define PUT(v, base)                                                   \
  o[(base) * CO] += wasm_f32x4_extract_lane(v, 0);                     \
  o[((base) + 1) * CO] += wasm_f32x4_extract_lane(v, 1);               \
  o[((base) + 2) * CO] += wasm_f32x4_extract_lane(v, 2);               \
  o[((base) + 3) * CO] += wasm_f32x4_extract_lane(v, 3);
      PUT(a0, 0);
      if (cn >= 8) { PUT(a1, 4); }
      if (cn == 16) { PUT(a2, 8); PUT(a3, 12); }
#undef PUT
      c += cn;
    }
  }
}

static void filter_grad(int by_co, const float* x, const float* dy, float* dw, int N, int H, int W, int C, int OH, int OW,
                        int CO, int KH, int KW, int sh, int sw, int top, int left) {
  for (int n = 0; n < N; n++) {
    for (int p = 0; p < OH; p++) {
      const float* dr = dy + (n * OH + p) * OW * CO;
      for (int kh = 0; kh < KH; kh++) {
        const int ih = p * sh + kh - top;
        if (ih < 0 || ih >= H) continue;
        const float* xr = x + (n * H + ih) * W * C;
        for (int kw = 0; kw < KW; kw++) {
          const int q0 = first_valid(kw, left, sw), q1 = end_valid(kw, left, sw, W, OW);
          if (q0 >= q1) continue;
          float* dwt = dw + (kh * KW + kw) * C * CO;
          if (by_co) filter_grad_row_co(xr, dr, dwt, W, C, OW, CO, KW, sw, left, 0, q0, q1, kw);
          else filter_grad_row_c(xr, dr, dwt, C, CO, sw, left, q0, q1, kw);
        }
      }
    }
  }
}

EXPORT(conv2d_filter_grad_co)
void conv2d_filter_grad_co(const float* x, const float* dy, float* dw, int N, int H, int W, int C, int OH, int OW, int CO,
                           int KH, int KW, int sh, int sw, int top, int left) {
  filter_grad(1, x, dy, dw, N, H, W, C, OH, OW, CO, KH, KW, sh, sw, top, left);
}

EXPORT(conv2d_filter_grad_c)
void conv2d_filter_grad_c(const float* x, const float* dy, float* dw, int N, int H, int W, int C, int OH, int OW, int CO,
                          int KH, int KW, int sh, int sw, int top, int left) {
  filter_grad(0, x, dy, dw, N, H, W, C, OH, OW, CO, KH, KW, sh, sw, top, left);
}

// A Conv2D (dilation 1) with one input channel and CO % 4 == 0 output channels, bias (may be 0:
// none) and an optional ReLU: y[n, p, q, co] = b[co] + sum over valid kh, kw of
// x[n, p*sh + kh - top, q*sw + kw - left] * w[kh, kw, 0, co]. Vectorized over output channels,
// 16 at a time in registers.
EXPORT(conv2d_in1)
void conv2d_in1(const float* x, const float* w, const float* b, float* y, int N, int H, int W, int OH, int OW, int CO, int KH,
                int KW, int sh, int sw, int top, int left, int relu) {
  for (int n = 0; n < N; n++) {
    for (int p = 0; p < OH; p++) {
      const int ih0 = p * sh - top;
      const int kh0 = imax(0, -ih0), kh1 = imin(KH, H - ih0);
      for (int q = 0; q < OW; q++) {
        const int iw0 = q * sw - left;
        const int kw0 = imax(0, -iw0), kw1 = imin(KW, W - iw0);
        float* out = y + ((n * OH + p) * OW + q) * CO;
        for (int co = 0; co < CO;) {
          const int wide = co + 16 <= CO;
          vf a0 = b ? LD(b + co) : SPLAT(0), a1 = SPLAT(0), a2 = SPLAT(0), a3 = SPLAT(0);
          if (wide && b) {
            a1 = LD(b + co + 4); a2 = LD(b + co + 8); a3 = LD(b + co + 12);
          }
          for (int kh = kh0; kh < kh1; kh++) {
            const float* xr = x + (n * H + ih0 + kh) * W + iw0;
            const float* wr = w + kh * KW * CO + co;
            for (int kw = kw0; kw < kw1; kw++) {
              const vf s = BCAST(xr + kw);
              const float* wt = wr + kw * CO;
              FMA(a0, s, LD(wt));
              if (wide) {
                FMA(a1, s, LD(wt + 4)); FMA(a2, s, LD(wt + 8)); FMA(a3, s, LD(wt + 12));
              }
            }
          }
          if (relu) {
            const vf z = SPLAT(0);
            a0 = wasm_f32x4_pmax(a0, z); a1 = wasm_f32x4_pmax(a1, z); a2 = wasm_f32x4_pmax(a2, z); a3 = wasm_f32x4_pmax(a3, z);
          }
          ST(out + co, a0);
          if (wide) {
            ST(out + co + 4, a1); ST(out + co + 8, a2); ST(out + co + 12, a3);
            co += 16;
          } else {
            co += 4;
          }
        }
      }
    }
  }
}

// One output pixel of a one-output-channel convolution (taps checked), without bias.
static inline float out1_pixel(const float* x, const float* w, int n, int p, int q, int H, int W, int C, int KH, int KW, int sh,
                               int sw, int top, int left) {
  vf a = SPLAT(0);
  for (int kh = 0; kh < KH; kh++) {
    const int ih = p * sh + kh - top;
    if (ih < 0 || ih >= H) continue;
    for (int kw = 0; kw < KW; kw++) {
      const int iw = q * sw + kw - left;
      if (iw < 0 || iw >= W) continue;
      const float* xt = x + ((n * H + ih) * W + iw) * C;
      const float* wt = w + (kh * KW + kw) * C;
      for (int c = 0; c < C; c += 4) FMA(a, LD(xt + c), LD(wt + c));
    }
  }
  return (wasm_f32x4_extract_lane(a, 0) + wasm_f32x4_extract_lane(a, 1)) + (wasm_f32x4_extract_lane(a, 2) + wasm_f32x4_extract_lane(a, 3));
}

// A Conv2D (dilation 1) with C % 4 == 0 input channels and one output channel, bias b0 and an
// optional ReLU: y[n, p, q] = b0 + sum over valid kh, kw, c of x[n, ih, iw, c] * w[kh, kw, c, 0].
// Four interior output pixels at a time share each filter load; edges one pixel at a time.
EXPORT(conv2d_out1)
void conv2d_out1(const float* x, const float* w, float b0, float* y, int N, int H, int W, int C, int OH, int OW, int KH, int KW,
                 int sh, int sw, int top, int left, int relu) {
  const int qi0 = imax(0, floordiv(left + sw - 1, sw));
  const int qi1 = imax(qi0, imin(OW, floordiv(W - KW + left, sw) + 1));
  for (int n = 0; n < N; n++) {
    for (int p = 0; p < OH; p++) {
      const int ih0 = p * sh - top;
      const int kh0 = imax(0, -ih0), kh1 = imin(KH, H - ih0);
      float* yr = y + (n * OH + p) * OW;
      int q = 0;
      for (; q < qi0 && q < OW; q++) {
        const float v = b0 + out1_pixel(x, w, n, p, q, H, W, C, KH, KW, sh, sw, top, left);
        yr[q] = relu && v < 0 ? 0 : v;
      }
      for (; q + 4 <= qi1; q += 4) {
        vf a0 = SPLAT(0), a1 = SPLAT(0), a2 = SPLAT(0), a3 = SPLAT(0);
        for (int kh = kh0; kh < kh1; kh++) {
          const float* x0 = x + ((n * H + ih0 + kh) * W + (q * sw - left)) * C;
          const float* x1 = x0 + sw * C;
          const float* x2 = x1 + sw * C;
          const float* x3 = x2 + sw * C;
          const float* wt = w + kh * KW * C;
          for (int k = 0; k < KW * C; k += 4) {
            const vf wv = LD(wt + k);
            FMA(a0, LD(x0 + k), wv);
            FMA(a1, LD(x1 + k), wv);
            FMA(a2, LD(x2 + k), wv);
            FMA(a3, LD(x3 + k), wv);
          }
        }
        // Horizontal sums of a0..a3 into one vector (lane i = pixel q + i).
        const vf t0 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
        const vf t1 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
        vf sum = wasm_f32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
        sum = wasm_f32x4_add(sum, SPLAT(b0));
        if (relu) sum = wasm_f32x4_pmax(sum, SPLAT(0));
        ST(yr + q, sum);
      }
      for (; q < OW; q++) {
        const float v = b0 + out1_pixel(x, w, n, p, q, H, W, C, KH, KW, sh, sw, top, left);
        yr[q] = relu && v < 0 ? 0 : v;
      }
    }
  }
}

// MaxPool gradient (dilation 1): each dy value goes to the first maximum of its window (windows
// clipped to the input; the first valid pixel seeds the running max), added into dx, which the
// caller zeroes. Channels 4 at a time when C % 4 == 0, else one at a time.
EXPORT(max_pool_grad)
void max_pool_grad(const float* x, const float* dy, float* dx, int N, int H, int W, int C, int OH, int OW, int FH, int FW,
                   int sh, int sw, int top, int left) {
  for (int n = 0; n < N; n++) {
    for (int p = 0; p < OH; p++) {
      const int ih0 = p * sh - top;
      const int fh0 = imax(0, -ih0), fh1 = imin(FH, H - ih0);
      for (int q = 0; q < OW; q++) {
        const int iw0 = q * sw - left;
        const int fw0 = imax(0, -iw0), fw1 = imin(FW, W - iw0);
        if (fh0 >= fh1 || fw0 >= fw1) continue;
        const float* g = dy + ((n * OH + p) * OW + q) * C;
        const int first = ((n * H + ih0 + fh0) * W + iw0 + fw0) * C;
        if ((C & 3) == 0) {
          for (int c = 0; c < C; c += 4) {
            vf best = LD(x + first + c);
            v128_t at = wasm_i32x4_splat(first + c);
            for (int fh = fh0; fh < fh1; fh++) {
              for (int fw = fw0; fw < fw1; fw++) {
                const int i = ((n * H + ih0 + fh) * W + iw0 + fw) * C + c;
                const vf v = LD(x + i);
                const v128_t gt = wasm_f32x4_gt(v, best);
                best = wasm_v128_bitselect(v, best, gt);
                at = wasm_v128_bitselect(wasm_i32x4_splat(i), at, gt);
              }
            }
            dx[wasm_i32x4_extract_lane(at, 0)] += g[c];
            dx[wasm_i32x4_extract_lane(at, 1) + 1] += g[c + 1];
            dx[wasm_i32x4_extract_lane(at, 2) + 2] += g[c + 2];
            dx[wasm_i32x4_extract_lane(at, 3) + 3] += g[c + 3];
          }
        } else {
          for (int c = 0; c < C; c++) {
            float best = x[first + c];
            int at = first + c;
            for (int fh = fh0; fh < fh1; fh++) {
              for (int fw = fw0; fw < fw1; fw++) {
                const int i = ((n * H + ih0 + fh) * W + iw0 + fw) * C + c;
                if (x[i] > best) {
                  best = x[i];
                  at = i;
                }
              }
            }
            dx[at] += g[c];
          }
        }
      }
    }
  }
}

// out[c] = sum over r of x[r * C + c] (a sum over leading axes), accumulated in float64.
EXPORT(sum_rows)
void sum_rows(const float* x, float* out, int R, int C) {
  if ((C & 3) == 0) {
    for (int c = 0; c < C; c += 4) {
      v128_t lo = wasm_f64x2_splat(0), hi = wasm_f64x2_splat(0);
      const float* p = x + c;
      for (int r = 0; r < R; r++, p += C) {
        const vf v = LD(p);
        lo = wasm_f64x2_add(lo, wasm_f64x2_promote_low_f32x4(v));
        hi = wasm_f64x2_add(hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
      }
      ST(out + c, wasm_f32x4_make((float)wasm_f64x2_extract_lane(lo, 0), (float)wasm_f64x2_extract_lane(lo, 1),
                                  (float)wasm_f64x2_extract_lane(hi, 0), (float)wasm_f64x2_extract_lane(hi, 1)));
    }
  } else {
    for (int c = 0; c < C; c++) {
      double s = 0;
      const float* p = x + c;
      for (int r = 0; r < R; r++, p += C) s += *p;
      out[c] = (float)s;
    }
  }
}

// y[r, c] = x[r, c] + b[c] for r < R (a bias added over the last axis).
EXPORT(add_bias)
void add_bias(const float* x, const float* b, float* y, int R, int C) {
  if ((C & 3) == 0 && C <= 16) {
    const vf b0 = LD(b), b1 = C > 4 ? LD(b + 4) : SPLAT(0), b2 = C > 8 ? LD(b + 8) : SPLAT(0), b3 = C > 12 ? LD(b + 12) : SPLAT(0);
    for (int r = 0; r < R; r++, x += C, y += C) {
      ST(y, wasm_f32x4_add(LD(x), b0));
      if (C > 4) ST(y + 4, wasm_f32x4_add(LD(x + 4), b1));
      if (C > 8) ST(y + 8, wasm_f32x4_add(LD(x + 8), b2));
      if (C > 12) ST(y + 12, wasm_f32x4_add(LD(x + 12), b3));
    }
  } else if ((C & 3) == 0) {
    for (int r = 0; r < R; r++, x += C, y += C)
      for (int c = 0; c < C; c += 4) ST(y + c, wasm_f32x4_add(LD(x + c), LD(b + c)));
  } else {
    for (int r = 0; r < R; r++, x += C, y += C)
      for (int c = 0; c < C; c++) y[c] = x[c] + b[c];
  }
}

// Nearest-neighbour upsampling by integer factors (UpSampling2D): y[n, i, j, c] = x[n, i / fh, j / fw, c].
EXPORT(upsample_nearest)
void upsample_nearest(const float* x, float* y, int N, int H, int W, int C, int fh, int fw) {
  const int OW = W * fw;
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < H; i++) {
      const float* xr = x + (n * H + i) * W * C;
      float* row = y + ((n * H + i) * fh) * OW * C;
      float* o = row;
      for (int j = 0; j < W; j++, xr += C) {
        for (int k = 0; k < fw; k++, o += C) {
          int c = 0;
          for (; c + 4 <= C; c += 4) ST(o + c, LD(xr + c));
          for (; c < C; c++) o[c] = xr[c];
        }
      }
      // The other fh - 1 output rows are copies of the first.
      for (int r = 1; r < fh; r++) {
        float* dst = row + r * OW * C;
        int e = 0;
        for (; e + 4 <= OW * C; e += 4) ST(dst + e, LD(row + e));
        for (; e < OW * C; e++) dst[e] = row[e];
      }
    }
  }
}

// Its gradient: dx[n, i, j, c] = sum of dy over the fh x fw block of (i, j).
EXPORT(upsample_nearest_grad)
void upsample_nearest_grad(const float* dy, float* dx, int N, int H, int W, int C, int fh, int fw) {
  const int OW = W * fw;
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < H; i++) {
      float* o = dx + (n * H + i) * W * C;
      const float* block = dy + ((n * H + i) * fh) * OW * C;
      for (int j = 0; j < W; j++, o += C, block += fw * C) {
        int c = 0;
        for (; c + 4 <= C; c += 4) {
          vf s = SPLAT(0);
          for (int r = 0; r < fh; r++)
            for (int k = 0; k < fw; k++) s = wasm_f32x4_add(s, LD(block + (r * OW + k) * C + c));
          ST(o + c, s);
        }
        for (; c < C; c++) {
          float s = 0;
          for (int r = 0; r < fh; r++)
            for (int k = 0; k < fw; k++) s += block[(r * OW + k) * C + c];
          o[c] = s;
        }
      }
    }
  }
}

// One output pixel of a direct convolution for output channels co .. co + 3 (taps checked).
static inline vf conv_pixel4(const float* x, const float* w, int n, int p, int q, int co, int H, int W, int C, int CO, int KH,
                             int KW, int sh, int sw, int top, int left) {
  vf a = SPLAT(0);
  for (int kh = 0; kh < KH; kh++) {
    const int ih = p * sh + kh - top;
    if (ih < 0 || ih >= H) continue;
    for (int kw = 0; kw < KW; kw++) {
      const int iw = q * sw + kw - left;
      if (iw < 0 || iw >= W) continue;
      const float* xt = x + ((n * H + ih) * W + iw) * C;
      const float* wt = w + (kh * KW + kw) * C * CO + co;
      for (int c = 0; c < C; c++) FMA(a, BCAST(xt + c), LD(wt + c * CO));
    }
  }
  return a;
}

// A Conv2D (dilation 1) with CO % 4 == 0: y[n, p, q, co] = b[co] + sum of x * w over taps and
// input channels, optional ReLU. Four output pixels x 8 output channels at a time in registers
// (pixels whose taps all lie inside the input), one pixel at a time at the edges.
EXPORT(conv2d_direct)
void conv2d_direct(const float* x, const float* w, const float* b, float* y, int N, int H, int W, int C, int OH, int OW, int CO,
                   int KH, int KW, int sh, int sw, int top, int left, int relu) {
  // Output columns whose every tap lies inside the input: q in [qi0, qi1).
  const int qi0 = imax(0, floordiv(left + sw - 1, sw));
  const int qi1 = imax(qi0, imin(OW, floordiv(W - KW + left, sw) + 1));
  const vf zero = SPLAT(0);
  for (int n = 0; n < N; n++) {
    for (int p = 0; p < OH; p++) {
      const int ih0 = p * sh - top;
      const int kh0 = imax(0, -ih0), kh1 = imin(KH, H - ih0);
      float* yr = y + (n * OH + p) * OW * CO;
      for (int co = 0; co < CO;) {
        const int wide = co + 8 <= CO;
        const vf b0 = b ? LD(b + co) : zero, b1 = b && wide ? LD(b + co + 4) : zero;
        int q = 0;
        // Left edge.
        for (; q < qi0 && q < OW; q++) {
          vf a = wasm_f32x4_add(b0, conv_pixel4(x, w, n, p, q, co, H, W, C, CO, KH, KW, sh, sw, top, left));
          if (relu) a = wasm_f32x4_pmax(a, zero);
          ST(yr + q * CO + co, a);
          if (wide) {
            vf a1 = wasm_f32x4_add(b1, conv_pixel4(x, w, n, p, q, co + 4, H, W, C, CO, KH, KW, sh, sw, top, left));
            if (relu) a1 = wasm_f32x4_pmax(a1, zero);
            ST(yr + q * CO + co + 4, a1);
          }
        }
        // Interior, four pixels at a time.
        for (; q + 4 <= qi1; q += 4) {
          vf a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
          for (int kh = kh0; kh < kh1; kh++) {
            const float* xr = x + ((n * H + ih0 + kh) * W + (q * sw - left)) * C;
            const float* wr = w + kh * KW * C * CO + co;
            for (int kw = 0; kw < KW; kw++) {
              const float* x0 = xr + kw * C;
              const float* x1 = x0 + sw * C;
              const float* x2 = x1 + sw * C;
              const float* x3 = x2 + sw * C;
              const float* wt = wr + kw * C * CO;
              if (wide) {
                for (int c = 0; c < C; c++, wt += CO) {
                  const vf w0 = LD(wt), w1 = LD(wt + 4);
                  vf s = BCAST(x0 + c);
                  FMA(a00, s, w0); FMA(a01, s, w1);
                  s = BCAST(x1 + c);
                  FMA(a10, s, w0); FMA(a11, s, w1);
                  s = BCAST(x2 + c);
                  FMA(a20, s, w0); FMA(a21, s, w1);
                  s = BCAST(x3 + c);
                  FMA(a30, s, w0); FMA(a31, s, w1);
                }
              } else {
                for (int c = 0; c < C; c++, wt += CO) {
                  const vf w0 = LD(wt);
                  FMA(a00, BCAST(x0 + c), w0);
                  FMA(a10, BCAST(x1 + c), w0);
                  FMA(a20, BCAST(x2 + c), w0);
                  FMA(a30, BCAST(x3 + c), w0);
                }
              }
            }
          }
          if (relu) {
            a00 = wasm_f32x4_pmax(a00, zero); a01 = wasm_f32x4_pmax(a01, zero); a10 = wasm_f32x4_pmax(a10, zero);
            a11 = wasm_f32x4_pmax(a11, zero); a20 = wasm_f32x4_pmax(a20, zero); a21 = wasm_f32x4_pmax(a21, zero);
            a30 = wasm_f32x4_pmax(a30, zero); a31 = wasm_f32x4_pmax(a31, zero);
          }
          float* o = yr + q * CO + co;
          ST(o, a00); ST(o + CO, a10); ST(o + 2 * CO, a20); ST(o + 3 * CO, a30);
          if (wide) {
            ST(o + 4, a01); ST(o + CO + 4, a11); ST(o + 2 * CO + 4, a21); ST(o + 3 * CO + 4, a31);
          }
        }
        // Interior leftovers, one pixel at a time (every kw valid).
        for (; q < qi1; q++) {
          vf a0 = b0, a1 = b1;
          for (int kh = kh0; kh < kh1; kh++) {
            const float* xr = x + ((n * H + ih0 + kh) * W + (q * sw - left)) * C;
            const float* wt = w + kh * KW * C * CO + co;
            for (int kw = 0; kw < KW; kw++, xr += C) {
              for (int c = 0; c < C; c++, wt += CO) {
                const vf s = BCAST(xr + c);
                FMA(a0, s, LD(wt));
                if (wide) FMA(a1, s, LD(wt + 4));
              }
            }
          }
          if (relu) {
            a0 = wasm_f32x4_pmax(a0, zero);
            a1 = wasm_f32x4_pmax(a1, zero);
          }
          ST(yr + q * CO + co, a0);
          if (wide) ST(yr + q * CO + co + 4, a1);
        }
        // The right edge, one pixel at a time.
        for (; q < OW; q++) {
          vf a = wasm_f32x4_add(b0, conv_pixel4(x, w, n, p, q, co, H, W, C, CO, KH, KW, sh, sw, top, left));
          if (relu) a = wasm_f32x4_pmax(a, zero);
          ST(yr + q * CO + co, a);
          if (wide) {
            vf a1 = wasm_f32x4_add(b1, conv_pixel4(x, w, n, p, q, co + 4, H, W, C, CO, KH, KW, sh, sw, top, left));
            if (relu) a1 = wasm_f32x4_pmax(a1, zero);
            ST(yr + q * CO + co + 4, a1);
          }
        }
        co += wide ? 8 : 4;
      }
    }
  }
}

// MaxPool gradient for windows that tile the input (strides == window size, every input pixel in
// exactly one window): writes every dx element (dy at each window's first maximum, 0 elsewhere),
// so dx needs no zeroing. C % 4 == 0 only.
EXPORT(max_pool_grad_tiled)
void max_pool_grad_tiled(const float* x, const float* dy, float* dx, int N, int H, int W, int C, int OH, int OW, int FH, int FW,
                         int top, int left) {
  const vf zero = SPLAT(0);
  for (int n = 0; n < N; n++) {
    for (int p = 0; p < OH; p++) {
      const int ih0 = p * FH - top;
      const int fh0 = imax(0, -ih0), fh1 = imin(FH, H - ih0);
      for (int q = 0; q < OW; q++) {
        const int iw0 = q * FW - left;
        const int fw0 = imax(0, -iw0), fw1 = imin(FW, W - iw0);
        const float* g = dy + ((n * OH + p) * OW + q) * C;
        for (int c = 0; c < C; c += 4) {
          const int first = ((n * H + ih0 + fh0) * W + iw0 + fw0) * C + c;
          vf best = LD(x + first);
          v128_t at = wasm_i32x4_splat(first);
          for (int fh = fh0; fh < fh1; fh++) {
            for (int fw = fw0; fw < fw1; fw++) {
              const int i = ((n * H + ih0 + fh) * W + iw0 + fw) * C + c;
              const vf v = LD(x + i);
              const v128_t gt = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, gt);
              at = wasm_v128_bitselect(wasm_i32x4_splat(i), at, gt);
            }
          }
          const vf gv = LD(g + c);
          for (int fh = fh0; fh < fh1; fh++) {
            for (int fw = fw0; fw < fw1; fw++) {
              const int i = ((n * H + ih0 + fh) * W + iw0 + fw) * C + c;
              ST(dx + i, wasm_v128_bitselect(gv, zero, wasm_i32x4_eq(at, wasm_i32x4_splat(i))));
            }
          }
        }
      }
    }
  }
}

// Input gradient of a Conv2D (dilation 1, any strides; also Conv2DTranspose's forward), with no
// zeros inserted between dy pixels: dx[n, i, j, c] = sum over kh, kw, co with
// p = (i + top - kh) / sh and q = (j + left - kw) / sw whole and in range of dy[n, p, q, co] *
// wt[kh, kw, co, c], where wt is the filter with its channel axes swapped ([KH, KW, CO, C]).
// C % 4 == 0: 8 (or 4) input channels at a time in registers.
EXPORT(conv2d_input_grad)
void conv2d_input_grad(const float* dy, const float* wt, float* dx, int N, int H, int W, int C, int OH, int OW, int CO, int KH,
                       int KW, int sh, int sw, int top, int left) {
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < H; i++) {
      const int kh_first = (i + top) % sh;
      for (int j = 0; j < W; j++) {
        const int kw_first = (j + left) % sw;
        float* o = dx + ((n * H + i) * W + j) * C;
        for (int c = 0; c < C;) {
          const int wide = c + 8 <= C;
          vf a0 = SPLAT(0), a1 = SPLAT(0);
          for (int kh = kh_first; kh < KH; kh += sh) {
            const int p = (i + top - kh) / sh;
            if (p < 0 || p >= OH) continue;
            for (int kw = kw_first; kw < KW; kw += sw) {
              const int q = (j + left - kw) / sw;
              if (q < 0 || q >= OW) continue;
              const float* d = dy + ((n * OH + p) * OW + q) * CO;
              const float* wp = wt + (kh * KW + kw) * CO * C + c;
              if (wide) {
                for (int co = 0; co < CO; co++, wp += C) {
                  const vf s = BCAST(d + co);
                  FMA(a0, s, LD(wp));
                  FMA(a1, s, LD(wp + 4));
                }
              } else {
                for (int co = 0; co < CO; co++, wp += C) FMA(a0, BCAST(d + co), LD(wp));
              }
            }
          }
          ST(o + c, a0);
          if (wide) ST(o + c + 4, a1);
          c += wide ? 8 : 4;
        }
      }
    }
  }
}

// Elementwise comparisons into bools (0 / 1 bytes): op 0 >, 1 >=, 2 <, 3 <=. b_step 0: b is one value.
EXPORT(compare)
void compare(const float* a, const float* b, unsigned char* y, int n, int b_step, int op) {
  if (b_step == 0) {
    const float s = *b;
    switch (op) {
      case 0: for (int i = 0; i < n; i++) y[i] = a[i] > s; break;
      case 1: for (int i = 0; i < n; i++) y[i] = a[i] >= s; break;
      case 2: for (int i = 0; i < n; i++) y[i] = a[i] < s; break;
      default: for (int i = 0; i < n; i++) y[i] = a[i] <= s; break;
    }
  } else {
    switch (op) {
      case 0: for (int i = 0; i < n; i++) y[i] = a[i] > b[i]; break;
      case 1: for (int i = 0; i < n; i++) y[i] = a[i] >= b[i]; break;
      case 2: for (int i = 0; i < n; i++) y[i] = a[i] < b[i]; break;
      default: for (int i = 0; i < n; i++) y[i] = a[i] <= b[i]; break;
    }
  }
}

EXPORT(logical_and)
void logical_and(const unsigned char* a, const unsigned char* b, unsigned char* y, int n) {
  for (int i = 0; i < n; i++) y[i] = a[i] & b[i];
}

EXPORT(select_where)
void select_where(const unsigned char* c, const float* t, const float* e, float* y, int n) {
  for (int i = 0; i < n; i++) y[i] = c[i] ? t[i] : e[i];
}

// ReLU's gradient from the layer's output: dx = dy where y > 0, else 0; a NaN in y passes through
// (as in tfjs' dy * step(y)). One pass instead of Step + Multiply.
EXPORT(relu_grad)
void relu_grad(const float* dy, const float* y, float* dx, int n) {
  const vf zero = SPLAT(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const vf v = LD(y + i);
    const vf kept = wasm_v128_and(LD(dy + i), wasm_f32x4_gt(v, zero));
    ST(dx + i, wasm_v128_bitselect(v, kept, wasm_f32x4_ne(v, v)));
  }
  for (; i < n; i++) {
    const float v = y[i];
    dx[i] = v > 0.0f ? dy[i] : (v != v ? v : 0.0f);
  }
}

// Sigmoid's gradient from its output: dx = dy * (y * (1 - y)), rounded per operation in tfjs-core's
// order (bit-identical to its three kernels); one pass instead of three.
EXPORT(sigmoid_grad)
void sigmoid_grad(const float* dy, const float* y, float* dx, int n) {
  const vf one = SPLAT(1.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const vf v = LD(y + i);
    ST(dx + i, wasm_f32x4_mul(LD(dy + i), wasm_f32x4_mul(v, wasm_f32x4_sub(one, v))));
  }
  for (; i < n; i++) dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
}

// Natural log of 4 positive, finite, normal floats (NaN not handled: callers do; Cephes logf: mantissa in [sqrt(1/2), sqrt(2)),
// a degree-9 polynomial in m - 1; ~1 ulp). The losses below only take logs of values in [1e-7, 1].
static inline vf v_log(vf x) {
  v128_t e = wasm_i32x4_sub(wasm_u32x4_shr(x, 23), wasm_i32x4_splat(127));
  vf m = wasm_v128_or(wasm_v128_and(x, wasm_i32x4_splat(0x007fffff)), wasm_i32x4_splat(0x3f800000));
  const v128_t big = wasm_f32x4_gt(m, SPLAT(1.41421356237f));
  m = wasm_v128_bitselect(wasm_f32x4_mul(m, SPLAT(0.5f)), m, big);
  e = wasm_i32x4_sub(e, big);  // big lanes are -1: e + 1
  const vf f = wasm_f32x4_sub(m, SPLAT(1.0f));
  const vf ef = wasm_f32x4_convert_i32x4(e);
  const vf z = wasm_f32x4_mul(f, f);
  vf y = SPLAT(7.0376836292e-2f);
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(-1.1514610310e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(1.1676998740e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(-1.2420140846e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(1.4249322787e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(-1.6668057665e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(2.0000714765e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(-2.4999993993e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, f), SPLAT(3.3333331174e-1f));
  y = wasm_f32x4_mul(wasm_f32x4_mul(y, f), z);
  y = wasm_f32x4_add(y, wasm_f32x4_mul(ef, SPLAT(-2.12194440e-4f)));
  y = wasm_f32x4_sub(y, wasm_f32x4_mul(z, SPLAT(0.5f)));
  return wasm_f32x4_add(wasm_f32x4_add(f, y), wasm_f32x4_mul(ef, SPLAT(0.693359375f)));
}

// Binary cross-entropy per value, p clipped to [lo, hi]: -(z log q + (1 - z) log(1 - q)), which is
// Keras' max(l, 0) - l z + log(1 + exp(-|l|)) with l = log(q / (1 - q)) up to rounding. NaN in p
// gives NaN (the clip keeps it: wasm's min / max propagate NaN).
static inline vf bce4(vf z, vf p, vf lo, vf hi) {
  const vf one = SPLAT(1.0f);
  const vf q = wasm_f32x4_min(wasm_f32x4_max(p, lo), hi);
  const vf lq = v_log(q), l1q = v_log(wasm_f32x4_sub(one, q));
  const vf v = wasm_f32x4_neg(wasm_f32x4_add(wasm_f32x4_mul(z, lq), wasm_f32x4_mul(wasm_f32x4_sub(one, z), l1q)));
  // v_log reads NaN's bits as a number: put the NaN back.
  return wasm_v128_bitselect(q, v, wasm_f32x4_ne(q, q));
}

// kind 0: binary cross-entropy, 1: squared error; per value into out (a mean over out follows).
EXPORT(loss_values)
void loss_values(const float* z, const float* p, float* out, int n, int kind, float lo, float hi) {
  const vf vlo = SPLAT(lo), vhi = SPLAT(hi);
  int i = 0;
  if (kind == 0) {
    for (; i + 4 <= n; i += 4) ST(out + i, bce4(LD(z + i), LD(p + i), vlo, vhi));
    if (i < n) {
      // The last 1-3 values through the same vector code (no scalar log); unused lanes get 0.5.
      const int r = n - i;
      const vf zt = wasm_f32x4_make(z[i], r > 1 ? z[i + 1] : 0.5f, r > 2 ? z[i + 2] : 0.5f, 0.5f);
      const vf pt = wasm_f32x4_make(p[i], r > 1 ? p[i + 1] : 0.5f, r > 2 ? p[i + 2] : 0.5f, 0.5f);
      const vf ot = bce4(zt, pt, vlo, vhi);
      out[i] = wasm_f32x4_extract_lane(ot, 0);
      if (r > 1) out[i + 1] = wasm_f32x4_extract_lane(ot, 1);
      if (r > 2) out[i + 2] = wasm_f32x4_extract_lane(ot, 2);
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const vf d = wasm_f32x4_sub(LD(p + i), LD(z + i));
      ST(out + i, wasm_f32x4_mul(d, d));
    }
    for (; i < n; i++) out[i] = (p[i] - z[i]) * (p[i] - z[i]);
  }
}

// The gradient of the mean loss with respect to p, scaled by s = dL/dloss / n: BCE (q - z) / (q (1 - q)) · s
// where lo <= p <= hi (0 where the clip cuts, NaN for NaN), MSE 2 (p - z) · s.
EXPORT(loss_grad)
void loss_grad(const float* z, const float* p, float* out, int n, int kind, float lo, float hi, float s) {
  const vf vs = SPLAT(s), one = SPLAT(1.0f);
  int i = 0;
  if (kind == 0) {
    const vf vlo = SPLAT(lo), vhi = SPLAT(hi);
    for (; i + 4 <= n; i += 4) {
      const vf pv = LD(p + i);
      const vf q = wasm_f32x4_min(wasm_f32x4_max(pv, vlo), vhi);
      const vf g = wasm_f32x4_mul(wasm_f32x4_div(wasm_f32x4_sub(q, LD(z + i)), wasm_f32x4_mul(q, wasm_f32x4_sub(one, q))), vs);
      const v128_t cut = wasm_v128_or(wasm_f32x4_lt(pv, vlo), wasm_f32x4_gt(pv, vhi));
      ST(out + i, wasm_v128_andnot(g, cut));
    }
    for (; i < n; i++) {
      const float pv = p[i];
      const float q = pv < lo ? lo : pv > hi ? hi : pv;
      out[i] = pv < lo || pv > hi ? 0.0f : (q - z[i]) / (q * (1.0f - q)) * s;
    }
  } else {
    const vf two = SPLAT(2.0f);
    for (; i + 4 <= n; i += 4) ST(out + i, wasm_f32x4_mul(wasm_f32x4_mul(two, wasm_f32x4_sub(LD(p + i), LD(z + i))), vs));
    for (; i < n; i++) out[i] = 2.0f * (p[i] - z[i]) * s;
  }
}
