/* oclnn embed / similarity / search: sentence embeddings of a BERT model
 * (include/oclnn/bert.h), by default all-MiniLM-L6-v2 where
 * scripts/get-model.sh minilm puts it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* ---- shared ---------------------------------------------------------------- */

typedef struct lines {
    char **text;
    long long *lineno; /* 1-based line of each kept text */
    int64_t count;
    char *data;        /* the whole file */
    size_t size;
} lines;

static void lines_free(lines *l)
{
    free(l->text);
    free(l->lineno);
    free(l->data);
    memset(l, 0, sizeof *l);
}

/* Reads a text file; every line is a text (blank lines too, unless
 * skip_blank). Returns 0, or prints the error and returns CLI_EXIT_FAIL. */
static int read_lines(const char *path, int skip_blank, lines *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    size_t cap = 1 << 16;
    out->data = malloc(cap);
    size_t n;
    while (out->data && (n = fread(out->data + out->size, 1, cap - out->size - 1, f)) > 0) {
        out->size += n;
        if (cap - out->size < 4096) {
            char *nd = realloc(out->data, cap * 2);
            if (!nd) {
                free(out->data);
                out->data = NULL;
                break;
            }
            out->data = nd;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!out->data || err) {
        cli_error("%s: %s", path, err ? "read error" : "out of memory");
        lines_free(out);
        return CLI_EXIT_FAIL;
    }
    out->data[out->size] = '\0';
    int64_t maxlines = 1;
    for (size_t i = 0; i < out->size; i++) maxlines += out->data[i] == '\n';
    out->text = malloc((size_t)maxlines * sizeof *out->text);
    out->lineno = malloc((size_t)maxlines * sizeof *out->lineno);
    if (!out->text || !out->lineno) {
        cli_error("%s: out of memory", path);
        lines_free(out);
        return CLI_EXIT_FAIL;
    }
    char *p = out->data, *end = out->data + out->size;
    long long no = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        no++;
        *e = '\0';
        if (e > p && e[-1] == '\r') e[-1] = '\0';
        int blank = 1;
        for (const char *c = p; *c; c++)
            if (*c != ' ' && *c != '\t') blank = 0;
        if (!(skip_blank && blank)) {
            out->text[out->count] = p;
            out->lineno[out->count++] = no;
        }
        p = e + 1;
    }
    return 0;
}

typedef struct bert_cli {
    oclnn_context *ctx;
    oclnn_bert *model;
    char dir[4096];
} bert_cli;

static int open_model(const char *command, const char *device, const char *model, bert_cli *b)
{
    memset(b, 0, sizeof *b);
    if (model) snprintf(b->dir, sizeof b->dir, "%s", model);
    else if (!oclnn_model_dir(OCLNN_MINILM_NAME, b->dir, sizeof b->dir))
        return cli_usage_error(command, "no --model DIR given and the default model path is too long");
    struct stat sb;
    if (stat(b->dir, &sb) != 0) {
        cli_error("%s: no model in %s - run scripts/get-model.sh minilm, or give --model DIR", command, b->dir);
        return CLI_EXIT_FAIL;
    }
    if (cli_open_context(device, &b->ctx)) return CLI_EXIT_FAIL;
    if (oclnn_bert_load(b->ctx, b->dir, &b->model)) {
        int rc = cli_fail("cannot load the model");
        oclnn_context_release(b->ctx);
        b->ctx = NULL;
        return rc;
    }
    return 0;
}

static void close_model(bert_cli *b)
{
    oclnn_bert_free(b->model);
    oclnn_context_release(b->ctx);
}

static void show_progress(void *user, int64_t done, int64_t total)
{
    cli_progress *p = user;
    cli_progress_update(p, "embedded %lld / %lld texts", (long long)done, (long long)total);
}

