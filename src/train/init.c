/* Parameter initialisation with PyTorch's default rules, drawn on the
 * device from the Philox generator. Streams come from a hash of the tensor
 * name, so adding or reordering parameters never changes the values of the
 * others, and the same seed gives the same model on every device. */
#include "graph/graph.h"
#include "oclnn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t oclnn_init_stream(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Unnamed tensors fall back to their id so two of them never share a stream. */
static uint64_t stream_of(const oclnn_tensor *t)
{
    return t->name ? oclnn_init_stream(t->name) : oclnn_init_stream("") ^ (uint64_t)t->id;
}

static oclnn_status fans(const oclnn_tensor *t, const char *what, double *fan_in, double *fan_out)
{
    if (!t) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL tensor", what);
    if (t->ndim < 2) {
        char s[128];
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: fan in/out need at least 2 dims, '%s' is %s", what,
                          oclnn_tensor_name(t), oclnn_tensor_shape_str(t, s, sizeof s));
    }
    double receptive = 1;
    for (int d = 2; d < t->ndim; d++) receptive *= (double)t->dims[d];
    *fan_in = (double)t->dims[1] * receptive;
    if (fan_out) *fan_out = (double)t->dims[0] * receptive;
    return OCLNN_OK;
}

oclnn_status oclnn_init_uniform(oclnn_tensor *t, float low, float high, uint64_t seed, uint64_t stream)
{
    return oclnn_tensor_fill_uniform(t, seed, stream, low, high);
}

oclnn_status oclnn_init_normal(oclnn_tensor *t, float mean, float stddev, uint64_t seed, uint64_t stream)
{
    return oclnn_tensor_fill_normal(t, seed, stream, mean, stddev);
}

oclnn_status oclnn_init_kaiming_uniform(oclnn_tensor *t, float a, uint64_t seed, uint64_t stream)
{
    double fan_in = 0;
    oclnn_status s = fans(t, "oclnn_init_kaiming_uniform", &fan_in, NULL);
    if (s) return s;
    if (oclnn_tensor_numel(t) == 0) return OCLNN_OK; /* PyTorch: a no-op */
    double gain = sqrt(2.0 / (1.0 + (double)a * a));
    float bound = (float)(gain * sqrt(3.0 / fan_in));
    return oclnn_tensor_fill_uniform(t, seed, stream, -bound, bound);
}

oclnn_status oclnn_init_xavier_uniform(oclnn_tensor *t, float gain, uint64_t seed, uint64_t stream)
{
    double fan_in = 0, fan_out = 0;
    oclnn_status s = fans(t, "oclnn_init_xavier_uniform", &fan_in, &fan_out);
    if (s) return s;
    if (oclnn_tensor_numel(t) == 0) return OCLNN_OK;
    float bound = (float)(gain * sqrt(6.0 / (fan_in + fan_out)));
    return oclnn_tensor_fill_uniform(t, seed, stream, -bound, bound);
}

/* nn.Linear.reset_parameters / nn.Conv*d.reset_parameters */
static oclnn_status init_layer(oclnn_tensor *weight, oclnn_tensor *bias, uint64_t seed, const char *what)
{
    double fan_in = 0;
    oclnn_status s = fans(weight, what, &fan_in, NULL);
    if (!s) s = oclnn_init_kaiming_uniform(weight, (float)sqrt(5.0), seed, stream_of(weight));
    if (s || !bias) return s;
    float bound = fan_in > 0 ? (float)(1.0 / sqrt(fan_in)) : 0.0f;
    return oclnn_tensor_fill_uniform(bias, seed, stream_of(bias), -bound, bound);
}

oclnn_status oclnn_init_linear(oclnn_tensor *weight, oclnn_tensor *bias, uint64_t seed)
{
    return init_layer(weight, bias, seed, "oclnn_init_linear");
}

oclnn_status oclnn_init_conv(oclnn_tensor *weight, oclnn_tensor *bias, uint64_t seed)
{
    return init_layer(weight, bias, seed, "oclnn_init_conv");
}

