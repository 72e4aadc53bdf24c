/* word2vec training (include/oclnn/word2vec.h): the host reads the corpus
 * and builds the vocabulary, subsamples and cuts each epoch into batches
 * of chunks, and keeps the device busy: batch i+1 is prepared while the
 * kernel (cl/word2vec.cl) trains batch i, with two sets of buffers. */
#include "nn/word2vec_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/error.h"
#include "io/wordvec_internal.h"

extern const char oclnn_cl_word2vec[];

#define MAX_SENTENCE 10000 /* gensim's MAX_WORDS_IN_BATCH */

void oclnn_word2vec_options_init(oclnn_word2vec_options *o)
{
    *o = (oclnn_word2vec_options){.dim = 100, .window = 5, .negative = 5, .min_count = 5, .sample = 1e-3,
                                  .epochs = 5, .min_alpha = 0.0001f, .seed = 1};
}

/* ---- corpus and vocabulary */

typedef struct vocab_builder {
    char **words;
    int64_t *counts, n, cap;
    int32_t *slots; /* word index or -1; nslots a power of two */
    int64_t nslots;
    int32_t *ids; /* token stream as first-appearance ids, -1 ends a sentence */
    int64_t nids, cap_ids;
    int keep_ids;
} vocab_builder;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int grow_array(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return 1;
    int64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

static int push_id(vocab_builder *v, int32_t id)
{
    if (!v->keep_ids) return 1;
    if (!grow_array((void **)&v->ids, &v->cap_ids, v->nids + 1, sizeof *v->ids)) return 0;
    v->ids[v->nids++] = id;
    return 1;
}

static int rehash_vocab(vocab_builder *v)
{
    int64_t ns = v->nslots ? v->nslots * 2 : 1 << 16;
    int32_t *s = malloc(sizeof *s * (size_t)ns);
    if (!s) return 0;
    for (int64_t i = 0; i < ns; i++) s[i] = -1;
    for (int64_t w = 0; w < v->n; w++) {
        uint64_t i = fnv1a(v->words[w], strlen(v->words[w])) & (uint64_t)(ns - 1);
        while (s[i] >= 0) i = (i + 1) & (uint64_t)(ns - 1);
        s[i] = (int32_t)w;
    }
    free(v->slots);
    v->slots = s;
    v->nslots = ns;
    return 1;
}

static int add_token(vocab_builder *v, const char *t, size_t n)
{
    if ((v->n + 1) * 2 > v->nslots && !rehash_vocab(v)) return 0;
    uint64_t mask = (uint64_t)v->nslots - 1, i = fnv1a(t, n) & mask;
    for (; v->slots[i] >= 0; i = (i + 1) & mask) {
        const char *w = v->words[v->slots[i]];
        if (strncmp(w, t, n) == 0 && w[n] == '\0') {
            v->counts[v->slots[i]]++;
            return push_id(v, v->slots[i]);
        }
    }
    if (v->n >= INT32_MAX - 1 || !grow_array((void **)&v->words, &v->cap, v->n + 1, sizeof *v->words)) return 0;
    int64_t cap = v->cap;
    int64_t *c = realloc(v->counts, sizeof *c * (size_t)cap);
    char *w = malloc(n + 1);
    if (!c || !w) {
        if (c) v->counts = c;
        free(w);
        return 0;
    }
    v->counts = c;
    memcpy(w, t, n);
    w[n] = '\0';
    v->words[v->n] = w;
    v->counts[v->n] = 1;
    v->slots[i] = (int32_t)v->n;
    return push_id(v, (int32_t)v->n++);
}

static int is_space(int ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* Streams the file in blocks; a token may straddle two blocks. */
static oclnn_status scan_corpus(const char *path, vocab_builder *v, int64_t *tokens)
{
    FILE *f = fopen(path, "rb");
    if (!f) return oclnn_fail(OCLNN_ERR_IO, "word2vec: cannot open corpus %s: %s", path, strerror(errno));
    size_t bufsz = 1 << 20, tlen = 0, tcap = 256;
    char *buf = malloc(bufsz), *tok = malloc(tcap);
    int ok = buf && tok;
    int64_t in_sentence = 0;
    *tokens = 0;
    size_t got;
    while (ok && (got = fread(buf, 1, bufsz, f)) > 0) {
        for (size_t i = 0; i < got && ok; i++) {
            char ch = buf[i];
            if (!is_space((unsigned char)ch)) {
                if (tlen + 1 >= tcap) {
                    char *t = realloc(tok, tcap * 2);
                    if (!t) { ok = 0; break; }
                    tok = t;
                    tcap *= 2;
                }
                tok[tlen++] = ch;
                continue;
            }
            if (tlen) {
                ok = add_token(v, tok, tlen);
                tlen = 0;
                (*tokens)++;
                if (++in_sentence == MAX_SENTENCE) {
                    ok = ok && push_id(v, -1);
                    in_sentence = 0;
                }
            }
            if (ch == '\n' && in_sentence) {
                ok = ok && push_id(v, -1);
                in_sentence = 0;
            }
        }
    }
    int read_error = ferror(f);
    fclose(f);
    if (ok && tlen) {
        ok = add_token(v, tok, tlen);
        (*tokens)++;
        in_sentence++;
    }
    if (ok && in_sentence) ok = push_id(v, -1);
    free(buf);
    free(tok);
    if (read_error) return oclnn_fail(OCLNN_ERR_IO, "word2vec: error reading corpus %s", path);
    if (!ok) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory reading %s", path);
    return OCLNN_OK;
}

typedef struct ranked {
    int64_t count, first;
} ranked;
/* Descending count; equal counts latest first appearance first (gensim 4's
 * np.lexsort((-index, -count))). */
static int by_count(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->first < y->first) - (x->first > y->first);
}

void w2v_corpus_free(w2v_corpus *c)
{
    for (int64_t i = 0; i < c->vocab; i++) free(c->words[i]);
    free(c->words);
    free(c->counts);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

oclnn_status w2v_corpus_read(const char *path, int64_t min_count, int keep_ids, w2v_corpus *c)
{
    memset(c, 0, sizeof *c);
    if (!path) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "word2vec: no corpus file given");
    if (min_count < 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "word2vec: min_count %lld: must be at least 1", (long long)min_count);
    vocab_builder v = {.keep_ids = keep_ids};
    oclnn_status s = scan_corpus(path, &v, &c->corpus_words);
    ranked *order = NULL;
    int64_t *map = NULL;
    if (!s && c->corpus_words == 0) s = oclnn_fail(OCLNN_ERR_FORMAT, "word2vec: corpus %s has no words", path);
    if (!s) {
        order = malloc(sizeof *order * (size_t)v.n);
        map = malloc(sizeof *map * (size_t)v.n);
        if (!order || !map) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory");
    }
    if (!s) {
        int64_t kept = 0, most = 0;
        for (int64_t i = 0; i < v.n; i++) {
            map[i] = -1;
            if (v.counts[i] > most) most = v.counts[i];
            if (v.counts[i] >= min_count) order[kept++] = (ranked){v.counts[i], i};
        }
        if (kept == 0)
            s = oclnn_fail(OCLNN_ERR_FORMAT, "word2vec: no word of %s occurs min_count=%lld times (the most "
                           "frequent occurs %lld times)", path, (long long)min_count, (long long)most);
        if (!s) qsort(order, (size_t)kept, sizeof *order, by_count);
        c->words = s ? NULL : malloc(sizeof *c->words * (size_t)kept);
        c->counts = s ? NULL : malloc(sizeof *c->counts * (size_t)kept);
        if (!s && (!c->words || !c->counts)) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory");
        for (int64_t r = 0; !s && r < kept; r++) {
            int64_t w = order[r].first;
            map[w] = r;
            c->words[r] = v.words[w];
            v.words[w] = NULL;
            c->counts[r] = v.counts[w];
            c->train_words += c->counts[r];
        }
        if (!s) c->vocab = kept;
    }
    if (!s && keep_ids) {
        /* Renumber in place, dropping rare words and empty sentences. */
        int64_t w = 0, start = 0;
        for (int64_t i = 0; i < v.nids; i++) {
            int32_t id = v.ids[i];
            if (id < 0) {
                if (w > start) v.ids[w++] = -1;
                start = w;
            } else if (map[id] >= 0) {
                v.ids[w++] = (int32_t)map[id];
            }
        }
        c->ids = v.ids;
        c->n = w;
        v.ids = NULL;
    }
    for (int64_t i = 0; i < v.n; i++) free(v.words[i]);
    free(v.words);
    free(v.counts);
    free(v.slots);
    free(v.ids);
    free(order);
    free(map);
    if (s) w2v_corpus_free(c);
    return s;
}

oclnn_status oclnn_word2vec_vocab(const char *corpus, int64_t min_count, char ***words, int64_t **counts,
                                  int64_t *count, int64_t *corpus_words)
{
    if (!words || !counts || !count) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_word2vec_vocab: NULL argument");
    w2v_corpus c;
    oclnn_status s = w2v_corpus_read(corpus, min_count, 0, &c);
    *words = s ? NULL : c.words;
    *counts = s ? NULL : c.counts;
    *count = s ? 0 : c.vocab;
    if (corpus_words) *corpus_words = s ? 0 : c.corpus_words;
    return s;
}

void oclnn_word2vec_vocab_free(char **words, int64_t *counts, int64_t count)
{
    for (int64_t i = 0; words && i < count; i++) free(words[i]);
    free(words);
    free(counts);
}

/* ---- subsampling, negatives, batches */

double oclnn_word2vec_keep_probability(int64_t count, int64_t total, double sample)
{
    if (sample <= 0 || count <= 0) return 1.0;
    double t = sample * (double)total, p = (sqrt((double)count / t) + 1.0) * t / (double)count;
    return p < 1.0 ? p : 1.0;
}

uint32_t *w2v_keep_thresholds(const w2v_corpus *c, double sample)
{
    uint32_t *k = malloc(sizeof *k * (size_t)c->vocab);
    for (int64_t i = 0; k && i < c->vocab; i++) {
        double p = oclnn_word2vec_keep_probability(c->counts[i], c->train_words, sample);
        k[i] = p >= 1.0 ? UINT32_MAX : (uint32_t)(p * 4294967296.0);
    }
    return k;
}

uint32_t *w2v_cum_table(const int64_t *counts, int64_t vocab)
{
    uint32_t *cum = malloc(sizeof *cum * (size_t)vocab);
    if (!cum) return NULL;
    double total = 0, run = 0, domain = 2147483647.0;
    for (int64_t i = 0; i < vocab; i++) total += pow((double)counts[i], 0.75);
    for (int64_t i = 0; i < vocab; i++) {
        run += pow((double)counts[i], 0.75);
        cum[i] = (uint32_t)llround(run / total * domain);
    }
    return cum;
}

void w2v_sigmoid_table(float *t)
{
    for (int i = 0; i < W2V_SIGMOID_TABLE; i++) {
        double e = exp(((double)i / W2V_SIGMOID_TABLE * 2 - 1) * 6);
        t[i] = (float)(e / (e + 1));
    }
}

int32_t *w2v_guide_table(const uint32_t *cum, int64_t vocab, int guides)
{
    int32_t *g = malloc(sizeof *g * (size_t)(guides + 1));
    uint64_t total = cum[vocab - 1];
    int64_t i = 0;
    for (int j = 0; g && j <= guides; j++) {
        uint64_t bound = (uint64_t)j * total / (uint64_t)guides;
        while (i < vocab && cum[i] <= bound) i++;
        g[j] = (int32_t)i;
    }
    return g;
}

/* Philox word for corpus position i of an epoch (stream 0), key = seed. */
static uint32_t position_random(uint64_t seed, int epoch, int64_t i, uint32_t cache[5])
{
    uint32_t block = (uint32_t)(i >> 2);
    if (cache[4] != block + 1u) {
        uint32_t ctr[4] = {block, (uint32_t)((uint64_t)i >> 34), (uint32_t)epoch, 0};
        uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        oclnn_philox4x32_10(ctr, key, cache);
        cache[4] = block + 1u;
    }
    return cache[i & 3];
}

void w2v_batch_free(w2v_batch *b)
{
    free(b->tokens);
    free(b->off);
    free(b->alpha);
    free(b->seed);
    memset(b, 0, sizeof *b);
}

/* Room for ntok tokens and nchunk chunks (nchunk + 1 offsets). */
static int batch_reserve(w2v_batch *b, int64_t ntok, int64_t nchunk)
{
    if (!grow_array((void **)&b->tokens, &b->cap_tok, ntok, sizeof *b->tokens)) return 0;
    if (nchunk + 1 <= b->cap_chunk) return 1;
    int64_t cap = b->cap_chunk ? b->cap_chunk * 2 : 1024;
    while (cap < nchunk + 1) cap *= 2;
    int32_t *off = realloc(b->off, sizeof *off * (size_t)cap);
    if (off) b->off = off;
    float *alpha = realloc(b->alpha, sizeof *alpha * (size_t)cap);
    if (alpha) b->alpha = alpha;
    uint32_t *seed = realloc(b->seed, 2 * sizeof *seed * (size_t)cap);
    if (seed) b->seed = seed;
    if (!off || !alpha || !seed) return 0;
    b->cap_chunk = cap;
    return 1;
}

oclnn_status w2v_batch_fill(const w2v_plan *plan, w2v_cursor *cur, w2v_batch *b)
{
    const w2v_corpus *c = plan->corpus;
    const oclnn_word2vec_options *o = &plan->opt;
    uint32_t cache[5] = {0, 0, 0, 0, 0};
    double total = (double)o->epochs * (double)c->train_words;
    b->ntok = b->nchunk = b->raw_words = b->kept_words = 0;
    if (!batch_reserve(b, 1, 1)) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory for a batch");
    int64_t in_chunk = o->chunk_words; /* start a chunk at the first sentence */
    while (cur->pos < c->n && b->raw_words < o->batch_words) {
        int64_t e = cur->pos;
        while (c->ids[e] >= 0) e++;
        if (!batch_reserve(b, b->ntok + (e - cur->pos) + 1, b->nchunk + 1))
            return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory for a batch");
        if (in_chunk >= o->chunk_words) {
            /* A new chunk: its learning rate at this point of training. */
            double progress = ((double)cur->epoch * (double)c->train_words + (double)cur->raw_done) / total;
            int64_t k = b->nchunk++;
            b->off[k] = (int32_t)b->ntok;
            b->alpha[k] = (float)(o->alpha - (o->alpha - o->min_alpha) * progress);
            uint32_t ctr[4] = {(uint32_t)cur->chunk_id, (uint32_t)(cur->chunk_id >> 32), (uint32_t)cur->epoch, 1};
            uint32_t key[2] = {(uint32_t)o->seed, (uint32_t)(o->seed >> 32)}, r[4];
            oclnn_philox4x32_10(ctr, key, r);
            b->seed[2 * k] = r[0];
            b->seed[2 * k + 1] = r[1];
            cur->chunk_id++;
            in_chunk = 0;
        }
        int64_t start = b->ntok;
        for (int64_t i = cur->pos; i < e; i++) {
            int32_t w = c->ids[i];
            if (plan->keep[w] == UINT32_MAX || position_random(o->seed, cur->epoch, i, cache) < plan->keep[w])
                b->tokens[b->ntok++] = w;
        }
        if (b->ntok - start >= 2) {
            b->kept_words += b->ntok - start;
            b->tokens[b->ntok++] = -1;
        } else {
            b->ntok = start; /* a sentence of one word trains nothing */
        }
        in_chunk += b->ntok - start;
        b->raw_words += e - cur->pos;
        cur->raw_done += e - cur->pos;
        cur->pos = e + 1;
    }
    if (b->nchunk > 0 && b->off[b->nchunk - 1] == b->ntok) b->nchunk--; /* an empty last chunk */
    b->off[b->nchunk] = (int32_t)b->ntok;
    if (cur->pos >= c->n) *cur = (w2v_cursor){.epoch = cur->epoch + 1};
    return OCLNN_OK;
}

/* ---- device */

typedef struct w2v_device {
    oclnn_context *ctx;
    cl_kernel kernel;
    cl_mem syn0, syn1neg, cum, guide, sigmoid;
    int guides;
    cl_mem tokens[2], off[2], alpha[2], seed[2];
    size_t cap_tok[2], cap_chunk[2];
    int64_t dim;
    int lanes;
    size_t groups_max;
} w2v_device;

static const char *OP = "word2vec";

static void device_release(w2v_device *d)
{
    cl_mem *all[] = {&d->syn0, &d->syn1neg, &d->cum, &d->guide, &d->sigmoid, &d->tokens[0], &d->tokens[1], &d->off[0], &d->off[1],
                     &d->alpha[0], &d->alpha[1], &d->seed[0], &d->seed[1]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (*all[i]) clReleaseMemObject(*all[i]);
    if (d->kernel) clReleaseKernel(d->kernel);
    memset(d, 0, sizeof *d);
}

static oclnn_status buffer_upload(w2v_device *d, cl_mem *m, size_t bytes, const void *src)
{
    oclnn_status s = oclnn_buffer_create(d->ctx, bytes, OP, m);
    if (!s && src)
        s = oclnn_cl_check(clEnqueueWriteBuffer(d->ctx->queue, *m, CL_TRUE, 0, bytes, src, 0, NULL, NULL),
                           "clEnqueueWriteBuffer", OP);
    return s;
}

static oclnn_status device_setup(w2v_device *d, oclnn_context *ctx, const oclnn_word2vec_options *o, int64_t vocab,
                                 const float *syn0, const float *syn1neg, const uint32_t *cum)
{
    memset(d, 0, sizeof *d);
    d->ctx = ctx;
    d->dim = o->dim;
    d->lanes = o->lanes;
    size_t local_bytes = sizeof(float) * (size_t)(2 * o->dim + o->lanes);
    if (local_bytes > ctx->info.local_mem_bytes)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "word2vec: dim %lld needs %zu bytes of local memory, the device has "
                          "%llu", (long long)o->dim, local_bytes, (unsigned long long)ctx->info.local_mem_bytes);
    if ((size_t)o->lanes > ctx->info.max_work_group_size)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "word2vec: lanes %d exceed the device's work-group size %zu",
                          o->lanes, (size_t)ctx->info.max_work_group_size);
    char opts[64];
    /* One lane: explicit 8-wide vectors over dim (16 measured no faster on
     * AVX-512 PoCL); several lanes: a float per lane, coalesced. */
    snprintf(opts, sizeof opts, "-D VEC=%d -D LANES=%d -D CBOW=%d", o->lanes == 1 ? 8 : 1, o->lanes, o->cbow ? 1 : 0);
    oclnn_status s = oclnn_kernel_create(ctx, oclnn_cl_word2vec, opts, "w2v_train", OP, &d->kernel);
    size_t rows = sizeof(float) * (size_t)(vocab * o->dim);
    if (!s) s = buffer_upload(d, &d->syn0, rows, syn0);
    if (!s) s = buffer_upload(d, &d->syn1neg, rows, syn1neg);
    if (!s) s = buffer_upload(d, &d->cum, sizeof *cum * (size_t)vocab, cum);
    int32_t *guide = s ? NULL : w2v_guide_table(cum, vocab, W2V_GUIDES);
    if (!s && !guide) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory");
    if (!s) s = buffer_upload(d, &d->guide, sizeof *guide * (W2V_GUIDES + 1), guide);
    d->guides = W2V_GUIDES;
    free(guide);
    float sigmoid[W2V_SIGMOID_TABLE];
    w2v_sigmoid_table(sigmoid);
    if (!s) s = buffer_upload(d, &d->sigmoid, sizeof sigmoid, sigmoid);
    if (s) device_release(d);
    return s;
}

