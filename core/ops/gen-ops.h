/* gen-ops.h — the kernels the models are built from.
 *
 * Conventions: tensors are NCHW GenTensor views; unless a comment says
 * otherwise inputs and outputs must be contiguous.  An op whose input or
 * output data is NULL (a failed arena allocation) does nothing: the caller
 * checks the arena once at the end of the pass.  Shape mismatches are
 * programming errors (g_return_if_fail), not user errors: models validate
 * shapes when they load.
 *
 * Layer parameters are plain structs named after the PyTorch modules; their
 * tensors point into the model's weights.
 *
 * Where they live: gen-parallel.c (threads, parallel-for, the GEMM wrapper),
 * gen-conv.c (conv and linear), gen-winograd.c and gen-winograd-transform.c
 * (3×3 convs), gen-norm.c, gen-elementwise.c (activations), gen-attention.c
 * (softmax, attention), gen-geglu.c (the transformers' gated GELU),
 * gen-resample.c (resampling and plumbing), gen-half.c (weights kept in
 * 16-bit floats); what they share among themselves is in gen-ops-private.h.
 */
#pragma once

#include "gen-tensor.h"

#include <stdbool.h>

G_BEGIN_DECLS

/* ---- the one GEMM wrapper -----------------------------------------------
 * C[m,n] = alpha * op(A)[m,k] · op(B)[k,n] + beta * C, row-major.
 * Every matrix product in the core goes through here. */
void gen_gemm (bool trans_a, bool trans_b, int m, int n, int k,
               float alpha, const float *a, int lda,
               const float *b, int ldb,
               float beta, float *c, int ldc);

/* The most threads the core uses for one run: parts of a parallel loop and
 * parallel tile workers alike. */
#define GEN_MAX_THREADS 64

/* Threads used by the core (>= 1) for the calling thread's work: its parallel
 * loops and its split GEMMs (the BLAS itself always runs one thread).  Per
 * thread: a job sets it from its options for its run and restores it. */
void gen_set_threads (int n);
int  gen_get_threads (void);
/* The parts ops may split into from here on (gen_get_threads () unchanged):
 * the tiler sets 1 while tiles run in parallel on their own workers, then
 * restores gen_get_threads (). */
void gen_set_op_threads (int n);

/* FN (part, parts, data) for every part in [0, PARTS), side by side on the
 * core's threads (the calling thread runs part 0); returns when all have
 * returned.  The BLAS runs one thread per part meanwhile.  Parts must not
 * depend on one another's order.  gen_parallel_parts () is how many parts
 * pay off in the calling context: the thread count, or 1 inside the
 * tiler's parallel workers. */
typedef void (*GenPartFunc) (int part, int parts, gpointer data);
int  gen_parallel_parts (void);
void gen_parallel_for (int parts, GenPartFunc fn, gpointer data);

/* ---- weights in 16-bit floats (gen-half.c) -------------------------------
 * A large weight of an F16 or BF16 file stays in the file's mapping, in its
 * own dtype (half the bytes of F32); a product converts it to F32 just
 * before use, exactly (every F16 and BF16 value is a float), into its
 * scratch arena, so the products see the same floats, in the same shapes,
 * as from weights converted when the model loads. */
typedef struct
{
  const guint16 *data;   /* little-endian as in the file, 2-byte aligned, or NULL */
  bool           bf16;   /* bfloat16, else IEEE binary16 */
} GenHalf;

/* DST[i] = HALF[OFFSET + i] as F32 for i < N, exactly as gen_f16_to_f32 /
 * gen_bf16_to_f32. */
void gen_half_to_f32 (const GenHalf *half, int64_t offset, int64_t n, float *dst);
/* The values of weight W as F32: W->data when it holds them, else HALF (W's
 * shape) converted whole into a new buffer from SCRATCH (the caller
 * releases it with its arena mark); NULL when the arena cannot give it. */
const float *gen_weight_f32 (const GenTensor *w, const GenHalf *half, GenArena *scratch);

/* ---- layers -------------------------------------------------------------- */

typedef struct
{
  GenTensor weight;     /* [Co, Ci, kh, kw]; data NULL when HALF holds it */
  GenHalf   half;       /* the weight in F16/BF16 [Co, Ci, kh, kw], or data NULL */
  GenTensor bias;       /* [1, Co, 1, 1] or data NULL */
  int       stride;
  int       pad[4];     /* top, left, bottom, right */
  gpointer *keep;       /* 3×3 / stride 1: where its Winograd weights are kept once
                           made for a small image (gen_conv2d_keep_new), or NULL */
} GenConv2d;

/* A slot for a conv's kept Winograd weights (empty until a forward fills it),
 * and its free function (for a GPtrArray of slots). */
gpointer *gen_conv2d_keep_new (void);
void      gen_conv2d_keep_free (gpointer slot);

typedef struct
{
  GenTensor weight;     /* [1, C, 1, 1] */
  GenTensor bias;       /* [1, C, 1, 1] */
  int       groups;
  float     eps;
} GenGroupNorm;

typedef struct
{
  GenTensor weight;     /* [1, 1, out, in]; data NULL when HALF holds it */
  GenHalf   half;       /* the weight in F16/BF16 [out, in], or data NULL */
  GenTensor bias;       /* [1, 1, 1, out] or data NULL */
} GenLinear;

typedef struct
{
  GenTensor weight;     /* [1, 1, 1, dim] */
  GenTensor bias;       /* [1, 1, 1, dim] */
  float     eps;
} GenLayerNorm;

