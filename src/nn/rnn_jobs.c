/* The jobs of `oclnn forward / train / eval lstm|gru` (include/oclnn/rnn.h):
 * sizes inferred from a state_dict, file-to-file inference, and sequential
 * Fashion-MNIST through the image-classifier jobs of simple_cnn_train.c. */
#include "core/error.h"
#include "nn/classifier.h"
#include "oclnn/oclnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(oclnn_rnn_kind kind) { return kind == OCLNN_RNN_GRU ? "gru" : "lstm"; }
static const char *model_name(oclnn_rnn_kind kind) { return kind == OCLNN_RNN_GRU ? "GRUModel" : "LSTMModel"; }

static void shape_text(const oclnn_st_tensor *t, char *buf, size_t size)
{
    int len = snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && len < (int)size; i++)
        len += snprintf(buf + len, size - (size_t)len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (len < (int)size) snprintf(buf + len, size - (size_t)len, "]");
}

/* The tensor `name`, which must be f32 (after F16/BF16 conversion) with
 * exactly the given dims; dims[i] < 0 accepts any size there. */
static oclnn_status expect(oclnn_safetensors *st, const char *path, const char *name, int ndim, const int64_t *dims,
                           const char *why, const oclnn_st_tensor **out)
{
    const oclnn_st_tensor *t = oclnn_safetensors_find(st, name);
    if (!t) return oclnn_fail(OCLNN_ERR_NOT_FOUND, "%s: no tensor '%s' (%s)", path, name, why);
    char have[96];
    shape_text(t, have, sizeof have);
    if (t->stored_dtype && strcmp(t->stored_dtype, "F32") && strcmp(t->stored_dtype, "F16") &&
        strcmp(t->stored_dtype, "BF16"))
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: tensor '%s' is %s, expected F32 (or F16/BF16)", path, name,
                          t->stored_dtype);
    int fits = t->ndim == ndim;
    for (int i = 0; fits && i < ndim; i++) fits = dims[i] < 0 ? t->shape[i] > 0 : t->shape[i] == dims[i];
    if (!fits) {
        char want[96];
        int len = snprintf(want, sizeof want, "[");
        for (int i = 0; i < ndim; i++)
            len += snprintf(want + len, sizeof want - (size_t)len, dims[i] < 0 ? "%s?" : "%s%lld", i ? ", " : "",
                            (long long)dims[i]);
        snprintf(want + len, sizeof want - (size_t)len, "]");
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s (%s)", path, name, have, want,
                          why);
    }
    if (out) *out = t;
    return OCLNN_OK;
}