/* Uploads batch b into buffer set i and enqueues the kernel (no wait). */
static oclnn_status device_enqueue(w2v_device *d, int i, const w2v_batch *b, const oclnn_word2vec_options *o,
                                   int64_t vocab, cl_event *done)
{
    cl_command_queue q = d->ctx->queue;
    oclnn_status s = OCLNN_OK;
    if ((size_t)b->ntok > d->cap_tok[i]) {
        if (d->tokens[i]) clReleaseMemObject(d->tokens[i]);
        d->tokens[i] = NULL;
        d->cap_tok[i] = (size_t)b->ntok + (size_t)b->ntok / 4;
        s = oclnn_buffer_create(d->ctx, sizeof(int32_t) * d->cap_tok[i], OP, &d->tokens[i]);
    }
    if (!s && (size_t)b->nchunk + 1 > d->cap_chunk[i]) {
        cl_mem *m[] = {&d->off[i], &d->alpha[i], &d->seed[i]};
        for (int j = 0; j < 3; j++)
            if (*m[j]) clReleaseMemObject(*m[j]), *m[j] = NULL;
        d->cap_chunk[i] = (size_t)b->nchunk + 1 + (size_t)b->nchunk / 4;
        s = oclnn_buffer_create(d->ctx, sizeof(int32_t) * d->cap_chunk[i], OP, &d->off[i]);
        if (!s) s = oclnn_buffer_create(d->ctx, sizeof(float) * d->cap_chunk[i], OP, &d->alpha[i]);
        if (!s) s = oclnn_buffer_create(d->ctx, 2 * sizeof(uint32_t) * d->cap_chunk[i], OP, &d->seed[i]);
    }
    if (s) return s;
    struct { cl_mem m; size_t bytes; const void *src; } w[] = {
        {d->tokens[i], sizeof(int32_t) * (size_t)b->ntok, b->tokens},
        {d->off[i], sizeof(int32_t) * (size_t)(b->nchunk + 1), b->off},
        {d->alpha[i], sizeof(float) * (size_t)b->nchunk, b->alpha},
        {d->seed[i], 2 * sizeof(uint32_t) * (size_t)b->nchunk, b->seed}};
    for (int j = 0; j < 4 && !s; j++)
        s = oclnn_cl_check(clEnqueueWriteBuffer(q, w[j].m, CL_FALSE, 0, w[j].bytes, w[j].src, 0, NULL, NULL),
                           "clEnqueueWriteBuffer", OP);
    if (s) return s;
    cl_int dim = (cl_int)d->dim, chunks = (cl_int)b->nchunk, nv = (cl_int)vocab, window = o->window,
           negative = o->negative;
    cl_kernel k = d->kernel;
    cl_int e = clSetKernelArg(k, 0, sizeof(cl_mem), &d->syn0);
    e |= clSetKernelArg(k, 1, sizeof(cl_mem), &d->syn1neg);
    e |= clSetKernelArg(k, 2, sizeof dim, &dim);
    e |= clSetKernelArg(k, 3, sizeof(cl_mem), &d->tokens[i]);
    e |= clSetKernelArg(k, 4, sizeof(cl_mem), &d->off[i]);
    e |= clSetKernelArg(k, 5, sizeof(cl_mem), &d->alpha[i]);
    e |= clSetKernelArg(k, 6, sizeof(cl_mem), &d->seed[i]);
    e |= clSetKernelArg(k, 7, sizeof chunks, &chunks);
    e |= clSetKernelArg(k, 8, sizeof(cl_mem), &d->cum);
    e |= clSetKernelArg(k, 9, sizeof(cl_mem), &d->guide);
    e |= clSetKernelArg(k, 10, sizeof(cl_int), &d->guides);
    e |= clSetKernelArg(k, 11, sizeof nv, &nv);
    e |= clSetKernelArg(k, 12, sizeof window, &window);
    e |= clSetKernelArg(k, 13, sizeof negative, &negative);
    e |= clSetKernelArg(k, 14, sizeof(cl_mem), &d->sigmoid);
    e |= clSetKernelArg(k, 15, sizeof(float) * (size_t)(2 * d->dim + d->lanes), NULL);
    s = oclnn_cl_check(e, "clSetKernelArg", OP);
    if (s) return s;
    int64_t groups = b->nchunk;
    if (o->concurrent_chunks > 0 && groups > o->concurrent_chunks) groups = o->concurrent_chunks;
    size_t local = (size_t)d->lanes, global = (size_t)groups * local;
    if (groups == 0) return oclnn_cl_check(clEnqueueMarkerWithWaitList(q, 0, NULL, done), "clEnqueueMarker", OP);
    s = oclnn_cl_check(clEnqueueNDRangeKernel(q, k, 1, NULL, &global, &local, 0, NULL, done),
                       "clEnqueueNDRangeKernel(w2v_train)", OP);
    if (!s) s = oclnn_cl_check(clFlush(q), "clFlush", OP);
    return s;
}

