/* BERT encoders with pretrained weights (include/oclnn/bert.h): config.json,
 * the graph, a model that keeps its weights on the device once and a
 * compiled graph per (batch, length bucket), and sentence embeddings. */
#include "oclnn/bert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/data_dir.h"
#include "ops/gemm.h"
#include "core/error.h"
#include "graph/graph.h"
#include "nn/bert_internal.h"
#include "oclnn/oclnn.h"

/* ---- config.json ---------------------------------------------------------- */

static char *read_text_file(const char *path, oclnn_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = oclnn_fail(OCLNN_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                *st = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        *st = oclnn_fail(OCLNN_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    *st = OCLNN_OK;
    return buf;
}

/* Reads a JSON file whose top level must be an object; *root is owned by
 * the caller (cJSON_Delete). */
static oclnn_status read_json_object(const char *file, cJSON **root)
{
    oclnn_status st;
    char *text = read_text_file(file, &st);
    if (!text) return st;
    *root = cJSON_Parse(text);
    free(text);
    if (!*root || !cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return oclnn_fail(OCLNN_ERR_FORMAT, "%s: not a JSON object", file);
    }
    return OCLNN_OK;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* An integer key: *out keeps its default when the key is absent (unless
 * required). */
static oclnn_status json_int(const cJSON *root, const char *path, const char *key, int required, int64_t min,
                             int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return oclnn_fail(OCLNN_ERR_FORMAT, "%s: \"%s\" is missing", path, key);
        return OCLNN_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
        v->valuedouble > 1e9)
        return oclnn_fail(OCLNN_ERR_FORMAT, "%s: \"%s\" must be an integer >= %lld", path, key, (long long)min);
    *out = (int64_t)v->valuedouble;
    return OCLNN_OK;
}

oclnn_status oclnn_bert_config_load(const char *path, oclnn_bert_config *cfg)
{
    if (!path || !cfg) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_config_load: NULL argument");
    memset(cfg, 0, sizeof *cfg);
    char file[4096];
    if (is_dir(path)) snprintf(file, sizeof file, "%s/config.json", path);
    else snprintf(file, sizeof file, "%s", path);
    cJSON *root;
    oclnn_status st = read_json_object(file, &root);
    if (st) return st;
    /* BertConfig's defaults for what may be left out. */
    cfg->vocab_size = 30522;
    cfg->intermediate_size = -1;
    cfg->max_position_embeddings = 512;
    cfg->type_vocab_size = 2;
    cfg->layer_norm_eps = 1e-12f;
    cfg->activation = OCLNN_BERT_GELU;
    st = json_int(root, file, "hidden_size", 1, 1, &cfg->hidden_size);
    if (!st) st = json_int(root, file, "num_hidden_layers", 1, 0, &cfg->num_layers);
    if (!st) st = json_int(root, file, "num_attention_heads", 1, 1, &cfg->num_heads);
    if (!st) st = json_int(root, file, "vocab_size", 0, 1, &cfg->vocab_size);
    if (!st) st = json_int(root, file, "intermediate_size", 0, 1, &cfg->intermediate_size);
    if (!st) st = json_int(root, file, "max_position_embeddings", 0, 1, &cfg->max_position_embeddings);
    if (!st) st = json_int(root, file, "type_vocab_size", 0, 1, &cfg->type_vocab_size);
    if (!st && cfg->intermediate_size < 0) cfg->intermediate_size = 4 * cfg->hidden_size;
    if (!st) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 1)
                st = oclnn_fail(OCLNN_ERR_FORMAT, "%s: \"layer_norm_eps\" must be a number in (0, 1]", file);
            else cfg->layer_norm_eps = (float)v->valuedouble;
        }
    }
    if (!st) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
        if (v && !cJSON_IsNull(v)) {
            const char *a = cJSON_GetStringValue(v);
            if (a && !strcmp(a, "gelu")) cfg->activation = OCLNN_BERT_GELU;
            else if (a && (!strcmp(a, "gelu_new") || !strcmp(a, "gelu_pytorch_tanh") || !strcmp(a, "gelu_fast")))
                cfg->activation = OCLNN_BERT_GELU_TANH;
            else if (a && !strcmp(a, "relu")) cfg->activation = OCLNN_BERT_RELU;
            else
                st = oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                                "%s: \"hidden_act\" %s is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)",
                                file, a ? a : "(not a string)");
        }
    }
    if (!st) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
        const char *p = v ? cJSON_GetStringValue(v) : NULL;
        if (v && !cJSON_IsNull(v) && (!p || strcmp(p, "absolute") != 0))
            st = oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: \"position_embedding_type\" %s is not supported (absolute)",
                            file, p ? p : "(not a string)");
    }
    if (!st && cfg->hidden_size % cfg->num_heads)
        st = oclnn_fail(OCLNN_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", file,
                        (long long)cfg->hidden_size, (long long)cfg->num_heads);
    if (!st && cfg->hidden_size / cfg->num_heads > 256)
        st = oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: head size %lld is over 256", file,
                        (long long)(cfg->hidden_size / cfg->num_heads));
    cJSON_Delete(root);
    if (st) memset(cfg, 0, sizeof *cfg);
    return st;
}

