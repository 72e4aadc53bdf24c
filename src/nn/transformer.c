/* Transformer encoder layers as torch.nn.TransformerEncoderLayer, built
 * from existing ops (multi-head attention on the fused SDPA, linear,
 * LayerNorm, activations, dropout): no op of its own, so its backward is
 * the graph's. */
#include "graph/graph.h"
#include "oclnn/attention.h"
#include "oclnn/layers.h"
#include "oclnn/ops.h"

#include <stdio.h>
#include <string.h>

static oclnn_tensor *named_param(oclnn_graph *g, const char *prefix, const char *suffix, int ndim, const int64_t *dims)
{
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", suffix) >=
        sizeof name)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "encoder_layer: name prefix is too long");
    return oclnn_param(g, name, ndim, dims);
}

oclnn_status oclnn_encoder_layer_create(oclnn_graph *g, const char *prefix, const oclnn_encoder_options *options,
                                        oclnn_encoder_layer_weights *w)
{
    if (!g || !options || !w)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_encoder_layer_create: NULL graph, options or weights");
    memset(w, 0, sizeof *w);
    oclnn_encoder_options o = *options;
    if (o.layer_norm_eps == 0) o.layer_norm_eps = 1e-5f;
    if (o.d_model < 1 || o.nhead < 1 || o.d_model % o.nhead || o.dim_feedforward < 1 || !(o.dropout >= 0) ||
        o.dropout >= 1 || o.activation < OCLNN_ENCODER_RELU || o.activation > OCLNN_ENCODER_GELU_TANH) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG,
                         "encoder_layer: d_model %lld must be a positive multiple of nhead %lld, dim_feedforward "
                         "%lld positive, dropout %g in [0, 1) and activation %d one of relu (0), gelu (1), "
                         "gelu_tanh (2)",
                         (long long)o.d_model, (long long)o.nhead, (long long)o.dim_feedforward, (double)o.dropout,
                         (int)o.activation);
        return oclnn_graph_status(g);
    }
    w->options = o;
    char sa[512];
    if ((size_t)snprintf(sa, sizeof sa, "%s%sself_attn", prefix ? prefix : "", prefix && *prefix ? "." : "") >=
        sizeof sa) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "encoder_layer: name prefix is too long");
        return oclnn_graph_status(g);
    }
    oclnn_status s = oclnn_mha_weights_create(g, sa, o.d_model, o.nhead, 1, 0, 0, o.batch_first, &w->self_attn);
    if (s) return s;
    int64_t e = o.d_model, f = o.dim_feedforward;
    w->linear1_weight = named_param(g, prefix, "linear1.weight", 2, (const int64_t[]){f, e});
    w->linear1_bias = named_param(g, prefix, "linear1.bias", 1, &f);
    w->linear2_weight = named_param(g, prefix, "linear2.weight", 2, (const int64_t[]){e, f});
    w->linear2_bias = named_param(g, prefix, "linear2.bias", 1, &e);
    w->norm1_weight = named_param(g, prefix, "norm1.weight", 1, &e);
    w->norm1_bias = named_param(g, prefix, "norm1.bias", 1, &e);
    w->norm2_weight = named_param(g, prefix, "norm2.weight", 1, &e);
    w->norm2_bias = named_param(g, prefix, "norm2.bias", 1, &e);
    return oclnn_graph_status(g);
}

/* Dropout nodes only where they can act: a zero-p node would still cost a
 * copy per run and per backward. */
static oclnn_tensor *maybe_dropout(oclnn_graph *g, oclnn_tensor *x, float p)
{
    return p > 0 ? oclnn_dropout(g, x, p) : x;
}

static oclnn_tensor *self_attention(oclnn_graph *g, const oclnn_encoder_layer_weights *w, oclnn_tensor *x,
                                    oclnn_tensor *kpm, oclnn_tensor *mask)
{
    oclnn_tensor *a = oclnn_multi_head_attention(g, &w->self_attn, x, x, x, kpm, mask, 0, w->options.dropout);
    return a ? maybe_dropout(g, a, w->options.dropout) : NULL;
}

static oclnn_tensor *feed_forward(oclnn_graph *g, const oclnn_encoder_layer_weights *w, oclnn_tensor *x)
{
    oclnn_tensor *h = oclnn_linear(g, x, w->linear1_weight, w->linear1_bias);
    if (!h) return NULL;
    switch (w->options.activation) {
    case OCLNN_ENCODER_GELU: h = oclnn_gelu(g, h); break;
    case OCLNN_ENCODER_GELU_TANH: h = oclnn_gelu_tanh(g, h); break;
    default: h = oclnn_relu(g, h); break;
    }
    h = oclnn_linear(g, maybe_dropout(g, h, w->options.dropout), w->linear2_weight, w->linear2_bias);
    return h ? maybe_dropout(g, h, w->options.dropout) : NULL;
}

oclnn_tensor *oclnn_encoder_layer(oclnn_graph *g, const oclnn_encoder_layer_weights *w, oclnn_tensor *x,
                                  oclnn_tensor *key_padding_mask, oclnn_tensor *attn_mask)
{
    if (!w || !w->linear1_weight || !w->norm2_weight)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "encoder_layer: weights not created "
                                                          "(oclnn_encoder_layer_create)");
    if (!oclnn_graph_usable(g, "encoder_layer", 1, &x)) return NULL;
    float eps = w->options.layer_norm_eps;
    if (w->options.norm_first) {
        x = oclnn_add(g, x, self_attention(g, w, oclnn_layer_norm(g, x, w->norm1_weight, w->norm1_bias, eps),
                                           key_padding_mask, attn_mask));
        return oclnn_add(g, x, feed_forward(g, w, oclnn_layer_norm(g, x, w->norm2_weight, w->norm2_bias, eps)));
    }
    x = oclnn_layer_norm(g, oclnn_add(g, x, self_attention(g, w, x, key_padding_mask, attn_mask)), w->norm1_weight,
                         w->norm1_bias, eps);
    return oclnn_layer_norm(g, oclnn_add(g, x, feed_forward(g, w, x)), w->norm2_weight, w->norm2_bias, eps);
}

oclnn_tensor *oclnn_transformer_encoder(oclnn_graph *g, const char *prefix, const oclnn_encoder_options *options,
                                        int num_layers, oclnn_tensor *x, oclnn_tensor *key_padding_mask,
                                        oclnn_tensor *attn_mask)
{
    if (num_layers < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "transformer_encoder: num_layers %d must be at least 1",
                                num_layers);
    for (int i = 0; i < num_layers && x; i++) {
        char p[512];
        if ((size_t)snprintf(p, sizeof p, "%s%slayers.%d", prefix ? prefix : "", prefix && *prefix ? "." : "", i) >=
            sizeof p)
            return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "transformer_encoder: name prefix is too long");
        oclnn_encoder_layer_weights w;
        if (oclnn_encoder_layer_create(g, p, options, &w)) return NULL;
        x = oclnn_encoder_layer(g, &w, x, key_padding_mask, attn_mask);
    }
    return x;
}