/* ---- whole graphs, by name */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The tensor named like `name` with its last component replaced. */
static oclnn_tensor *sibling(oclnn_graph *g, const char *name, const char *last)
{
    char buf[512];
    const char *dot = strrchr(name, '.');
    int prefix = dot ? (int)(dot - name + 1) : 0;
    if (snprintf(buf, sizeof buf, "%.*s%s", prefix, name, last) >= (int)sizeof buf) return NULL;
    return oclnn_graph_find(g, buf);
}

/* RNN parameters "...{weight,bias}_{ih,hh}_l<k>[_reverse]": PyTorch draws all
 * of them from U(+-1/sqrt(hidden)), hidden = weight_hh_l<k>'s dims[1]. */
static bool rnn_bound(oclnn_graph *g, const oclnn_tensor *t, float *bound)
{
    static const char *const tags[] = {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"};
    const char *name = t->name, *hit = NULL;
    size_t tag_len = 0;
    for (int i = 0; i < 4 && !hit; i++)
        if ((hit = strstr(name, tags[i]))) tag_len = strlen(tags[i]);
    if (!hit) return false;
    char buf[512];
    if (snprintf(buf, sizeof buf, "%.*sweight_hh_l%s", (int)(hit - name), name, hit + tag_len) >= (int)sizeof buf)
        return false;
    const oclnn_tensor *hh = oclnn_graph_find(g, buf);
    if (!hh || hh->ndim != 2 || hh->dims[1] <= 0) return false;
    *bound = (float)(1.0 / sqrt((double)hh->dims[1]));
    return true;
}

static oclnn_status fill_value(oclnn_tensor *t, double value)
{
    if (t->dtype != OCLNN_DTYPE_I64) return oclnn_tensor_fill(t, (float)value);
    size_t n = (size_t)oclnn_tensor_numel(t);
    int64_t *host = malloc((n ? n : 1) * sizeof *host);
    if (!host) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_graph_init_params: out of host memory");
    for (size_t i = 0; i < n; i++) host[i] = (int64_t)value;
    oclnn_status s = oclnn_tensor_write(t, host, n * sizeof *host);
    free(host);
    return s;
}

static oclnn_status init_param(oclnn_graph *g, oclnn_tensor *p, uint64_t seed)
{
    const char *name = p->name ? p->name : "";
    float bound;
    if (p->name && rnn_bound(g, p, &bound)) return oclnn_tensor_fill_uniform(p, seed, stream_of(p), -bound, bound);
    if (p->ndim >= 2) {
        if (strstr(name, "embedding")) return oclnn_tensor_fill_normal(p, seed, stream_of(p), 0.0f, 1.0f);
        return oclnn_init_linear(p, NULL, seed);
    }
    if (ends_with(name, "bias")) {
        oclnn_tensor *w = sibling(g, name, "weight");
        if (w && (w->flags & T_PARAM) && w->ndim >= 2 && !strstr(name, "embedding")) {
            double fan_in;
            oclnn_status s = fans(w, "oclnn_graph_init_params", &fan_in, NULL);
            if (s) return s;
            bound = fan_in > 0 ? (float)(1.0 / sqrt(fan_in)) : 0.0f;
            return oclnn_tensor_fill_uniform(p, seed, stream_of(p), -bound, bound);
        }
    }
    return fill_value(p, ends_with(name, "weight") ? 1.0 : 0.0);
}

oclnn_status oclnn_graph_init_params(oclnn_graph *g, uint64_t seed)
{
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_init_params: NULL graph");
    if (!g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_init_params: compile the graph first");
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        oclnn_status s = OCLNN_OK;
        if (t->flags & T_PARAM) s = init_param(g, t, seed);
        else if ((t->flags & T_STATE) && t->name) s = fill_value(t, ends_with(t->name, "running_var") ? 1.0 : 0.0);
        if (s) return oclnn_fail_append(s, " (initialising '%s')", oclnn_tensor_name(t));
    }
    return OCLNN_OK;
}