/* 1_Pooling/config.json of sentence-transformers, when present. */
static oclnn_status load_pooling(const char *dir, oclnn_bert_config *cfg)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/1_Pooling/config.json", dir);
    FILE *f = fopen(file, "rb");
    if (!f) return OCLNN_OK; /* mean pooling */
    fclose(f);
    cJSON *root;
    oclnn_status st = read_json_object(file, &root);
    if (st) return st;
    int mean = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "pooling_mode_mean_tokens"));
    int cls = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "pooling_mode_cls_token"));
    int other = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "pooling_mode_max_tokens")) ||
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "pooling_mode_mean_sqrt_len_tokens"));
    cJSON_Delete(root);
    if (other || mean + cls != 1)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: only mean or [CLS] pooling (one of them) is supported", file);
    cfg->pooling = cls ? OCLNN_BERT_POOL_CLS : OCLNN_BERT_POOL_MEAN;
    return OCLNN_OK;
}

/* ---- The graph -------------------------------------------------------------- */

static oclnn_tensor *param(oclnn_graph *g, const char *name, int64_t d0, int64_t d1)
{
    int64_t dims[2] = {d0, d1};
    return oclnn_param(g, name, d1 ? 2 : 1, dims);
}

/* Linear layer <prefix>.weight [out, in] + <prefix>.bias. With `wt` (the
 * model's own graphs) the weight is kept transposed, [in, out], under the
 * same name: x W as an NN GEMM runs about 1.8x faster than x W^T on the
 * tiled CPU kernels. */
static oclnn_tensor *linear(oclnn_graph *g, oclnn_tensor *x, const char *prefix, int64_t out, int64_t in, int wt)
{
    char w[176], b[176]; /* prefix (up to 160) + ".weight" */
    snprintf(w, sizeof w, "%s.weight", prefix);
    snprintf(b, sizeof b, "%s.bias", prefix);
    if (!wt) return oclnn_linear(g, x, param(g, w, out, in), param(g, b, out, 0));
    if (!x) return NULL;
    int nd = oclnn_tensor_ndim(x);
    int64_t dims[OCLNN_MAX_DIMS], flat[2] = {-1, in};
    for (int d = 0; d < nd; d++) dims[d] = oclnn_tensor_dim(x, d);
    dims[nd - 1] = out;
    oclnn_tensor *y = oclnn_matmul_bias(g, nd == 2 ? x : oclnn_reshape(g, x, 2, flat), param(g, w, in, out), 0,
                                        param(g, b, out, 0));
    return nd == 2 ? y : oclnn_reshape(g, y, nd, dims);
}

static oclnn_tensor *layer_norm(oclnn_graph *g, oclnn_tensor *x, const char *prefix, int64_t c, float eps)
{
    char w[176], b[176]; /* prefix (< 160) + ".weight" */
    snprintf(w, sizeof w, "%s.weight", prefix);
    snprintf(b, sizeof b, "%s.bias", prefix);
    return oclnn_layer_norm(g, x, param(g, w, c, 0), param(g, b, c, 0), eps);
}

