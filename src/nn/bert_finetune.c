/* Fine-tuning a BERT encoder with a classification head
 * (oclnn_bert_finetune in include/oclnn/bert.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/context.h"
#include "core/error.h"
#include "nn/bert_internal.h"
#include "oclnn/oclnn.h"
#include "train/feed.h"

typedef struct encoded {
    int64_t count, *len;
    int32_t *ids; /* [count, stride] */
    int64_t stride;
} encoded;

static void encoded_free(encoded *e)
{
    free(e->len);
    free(e->ids);
    memset(e, 0, sizeof *e);
}

static oclnn_status encode_all(const oclnn_tokenizer *tok, const oclnn_text_dataset *d, int64_t max_length,
                               const char *what, encoded *out)
{
    memset(out, 0, sizeof *out);
    out->count = d->count;
    out->stride = max_length;
    out->len = calloc((size_t)(d->count ? d->count : 1), sizeof *out->len);
    out->ids = calloc((size_t)(d->count ? d->count : 1) * (size_t)max_length, sizeof *out->ids);
    if (!out->len || !out->ids) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "finetune: out of memory");
    for (int64_t i = 0; i < d->count; i++) {
        oclnn_token_batch b;
        oclnn_status s = oclnn_tokenizer_encode(tok, d->texts[i], NULL, max_length, &b);
        if (s) return oclnn_fail_append(s, " (%s text %lld)", what, (long long)i + 1);
        out->len[i] = b.lengths[0];
        memcpy(out->ids + i * max_length, b.ids, (size_t)b.lengths[0] * sizeof(int32_t));
        oclnn_token_batch_free(&b);
    }
    return OCLNN_OK;
}

typedef struct head_graph {
    oclnn_graph *g;
    oclnn_tensor *ids, *pad, *pool, *labels, *logits, *loss;
} head_graph;

static oclnn_status build_head(oclnn_context *ctx, const oclnn_bert_config *cfg, int64_t n, int64_t len, int classes,
                               float dropout, uint64_t seed, int train, head_graph *h)
{
    memset(h, 0, sizeof *h);
    h->g = oclnn_graph_create(ctx);
    if (!h->g) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "finetune: out of memory");
    oclnn_graph *g = h->g;
    const int64_t nl[2] = {n, len}, nl1[3] = {n, len, 1};
    h->ids = oclnn_input(g, "input_ids", OCLNN_DTYPE_I32, 2, nl);
    h->pad = oclnn_input(g, "padding", OCLNN_DTYPE_I32, 2, nl);
    h->pool = oclnn_input(g, "pool_weights", OCLNN_DTYPE_F32, 3, nl1);
    h->labels = oclnn_input(g, "labels", OCLNN_DTYPE_I32, 1, &n);
    oclnn_bert_outputs o;
    oclnn_status s = oclnn_bert_build_graph(g, cfg, h->ids, NULL, h->pad, NULL, 0, &o);
    if (s) return oclnn_fail(s, "finetune: %s", oclnn_graph_error(g));
    oclnn_tensor *pooled = oclnn_sum(g, oclnn_mul(g, o.last_hidden, h->pool), 1, 0);
    if (train && dropout > 0) pooled = oclnn_dropout_seeded(g, pooled, dropout, seed);
    oclnn_tensor *w = oclnn_param(g, "classifier.weight", 2, (const int64_t[]){classes, cfg->hidden_size});
    oclnn_tensor *b = oclnn_param(g, "classifier.bias", 1, (const int64_t[]){classes});
    h->logits = oclnn_linear(g, pooled, w, b);
    if (train) {
        h->loss = oclnn_cross_entropy_loss(g, h->logits, h->labels, OCLNN_REDUCTION_MEAN, 0.0f);
        s = oclnn_graph_output(g, h->loss);
        if (!s) s = oclnn_graph_backward(g, h->loss);
    } else {
        s = oclnn_graph_output(g, h->logits);
        if (!s) s = oclnn_graph_set_training(g, 0);
    }
    if (!s && oclnn_graph_status(g)) s = oclnn_fail(oclnn_graph_status(g), "finetune: %s", oclnn_graph_error(g));
    return s;
}