static oclnn_status device_wait(cl_event *ev)
{
    if (!*ev) return OCLNN_OK;
    oclnn_status s = oclnn_cl_check(clWaitForEvents(1, ev), "clWaitForEvents(w2v_train)", OP);
    clReleaseEvent(*ev);
    *ev = NULL;
    return s;
}

static oclnn_status read_rows(w2v_device *d, cl_mem m, float *dst, int64_t vocab)
{
    return oclnn_cl_check(clEnqueueReadBuffer(d->ctx->queue, m, CL_TRUE, 0, sizeof(float) * (size_t)(vocab * d->dim),
                                              dst, 0, NULL, NULL), "clEnqueueReadBuffer", OP);
}

/* ---- options and the training loop */

static oclnn_status check_options(oclnn_context *ctx, const oclnn_word2vec_options *in, oclnn_word2vec_options *o)
{
    if (in) *o = *in;
    else oclnn_word2vec_options_init(o);
    if (o->alpha == 0) o->alpha = o->cbow ? 0.05f : 0.025f;
    if (o->batch_words == 0) o->batch_words = 1 << 20;
    /* A CPU runs a few chunks at once and wants long ones; a GPU wants
     * thousands of work-groups in a launch. */
    int cpu = ctx && ctx->info.is_cpu;
    if (o->chunk_words == 0) o->chunk_words = cpu ? 1000 : 100;
    if (o->lanes == 0) o->lanes = cpu ? 1 : 32;
    const char *bad = NULL;
    if (o->dim < 1 || o->dim > 100000) bad = "dim (1..100000)";
    else if (o->window < 1 || o->window > 1000) bad = "window (1..1000)";
    else if (o->negative < 1 || o->negative > 1000) bad = "negative (1..1000)";
    else if (o->min_count < 1) bad = "min_count (>= 1)";
    else if (!(o->sample >= 0 && o->sample < 1)) bad = "sample (0 <= sample < 1)";
    else if (o->epochs < 1 || o->epochs > 100000) bad = "epochs (1..100000)";
    else if (o->cbow != 0 && o->cbow != 1) bad = "cbow (0 or 1)";
    else if (!(o->alpha > 0 && o->alpha <= 10)) bad = "alpha (0 < alpha <= 10)";
    else if (!(o->min_alpha >= 0 && o->min_alpha <= o->alpha)) bad = "min_alpha (0 <= min_alpha <= alpha)";
    else if (o->batch_words < 1 || o->batch_words > (1 << 28)) bad = "batch_words (1..2^28)";
    else if (o->chunk_words < 1) bad = "chunk_words (>= 1)";
    else if (o->concurrent_chunks < 0) bad = "concurrent_chunks (>= 0)";
    else if (o->lanes < 1 || o->lanes > 1024 || (o->lanes & (o->lanes - 1))) bad = "lanes (a power of two, 1..1024)";
    if (bad)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "word2vec: bad option %s (dim %lld, window %d, negative %d, "
                          "min_count %lld, sample %g, epochs %d, alpha %g, min_alpha %g, lanes %d)", bad,
                          (long long)o->dim, o->window, o->negative, (long long)o->min_count, o->sample, o->epochs,
                          (double)o->alpha, (double)o->min_alpha, o->lanes);
    return OCLNN_OK;
}