oclnn_status oclnn_bert_build_graph(oclnn_graph *g, const oclnn_bert_config *cfg, oclnn_tensor *ids,
                                    oclnn_tensor *type_ids, oclnn_tensor *pad, oclnn_tensor *pool_weights, int wt,
                                    oclnn_bert_outputs *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "bert: NULL graph");
    if (!cfg || !out || !ids) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "bert: NULL config, ids or result");
        return oclnn_graph_status(g);
    }
    if (oclnn_graph_status(g)) return oclnn_graph_status(g);
    if (oclnn_tensor_ndim(ids) != 2) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "bert: ids must be [N, L]");
        return oclnn_graph_status(g);
    }
    const int64_t n = oclnn_tensor_dim(ids, 0), len = oclnn_tensor_dim(ids, 1);
    const int64_t hid = cfg->hidden_size, heads = cfg->num_heads, dh = hid / heads;
    if (len > cfg->max_position_embeddings || len < 1) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "bert: sequence length %lld outside [1, max_position_embeddings %lld]",
                         (long long)len, (long long)cfg->max_position_embeddings);
        return oclnn_graph_status(g);
    }
    const float eps = cfg->layer_norm_eps;

    /* Embeddings: word + position + token type, LayerNorm. */
    oclnn_tensor *word = param(g, "embeddings.word_embeddings.weight", cfg->vocab_size, hid);
    oclnn_tensor *pos = param(g, "embeddings.position_embeddings.weight", cfg->max_position_embeddings, hid);
    oclnn_tensor *typ = param(g, "embeddings.token_type_embeddings.weight", cfg->type_vocab_size, hid);
    oclnn_tensor *x = oclnn_embedding(g, word, ids, -1);
    x = oclnn_add(g, x, oclnn_slice(g, pos, 0, 0, len));
    if (type_ids) x = oclnn_add(g, x, oclnn_embedding(g, typ, type_ids, -1));
    else x = oclnn_add(g, x, oclnn_slice(g, typ, 0, 0, 1));
    x = layer_norm(g, x, "embeddings.LayerNorm", hid, eps);

    const int64_t split_dims[4] = {n, len, heads, dh}, merged[3] = {n, len, hid};
    const int to_heads[4] = {0, 2, 1, 3};
    for (int64_t l = 0; l < cfg->num_layers; l++) {
        char p[128], q[160];
        snprintf(p, sizeof p, "encoder.layer.%lld", (long long)l);
        oclnn_tensor *qkv[3];
        static const char *const names[3] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++) {
            snprintf(q, sizeof q, "%s.attention.self.%s", p, names[k]);
            qkv[k] = oclnn_permute(g, oclnn_reshape(g, linear(g, x, q, hid, hid, wt), 4, split_dims), to_heads);
        }
        oclnn_sdpa_options o = {.key_padding_mask = pad};
        oclnn_tensor *a = oclnn_sdpa_ex(g, qkv[0], qkv[1], qkv[2], &o);          /* [N, H, L, D] */
        a = oclnn_reshape(g, oclnn_contiguous(g, oclnn_permute(g, a, to_heads)), 3, merged);
        snprintf(q, sizeof q, "%s.attention.output.dense", p);
        a = linear(g, a, q, hid, hid, wt);
        snprintf(q, sizeof q, "%s.attention.output.LayerNorm", p);
        x = layer_norm(g, oclnn_add(g, a, x), q, hid, eps);

        snprintf(q, sizeof q, "%s.intermediate.dense", p);
        oclnn_tensor *h = linear(g, x, q, cfg->intermediate_size, hid, wt);
        h = cfg->activation == OCLNN_BERT_GELU_TANH ? oclnn_gelu_tanh(g, h)
            : cfg->activation == OCLNN_BERT_RELU    ? oclnn_relu(g, h)
                                                     : oclnn_gelu(g, h);
        snprintf(q, sizeof q, "%s.output.dense", p);
        h = linear(g, h, q, hid, cfg->intermediate_size, wt);
        snprintf(q, sizeof q, "%s.output.LayerNorm", p);
        x = layer_norm(g, oclnn_add(g, h, x), q, hid, eps);
    }
    out->last_hidden = x;
    if (cfg->pooler) {
        const int64_t nh[2] = {n, hid};
        oclnn_tensor *first = oclnn_reshape(g, oclnn_contiguous(g, oclnn_slice(g, x, 1, 0, 1)), 2, nh);
        out->pooler = oclnn_tanh(g, linear(g, first, "pooler.dense", hid, hid, wt));
    }
    if (pool_weights) {
        /* sum_j w[n, j] x[n, j, :] as a batch of [1, L] x [L, hidden]
         * GEMMs: one pass over x, where a broadcast mul and a sum took two */
        const int64_t row[3] = {n, 1, len}, pooled[2] = {n, hid};
        oclnn_tensor *s = oclnn_reshape(g, oclnn_matmul(g, oclnn_reshape(g, pool_weights, 3, row), x), 2, pooled);
        out->sentence = oclnn_l2_normalize(g, s, 0.0f);
    }
    oclnn_status st = oclnn_graph_status(g);
    if (st) memset(out, 0, sizeof *out);
    return st;
}