/* Output size of a conv along one axis. */
int64_t gen_conv2d_out_size (int64_t in, int k, int stride, int pad_before, int pad_after);

/* y = conv(x) (+ bias).  SCRATCH holds the im2col buffer, or for a 3×3
 * stride-1 pad-1 conv on an image of 16×16 or more the Winograd F(4×4, 3×3)
 * buffers (bounded either way: rows are processed in bands).  If
 * ACCUMULATE, y += conv(x) instead. */
void gen_conv2d (const GenConv2d *conv, const GenTensor *x, GenTensor *y,
                 bool accumulate, GenArena *scratch);

/* y = group_norm(x), then SiLU if SILU.  In place allowed (y == x). */
void gen_group_norm (const GenGroupNorm *gn, const GenTensor *x, GenTensor *y, bool silu);
/* Y (=, or += with ACCUMULATE) conv (silu (group_norm (X))), without the
 * normalised X ever existing whole: it is made a band of rows at a time. */
void gen_conv2d_norm_silu (const GenConv2d *conv, const GenGroupNorm *gn, const GenTensor *x,
                           GenTensor *y, bool accumulate, GenArena *scratch);
/* The same two on the channel concatenation [XA, XB], never made whole
 * (XB may be NULL; same batch and size). */
void gen_conv2d_cat (const GenConv2d *conv, const GenTensor *xa, const GenTensor *xb, GenTensor *y,
                     bool accumulate, GenArena *scratch);
/* Y = conv (nearest ×2 upsampling of X), without the upsampled X. */
void gen_conv2d_up2 (const GenConv2d *conv, const GenTensor *x, GenTensor *y, GenArena *scratch);
void gen_conv2d_cat_norm_silu (const GenConv2d *conv, const GenGroupNorm *gn, const GenTensor *xa,
                               const GenTensor *xb, GenTensor *y, bool accumulate,
                               GenArena *scratch);

/* Rows of X [rows, dim] (dense, row stride dim) normalised into Y. */
void gen_layer_norm (const GenLayerNorm *ln, const float *x, float *y, int64_t rows, int64_t dim);

/* Y[rows, out] = X[rows, in] · Wᵀ + b (SCRATCH: the weight's F32 form when
 * it is kept in 16-bit floats). */
void gen_linear (const GenLinear *lin, const float *x, float *y, int64_t rows,
                 GenArena *scratch);

/* Elementwise over N floats, in place allowed. */
void gen_silu (const float *x, float *y, int64_t n);
void gen_gelu (const float *x, float *y, int64_t n);    /* exact (erf) form */
void gen_relu (const float *x, float *y, int64_t n);
void gen_tanh (const float *x, float *y, int64_t n);
/* y /= div over n floats (diffusers' output_scale_factor divisions). */
void gen_scale_div (float *y, int64_t n, float div);

/* Row-wise softmax over the last dim, in place, numerically stable. */
void gen_softmax_rows (float *x, int64_t rows, int64_t cols);

/* Scaled dot-product attention for one head:
 * O[Lq, Dv] = softmax(scale · Q[Lq, D] · K[Lk, D]ᵀ) · V[Lk, Dv]
 * with row strides ldq, ldk, ldv, ldo (so heads can be column slices of a
 * [L, heads*D] matrix).  SCRATCH holds a band of the score matrix. */
void gen_attention (const float *q, int ldq, const float *k, int ldk,
                    const float *v, int ldv, float *o, int ldo,
                    int64_t lq, int64_t lk, int64_t d, int64_t dv,
                    float scale, GenArena *scratch);

/* Y[rows, dim] = X[:, :dim] · gelu (X[:, dim:]) for X [rows, 2 · dim]
 * (GEGLU; exact erf GELU).  Y must not overlap X. */
void gen_geglu (const float *x, float *y, int64_t rows, int64_t dim);

/* Nearest resizing of X into Y's H×W (same N, C), index rule as PyTorch's
 * F.interpolate (mode="nearest", size=…). */
void gen_resize_nearest (const GenTensor *x, GenTensor *y);

/* Antialiased bilinear resizing of X into Y's H×W (same N, C), as PyTorch's
 * F.interpolate (mode="bilinear", align_corners=False, antialias=True):
 * separable, the triangle filter widened by the scale when shrinking,
 * weights normalised; an axis of the same size is copied.  FALSE when the
 * intermediate [N, C, H, W'] cannot be allocated. */
gboolean gen_resize_bilinear_aa (const GenTensor *x, GenTensor *y);

/* Nearest upsampling by an integer factor. */
void gen_upsample_nearest (const GenTensor *x, GenTensor *y, int factor);

/* Average pooling with kernel = stride = K (no padding, floor). */
void gen_avg_pool (const GenTensor *x, GenTensor *y, int k);

/* diffusers get_timestep_embedding: OUT[n, dim]. */
void gen_timestep_embedding (const float *t, int64_t n, int64_t dim,
                             bool flip_sin_to_cos, float downscale_freq_shift,
                             float scale, float max_period, float *out);

/* y = cat(a, b) along channels (y may be a strided view). */
void gen_concat_channels (const GenTensor *a, const GenTensor *b, GenTensor *y);

/* y[n,c,:,:] += v[n, c] (per-channel add, e.g. a time embedding). */
void gen_add_channel_bias (GenTensor *y, const float *v, int64_t ldv);

G_END_DECLS
