/* oclnn attention and Transformer building blocks (src/ops/attention.c,
 * src/ops/layer_norm.c, the tanh GELU in src/ops/elementwise.c).
 *
 * Scaled dot-product attention on q [N, H, Lq, D], k [N, H, Lk, D],
 * v [N, H, Lk, D] gives [N, H, Lq, D]:
 *     out_i = sum_j softmax_j(scale * q_i . k_j + mask_ij) v_j
 * q, k and v may be any views (e.g. [N, L, H, D] permuted to [N, H, L, D]
 * straight from a projection): the fused kernels read their strides, no
 * copy is made.
 *
 * Masks (each optional, combinable):
 *   attn_mask        f32, additive, broadcast over [N, H, Lq, Lk] like
 *                    NumPy (e.g. [Lq, Lk], [N, 1, 1, Lk]); -inf masks.
 *                    It gets no gradient.
 *   key_padding_mask i32 or i64 [N, Lk], nonzero = that key is masked
 *                    (PyTorch's key_padding_mask convention: True = pad).
 *   causal           key j > query i is masked (top-left aligned, as
 *                    PyTorch's is_causal, also when Lq != Lk).
 * A query row whose keys are all masked gives zeros (not NaN), and zero
 * gradients.
 * scale: 0 means 1 / sqrt(D).
 * dropout_p in [0, 1): in training mode (oclnn_graph_set_training) each
 * probability is dropped with that chance and the rest scaled by
 * 1 / (1 - p), as F.scaled_dot_product_attention(dropout_p=...): score
 * (n, h, i, j) is kept when oclnn_philox_uniform(seed, r, (n H + h) Lq Lk +
 * i Lk + j) >= p, r being the graph's run counter (as oclnn_dropout), so
 * the backward regenerates the mask and stores none. Eval mode: no
 * dropout. */
#ifndef OCLNN_ATTENTION_H
#define OCLNN_ATTENTION_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fused (FlashAttention-style) attention: the Lq x Lk matrix is never
 * stored; memory is O(N H L D). Head dims 32, 64, 80, 96 and 128 have
 * specialised kernels, other head dims up to 256 a generic one.
 * `mask` is either an additive f32 attn_mask or an integer key-padding mask
 * (chosen by its dtype, see above); NULL for none. */
oclnn_tensor *oclnn_sdpa(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v, oclnn_tensor *mask,
                         int causal, float scale, float dropout_p);
/* Everything at once. Zero-initialised options are plain attention. */
typedef struct oclnn_sdpa_options {
    oclnn_tensor *attn_mask;        /* f32 additive, broadcast to [N, H, Lq, Lk]; NULL: none */
    oclnn_tensor *key_padding_mask; /* i32/i64 [N, Lk], nonzero = masked; NULL: none */
    int causal;
    float scale;                    /* 0: 1 / sqrt(D) */
    float dropout_p;                /* [0, 1) */
    uint64_t dropout_seed;          /* 0: OCLNN_DROPOUT_SEED + the node's position in the graph */
    int unfused;                    /* 1: the reference path (matmul, softmax, matmul) */
} oclnn_sdpa_options;
oclnn_tensor *oclnn_sdpa_ex(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                            const oclnn_sdpa_options *options);
/* Both masks at once (either may be NULL). */
oclnn_tensor *oclnn_sdpa_masked(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                                oclnn_tensor *attn_mask, oclnn_tensor *key_padding_mask, int causal, float scale,
                                float dropout_p);
/* The same computation from separate ops (batched matmul, softmax, batched
 * matmul): stores the Lq x Lk scores; the reference for the fused path. */
oclnn_tensor *oclnn_sdpa_unfused(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                                 oclnn_tensor *attn_mask, oclnn_tensor *key_padding_mask, int causal, float scale,
                                 float dropout_p);

/* Layer normalisation over the last axis, as torch.nn.functional.layer_norm
 * with normalized_shape = (x.shape[-1],): biased variance, eps inside the
 * square root. weight and bias are f32 [C] and optional (NULL). */
oclnn_tensor *oclnn_layer_norm(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias, float eps);

/* GELU, PyTorch's approximate='tanh' form:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). (oclnn_gelu is the erf form.) */
oclnn_tensor *oclnn_gelu_tanh(oclnn_graph *g, oclnn_tensor *x);

/* ---- Multi-head attention, torch.nn.MultiheadAttention (need_weights =
 * False): parameters under PyTorch's state_dict names
 *   <prefix>.in_proj_weight [3E, E] (q, k, v rows in that order), or
 *   <prefix>.q_proj_weight [E, E], .k_proj_weight [E, kdim], .v_proj_weight
 *   [E, vdim] when kdim or vdim differ from E; <prefix>.in_proj_bias [3E];
 *   <prefix>.out_proj.weight [E, E], <prefix>.out_proj.bias [E].
 * Inputs are [L, N, E] (PyTorch's default) or [N, L, E] with batch_first;
 * key and value [Lk, N, kdim] / [Lk, N, vdim] likewise. The biases are NULL
 * when bias is 0. Parameters are created uninitialised: PyTorch uses
 * xavier_uniform for the in-projection weights, zeros for the biases and
 * nn.Linear's init for out_proj.weight (see train.h). */