oclnn_status oclnn_bert_build(oclnn_graph *g, const oclnn_bert_config *cfg, oclnn_tensor *ids, oclnn_tensor *type_ids,
                              oclnn_tensor *pad, oclnn_tensor *pool_weights, oclnn_bert_outputs *out)
{
    return oclnn_bert_build_graph(g, cfg, ids, type_ids, pad, pool_weights, 0, out);
}

/* ---- The model ---------------------------------------------------------------- */

#define BERT_MAX_GRAPHS 24

typedef struct bert_graph {
    int64_t n, len;
    uint64_t last_used;
    oclnn_graph *g;
    oclnn_tensor *ids, *type_ids, *pad, *pool;
    oclnn_bert_outputs out;
} bert_graph;

struct oclnn_bert {
    oclnn_context *ctx;
    oclnn_bert_config cfg;
    oclnn_tokenizer *tok;
    oclnn_graph *weights; /* the parameters alone: every bucket graph shares them */
    bert_graph graphs[BERT_MAX_GRAPHS];
    int ngraphs;
    uint64_t clock;
    /* host staging for one batch */
    int32_t *h_ids, *h_type, *h_pad;
    float *h_pool, *h_out;
    size_t h_cap, h_out_cap;
};

int64_t oclnn_bert_bucket(int64_t length)
{
    if (length <= 0) return 8;
    int64_t step = length <= 64 ? 8 : length <= 128 ? 16 : length <= 256 ? 32 : 64;
    return (length + step - 1) / step * step;
}

const oclnn_bert_config *oclnn_bert_get_config(const oclnn_bert *m) { return m ? &m->cfg : NULL; }
const oclnn_tokenizer *oclnn_bert_tokenizer(const oclnn_bert *m) { return m ? m->tok : NULL; }

void oclnn_bert_free(oclnn_bert *m)
{
    if (!m) return;
    for (int i = 0; i < m->ngraphs; i++) oclnn_graph_release(m->graphs[i].g);
    oclnn_graph_release(m->weights);
    oclnn_tokenizer_free(m->tok);
    free(m->h_ids);
    free(m->h_type);
    free(m->h_pad);
    free(m->h_pool);
    free(m->h_out);
    free(m);
}

static const char *dtype_name(oclnn_dtype d)
{
    return d == OCLNN_DTYPE_F32 ? "F32" : d == OCLNN_DTYPE_I32 ? "I32" : "I64";
}