oclnn_status w2v_train_batch_host(oclnn_context *ctx, const oclnn_word2vec_options *opt, int64_t vocab,
                                  float *syn0, float *syn1neg, const uint32_t *cum, const w2v_batch *b)
{
    w2v_device d;
    oclnn_status s = device_setup(&d, ctx, opt, vocab, syn0, syn1neg, cum);
    if (s) return s;
    cl_event ev = NULL;
    s = device_enqueue(&d, 0, b, opt, vocab, &ev);
    oclnn_status w = device_wait(&ev);
    if (!s) s = w;
    if (!s) s = read_rows(&d, d.syn0, syn0, vocab);
    if (!s) s = read_rows(&d, d.syn1neg, syn1neg, vocab);
    device_release(&d);
    return s;
}

/* Input vectors uniform in [-0.5/dim, 0.5/dim). Philox counters (block,
 * high block, epoch, stream): stream 0 subsamples, 1 seeds chunks, 2 here. */
static void init_syn0(float *syn0, int64_t n, int64_t dim, uint64_t seed)
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, r[4];
    float scale = 1.0f / (float)dim;
    for (int64_t i = 0; i < n; i += 4) {
        uint32_t ctr[4] = {(uint32_t)(i >> 2), (uint32_t)((uint64_t)i >> 34), 0, 2};
        oclnn_philox4x32_10(ctr, key, r);
        for (int64_t j = 0; j < 4 && i + j < n; j++)
            syn0[i + j] = ((float)(r[j] >> 8) * (1.0f / 16777216.0f) - 0.5f) * scale;
    }
}