typedef struct oclnn_mha_weights {
    int64_t embed_dim, num_heads;
    int batch_first;
    oclnn_tensor *in_proj_weight, *in_proj_bias;
    oclnn_tensor *q_proj_weight, *k_proj_weight, *v_proj_weight;
    oclnn_tensor *out_proj_weight, *out_proj_bias;
} oclnn_mha_weights;
/* kdim, vdim: 0 for embed_dim. prefix may be NULL or "" for bare names. */
oclnn_status oclnn_mha_weights_create(oclnn_graph *g, const char *prefix, int64_t embed_dim, int64_t num_heads,
                                      int bias, int64_t kdim, int64_t vdim, int batch_first, oclnn_mha_weights *w);
/* The attention output [Lq, N, E] (or [N, Lq, E]). key_padding_mask: i32
 * or i64 [N, Lk], nonzero = padding (PyTorch's True); attn_mask: additive
 * f32 [Lq, Lk] or [N * H, Lq, Lk] (or anything broadcasting to [N, H, Lq,
 * Lk]); either may be NULL. dropout_p: attention dropout, as in oclnn_sdpa. */
oclnn_tensor *oclnn_multi_head_attention(oclnn_graph *g, const oclnn_mha_weights *w, oclnn_tensor *query,
                                         oclnn_tensor *key, oclnn_tensor *value, oclnn_tensor *key_padding_mask,
                                         oclnn_tensor *attn_mask, int causal, float dropout_p);

/* ---- Transformer encoder (src/nn/transformer.c), torch.nn.
 * TransformerEncoderLayer / nn.TransformerEncoder with their state_dict
 * names under a prefix:
 *   self_attn.in_proj_weight [3E, E], self_attn.in_proj_bias [3E],
 *   self_attn.out_proj.weight [E, E], self_attn.out_proj.bias [E],
 *   linear1.weight [F, E], linear1.bias [F], linear2.weight [E, F],
 *   linear2.bias [E], norm1.weight/bias [E], norm2.weight/bias [E].
 * norm_first = 0 (post-LN, BERT and PyTorch's default):
 *     x = norm1(x + SA(x)); x = norm2(x + FF(x))
 * norm_first = 1 (pre-LN, trains without warm-up):
 *     x = x + SA(norm1(x)); x = x + FF(norm2(x))
 * with FF(x) = linear2(dropout(act(linear1(x)))). Dropout (attention
 * probabilities, after SA, inside and after FF, each with p = dropout) acts
 * only in training mode, with the library's Philox masks (not PyTorch's).
 * Zero-initialised options are not PyTorch's defaults: dropout is 0 (PyTorch
 * 0.1), dim_feedforward must be given (PyTorch 2048), eps 0 means 1e-5. */
typedef enum {
    OCLNN_ENCODER_RELU = 0,      /* PyTorch's default activation="relu" */
    OCLNN_ENCODER_GELU = 1,      /* activation="gelu" (the erf form) */
    OCLNN_ENCODER_GELU_TANH = 2  /* F.gelu(approximate="tanh") */
} oclnn_encoder_activation;

typedef struct oclnn_encoder_options {
    int64_t d_model, nhead, dim_feedforward;
    float dropout;
    oclnn_encoder_activation activation;
    float layer_norm_eps;        /* 0: 1e-5 */
    int batch_first;             /* x [N, L, E]; else [L, N, E] */
    int norm_first;
} oclnn_encoder_options;

typedef struct oclnn_encoder_layer_weights {
    oclnn_encoder_options options;
    oclnn_mha_weights self_attn;
    oclnn_tensor *linear1_weight, *linear1_bias, *linear2_weight, *linear2_bias;
    oclnn_tensor *norm1_weight, *norm1_bias, *norm2_weight, *norm2_bias;
} oclnn_encoder_layer_weights;

/* Creates one layer's parameters (uninitialised) under prefix (NULL or ""
 * for bare names). */
oclnn_status oclnn_encoder_layer_create(oclnn_graph *g, const char *prefix, const oclnn_encoder_options *options,
                                        oclnn_encoder_layer_weights *w);
/* One layer on x; key_padding_mask i32/i64 [N, L] (nonzero = padding, as
 * src_key_padding_mask) and attn_mask (additive f32, as src_mask) may be
 * NULL. Padded positions still get outputs (PyTorch's slow path does the
 * same; its nested-tensor fast path gives zeros there). */
oclnn_tensor *oclnn_encoder_layer(oclnn_graph *g, const oclnn_encoder_layer_weights *w, oclnn_tensor *x,
                                  oclnn_tensor *key_padding_mask, oclnn_tensor *attn_mask);
/* nn.TransformerEncoder without a final norm: num_layers layers named
 * "<prefix>.layers.<i>." created here, applied in order. */
oclnn_tensor *oclnn_transformer_encoder(oclnn_graph *g, const char *prefix, const oclnn_encoder_options *options,
                                        int num_layers, oclnn_tensor *x, oclnn_tensor *key_padding_mask,
                                        oclnn_tensor *attn_mask);

#ifdef __cplusplus
}
#endif
#endif
