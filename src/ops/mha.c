/* Multi-head attention with torch.nn.MultiheadAttention's parameters and
 * layout, built from linear, views and the fused SDPA (no op of its own):
 * q/k/v projections (packed in_proj_weight sliced by rows, or separate
 * q/k/v_proj_weight), heads split by a reshape and a permute that SDPA
 * reads through its strides (no copy), heads merged, out_proj. */
#include "graph/graph.h"
#include "oclnn/attention.h"
#include "oclnn/ops.h"

#include <stdio.h>
#include <string.h>

static const char *shape(const oclnn_tensor *t, char *buf) { return oclnn_tensor_shape_str(t, buf, 128); }

static oclnn_tensor *named_param(oclnn_graph *g, const char *prefix, const char *suffix, int ndim, const int64_t *dims)
{
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", suffix) >=
        sizeof name)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "multi_head_attention: name prefix is too long");
    return oclnn_param(g, name, ndim, dims);
}

oclnn_status oclnn_mha_weights_create(oclnn_graph *g, const char *prefix, int64_t embed_dim, int64_t num_heads,
                                      int bias, int64_t kdim, int64_t vdim, int batch_first, oclnn_mha_weights *w)
{
    if (!g || !w) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_mha_weights_create: NULL graph or weights");
    memset(w, 0, sizeof *w);
    if (kdim <= 0) kdim = embed_dim;
    if (vdim <= 0) vdim = embed_dim;
    if (embed_dim < 1 || num_heads < 1 || embed_dim % num_heads) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG,
                         "multi_head_attention: embed_dim %lld must be a positive multiple of num_heads %lld",
                         (long long)embed_dim, (long long)num_heads);
        return oclnn_graph_status(g);
    }
    w->embed_dim = embed_dim;
    w->num_heads = num_heads;
    w->batch_first = batch_first != 0;
    int64_t e3[2] = {3 * embed_dim, embed_dim}, ee[2] = {embed_dim, embed_dim};
    if (kdim == embed_dim && vdim == embed_dim) {
        w->in_proj_weight = named_param(g, prefix, "in_proj_weight", 2, e3);
    } else {
        int64_t ek[2] = {embed_dim, kdim}, ev[2] = {embed_dim, vdim};
        w->q_proj_weight = named_param(g, prefix, "q_proj_weight", 2, ee);
        w->k_proj_weight = named_param(g, prefix, "k_proj_weight", 2, ek);
        w->v_proj_weight = named_param(g, prefix, "v_proj_weight", 2, ev);
    }
    if (bias) w->in_proj_bias = named_param(g, prefix, "in_proj_bias", 1, e3);
    w->out_proj_weight = named_param(g, prefix, "out_proj.weight", 2, ee);
    if (bias) w->out_proj_bias = named_param(g, prefix, "out_proj.bias", 1, ee);
    return oclnn_graph_status(g);
}

/* rows [k E, (k + 1) E) of a packed [3E, ...] tensor (a contiguous view) */
static oclnn_tensor *part(oclnn_graph *g, oclnn_tensor *packed, int k, int64_t e)
{
    return packed ? oclnn_slice(g, packed, 0, k * e, (k + 1) * e) : NULL;
}

/* x [A, B, in] -> linear -> [A, B, H, Dh] -> [N, H, L, Dh] (a strided view) */
static oclnn_tensor *project(oclnn_graph *g, const oclnn_mha_weights *w, oclnn_tensor *x, oclnn_tensor *weight,
                             oclnn_tensor *bias)
{
    oclnn_tensor *y = oclnn_linear(g, x, weight, bias);
    if (!y) return NULL;
    int64_t dims[4] = {x->dims[0], x->dims[1], w->num_heads, w->embed_dim / w->num_heads};
    static const int bf[4] = {0, 2, 1, 3}, sf[4] = {1, 2, 0, 3};
    return oclnn_permute(g, oclnn_reshape(g, y, 4, dims), w->batch_first ? bf : sf);
}