typedef struct w2v_run {
    const w2v_plan *plan;
    w2v_batch b[2];
    cl_event ev[2];
    int epoch_of[2];
    oclnn_word2vec_progress p;
    double t0;
    oclnn_word2vec_stats *st;
} w2v_run;

/* Waits for the batch in buffer set j (if any) and reports it. */
static oclnn_status batch_done(w2v_run *r, int j)
{
    if (!r->ev[j]) return OCLNN_OK;
    oclnn_status s = device_wait(&r->ev[j]);
    if (s) return s;
    const w2v_batch *b = &r->b[j];
    r->p.words_done += b->raw_words;
    r->st->trained_words += b->kept_words;
    const oclnn_word2vec_options *o = &r->plan->opt;
    if (o->progress) {
        r->p.epoch = r->epoch_of[j];
        r->p.seconds = oclnn_wall_seconds() - r->t0;
        r->p.words_per_s = r->p.seconds > 0 ? (double)r->p.words_done / r->p.seconds : 0;
        r->p.alpha = b->nchunk ? b->alpha[b->nchunk - 1] : 0;
        o->progress(&r->p, o->progress_user);
    }
    return OCLNN_OK;
}

/* Batch i is enqueued, then batch i-1 waited for: the device always has
 * work queued while the host fills batch i+1 into the buffers batch i-1
 * used. */