/* Every name the model of config c has, in state_dict order. */
static int model_names(const oclnn_rnn_model_config *c, int with_bias, char names[][64], int max)
{
    static const char *parts[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const char *p = kind_name(c->kind);
    int n = 0;
    for (int k = 0; k < c->num_layers; k++)
        for (int d = 0; d <= c->bidirectional; d++)
            for (int j = 0; j < (with_bias ? 4 : 2); j++)
                if (n < max) snprintf(names[n++], 64, "%s.%s_l%d%s", p, parts[j], k, d ? "_reverse" : "");
    if (n < max) snprintf(names[n++], 64, "fc.weight");
    if (n < max) snprintf(names[n++], 64, "fc.bias");
    return n;
}

#define MAX_LAYERS 64

oclnn_status oclnn_rnn_model_config_from_file(const char *path, oclnn_rnn_kind kind, oclnn_rnn_model_config *out)
{
    if (!path || !out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "rnn_model_config_from_file: NULL argument");
    memset(out, 0, sizeof *out);
    oclnn_safetensors *st;
    oclnn_status s = oclnn_safetensors_open(path, &st);
    if (s) return s;
    const char *p = kind_name(kind);
    int G = kind == OCLNN_RNN_GRU ? 3 : 4;
    char name[96], why[160];
    oclnn_rnn_model_config c = {.kind = kind};

    /* Layer 0 fixes H and I; a file of the other kind is the likely mistake. */
    snprintf(name, sizeof name, "%s.weight_ih_l0", p);
    const oclnn_st_tensor *ih0 = oclnn_safetensors_find(st, name), *hh0 = NULL, *fc = NULL;
    if (!ih0) {
        char other[64];
        snprintf(other, sizeof other, "%s.weight_ih_l0", kind_name(kind == OCLNN_RNN_GRU ? OCLNN_RNN_LSTM : OCLNN_RNN_GRU));
        s = oclnn_fail(OCLNN_ERR_NOT_FOUND, "%s: no tensor '%s', so not a %s state_dict%s", path, name,
                       model_name(kind),
                       oclnn_safetensors_find(st, other)
                           ? (kind == OCLNN_RNN_GRU ? " (it holds an LSTMModel: use lstm)" : " (it holds a GRUModel: use gru)")
                           : "");
        goto done;
    }
    snprintf(name, sizeof name, "%s.weight_hh_l0", p);
    snprintf(why, sizeof why, "the recurrent weights of layer 0: [%d*H, H]", G);
    if ((s = expect(st, path, name, 2, (const int64_t[]){-1, -1}, why, &hh0))) goto done;
    c.hidden_size = (int)hh0->shape[1];
    if (hh0->shape[0] != (int64_t)G * c.hidden_size) {
        char have[96];
        shape_text(hh0, have, sizeof have);
        s = oclnn_fail(OCLNN_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [%d, %d] (%d gates of H = %d, its second dimension)",
                       path, name, have, G * c.hidden_size, c.hidden_size, G, c.hidden_size);
        goto done;
    }
    snprintf(name, sizeof name, "%s.weight_ih_l0", p);
    snprintf(why, sizeof why, "[%d*H, input_size] with H = %d from %s.weight_hh_l0", G, c.hidden_size, p);
    if ((s = expect(st, path, name, 2, (const int64_t[]){(int64_t)G * c.hidden_size, -1}, why, &ih0))) goto done;
    c.input_size = (int)ih0->shape[1];
    snprintf(name, sizeof name, "%s.weight_ih_l0_reverse", p);
    c.bidirectional = oclnn_safetensors_find(st, name) != NULL;
    for (c.num_layers = 1; c.num_layers < MAX_LAYERS; c.num_layers++) {
        snprintf(name, sizeof name, "%s.weight_ih_l%d", p, c.num_layers);
        if (!oclnn_safetensors_find(st, name)) break;
    }
    snprintf(name, sizeof name, "%s.bias_ih_l0", p);
    c.has_bias = oclnn_safetensors_find(st, name) != NULL;
    int D = c.bidirectional ? 2 : 1;
    int64_t GH = (int64_t)G * c.hidden_size;
    snprintf(why, sizeof why, "fc on the last step's %d features", D * c.hidden_size);
    if ((s = expect(st, path, "fc.weight", 2, (const int64_t[]){-1, (int64_t)D * c.hidden_size}, why, &fc))) goto done;
    c.output_size = (int)fc->shape[0];

    /* Every tensor of that model, with its shape. */
    static const char *parts[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int k = 0; k < c.num_layers && !s; k++)
        for (int d = 0; d < D && !s; d++)
            for (int j = 0; j < (c.has_bias ? 4 : 2) && !s; j++) {
                snprintf(name, sizeof name, "%s.%s_l%d%s", p, parts[j], k, d ? "_reverse" : "");
                int64_t in = k == 0 ? c.input_size : (int64_t)D * c.hidden_size;
                snprintf(why, sizeof why, "layer %d%s of a %d-layer %s%s with input %d, hidden %d", k,
                         d ? " reverse" : "", c.num_layers, D == 2 ? "bidirectional " : "", model_name(kind),
                         c.input_size, c.hidden_size);
                if (j < 2) s = expect(st, path, name, 2, (const int64_t[]){GH, j == 0 ? in : c.hidden_size}, why, NULL);
                else s = expect(st, path, name, 1, (const int64_t[]){GH}, why, NULL);
            }
    if (!s) s = expect(st, path, "fc.bias", 1, (const int64_t[]){c.output_size}, "fc's bias", NULL);
    if (s) goto done;

    /* Nothing else: a tensor that fits no slot means the inferred model is
     * not the one that was saved (a gap in the layers, proj_size, ...). */
    {
        char (*names)[64] = malloc((size_t)(4 * 2 * MAX_LAYERS + 2) * sizeof *names);
        if (!names) {
            s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
            goto done;
        }
        int n = model_names(&c, c.has_bias, names, 4 * 2 * MAX_LAYERS + 2);
        for (int i = 0; i < st->count && !s; i++) {
            const char *t = st->tensors[i].name;
            int known = 0;
            for (int j = 0; j < n && !known; j++) {
                size_t len = strlen(names[j]);
                /* "<param>.<state>": a checkpoint's optimizer state */
                known = !strncmp(t, names[j], len) && (t[len] == 0 || t[len] == '.');
            }
            if (!known)
                s = oclnn_fail(OCLNN_ERR_FORMAT,
                               "%s: tensor '%s' does not belong to the %d-layer %s%s that '%s.weight_ih_l<k>' and "
                               "'fc.weight' describe (input %d, hidden %d, output %d)",
                               path, t, c.num_layers, D == 2 ? "bidirectional " : "", model_name(kind), p,
                               c.input_size, c.hidden_size, c.output_size);
        }
        free(names);
    }
    if (!s) *out = c;
done:
    oclnn_safetensors_free(st);
    return s;
}

/* An LSTMModel / GRUModel graph on x [N, T, I]. */
static oclnn_status build_model(oclnn_graph *g, const oclnn_rnn_model_config *c, oclnn_tensor *x,
                                oclnn_tensor *lengths, oclnn_rnn_model *m)
{
    oclnn_rnn_options o = {.hidden_size = c->hidden_size, .num_layers = c->num_layers,
                           .bidirectional = c->bidirectional, .batch_first = 1};
    return c->kind == OCLNN_RNN_GRU ? oclnn_gru_model(g, x, lengths, &o, c->output_size, m)
                                    : oclnn_lstm_model(g, x, lengths, &o, c->output_size, m);
}

static oclnn_status load_model_weights(oclnn_graph *g, const oclnn_rnn_model_config *c, const char *path)
{
    /* bias=False files leave the stack's biases at their initial zeros */
    return oclnn_graph_load_weights_ex(g, path, c->has_bias ? 0 : OCLNN_LOAD_ALLOW_MISSING);
}

oclnn_status oclnn_rnn_model_forward_file(oclnn_context *ctx, oclnn_rnn_kind kind, const char *weights_path,
                                          const char *input_path, const char *output_path)
{
    if (!ctx || !weights_path || !input_path || !output_path)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "rnn_model_forward_file: NULL argument");
    oclnn_rnn_model_config c;
    oclnn_status s = oclnn_rnn_model_config_from_file(weights_path, kind, &c);
    if (s) return s;
    oclnn_safetensors *in = NULL;
    if ((s = oclnn_safetensors_open(input_path, &in))) return s;
    const oclnn_st_tensor *x = NULL, *len = NULL;
    char why[128];
    snprintf(why, sizeof why, "[N, T, %d]: batch, steps, the input size of '%s'", c.input_size, weights_path);
    s = expect(in, input_path, "input", 3, (const int64_t[]){-1, -1, c.input_size}, why, &x);
    if (!s) s = oclnn_safetensors_get(in, "input", &x);
    int64_t N = x ? x->shape[0] : 0, T = x ? x->shape[1] : 0;
    int32_t *lengths = NULL;
    if (!s && (len = oclnn_safetensors_find(in, "lengths"))) {
        s = oclnn_safetensors_get(in, "lengths", &len);
        if (!s && (len->ndim != 1 || len->shape[0] != N || (len->dtype != OCLNN_DTYPE_I32 && len->dtype != OCLNN_DTYPE_I64))) {
            char have[96];
            shape_text(len, have, sizeof have);
            s = oclnn_fail(OCLNN_ERR_SHAPE, "%s: tensor 'lengths' is %s %s, expected I32 or I64 [%lld] (one per sequence of 'input')",
                           input_path, len->stored_dtype ? len->stored_dtype : "?", have, (long long)N);
        }
        if (!s && !(lengths = malloc((size_t)N * sizeof *lengths)))
            s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", input_path);
        for (int64_t i = 0; i < N && !s; i++) {
            int64_t v = len->dtype == OCLNN_DTYPE_I64 ? ((const int64_t *)len->data)[i] : ((const int32_t *)len->data)[i];
            if (v < 0 || v > T)
                s = oclnn_fail(OCLNN_ERR_SHAPE, "%s: lengths[%lld] = %lld is outside [0, %lld] (T of 'input')", input_path,
                               (long long)i, (long long)v, (long long)T);
            else lengths[i] = (int32_t)v;
        }
    }
    oclnn_graph *g = NULL;
    oclnn_rnn_model m = {0};
    oclnn_tensor *xt = NULL, *lt = NULL;
    if (!s && !(g = oclnn_graph_create(ctx))) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    if (!s) {
        xt = oclnn_input(g, "input", OCLNN_DTYPE_F32, 3, (const int64_t[]){N, T, c.input_size});
        if (lengths) lt = oclnn_input(g, "lengths", OCLNN_DTYPE_I32, 1, (const int64_t[]){N});
        s = build_model(g, &c, xt, lt, &m);
    }
    if (!s) s = oclnn_graph_output(g, m.logits);
    if (!s) s = oclnn_graph_output(g, m.rnn.h_n);
    if (!s && m.rnn.c_n) s = oclnn_graph_output(g, m.rnn.c_n);
    if (!s) s = oclnn_graph_set_training(g, 0);
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = load_model_weights(g, &c, weights_path);
    if (!s) s = oclnn_tensor_write(xt, x->data, x->nbytes);
    if (!s && lt) s = oclnn_tensor_write(lt, lengths, (size_t)N * sizeof *lengths);
    if (!s) s = oclnn_graph_run(g);

    int D = c.bidirectional ? 2 : 1;
    int64_t nout = N * c.output_size, nstate = (int64_t)c.num_layers * D * N * c.hidden_size;
    float *y = NULL, *h = NULL, *cs = NULL;
    if (!s) {
        y = malloc((size_t)(nout ? nout : 1) * sizeof *y);
        h = malloc((size_t)(nstate ? nstate : 1) * sizeof *h);
        cs = m.rnn.c_n ? malloc((size_t)(nstate ? nstate : 1) * sizeof *cs) : NULL;
        if (!y || !h || (m.rnn.c_n && !cs)) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    if (!s) s = oclnn_tensor_read(m.logits, y, (size_t)nout * sizeof *y);
    if (!s) s = oclnn_tensor_read(m.rnn.h_n, h, (size_t)nstate * sizeof *h);
    if (!s && cs) s = oclnn_tensor_read(m.rnn.c_n, cs, (size_t)nstate * sizeof *cs);
    if (!s) {
        int64_t L = (int64_t)c.num_layers * D;
        oclnn_st_tensor t[3] = {
            {.name = "output", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {N, c.output_size},
             .nbytes = (size_t)nout * sizeof *y, .data = y},
            {.name = "h_n", .dtype = OCLNN_DTYPE_F32, .ndim = 3, .shape = {L, N, c.hidden_size},
             .nbytes = (size_t)nstate * sizeof *h, .data = h},
            {.name = "c_n", .dtype = OCLNN_DTYPE_F32, .ndim = 3, .shape = {L, N, c.hidden_size},
             .nbytes = (size_t)nstate * sizeof *h, .data = cs},
        };
        s = oclnn_safetensors_save(output_path, t, cs ? 3 : 2, NULL, NULL, 0);
    }
    free(y);
    free(h);
    free(cs);
    free(lengths);
    oclnn_graph_release(g);
    oclnn_safetensors_free(in);
    return s;
}

/* ---- Sequential Fashion-MNIST */

static oclnn_tensor *build_sequential(oclnn_graph *g, oclnn_tensor *images, const void *config)
{
    const oclnn_rnn_model_config *c = config;
    /* [B, 1, 28, 28] is already row after row: 28 steps of 28 pixels */
    int64_t B = oclnn_tensor_dim(images, 0);
    oclnn_tensor *x = oclnn_reshape(g, images, 3, (const int64_t[]){B, 28, 28});
    oclnn_rnn_model m;
    if (build_model(g, c, x, NULL, &m)) return NULL;
    return m.logits;
}

static oclnn_status sequential_model(oclnn_rnn_kind kind, const oclnn_rnn_model_config *in, oclnn_rnn_model_config *c,
                                     nn_image_model *m)
{
    *c = (oclnn_rnn_model_config){.kind = kind, .input_size = 28, .hidden_size = 128, .num_layers = 2,
                                  .output_size = 10, .has_bias = 1};
    if (in) {
        if (in->hidden_size < 0 || in->num_layers < 0)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s_train: hidden size %d, %d layers", kind_name(kind),
                              in->hidden_size, in->num_layers);
        if (in->hidden_size) c->hidden_size = in->hidden_size;
        if (in->num_layers) c->num_layers = in->num_layers;
        c->bidirectional = in->bidirectional != 0;
    }
    *m = (nn_image_model){kind == OCLNN_RNN_GRU ? "gru_model" : "lstm_model", build_sequential, c};
    return OCLNN_OK;
}