/* Uploads every parameter of m->weights from the checkpoint. */
static oclnn_status upload_weights(oclnn_bert *m, oclnn_safetensors *st, const char *file)
{
    int count = oclnn_graph_param_count(m->weights);
    for (int i = 0; i < count; i++) {
        oclnn_tensor *p = oclnn_graph_param(m->weights, i);
        const char *name = oclnn_tensor_name(p);
        const oclnn_st_tensor *t;
        oclnn_status s = oclnn_safetensors_get_prefixed(st, name, "bert.", &t);
        if (s == OCLNN_ERR_NOT_FOUND)
            return oclnn_fail(OCLNN_ERR_NOT_FOUND, "%s: no tensor \"%s\" (nor \"bert.%s\"), which a BERT of this "
                              "config.json needs", file, name, name);
        if (s) return oclnn_fail_append(s, " (%s)", file);
        /* linear weights live transposed in the model's graphs (see linear()) */
        int tr = oclnn_tensor_ndim(p) == 2 && strncmp(name, "embeddings.", 11) != 0;
        int64_t want_dims[2] = {oclnn_tensor_dim(p, tr ? 1 : 0), oclnn_tensor_ndim(p) == 2 ? oclnn_tensor_dim(p, tr ? 0 : 1) : 0};
        int same = t->dtype == OCLNN_DTYPE_F32 && t->ndim == oclnn_tensor_ndim(p);
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == want_dims[d];
        if (!same) {
            char want[96], got[96] = "[";
            if (oclnn_tensor_ndim(p) == 2)
                snprintf(want, sizeof want, "[%lld, %lld]", (long long)want_dims[0], (long long)want_dims[1]);
            else oclnn_tensor_shape_str(p, want, sizeof want);
            for (int d = 0; d < t->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            strncat(got, "]", sizeof got - strlen(got) - 1);
            return oclnn_fail(OCLNN_ERR_FORMAT, "%s: tensor \"%s\" is %s %s, but config.json makes it F32 %s", file,
                              t->name, t->stored_dtype ? t->stored_dtype : dtype_name(t->dtype), got, want);
        }
        if (tr) {
            const int64_t rows = t->shape[0], cols = t->shape[1];
            const float *src = t->data;
            float *tmp = malloc(t->nbytes ? t->nbytes : 1);
            if (!tmp) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "bert: out of memory");
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++) tmp[c * rows + r] = src[r * cols + c];
            s = oclnn_tensor_write(p, tmp, t->nbytes);
            free(tmp);
        } else {
            s = oclnn_tensor_write(p, t->data, t->nbytes);
        }
        if (s) return s;
    }
    return OCLNN_OK;
}