/* Fills host rows idx[0..n) of e (rows past `real` are padding rows: all
 * keys masked, no pooling, label 0). */
static void fill_rows(const encoded *e, const int32_t *labels, const int64_t *idx, int64_t n, int64_t real,
                      int64_t len, int32_t *ids, int32_t *pad, float *pool, int32_t *lab)
{
    for (int64_t r = 0; r < n; r++) {
        int64_t k = r < real ? idx[r] : -1, l = k >= 0 ? e->len[k] : 0;
        for (int64_t j = 0; j < len; j++) {
            ids[r * len + j] = k >= 0 && j < l ? e->ids[k * e->stride + j] : 0;
            pad[r * len + j] = !(j < l);
            pool[r * len + j] = j < l ? 1.0f / (float)l : 0.0f;
        }
        lab[r] = k >= 0 ? labels[k] : 0;
    }
}

/* The same, written to the inputs (waiting: evaluation reads right after). */
static oclnn_status fill(head_graph *h, const encoded *e, const int32_t *labels, const int64_t *idx, int64_t n,
                         int64_t real, int64_t len, int32_t *ids, int32_t *pad, float *pool, int32_t *lab)
{
    fill_rows(e, labels, idx, n, real, len, ids, pad, pool, lab);
    oclnn_status s = oclnn_tensor_write(h->ids, ids, (size_t)(n * len) * sizeof(int32_t));
    if (!s) s = oclnn_tensor_write(h->pad, pad, (size_t)(n * len) * sizeof(int32_t));
    if (!s) s = oclnn_tensor_write(h->pool, pool, (size_t)(n * len) * sizeof(float));
    if (!s) s = oclnn_tensor_write(h->labels, lab, (size_t)n * sizeof(int32_t));
    return s;
}

/* Waits for the loss reads queued so far (in order: the last one covers
 * all) and sums the first n. */
static oclnn_status loss_total(cl_event *last, const float *losses, int64_t n, double *sum)
{
    oclnn_status s = OCLNN_OK;
    if (*last) {
        s = oclnn_cl_check(clWaitForEvents(1, last), "clWaitForEvents", "finetune loss");
        clReleaseEvent(*last);
        *last = NULL;
    }
    *sum = 0;
    for (int64_t i = 0; i < n; i++) *sum += losses[i];
    return s;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static oclnn_status copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb");
    if (!a) return oclnn_fail(OCLNN_ERR_IO, "%s: %s", from, strerror(errno));
    FILE *b = fopen(to, "wb");
    if (!b) {
        fclose(a);
        return oclnn_fail(OCLNN_ERR_IO, "%s: %s", to, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n) bad = 1;
    bad |= ferror(a);
    fclose(a);
    if (fclose(b)) bad = 1;
    return bad ? oclnn_fail(OCLNN_ERR_IO, "copying %s to %s failed", from, to) : OCLNN_OK;
}

/* The model folder: config files copied, the trained parameters (BertModel
 * names, [out, in] weights) + the checkpoint's pooler. */
static oclnn_status save_model(oclnn_graph *g, oclnn_safetensors *st, const char *model_dir, const char *dir)
{
    if (mkdir(dir, 0755) && errno != EEXIST) return oclnn_fail(OCLNN_ERR_IO, "%s: %s", dir, strerror(errno));
    char from[4096], to[4096];
    static const char *const files[] = {"config.json", "vocab.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/%s", model_dir, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        oclnn_status s = copy_file(from, to);
        if (s) return s;
    }
    snprintf(from, sizeof from, "%s/1_Pooling/config.json", model_dir);
    FILE *f = fopen(from, "rb");
    if (f) {
        fclose(f);
        snprintf(to, sizeof to, "%s/1_Pooling", dir);
        mkdir(to, 0755);
        snprintf(to, sizeof to, "%s/1_Pooling/config.json", dir);
        oclnn_status s = copy_file(from, to);
        if (s) return s;
    }
    int np = oclnn_graph_param_count(g);
    oclnn_st_tensor *ts = calloc((size_t)np + 2, sizeof *ts);
    if (!ts) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "finetune: out of memory");
    oclnn_status s = OCLNN_OK;
    int k = 0;
    for (int i = 0; !s && i < np; i++) {
        oclnn_tensor *p = oclnn_graph_param(g, i);
        oclnn_st_tensor *t = &ts[k++];
        t->name = (char *)oclnn_tensor_name(p);
        t->dtype = OCLNN_DTYPE_F32;
        t->ndim = oclnn_tensor_ndim(p);
        for (int d = 0; d < t->ndim; d++) t->shape[d] = oclnn_tensor_dim(p, d);
        t->nbytes = (size_t)oclnn_tensor_numel(p) * sizeof(float);
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        if (!t->data) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "finetune: out of memory");
        else s = oclnn_tensor_read(p, t->data, t->nbytes);
    }
    static const char *const pooler[] = {"pooler.dense.weight", "pooler.dense.bias"};
    char names[2][32];
    for (int i = 0; !s && i < 2; i++) {
        const oclnn_st_tensor *src;
        if (oclnn_safetensors_get_prefixed(st, pooler[i], "bert.", &src)) continue;
        ts[k] = *src;
        snprintf(names[i], sizeof names[i], "%s", pooler[i]);
        ts[k].name = names[i];
        ts[k].data = malloc(src->nbytes ? src->nbytes : 1);
        if (!ts[k].data) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "finetune: out of memory");
        else memcpy(ts[k].data, src->data, src->nbytes);
        k++;
    }
    snprintf(to, sizeof to, "%s/model.safetensors", dir);
    const char *keys[] = {"format", "oclnn"}, *vals[] = {"pt", "oclnn finetune bert"};
    if (!s) s = oclnn_safetensors_save(to, ts, k, keys, vals, 2);
    for (int i = 0; i < k; i++) free(ts[i].data);
    free(ts);
    return s;
}