static oclnn_status train_loop(w2v_device *d, const w2v_plan *plan, oclnn_word2vec_stats *st)
{
    w2v_run r = {.plan = plan, .st = st, .t0 = oclnn_wall_seconds()};
    r.p.words_total = (int64_t)plan->opt.epochs * plan->corpus->train_words;
    w2v_cursor cur = {0};
    oclnn_status s = OCLNN_OK;
    int i = 0;
    while (!s && cur.epoch < plan->opt.epochs) {
        r.epoch_of[i] = cur.epoch;
        s = w2v_batch_fill(plan, &cur, &r.b[i]);
        if (!s) s = device_enqueue(d, i, &r.b[i], &plan->opt, plan->corpus->vocab, &r.ev[i]);
        if (!s) s = batch_done(&r, 1 - i);
        i = 1 - i;
    }
    if (!s) s = batch_done(&r, 1 - i);
    for (int j = 0; j < 2; j++) device_wait(&r.ev[j]); /* after a failure */
    st->train_seconds = oclnn_wall_seconds() - r.t0;
    w2v_batch_free(&r.b[0]);
    w2v_batch_free(&r.b[1]);
    return s;
}

oclnn_status oclnn_word2vec_train(oclnn_context *ctx, const char *corpus, const oclnn_word2vec_options *options,
                                  oclnn_wordvec **out, oclnn_word2vec_stats *stats)
{
    if (out) *out = NULL;
    if (!ctx || !out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_word2vec_train: NULL argument");
    w2v_plan plan;
    oclnn_status s = check_options(ctx, options, &plan.opt);
    if (s) return s;
    const oclnn_word2vec_options *o = &plan.opt;
    oclnn_word2vec_stats st = {0};
    double t0 = oclnn_wall_seconds();
    w2v_corpus c;
    s = w2v_corpus_read(corpus, o->min_count, 1, &c);
    if (s) return s;
    st.vocab_seconds = oclnn_wall_seconds() - t0;
    st.vocab_size = c.vocab;
    st.corpus_words = c.corpus_words;
    st.train_words = (int64_t)o->epochs * c.train_words;
    plan.corpus = &c;
    uint32_t *keep = w2v_keep_thresholds(&c, o->sample), *cum = w2v_cum_table(c.counts, c.vocab);
    plan.keep = keep;
    size_t rows = (size_t)(c.vocab * o->dim);
    float *syn0 = malloc(sizeof(float) * rows), *syn1neg = calloc(rows, sizeof(float));
    if (!keep || !cum || !syn0 || !syn1neg) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "word2vec: out of host memory");
    w2v_device d;
    if (!s) {
        init_syn0(syn0, (int64_t)rows, o->dim, o->seed);
        s = device_setup(&d, ctx, o, c.vocab, syn0, syn1neg, cum);
        if (!s) {
            s = train_loop(&d, &plan, &st);
            if (!s) s = read_rows(&d, d.syn0, syn0, c.vocab);
            device_release(&d);
        }
    }
    st.words_per_s = st.train_seconds > 0 ? (double)st.train_words / st.train_seconds : 0;
    free(keep);
    free(cum);
    free(syn1neg);
    if (!s) {
        s = oclnn_wordvec_adopt(c.vocab, o->dim, c.words, syn0, OCLNN_WORDVEC_WORD2VEC_BINARY, out);
        c.words = NULL;
        c.vocab = 0;
        syn0 = NULL;
    }
    free(syn0);
    w2v_corpus_free(&c);
    if (!s && stats) *stats = st;
    return s;
}