oclnn_status oclnn_bert_load(oclnn_context *ctx, const char *dir, oclnn_bert **out)
{
    if (out) *out = NULL;
    if (!ctx || !dir || !out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_load: NULL argument");
    if (!is_dir(dir))
        return oclnn_fail(OCLNN_ERR_IO, "%s: not a model folder (config.json, vocab.txt, model.safetensors); "
                          "scripts/get-model.sh minilm downloads one", dir);
    oclnn_bert *m = calloc(1, sizeof *m);
    if (!m) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_bert_load: out of memory");
    m->ctx = ctx;
    char file[4096];
    oclnn_safetensors *st = NULL;
    oclnn_status s = oclnn_bert_config_load(dir, &m->cfg);
    if (!s) s = load_pooling(dir, &m->cfg);
    if (!s) {
        snprintf(file, sizeof file, "%s/vocab.txt", dir);
        s = oclnn_tokenizer_load(file, &m->tok);
    }
    if (!s && oclnn_tokenizer_vocab_size(m->tok) > m->cfg.vocab_size) {
        snprintf(file, sizeof file, "%s/vocab.txt", dir);
        s = oclnn_fail(OCLNN_ERR_FORMAT, "%s has %d tokens but config.json's vocab_size is %lld", file,
                       oclnn_tokenizer_vocab_size(m->tok), (long long)m->cfg.vocab_size);
    }
    if (!s) {
        snprintf(file, sizeof file, "%s/model.safetensors", dir);
        s = oclnn_safetensors_open(file, &st);
    }
    if (!s) {
        m->cfg.pooler = oclnn_safetensors_find_prefixed(st, "pooler.dense.weight", "bert.") != NULL;
        /* The parameters alone, in a graph of their own (built from a
         * one-token graph's parameter list). */
        oclnn_graph *g = oclnn_graph_create(ctx);
        if (!g) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_bert_load: out of memory");
        else {
            oclnn_graph *proto = oclnn_graph_create(ctx);
            if (!proto) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_bert_load: out of memory");
            else {
                oclnn_tensor *ids = oclnn_input(proto, "input_ids", OCLNN_DTYPE_I32, 2, (int64_t[]){1, 1});
                oclnn_bert_outputs o;
                s = oclnn_bert_build_graph(proto, &m->cfg, ids, ids, NULL, NULL, 1, &o);
                if (s) oclnn_fail(s, "%s/config.json: %s", dir, oclnn_graph_error(proto));
                for (int i = 0; !s && i < oclnn_graph_param_count(proto); i++) {
                    oclnn_tensor *p = oclnn_graph_param(proto, i);
                    int64_t dims[OCLNN_MAX_DIMS];
                    for (int d = 0; d < oclnn_tensor_ndim(p); d++) dims[d] = oclnn_tensor_dim(p, d);
                    if (!oclnn_param(g, oclnn_tensor_name(p), oclnn_tensor_ndim(p), dims)) s = oclnn_graph_status(g);
                }
                oclnn_graph_release(proto);
            }
            m->weights = g;
            if (!s) s = oclnn_graph_compile(g, NULL);
            if (!s) s = upload_weights(m, st, file);
        }
    }
    oclnn_safetensors_free(st);
    if (s) {
        oclnn_bert_free(m);
        return s;
    }
    *out = m;
    return OCLNN_OK;
}

static oclnn_status staging(oclnn_bert *m, size_t tokens, size_t out_floats)
{
    if (tokens > m->h_cap) {
        free(m->h_ids);
        free(m->h_type);
        free(m->h_pad);
        free(m->h_pool);
        m->h_ids = malloc(tokens * sizeof(int32_t));
        m->h_type = malloc(tokens * sizeof(int32_t));
        m->h_pad = malloc(tokens * sizeof(int32_t));
        m->h_pool = malloc(tokens * sizeof(float));
        m->h_cap = tokens;
        if (!m->h_ids || !m->h_type || !m->h_pad || !m->h_pool) {
            m->h_cap = 0;
            return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "bert: out of host memory");
        }
    }
    if (out_floats > m->h_out_cap) {
        free(m->h_out);
        m->h_out = malloc(out_floats * sizeof(float));
        m->h_out_cap = m->h_out ? out_floats : 0;
        if (!m->h_out) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "bert: out of host memory");
    }
    return OCLNN_OK;
}

/* The compiled graph for n rows of len tokens (len a bucket). */
static oclnn_status get_graph(oclnn_bert *m, int64_t n, int64_t len, bert_graph **out)
{
    m->clock++;
    for (int i = 0; i < m->ngraphs; i++)
        if (m->graphs[i].n == n && m->graphs[i].len == len) {
            m->graphs[i].last_used = m->clock;
            *out = &m->graphs[i];
            return OCLNN_OK;
        }
    bert_graph *b;
    if (m->ngraphs < BERT_MAX_GRAPHS) {
        b = &m->graphs[m->ngraphs++];
    } else { /* evict the least recently used */
        b = &m->graphs[0];
        for (int i = 1; i < m->ngraphs; i++)
            if (m->graphs[i].last_used < b->last_used) b = &m->graphs[i];
        oclnn_graph_release(b->g);
    }
    memset(b, 0, sizeof *b);
    oclnn_graph *g = oclnn_graph_create(m->ctx);
    if (!g) {
        *b = m->graphs[--m->ngraphs];
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "bert: out of memory");
    }
    const int64_t nl[2] = {n, len}, nl1[3] = {n, len, 1};
    b->ids = oclnn_input(g, "input_ids", OCLNN_DTYPE_I32, 2, nl);
    b->type_ids = oclnn_input(g, "token_type_ids", OCLNN_DTYPE_I32, 2, nl);
    b->pad = oclnn_input(g, "padding", OCLNN_DTYPE_I32, 2, nl);
    b->pool = oclnn_input(g, "pool_weights", OCLNN_DTYPE_F32, 3, nl1);
    oclnn_status s = oclnn_bert_build_graph(g, &m->cfg, b->ids, b->type_ids, b->pad, b->pool, 1, &b->out);
    if (!s) s = oclnn_graph_set_training(g, 0);
    if (!s) s = oclnn_graph_output(g, b->out.last_hidden);
    if (!s && b->out.pooler) s = oclnn_graph_output(g, b->out.pooler);
    if (!s) s = oclnn_graph_output(g, b->out.sentence);
    if (!s) s = oclnn_graph_share_params(g, m->weights);
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (s) {
        if (oclnn_graph_status(g)) oclnn_fail(s, "%s", oclnn_graph_error(g));
        oclnn_graph_release(g);
        /* drop the slot: move the last entry into it */
        int idx = (int)(b - m->graphs);
        m->graphs[idx] = m->graphs[--m->ngraphs];
        return s;
    }
    b->g = g;
    b->n = n;
    b->len = len;
    b->last_used = m->clock;
    *out = b;
    return OCLNN_OK;
}