/* Embeds texts with a progress line on a terminal (for long inputs). */
static int embed_texts(bert_cli *b, int64_t n, char *const *texts, long long max_length, long long batch, float *out,
                       int progress)
{
    cli_progress p;
    cli_progress_init(&p, stderr);
    int show = progress && p.tty;
    oclnn_status s = oclnn_bert_embed(b->model, n, (const char *const *)texts, max_length, batch, out,
                                      show ? show_progress : NULL, &p);
    if (show) cli_progress_done(&p);
    if (s) return cli_fail("embedding failed");
    return 0;
}

#define MODEL_OPTION(var)                                                                                  \
    {"model", CLI_STRING, &(var), "DIR",                                                                  \
     "BERT model folder (config.json, vocab.txt, model.safetensors); default: all-MiniLM-L6-v2 as "     \
     "scripts/get-model.sh minilm installs it", 0, 0}
#define DEVICE_OPTION(var) {"device", CLI_STRING, &(var), "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0}
#define MAXLEN_OPTION(var)                                                                                 \
    {"max-length", CLI_INT, &(var), "L", "tokens per text, [CLS] and [SEP] included; longer texts are cut " \
     "(default 256)", 2, 1 << 20}
#define BATCH_OPTION(var) {"batch", CLI_INT, &(var), "B", "texts per run of the encoder (default 32)", 1, 1 << 16}

/* ---- oclnn embed -------------------------------------------------------- */

int cmd_embed(int argc, char **argv)
{
    const char *model = NULL, *device = NULL, *input = NULL, *output = NULL;
    long long batch = 32, max_length = OCLNN_TOKENIZER_MAX_LENGTH;
    const cli_option options[] = {
        MODEL_OPTION(model),
        BATCH_OPTION(batch),
        MAXLEN_OPTION(max_length),
        {"input", CLI_STRING, &input, "FILE", "embed every line of FILE (blank lines too) instead of TEXT...", 0, 0},
        {"output", CLI_STRING, &output, "F.safetensors",
         "write the tensor 'embeddings' [N, hidden] f32 there instead of printing", 0, 0},
        DEVICE_OPTION(device),
        {0},
    };
    const cli_spec spec = {
        "embed", "(TEXT... | --input FILE)",
        "Sentence embeddings: the mean of the model's last hidden states over the\n"
        "real tokens, L2-normalised (sentence-transformers' all-MiniLM-L6-v2\n"
        "embedding). Prints one line of numbers per text, or writes --output.",
        options, 0, argc};
    char **texts = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *texts);
    if (!texts) return CLI_EXIT_FAIL;
    int ntexts = 0;
    lines file = {0};
    bert_cli b = {0};
    float *emb = NULL;
    int rc = cli_parse(&spec, argc, argv, texts, &ntexts);
    if (rc >= 0) goto out;
    if (!input == !ntexts) {
        rc = cli_usage_error("embed", input ? "give TEXT... or --input FILE, not both" : "give TEXT... or --input FILE");
        goto out;
    }
    if (input && (rc = read_lines(input, 0, &file))) goto out;
    if ((rc = open_model("embed", device, model, &b))) goto out;
    int64_t n = input ? file.count : ntexts;
    char *const *t = input ? file.text : texts;
    const int64_t hid = oclnn_bert_get_config(b.model)->hidden_size;
    emb = malloc((size_t)((n ? n : 1) * hid) * sizeof *emb);
    if (!emb) {
        cli_error("embed: out of memory");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if ((rc = embed_texts(&b, n, t, max_length, batch, emb, input != NULL))) goto out;
    if (output) {
        oclnn_st_tensor st = {.name = "embeddings", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {n, hid},
                              .nbytes = (size_t)(n * hid) * sizeof(float), .data = emb};
        const char *keys[] = {"model"}, *values[] = {b.dir};
        if (oclnn_safetensors_save(output, &st, 1, keys, values, 1)) {
            rc = cli_fail("cannot write the embeddings");
            goto out;
        }
        fprintf(stderr, "embed: %lld x %lld embeddings written to %s\n", (long long)n, (long long)hid, output);
    } else {
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < hid; j++) printf(j ? " %.8g" : "%.8g", emb[i * hid + j]);
            putchar('\n');
        }
    }
    rc = fflush(stdout) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
    if (b.model) close_model(&b);
    free(emb);
    lines_free(&file);
    free(texts);
    return rc;
}