oclnn_tensor *oclnn_multi_head_attention(oclnn_graph *g, const oclnn_mha_weights *w, oclnn_tensor *query,
                                         oclnn_tensor *key, oclnn_tensor *value, oclnn_tensor *key_padding_mask,
                                         oclnn_tensor *attn_mask, int causal, float dropout_p)
{
    const char *op = "multi_head_attention";
    if (!w) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: NULL weights", op);
    oclnn_tensor *qkv[3] = {query, key, value};
    if (!oclnn_graph_usable(g, op, 3, qkv)) return NULL;
    int64_t e = w->embed_dim, h = w->num_heads;
    if (e < 1 || h < 1 || e % h || !w->out_proj_weight ||
        (!w->in_proj_weight && !(w->q_proj_weight && w->k_proj_weight && w->v_proj_weight)))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG,
                                "%s: weights need embed_dim %lld divisible by num_heads %lld, out_proj_weight, and "
                                "in_proj_weight or all of q/k/v_proj_weight",
                                op, (long long)e, (long long)h);
    char qs[128], ks[128], vs[128];
    int nb = w->batch_first ? 0 : 1, nl = 1 - nb;
    bool ok = query->ndim == 3 && key->ndim == 3 && value->ndim == 3 && query->dims[2] == e &&
              key->dims[nb] == query->dims[nb] && value->dims[nb] == query->dims[nb] && key->dims[nl] == value->dims[nl];
    if (!ok)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                                "%s: query %s, key %s, value %s must be %s with E = %lld and matching batch and key "
                                "lengths",
                                op, shape(query, qs), shape(key, ks), shape(value, vs),
                                w->batch_first ? "[N, L, E]" : "[L, N, E]", (long long)e);
    oclnn_tensor *wq = w->in_proj_weight ? part(g, w->in_proj_weight, 0, e) : w->q_proj_weight;
    oclnn_tensor *wk = w->in_proj_weight ? part(g, w->in_proj_weight, 1, e) : w->k_proj_weight;
    oclnn_tensor *wv = w->in_proj_weight ? part(g, w->in_proj_weight, 2, e) : w->v_proj_weight;
    oclnn_tensor *q = project(g, w, query, wq, part(g, w->in_proj_bias, 0, e));
    oclnn_tensor *k = project(g, w, key, wk, part(g, w->in_proj_bias, 1, e));
    oclnn_tensor *v = project(g, w, value, wv, part(g, w->in_proj_bias, 2, e));
    if (!q || !k || !v) return NULL;
    int64_t n = query->dims[nb], lq = query->dims[nl], lk = key->dims[nl];
    if (attn_mask && attn_mask->ndim == 3) { /* PyTorch's [N * H, Lq, Lk] */
        char ms[128];
        if (attn_mask->dims[0] != n * h)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: a 3-D attn_mask %s must be [N * H, Lq, Lk] = [%lld, %lld, %lld]",
                                    op, shape(attn_mask, ms), (long long)(n * h), (long long)lq, (long long)lk);
        int64_t md[4] = {n, h, attn_mask->dims[1], attn_mask->dims[2]};
        attn_mask = oclnn_reshape(g, attn_mask, 4, md);
    }
    oclnn_tensor *o = oclnn_sdpa_masked(g, q, k, v, attn_mask, key_padding_mask, causal, 0.0f, dropout_p);
    if (!o) return NULL;
    /* [N, H, Lq, Dh] -> [N, Lq, H, Dh] or [Lq, N, H, Dh] -> [.., E] */
    static const int bf[4] = {0, 2, 1, 3}, sf[4] = {2, 0, 1, 3};
    int64_t od[3] = {query->dims[0], query->dims[1], e};
    oclnn_tensor *merged = oclnn_reshape(g, oclnn_contiguous(g, oclnn_permute(g, o, w->batch_first ? bf : sf)), 3, od);
    return oclnn_linear(g, merged, w->out_proj_weight, w->out_proj_bias);
}