oclnn_status oclnn_bert_forward(oclnn_bert *m, const oclnn_token_batch *batch, float *last_hidden, float *pooler,
                                float *sentence)
{
    if (!m || !batch) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_forward: NULL argument");
    const int64_t n = batch->count, len = batch->length, hid = m->cfg.hidden_size;
    if (n == 0) return OCLNN_OK;
    if (n < 0 || len < 1 || !batch->ids || !batch->lengths)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_forward: empty or malformed batch");
    if (len > m->cfg.max_position_embeddings)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "oclnn_bert_forward: %lld tokens is more than the model's max_position_embeddings (%lld)",
                          (long long)len, (long long)m->cfg.max_position_embeddings);
    if (pooler && !m->cfg.pooler)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "oclnn_bert_forward: the checkpoint has no pooler (pooler.dense.*)");
    int64_t bucket = oclnn_bert_bucket(len);
    if (bucket > m->cfg.max_position_embeddings) bucket = m->cfg.max_position_embeddings;
    const int32_t vocab = (int32_t)m->cfg.vocab_size, types = (int32_t)m->cfg.type_vocab_size;
    size_t tokens = (size_t)(n * bucket);
    oclnn_status s = staging(m, tokens, last_hidden ? tokens * (size_t)hid : (size_t)(n * hid));
    if (s) return s;
    const int32_t pad_id = oclnn_tokenizer_special(m->tok).pad;
    for (int64_t r = 0; r < n; r++) {
        int64_t real = batch->lengths[r];
        if (real < 0 || real > len) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_forward: row %lld length %lld",
                                                      (long long)r, (long long)real);
        for (int64_t j = 0; j < bucket; j++) {
            size_t o = (size_t)(r * bucket + j);
            int in = j < real;
            int32_t id = j < len ? batch->ids[r * len + j] : pad_id;
            int32_t ty = j < len && batch->type_ids ? batch->type_ids[r * len + j] : 0;
            if (id < 0 || id >= vocab || ty < 0 || ty >= types)
                return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_forward: row %lld token %lld: id %d or type %d "
                                  "out of range (vocab_size %d, type_vocab_size %d)",
                                  (long long)r, (long long)j, id, ty, vocab, types);
            m->h_ids[o] = id;
            m->h_type[o] = ty;
            m->h_pad[o] = !in;
            float w = 0.0f;
            if (m->cfg.pooling == OCLNN_BERT_POOL_CLS) w = j == 0 ? 1.0f : 0.0f;
            /* sentence-transformers divides by max(count, 1e-9) */
            else if (in) w = 1.0f / (float)real;
            m->h_pool[o] = w;
        }
    }
    bert_graph *b = NULL;
    s = get_graph(m, n, bucket, &b);
    if (!s) s = oclnn_tensor_write(b->ids, m->h_ids, tokens * sizeof(int32_t));
    if (!s) s = oclnn_tensor_write(b->type_ids, m->h_type, tokens * sizeof(int32_t));
    if (!s) s = oclnn_tensor_write(b->pad, m->h_pad, tokens * sizeof(int32_t));
    if (!s) s = oclnn_tensor_write(b->pool, m->h_pool, tokens * sizeof(float));
    if (!s) s = oclnn_graph_run(b->g);
    if (!s && sentence) s = oclnn_tensor_read(b->out.sentence, sentence, (size_t)(n * hid) * sizeof(float));
    if (!s && pooler) s = oclnn_tensor_read(b->out.pooler, pooler, (size_t)(n * hid) * sizeof(float));
    if (!s && last_hidden) {
        s = oclnn_tensor_read(b->out.last_hidden, m->h_out, tokens * (size_t)hid * sizeof(float));
        for (int64_t r = 0; !s && r < n; r++)
            memcpy(last_hidden + r * len * hid, m->h_out + r * bucket * hid, (size_t)(len * hid) * sizeof(float));
    }
    return s;
}