/* ---- oclnn similarity ----------------------------------------------------- */

int cmd_similarity(int argc, char **argv)
{
    const char *model = NULL, *device = NULL;
    long long max_length = OCLNN_TOKENIZER_MAX_LENGTH;
    const cli_option options[] = {MODEL_OPTION(model), MAXLEN_OPTION(max_length), DEVICE_OPTION(device), {0}};
    const cli_spec spec = {"similarity", "\"TEXT A\" \"TEXT B\"",
                           "Prints the cosine similarity of the two texts' sentence embeddings.", options, 2, 2};
    char *texts[2];
    int ntexts = 0;
    int rc = cli_parse(&spec, argc, argv, texts, &ntexts);
    if (rc >= 0) return rc;
    bert_cli b;
    if ((rc = open_model("similarity", device, model, &b))) return rc;
    const int64_t hid = oclnn_bert_get_config(b.model)->hidden_size;
    float *e = malloc((size_t)(2 * hid) * sizeof *e);
    if (!e) rc = CLI_EXIT_FAIL;
    else if (!(rc = embed_texts(&b, 2, texts, max_length, 2, e, 0))) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t i = 0; i < hid; i++) {
            dot += (double)e[i] * e[hid + i];
            na += (double)e[i] * e[i];
            nb += (double)e[hid + i] * e[hid + i];
        }
        double den = sqrt(na) * sqrt(nb);
        printf("%.7f\n", den > 0 ? dot / den : 0.0);
    }
    free(e);
    close_model(&b);
    return rc;
}

/* ---- oclnn search --------------------------------------------------------- */