oclnn_status oclnn_bert_finetune(oclnn_context *ctx, const char *model_dir, int classes,
                                 const oclnn_text_dataset *train, const oclnn_text_dataset *test,
                                 const oclnn_bert_finetune_options *options, const char *save_dir, double *accuracy)
{
    if (accuracy) *accuracy = 0;
    if (!ctx || !model_dir || !train || !test || classes < 2)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_bert_finetune: NULL argument or fewer than 2 classes");
    oclnn_bert_finetune_options o = {0};
    if (options) o = *options;
    if (o.epochs <= 0) o.epochs = 3;
    if (o.batch <= 0) o.batch = 32;
    if (o.lr <= 0) o.lr = 5e-5;
    o.weight_decay = o.weight_decay < 0 ? 0 : o.weight_decay == 0 ? 0.01 : o.weight_decay;
    o.warmup = o.warmup < 0 ? 0 : o.warmup == 0 ? 0.1 : o.warmup;
    o.dropout = o.dropout < 0 ? 0 : o.dropout == 0 ? 0.1 : o.dropout;
    if (o.max_length <= 0) o.max_length = 128;
    if (train->count < o.batch)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "finetune: %lld training texts is less than one batch of %lld",
                          (long long)train->count, (long long)o.batch);
    for (int pass = 0; pass < 2; pass++) {
        const oclnn_text_dataset *d = pass ? test : train;
        for (int64_t i = 0; i < d->count; i++)
            if (!d->texts[i] || d->labels[i] < 0 || d->labels[i] >= classes)
                return oclnn_fail(OCLNN_ERR_INVALID_ARG, "finetune: %s row %lld: label %d not in [0, %d)",
                                  pass ? "test" : "train", (long long)i + 1, d->labels[i], classes);
    }

    oclnn_bert_config cfg;
    oclnn_tokenizer *tok = NULL;
    oclnn_safetensors *st = NULL;
    encoded etrain = {0}, etest = {0};
    head_graph tg = {0}, eg = {0};
    oclnn_optimizer *opt = NULL;
    int64_t *order = NULL;
    int32_t *ids = NULL, *pad = NULL, *lab = NULL;
    float *pool = NULL, *logits = NULL, *losses = NULL;
    train_feed feed = {0};
    cl_event last = NULL; /* the latest loss read */
    char file[4096];
    oclnn_status s = oclnn_bert_config_load(model_dir, &cfg);
    if (!s) {
        snprintf(file, sizeof file, "%s/vocab.txt", model_dir);
        s = oclnn_tokenizer_load(file, &tok);
    }
    if (!s && o.max_length > cfg.max_position_embeddings) o.max_length = cfg.max_position_embeddings;
    if (!s) s = encode_all(tok, train, o.max_length, "train", &etrain);
    if (!s) s = encode_all(tok, test, o.max_length, "test", &etest);
    int64_t len = 2;
    for (int64_t i = 0; !s && i < etrain.count; i++) len = etrain.len[i] > len ? etrain.len[i] : len;
    for (int64_t i = 0; !s && i < etest.count; i++) len = etest.len[i] > len ? etest.len[i] : len;
    len = oclnn_bert_bucket(len);
    if (len > cfg.max_position_embeddings) len = cfg.max_position_embeddings;
    cfg.pooler = 0; /* not on the classifier's path: copied unchanged when saving */
    const int64_t B = o.batch;
    if (!s) s = build_head(ctx, &cfg, B, len, classes, (float)o.dropout, o.seed, 1, &tg);
    if (!s) s = oclnn_graph_compile(tg.g, NULL);
    if (!s) s = build_head(ctx, &cfg, B, len, classes, 0, 0, 0, &eg);
    if (!s) s = oclnn_graph_share_params(eg.g, tg.g);
    if (!s) s = oclnn_graph_compile(eg.g, NULL);
    if (!s) {
        snprintf(file, sizeof file, "%s/model.safetensors", model_dir);
        s = oclnn_safetensors_open(file, &st);
    }
    for (int i = 0; !s && i < oclnn_graph_param_count(tg.g); i++) {
        oclnn_tensor *p = oclnn_graph_param(tg.g, i);
        const char *name = oclnn_tensor_name(p);
        if (!strncmp(name, "classifier.", 11)) {
            s = strstr(name, "weight") ? oclnn_init_normal(p, 0.0f, 0.02f, o.seed, 0) : oclnn_tensor_fill(p, 0.0f);
            continue;
        }
        const oclnn_st_tensor *t;
        s = oclnn_safetensors_get_prefixed(st, name, "bert.", &t);
        if (s) {
            oclnn_fail_append(s, " (%s)", file);
            break;
        }
        int same = t->dtype == OCLNN_DTYPE_F32 && t->ndim == oclnn_tensor_ndim(p);
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == oclnn_tensor_dim(p, d);
        if (!same) {
            char want[96];
            s = oclnn_fail(OCLNN_ERR_FORMAT, "%s: tensor \"%s\" does not have config.json's shape %s", file, t->name,
                           oclnn_tensor_shape_str(p, want, sizeof want));
            break;
        }
        s = oclnn_tensor_write(p, t->data, t->nbytes);
    }
    if (!s) {
        opt = oclnn_optimizer_adam(tg.g, (float)o.lr, 0.9f, 0.999f, 1e-8f, (float)o.weight_decay, 1);
        if (!opt) s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "finetune: %s", oclnn_last_error());
    }
    order = malloc((size_t)(train->count > test->count ? train->count : test->count) * sizeof *order);
    ids = malloc((size_t)(B * len) * sizeof *ids);
    pad = malloc((size_t)(B * len) * sizeof *pad);
    pool = malloc((size_t)(B * len) * sizeof *pool);
    lab = malloc((size_t)B * sizeof *lab);
    logits = malloc((size_t)(B * classes) * sizeof *logits);
    losses = malloc((size_t)(train->count / B + 1) * sizeof *losses);
    if (!s && (!order || !ids || !pad || !pool || !lab || !logits || !losses))
        s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "finetune: out of memory");
    if (!s) s = feed_init(&feed, 4, (oclnn_tensor *const[]){tg.ids, tg.pad, tg.pool, tg.labels});
    const int64_t per_epoch = train->count / B, steps = per_epoch * o.epochs;
    const int64_t warm = (int64_t)(o.warmup * (double)steps);
    uint64_t rng = o.seed ^ 0x5eed;
    int64_t step = 0;
    for (int epoch = 1; !s && epoch <= o.epochs; epoch++) {
        double t0 = oclnn_wall_seconds(), loss_sum = 0;
        for (int64_t i = 0; i < train->count; i++) order[i] = i;
        for (int64_t i = train->count - 1; i > 0; i--) {
            int64_t j = (int64_t)(splitmix(&rng) % (uint64_t)(i + 1)), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        /* No wait inside a step: inputs go through double-buffered staging
         * (train/feed.h) and each step's loss is read without blocking into
         * losses[b], summed when a report needs it. */
        for (int64_t b = 0; !s && b < per_epoch; b++, step++) {
            double lr = step < warm ? o.lr * (double)(step + 1) / (double)warm
                                    : o.lr * (double)(steps - step) / (double)(steps - warm > 0 ? steps - warm : 1);
            s = feed_wait(&feed);
            if (!s) {
                fill_rows(&etrain, train->labels, order + b * B, B, B, len, feed_host(&feed, 0), feed_host(&feed, 1),
                          feed_host(&feed, 2), feed_host(&feed, 3));
                s = feed_submit(&feed);
            }
            if (!s) s = oclnn_optimizer_set_lr(opt, (float)lr);
            if (!s) s = oclnn_graph_zero_grad(tg.g);
            if (!s) s = oclnn_graph_run(tg.g);
            if (!s) s = oclnn_optimizer_step(opt);
            cl_event e = NULL;
            if (!s) s = oclnn_tensor_read_async(tg.loss, &losses[b], sizeof losses[b], &e);
            if (e) {
                if (last) clReleaseEvent(last);
                last = e;
                clFlush(ctx->queue);
            }
            if (!s && o.on_step && o.report_every > 0 && (b + 1) % o.report_every == 0) {
                s = loss_total(&last, losses, b + 1, &loss_sum);
                if (!s) o.on_step(o.user, epoch, b + 1, per_epoch, loss_sum / (double)(b + 1), lr);
            }
        }
        if (!s) s = loss_total(&last, losses, per_epoch, &loss_sum);
        int64_t correct = 0;
        for (int64_t i = 0; i < test->count; i++) order[i] = i;
        for (int64_t b = 0; !s && b < test->count; b += B) {
            int64_t real = test->count - b < B ? test->count - b : B;
            s = fill(&eg, &etest, test->labels, order + b, B, real, len, ids, pad, pool, lab);
            if (!s) s = oclnn_graph_run(eg.g);
            if (!s) s = oclnn_tensor_read(eg.logits, logits, (size_t)(B * classes) * sizeof(float));
            for (int64_t r = 0; !s && r < real; r++) {
                int best = 0;
                for (int c = 1; c < classes; c++)
                    if (logits[r * classes + c] > logits[r * classes + best]) best = c;
                correct += best == test->labels[b + r];
            }
        }
        double acc = test->count ? (double)correct / (double)test->count : 0;
        if (accuracy) *accuracy = acc;
        if (!s && o.on_epoch)
            o.on_epoch(o.user, epoch, per_epoch ? loss_sum / (double)per_epoch : 0, acc, oclnn_wall_seconds() - t0);
    }
    if (!s && save_dir) s = save_model(tg.g, st, model_dir, save_dir);
    double unused;
    loss_total(&last, losses, 0, &unused);
    feed_release(&feed);
    free(losses);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(eg.g);
    oclnn_graph_release(tg.g);
    oclnn_safetensors_free(st);
    oclnn_tokenizer_free(tok);
    encoded_free(&etrain);
    encoded_free(&etest);
    free(order);
    free(ids);
    free(pad);
    free(pool);
    free(lab);
    free(logits);
    return s;
}