typedef struct {
    int64_t index, length;
} text_len;

static int by_length(const void *a, const void *b)
{
    const text_len *x = a, *y = b;
    if (x->length != y->length) return x->length < y->length ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

oclnn_status oclnn_bert_embed(oclnn_bert *m, int64_t count, const char *const *texts, int64_t max_length,
                              int64_t batch, float *out, oclnn_bert_progress_fn progress, void *user)
{
    if (!m || count < 0 || (count && (!texts || !out)))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_embed: NULL argument or negative count");
    if (max_length <= 0) max_length = OCLNN_TOKENIZER_MAX_LENGTH;
    if (max_length > m->cfg.max_position_embeddings) max_length = m->cfg.max_position_embeddings;
    if (max_length < 2) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_embed: max_length %lld < 2",
                                          (long long)max_length);
    if (batch <= 0) batch = 32;
    if (count == 0) return OCLNN_OK;
    const int64_t hid = m->cfg.hidden_size;
    text_len *order = malloc((size_t)count * sizeof *order);
    const char **chunk = malloc((size_t)(batch < count ? batch : count) * sizeof *chunk);
    float *emb = malloc((size_t)((batch < count ? batch : count) * hid) * sizeof *emb);
    oclnn_status s = OCLNN_OK;
    if (!order || !chunk || !emb) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_bert_embed: out of memory");
    /* Lengths first (tokenizing twice is cheap next to the encoder), then
     * batches of similar length. */
    for (int64_t i = 0; !s && i < count; i++) {
        int32_t *ids;
        int64_t n;
        if (!texts[i]) {
            s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_embed: text %lld is NULL", (long long)i);
            break;
        }
        s = oclnn_tokenizer_tokenize(m->tok, texts[i], strlen(texts[i]), &ids, &n);
        if (s) {
            oclnn_fail_append(s, " (text %lld)", (long long)i + 1);
            break;
        }
        free(ids);
        order[i].index = i;
        order[i].length = n + 2 < max_length ? n + 2 : max_length;
    }
    if (!s) qsort(order, (size_t)count, sizeof *order, by_length);
    for (int64_t start = 0; !s && start < count; start += batch) {
        int64_t nb = count - start < batch ? count - start : batch;
        for (int64_t i = 0; i < nb; i++) chunk[i] = texts[order[start + i].index];
        oclnn_token_batch tb;
        s = oclnn_tokenizer_encode_batch(m->tok, nb, chunk, NULL, max_length, &tb);
        if (s) break;
        s = oclnn_bert_forward(m, &tb, NULL, NULL, emb);
        oclnn_token_batch_free(&tb);
        for (int64_t i = 0; !s && i < nb; i++)
            memcpy(out + order[start + i].index * hid, emb + i * hid, (size_t)hid * sizeof(float));
        if (!s && progress) progress(user, start + nb, count);
    }
    free(order);
    free(chunk);
    free(emb);
    return s;
}

const char *oclnn_model_dir(const char *name, char *buf, size_t size)
{
    if (!name || !buf || !size) return NULL;
    char rel[1024];
    int n = snprintf(rel, sizeof rel, "models/%s", name);
    return n >= 0 && (size_t)n < sizeof rel ? oclnn_data_dir_file(rel, buf, size) : NULL;
}