oclnn_status oclnn_rnn_model_train(oclnn_context *ctx, oclnn_rnn_kind kind, const oclnn_rnn_model_config *model,
                                   const oclnn_train_options *options, oclnn_train_result *result)
{
    oclnn_rnn_model_config c;
    nn_image_model m;
    oclnn_status s = sequential_model(kind, model, &c, &m);
    return s ? s : nn_classifier_train(ctx, &m, options, result);
}

oclnn_status oclnn_rnn_model_evaluate(oclnn_context *ctx, oclnn_rnn_kind kind, const char *weights_path,
                                      const char *data_dir, int64_t test_limit, oclnn_train_result *result)
{
    if (!ctx || !weights_path || !result) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "rnn_model_evaluate: NULL argument");
    oclnn_rnn_model_config file, c;
    nn_image_model m;
    oclnn_status s = oclnn_rnn_model_config_from_file(weights_path, kind, &file);
    if (s) return s;
    if (file.input_size != 28 || file.output_size != 10)
        return oclnn_fail(OCLNN_ERR_SHAPE,
                          "%s: a %s with input %d and output %d; sequential Fashion-MNIST needs input 28 (pixels per "
                          "row) and output 10 (classes)",
                          weights_path, model_name(kind), file.input_size, file.output_size);
    if ((s = sequential_model(kind, &file, &c, &m))) return s;
    if (!file.has_bias)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: a %s without biases cannot be evaluated here", weights_path,
                          model_name(kind));
    return nn_classifier_evaluate(ctx, &m, weights_path, data_dir, test_limit, result);
}