static uint64_t fnv1a(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static const char *meta(const oclnn_safetensors *st, const char *key)
{
    for (int i = 0; i < st->meta_count; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_values[i];
    return NULL;
}

/* The corpus matrix from the cache file when it was made from these bytes
 * by this model with these settings; NULL otherwise. */
static float *load_cache(const char *path, const char *key, int64_t n, int64_t hid)
{
    oclnn_safetensors *st;
    if (access(path, R_OK) != 0 || oclnn_safetensors_load(path, &st)) return NULL;
    float *out = NULL;
    const oclnn_st_tensor *t = oclnn_safetensors_find(st, "embeddings");
    const char *k = meta(st, "key");
    if (t && k && !strcmp(k, key) && t->dtype == OCLNN_DTYPE_F32 && t->ndim == 2 && t->shape[0] == n &&
        t->shape[1] == hid && (out = malloc(t->nbytes ? t->nbytes : 1)))
        memcpy(out, t->data, t->nbytes);
    oclnn_safetensors_free(st);
    return out;
}

int cmd_search(int argc, char **argv)
{
    const char *model = NULL, *device = NULL, *corpus = NULL;
    long long k = 5, batch = 32, max_length = OCLNN_TOKENIZER_MAX_LENGTH;
    int no_cache = 0;
    const cli_option options[] = {
        MODEL_OPTION(model),
        {"corpus", CLI_STRING, &corpus, "FILE", "the texts to search, one per line (blank lines are skipped)", 0, 0},
        {"k", CLI_INT, &k, "K", "matches per query (default 5)", 1, OCLNN_TOPK_MAX},
        BATCH_OPTION(batch),
        MAXLEN_OPTION(max_length),
        {"no-cache", CLI_FLAG, &no_cache, NULL, "neither read nor write FILE.oclnn-embeddings.safetensors", 0, 0},
        DEVICE_OPTION(device),
        {0},
    };
    const cli_spec spec = {
        "search", "QUERY...",
        "Semantic search: ranks the corpus lines by the cosine similarity of their\n"
        "sentence embeddings to each QUERY's (on the device: one GEMM and a top-k\n"
        "selection) and prints rank, score and line. The corpus is embedded once and\n"
        "cached beside it as FILE.oclnn-embeddings.safetensors; the cache is\n"
        "rebuilt when the corpus, the model or --max-length change.",
        options, 1, argc};
    char **queries = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *queries);
    if (!queries) return CLI_EXIT_FAIL;
    int nq = 0;
    lines file = {0};
    bert_cli b = {0};
    float *table = NULL, *qe = NULL, *values = NULL;
    int32_t *idx = NULL;
    char *cache = NULL;
    int rc = cli_parse(&spec, argc, argv, queries, &nq);
    if (rc >= 0) goto out;
    if (!corpus) {
        rc = cli_usage_error("search", "--corpus FILE is required");
        goto out;
    }
    if ((rc = read_lines(corpus, 1, &file))) goto out;
    if (file.count == 0) {
        cli_error("search: %s has no text lines", corpus);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if ((rc = open_model("search", device, model, &b))) goto out;
    const int64_t n = file.count, hid = oclnn_bert_get_config(b.model)->hidden_size;
    /* The cache key: corpus bytes, model folder and weights file, max length. */
    char key[256], weights[4200];
    snprintf(weights, sizeof weights, "%s/model.safetensors", b.dir);
    struct stat ws = {0};
    stat(weights, &ws);
    uint64_t h = fnv1a(file.data, file.size, 0xcbf29ce484222325ULL);
    uint64_t hm = fnv1a(b.dir, strlen(b.dir), 0xcbf29ce484222325ULL);
    snprintf(key, sizeof key, "corpus-fnv1a64=%016llx bytes=%zu model-dir-fnv1a64=%016llx model-size=%lld "
             "model-mtime=%lld hidden=%lld max-length=%lld", (unsigned long long)h, file.size,
             (unsigned long long)hm, (long long)ws.st_size, (long long)ws.st_mtime, (long long)hid, max_length);
    size_t clen = strlen(corpus) + 32;
    cache = malloc(clen);
    if (!cache) {
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    snprintf(cache, clen, "%s.oclnn-embeddings.safetensors", corpus);
    table = no_cache ? NULL : load_cache(cache, key, n, hid);
    if (table) {
        fprintf(stderr, "search: %lld corpus embeddings from %s\n", (long long)n, cache);
    } else {
        table = malloc((size_t)(n * hid) * sizeof *table);
        if (!table) {
            cli_error("search: out of memory");
            rc = CLI_EXIT_FAIL;
            goto out;
        }
        if ((rc = embed_texts(&b, n, file.text, max_length, batch, table, 1))) goto out;
        if (!no_cache) {
            oclnn_st_tensor st = {.name = "embeddings", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {n, hid},
                                  .nbytes = (size_t)(n * hid) * sizeof(float), .data = table};
            const char *keys[] = {"key", "model"}, *vals[] = {key, b.dir};
            if (oclnn_safetensors_save(cache, &st, 1, keys, vals, 2))
                cli_error("search: cannot cache the corpus embeddings (going on): %s", oclnn_last_error());
            else fprintf(stderr, "search: %lld corpus embeddings cached in %s\n", (long long)n, cache);
        }
    }
    if (k > n) k = n;
    qe = malloc((size_t)(nq * hid) * sizeof *qe);
    values = malloc((size_t)(nq * k) * sizeof *values);
    idx = malloc((size_t)(nq * k) * sizeof *idx);
    if (!qe || !values || !idx) {
        cli_error("search: out of memory");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if ((rc = embed_texts(&b, nq, queries, max_length, batch, qe, 0))) goto out;
    if (oclnn_knn_search(b.ctx, qe, nq, table, n, hid, k, OCLNN_METRIC_COSINE, 0, values, idx)) {
        rc = cli_fail("search failed");
        goto out;
    }
    for (int q = 0; q < nq; q++) {
        if (nq > 1) printf("%s# %s\n", q ? "\n" : "", queries[q]);
        for (int64_t r = 0; r < k; r++) {
            int32_t i = idx[q * k + r];
            printf("%lld\t%.4f\t%s\n", (long long)r + 1, values[q * k + r], file.text[i]);
        }
    }
    rc = fflush(stdout) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
    if (b.model) close_model(&b);
    free(table);
    free(qe);
    free(values);
    free(idx);
    free(cache);
    lines_free(&file);
    free(queries);
    return rc;
}

/* ---- oclnn finetune bert ------------------------------------------------------ */

typedef struct tsv {
    lines l;
    const char **texts;
    int32_t *labels;
} tsv;

static void tsv_free(tsv *t)
{
    lines_free(&t->l);
    free(t->texts);
    free(t->labels);
}

/* label<TAB>text per line (blank lines skipped); labels are 0, 1, 2, ... */
static int read_tsv(const char *path, tsv *t, int *classes)
{
    memset(t, 0, sizeof *t);
    int rc = read_lines(path, 1, &t->l);
    if (rc) return rc;
    t->texts = malloc((size_t)(t->l.count ? t->l.count : 1) * sizeof *t->texts);
    t->labels = malloc((size_t)(t->l.count ? t->l.count : 1) * sizeof *t->labels);
    if (!t->texts || !t->labels) {
        cli_error("%s: out of memory", path);
        return CLI_EXIT_FAIL;
    }
    for (int64_t i = 0; i < t->l.count; i++) {
        char *line = t->l.text[i], *tab = strchr(line, '\t'), *end;
        long v = tab ? strtol(line, &end, 10) : -1;
        if (!tab || end != tab || end == line || v < 0 || v > 1000) {
            cli_error("%s:%lld: expected label<TAB>text with a label from 0 to 1000", path, t->l.lineno[i]);
            return CLI_EXIT_FAIL;
        }
        t->labels[i] = (int32_t)v;
        t->texts[i] = tab + 1;
        if (v + 1 > *classes) *classes = (int)v + 1;
    }
    return 0;
}

static void on_step(void *user, int epoch, int64_t step, int64_t steps, double loss, double lr)
{
    cli_progress *p = user;
    cli_progress_update(p, "epoch %d: step %lld/%lld, loss %.4f, lr %.2e", epoch, (long long)step, (long long)steps,
                        loss, lr);
}

static void on_epoch(void *user, int epoch, double loss, double acc, double seconds)
{
    cli_progress *p = user;
    cli_progress_clear(p);
    printf("epoch %d: train loss %.4f, test accuracy %.2f%% (%.0f s)\n", epoch, loss, 100 * acc, seconds);
    fflush(stdout);
}

int cmd_finetune(int argc, char **argv)
{
    const char *model = NULL, *device = NULL, *train = NULL, *test = NULL, *save = NULL;
    long long epochs = 3, batch = 32, max_length = 128, seed = 42, every = 10;
    double lr = 5e-5, wd = 0.01, warmup = 0.1, dropout = 0.1;
    const cli_option options[] = {
        MODEL_OPTION(model),
        {"train", CLI_STRING, &train, "T.tsv", "training rows: label<TAB>text, labels 0, 1, ...", 0, 0},
        {"test", CLI_STRING, &test, "V.tsv", "test rows, same format: accuracy after every epoch", 0, 0},
        {"epochs", CLI_INT, &epochs, "N", "passes over the training rows (default 3)", 1, 1000},
        {"lr", CLI_FLOAT, &lr, "X", "peak AdamW learning rate (default 5e-5)", 1e-9, 1},
        {"batch", CLI_INT, &batch, "B", "rows per step (default 32)", 1, 4096},
        {"weight-decay", CLI_FLOAT, &wd, "X", "AdamW weight decay (default 0.01)", 0, 1},
        {"warmup", CLI_FLOAT, &warmup, "F", "fraction of the steps with a linear warm-up (default 0.1)", 0, 1},
        {"dropout", CLI_FLOAT, &dropout, "P", "dropout before the classifier (default 0.1)", 0, 0.99},
        {"max-length", CLI_INT, &max_length, "L", "tokens per text (default 128)", 2, 1 << 20},
        {"seed", CLI_INT, &seed, "S", "shuffling, dropout and head init (default 42)", 0, 1e15},
        {"save", CLI_STRING, &save, "DIR", "write the fine-tuned model folder there (loads in oclnn embed and in "
         "transformers' BertModel)", 0, 0},
        DEVICE_OPTION(device),
        {0},
    };
    const cli_spec spec = {
        "finetune", "bert",
        "Fine-tunes a BERT model for text classification: a classifier on the mean-\n"
        "pooled embedding, the whole encoder trained with AdamW and a linear warm-up\n"
        "and decay; prints the test accuracy after every epoch and the majority-class\n"
        "baseline. scripts/make-pos-dataset.sh builds a dataset (part of speech of a\n"
        "dictionary headword from its definition).",
        options, 1, 1};
    char *what[1];
    int nwhat = 0;
    int rc = cli_parse(&spec, argc, argv, what, &nwhat);
    if (rc >= 0) return rc;
    if (strcmp(what[0], "bert") != 0) return cli_usage_error("finetune", "only 'bert' can be fine-tuned (got '%s')", what[0]);
    if (!train || !test) return cli_usage_error("finetune", "--train T.tsv and --test V.tsv are required");
    tsv tr = {0}, te = {0};
    int classes = 0;
    if ((rc = read_tsv(train, &tr, &classes)) || (rc = read_tsv(test, &te, &classes))) {
        tsv_free(&tr);
        tsv_free(&te);
        return rc;
    }
    char dir[4096];
    if (model) snprintf(dir, sizeof dir, "%s", model);
    else oclnn_model_dir(OCLNN_MINILM_NAME, dir, sizeof dir);
    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) {
        tsv_free(&tr);
        tsv_free(&te);
        return CLI_EXIT_FAIL;
    }
    int64_t *count = calloc((size_t)(classes > 2 ? classes : 2), sizeof *count);
    int64_t best = 0;
    for (int64_t i = 0; count && i < te.l.count; i++)
        if (++count[te.labels[i]] > best) best = count[te.labels[i]];
    free(count);
    printf("device: %s; model %s; %lld train, %lld test rows, %d classes; majority-class baseline %.2f%%\n",
           oclnn_context_device(ctx)->name, dir, (long long)tr.l.count, (long long)te.l.count, classes < 2 ? 2 : classes,
           te.l.count ? 100.0 * (double)best / (double)te.l.count : 0.0);
    fflush(stdout);
    cli_progress p;
    cli_progress_init(&p, stderr);
    oclnn_bert_finetune_options o = {.epochs = (int)epochs, .batch = batch, .lr = lr, .weight_decay = wd > 0 ? wd : -1,
                                     .warmup = warmup > 0 ? warmup : -1, .dropout = dropout > 0 ? dropout : -1,
                                     .max_length = max_length, .seed = (uint64_t)seed, .report_every = p.tty ? 1 : every,
                                     .on_step = on_step, .on_epoch = on_epoch, .user = &p};
    const oclnn_text_dataset dtr = {tr.l.count, tr.texts, tr.labels}, dte = {te.l.count, te.texts, te.labels};
    double acc;
    if (oclnn_bert_finetune(ctx, dir, classes < 2 ? 2 : classes, &dtr, &dte, &o, save, &acc)) {
        cli_progress_clear(&p);
        rc = cli_fail("fine-tuning failed");
    } else {
        if (save) printf("saved the fine-tuned model in %s\n", save);
        rc = CLI_EXIT_OK;
    }
    oclnn_context_release(ctx);
    tsv_free(&tr);
    tsv_free(&te);
    return rc;
}
