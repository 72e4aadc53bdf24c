/* word2vec: the vocabulary (counts, gensim's order, min_count, long lines)
 * against a naive host count; subsampling (the keep formula, kept
 * fractions over an epoch, the batch layout); one device launch of the
 * skip-gram and CBOW updates (one and four lanes) against a double
 * host reference that draws the same windows and negatives; training on a
 * synthetic corpus whose co-occurring words must end up closer than the
 * others; reproducibility with one chunk in flight; and the errors for
 * missing or empty corpora and bad options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/word2vec_internal.h"
#include "testutil.h"

static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A temporary file holding text; the caller unlinks and frees the path. */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/oclnn-w2v-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* A string buffer that grows. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *t)
{
    size_t k = strlen(t);
    if (b->n + k + 1 > b->cap) {
        b->cap = (b->n + k + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, t, k + 1);
    b->n += k;
}

/* ---- vocabulary */

typedef struct ref_word {
    char w[16];
    int64_t count, first;
} ref_word;

static int ref_order(const void *pa, const void *pb)
{
    const ref_word *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return a->first < b->first ? 1 : -1; /* gensim: later first appearance first */
}

START_TEST(test_vocab)
{
    uint64_t st = tu_seed();
    sbuf b = {0};
    const char *seps[] = {" ", "  ", "\t", " \t "};
    ref_word ref[64];
    int nref = 0;
    int64_t tokens = 0;
    for (int line = 0; line < 300; line++) {
        int n = (int)(next64(&st) % 12);
        for (int i = 0; i < n; i++) {
            /* Zipf-like: word k with weight about 1/(k+1); ties are common. */
            int k = (int)(next64(&st) % 40);
            k = (int)(next64(&st) % (uint64_t)(k + 1));
            char w[16];
            snprintf(w, sizeof w, "w%d%s", k, k % 3 ? "" : "-x'y");
            int r = 0;
            while (r < nref && strcmp(ref[r].w, w)) r++;
            if (r == nref) ref[nref++] = (ref_word){.count = 0, .first = tokens}, strcpy(ref[r].w, w);
            ref[r].count++;
            tokens++;
            sb_add(&b, w);
            sb_add(&b, seps[next64(&st) % 4]);
        }
        sb_add(&b, line % 7 == 0 ? "\r\n" : "\n");
    }
    char *path = temp_file(b.s);
    qsort(ref, (size_t)nref, sizeof *ref, ref_order);
    for (int64_t min_count = 1; min_count <= 20; min_count += 19) {
        char **words;
        int64_t *counts, n, corpus_words;
        TU_OK(oclnn_word2vec_vocab(path, min_count, &words, &counts, &n, &corpus_words));
        int64_t want = 0;
        while (want < nref && ref[want].count >= min_count) want++;
        ck_assert_int_eq(corpus_words, tokens);
        ck_assert_int_eq(n, want);
        for (int64_t i = 0; i < n; i++) {
            ck_assert_str_eq(words[i], ref[i].w);
            ck_assert_int_eq(counts[i], ref[i].count);
        }
        oclnn_word2vec_vocab_free(words, counts, n);
    }
    unlink(path);
    free(path);
    free(b.s);
}
END_TEST

/* Lines over 10000 tokens become several sentences; rare words and the
 * sentences they leave empty disappear from the id stream. */
START_TEST(test_corpus_ids)
{
    sbuf b = {0};
    for (int i = 0; i < 25000; i++) sb_add(&b, i % 2 ? "a " : "b ");
    sb_add(&b, "\nrare\n\n a b rare a\n");
    char *path = temp_file(b.s);
    w2v_corpus c;
    TU_OK(w2v_corpus_read(path, 3, 1, &c));
    ck_assert_int_eq(c.vocab, 2);
    ck_assert_str_eq(c.words[0], "a"); /* 12502 vs 12501 */
    ck_assert_int_eq(c.counts[0], 12502);
    ck_assert_int_eq(c.corpus_words, 25005);
    ck_assert_int_eq(c.train_words, 25003);
    /* 10000 + 10000 + 5000 tokens, then "a b a": 4 sentences */
    ck_assert_int_eq(c.n, 25003 + 4);
    int64_t ends[4], k = 0;
    for (int64_t i = 0; i < c.n; i++)
        if (c.ids[i] < 0) ends[k++] = i;
    ck_assert_int_eq(k, 4);
    ck_assert_int_eq(ends[0], 10000);
    ck_assert_int_eq(ends[1], 20001);
    ck_assert_int_eq(ends[2], 25002);
    ck_assert_int_eq(c.ids[0], 1); /* "b" */
    ck_assert_int_eq(c.ids[25003], 0);
    ck_assert_int_eq(c.ids[25004], 1);
    ck_assert_int_eq(c.ids[25005], 0);
    w2v_corpus_free(&c);
    unlink(path);
    free(path);
    free(b.s);
}
END_TEST

/* ---- subsampling and batches */

START_TEST(test_subsampling)
{
    /* The formula, written out independently. */
    double t = 1e-3 * 1e6;
    ck_assert_double_eq_tol(oclnn_word2vec_keep_probability(100000, 1000000, 1e-3),
                            sqrt(t / 100000.0) + t / 100000.0, 1e-12);
    ck_assert_double_eq(oclnn_word2vec_keep_probability(500, 1000000, 1e-3), 1.0);
    ck_assert_double_eq(oclnn_word2vec_keep_probability(100000, 1000000, 0), 1.0);

    /* "the" is 40% of the corpus, "of" 10%, 50 other words share the rest. */
    uint64_t st = tu_seed();
    sbuf b = {0};
    for (int line = 0; line < 400; line++) {
        for (int i = 0; i < 250; i++) {
            uint64_t r = next64(&st) % 100;
            char w[16];
            snprintf(w, sizeof w, "%s", r < 40 ? "the" : r < 50 ? "of" : "");
            if (r >= 50) snprintf(w, sizeof w, "x%d", (int)(r - 50));
            sb_add(&b, w);
            sb_add(&b, " ");
        }
        sb_add(&b, "\n");
    }
    char *path = temp_file(b.s);
    w2v_corpus c;
    TU_OK(w2v_corpus_read(path, 1, 1, &c));
    oclnn_word2vec_options o;
    oclnn_word2vec_options_init(&o);
    o.sample = 1e-2;
    o.alpha = 0.025f;
    o.epochs = 2;
    o.batch_words = 30000;
    o.chunk_words = 700;
    uint32_t *keep = w2v_keep_thresholds(&c, o.sample);
    w2v_plan plan = {&c, keep, o};
    w2v_cursor cur = {0};
    w2v_batch bt = {0};
    int64_t *kept = calloc((size_t)c.vocab, sizeof *kept), raw = 0;
    float last_alpha = 1.0f;
    while (cur.epoch == 0) {
        TU_OK(w2v_batch_fill(&plan, &cur, &bt));
        raw += bt.raw_words;
        ck_assert(bt.raw_words >= o.batch_words || cur.epoch == 1);
        ck_assert_int_eq(bt.off[0], 0);
        ck_assert_int_eq(bt.off[bt.nchunk], bt.ntok);
        int64_t run = 0, kw = 0;
        for (int64_t k = 0; k < bt.nchunk; k++) {
            ck_assert(bt.off[k + 1] > bt.off[k]);
            ck_assert(bt.alpha[k] < last_alpha && bt.alpha[k] > o.min_alpha);
            last_alpha = bt.alpha[k];
            ck_assert_int_eq(bt.tokens[bt.off[k + 1] - 1], -1); /* chunks hold whole sentences */
        }
        for (int64_t i = 0; i < bt.ntok; i++) {
            if (bt.tokens[i] < 0) {
                ck_assert_int_ge(run, 2);
                run = 0;
                continue;
            }
            kept[bt.tokens[i]]++;
            run++;
            kw++;
        }
        ck_assert_int_eq(kw, bt.kept_words);
    }
    ck_assert_int_eq(raw, c.train_words);
    ck_assert_int_eq(cur.pos, 0);
    for (int64_t w = 0; w < c.vocab; w++) {
        double p = oclnn_word2vec_keep_probability(c.counts[w], c.train_words, o.sample);
        double mean = p * (double)c.counts[w], sd = sqrt(mean * (1 - p)) + 1;
        ck_assert_msg(fabs((double)kept[w] - mean) < 5 * sd, "%s: kept %lld of %lld, expected %.1f", c.words[w],
                      (long long)kept[w], (long long)c.counts[w], mean);
    }
    ck_assert(kept[0] < c.counts[0] / 2); /* "the" is subsampled hard */
    free(kept);
    free(keep);
    w2v_batch_free(&bt);
    w2v_corpus_free(&c);
    unlink(path);
    free(path);
    free(b.s);
}
END_TEST

/* ---- one launch vs the host reference */

static uint64_t ref_lcg(uint64_t r) { return (r * 25214903917ull + 11ull) & 0xFFFFFFFFFFFFull; }

/* Plain binary search over the whole table (the kernel starts from a guide). */
static int ref_negative(const uint32_t *cum, int vocab, uint64_t r)
{
    uint32_t x = (uint32_t)((r >> 16) % cum[vocab - 1]);
    int i = 0;
    while (cum[i] <= x) i++;
    return i;
}

/* gensim's EXP_TABLE lookup, with the index computed from the float dot
 * product as the kernel does (the table itself is checked in double). */
static double ref_scale(double f, double label, double alpha)
{
    if (f >= 6) return (label - 1) * alpha;
    if (f <= -6) return label * alpha;
    int i = (int)(((float)f + 6.0f) * (1000.0f / 6.0f / 2.0f));
    double x = ((double)i / 1000 * 2 - 1) * 6;
    return (label - 1 / (1 + exp(-x))) * alpha;
}

/* Negative sampling for input h predicting word: neu1e gets h's gradient. */
static uint64_t ref_negative_sampling(double *syn1, const double *h, double *neu1e, int dim, int word, double alpha,
                                      uint64_t r, int negative, const uint32_t *cum, int vocab)
{
    for (int c = 0; c < dim; c++) neu1e[c] = 0;
    for (int d = 0; d <= negative; d++) {
        int target = word;
        double label = 1;
        if (d > 0) {
            r = ref_lcg(r);
            target = ref_negative(cum, vocab, r);
            if (target == word) continue;
            label = 0;
        }
        double *out = syn1 + (size_t)target * dim, f = 0;
        for (int c = 0; c < dim; c++) f += h[c] * out[c];
        double g = ref_scale(f, label, alpha);
        for (int c = 0; c < dim; c++) {
            neu1e[c] += g * out[c];
            out[c] += g * h[c];
        }
    }
    return r;
}

static void ref_train(double *syn0, double *syn1, int dim, const w2v_batch *b, const oclnn_word2vec_options *o,
                      const uint32_t *cum, int vocab)
{
    double *neu1e = malloc(sizeof(double) * (size_t)dim), *neu1 = malloc(sizeof(double) * (size_t)dim);
    for (int64_t k = 0; k < b->nchunk; k++) {
        uint64_t r = ((uint64_t)b->seed[2 * k + 1] << 32 | b->seed[2 * k]) & 0xFFFFFFFFFFFFull;
        for (int s = b->off[k]; s < b->off[k + 1];) {
            int e = s;
            while (b->tokens[e] >= 0) e++;
            for (int p = s; p < e; p++) {
                r = ref_lcg(r);
                int win = o->window - (int)(r % (uint64_t)o->window);
                int lo = p - win < s ? s : p - win, hi = p + win > e - 1 ? e - 1 : p + win, word = b->tokens[p];
                if (o->cbow) {
                    int cw = 0;
                    for (int c = 0; c < dim; c++) neu1[c] = 0;
                    for (int q = lo; q <= hi; q++)
                        if (q != p)
                            for (int c = 0; c < dim; c++) neu1[c] += syn0[(size_t)b->tokens[q] * dim + c];
                    cw = hi - lo;
                    if (cw == 0) continue;
                    for (int c = 0; c < dim; c++) neu1[c] /= cw;
                    r = ref_negative_sampling(syn1, neu1, neu1e, dim, word, b->alpha[k], r, o->negative, cum, vocab);
                    for (int q = lo; q <= hi; q++)
                        if (q != p)
                            for (int c = 0; c < dim; c++) syn0[(size_t)b->tokens[q] * dim + c] += neu1e[c];
                } else {
                    for (int q = lo; q <= hi; q++) {
                        if (q == p) continue;
                        double *in = syn0 + (size_t)b->tokens[q] * dim;
                        r = ref_negative_sampling(syn1, in, neu1e, dim, word, b->alpha[k], r, o->negative, cum,
                                                  vocab);
                        for (int c = 0; c < dim; c++) in[c] += neu1e[c];
                    }
                }
            }
            s = e + 1;
        }
    }
    free(neu1e);
    free(neu1);
}

static void check_launch(int cbow, int lanes)
{
    uint64_t st = tu_seed() + (uint64_t)(cbow * 2 + lanes);
    const int vocab = 29, dim = 37; /* 4 vectors of 8 and a tail of 5 */
    int64_t counts[29];
    for (int i = 0; i < vocab; i++) counts[i] = 1 + (int64_t)(next64(&st) % 1000);
    uint32_t *cum = w2v_cum_table(counts, vocab);
    float *syn0 = tu_random((size_t)(vocab * dim), -0.4f, 0.4f, &st);
    float *syn1 = tu_random((size_t)(vocab * dim), -0.4f, 0.4f, &st);
    double *r0 = malloc(sizeof(double) * (size_t)(vocab * dim)), *r1 = malloc(sizeof(double) * (size_t)(vocab * dim));
    for (int i = 0; i < vocab * dim; i++) r0[i] = syn0[i], r1[i] = syn1[i];
    float *syn1_before = malloc(sizeof(float) * (size_t)(vocab * dim));
    memcpy(syn1_before, syn1, sizeof(float) * (size_t)(vocab * dim));
    /* Three chunks of sentences of 1..15 words (one-word sentences do not
     * occur in real batches but must still work). */
    w2v_batch b = {0};
    b.tokens = malloc(sizeof(int32_t) * 400);
    b.off = malloc(sizeof(int32_t) * 4);
    b.alpha = malloc(sizeof(float) * 3);
    b.seed = malloc(sizeof(uint32_t) * 6);
    for (int k = 0; k < 3; k++) {
        b.off[k] = (int32_t)b.ntok;
        b.alpha[k] = 0.05f - 0.01f * (float)k;
        b.seed[2 * k] = (uint32_t)next64(&st);
        b.seed[2 * k + 1] = (uint32_t)next64(&st);
        for (int s = 0; s < 4; s++) {
            int n = 1 + (int)(next64(&st) % 15);
            for (int i = 0; i < n; i++) b.tokens[b.ntok++] = (int32_t)(next64(&st) % (uint64_t)vocab);
            b.tokens[b.ntok++] = -1;
        }
    }
    b.nchunk = 3;
    b.off[3] = (int32_t)b.ntok;
    oclnn_word2vec_options o;
    oclnn_word2vec_options_init(&o);
    o.dim = dim;
    o.window = 4;
    o.negative = 3;
    o.cbow = cbow;
    o.lanes = lanes;
    o.concurrent_chunks = 1; /* the chunks in order, as the reference */
    TU_OK(w2v_train_batch_host(tu_context(), &o, vocab, syn0, syn1, cum, &b));
    ref_train(r0, r1, dim, &b, &o, cum, vocab);
    double e0 = tu_nmse(syn0, r0, (size_t)(vocab * dim)), e1 = tu_nmse(syn1, r1, (size_t)(vocab * dim));
    /* Rounding, and now and then a dot product on the other side of a
     * sigmoid-table bin edge in float than in double (1e-10 at most). */
    ck_assert_msg(e0 < 1e-8 && e1 < 1e-8, "%s lanes %d: NMSE syn0 %g syn1neg %g", cbow ? "CBOW" : "skip-gram",
                  lanes, e0, e1);
    /* The update is not so small that a launch doing nothing would pass. */
    double moved = tu_nmse_f(syn1_before, syn1, (size_t)(vocab * dim));
    ck_assert_msg(moved > 1e-4, "the launch hardly changed syn1neg (%g)", moved);
    free(syn1_before);
    free(syn0);
    free(syn1);
    free(r0);
    free(r1);
    free(cum);
    w2v_batch_free(&b);
}

START_TEST(test_launch_skipgram) { check_launch(0, 1); check_launch(0, 4); }
END_TEST
START_TEST(test_launch_cbow) { check_launch(1, 1); check_launch(1, 4); }
END_TEST

/* ---- training end to end */

/* 8 groups of 6 words; each line has 10 words of one group. */
static char *synthetic_corpus(uint64_t seed)
{
    sbuf b = {0};
    for (int line = 0; line < 2000; line++) {
        int g = (int)(next64(&seed) % 8);
        for (int i = 0; i < 10; i++) {
            char w[16];
            snprintf(w, sizeof w, "g%dw%d ", g, (int)(next64(&seed) % 6));
            sb_add(&b, w);
        }
        sb_add(&b, "\n");
    }
    char *path = temp_file(b.s);
    free(b.s);
    return path;
}

static double cosine(const float *a, const float *b, int64_t d)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < d; i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    return ab / sqrt(aa * bb);
}

static void check_learns(int cbow)
{
    char *path = synthetic_corpus(tu_seed());
    oclnn_word2vec_options o;
    oclnn_word2vec_options_init(&o);
    o.dim = 24;
    o.min_count = 1;
    o.sample = 0;
    o.cbow = cbow;
    o.epochs = 3;
    o.batch_words = 5000;
    o.chunk_words = 200;
    oclnn_wordvec *wv;
    oclnn_word2vec_stats st;
    TU_OK(oclnn_word2vec_train(tu_context(), path, &o, &wv, &st));
    ck_assert_int_eq(oclnn_wordvec_count(wv), 48);
    ck_assert_int_eq(st.train_words, 3 * 20000);
    ck_assert_int_eq(st.trained_words, 3 * 20000);
    double same = 0, other = 0;
    int ns = 0, no = 0;
    for (int64_t i = 0; i < 48; i++)
        for (int64_t j = i + 1; j < 48; j++) {
            const char *a = oclnn_wordvec_word(wv, i), *b = oclnn_wordvec_word(wv, j);
            double c = cosine(oclnn_wordvec_vectors(wv) + i * 24, oclnn_wordvec_vectors(wv) + j * 24, 24);
            if (a[1] == b[1]) same += c, ns++;
            else other += c, no++;
        }
    same /= ns;
    other /= no;
    /* Random vectors give about 0 for both. */
    ck_assert_msg(same > 0.8 && same - other > 0.3, "%s: mean cosine within groups %.3f, across %.3f",
                  cbow ? "CBOW" : "skip-gram", same, other);
    oclnn_wordvec_release(wv);
    unlink(path);
    free(path);
}

START_TEST(test_learns_skipgram) { check_learns(0); }
END_TEST
START_TEST(test_learns_cbow) { check_learns(1); }
END_TEST

START_TEST(test_reproducible)
{
    char *path = synthetic_corpus(7);
    oclnn_word2vec_options o;
    oclnn_word2vec_options_init(&o);
    o.dim = 16;
    o.min_count = 1;
    o.epochs = 1;
    o.batch_words = 4000;
    o.concurrent_chunks = 1;
    oclnn_wordvec *wv[3];
    for (int i = 0; i < 3; i++) {
        o.seed = i == 2 ? 99 : 5;
        TU_OK(oclnn_word2vec_train(tu_context(), path, &o, &wv[i], NULL));
    }
    size_t bytes = sizeof(float) * 48 * 16;
    ck_assert(memcmp(oclnn_wordvec_vectors(wv[0]), oclnn_wordvec_vectors(wv[1]), bytes) == 0);
    ck_assert(memcmp(oclnn_wordvec_vectors(wv[0]), oclnn_wordvec_vectors(wv[2]), bytes) != 0);
    for (int i = 0; i < 3; i++) oclnn_wordvec_release(wv[i]);
    unlink(path);
    free(path);
}
END_TEST

/* ---- errors */

static void expect_error(const char *path, const oclnn_word2vec_options *o, oclnn_status want, const char *needle)
{
    oclnn_wordvec *wv = (oclnn_wordvec *)1;
    oclnn_status s = oclnn_word2vec_train(tu_context(), path, o, &wv, NULL);
    ck_assert_msg(s == want, "%s: got %s (%s)", needle, oclnn_status_name(s), oclnn_last_error());
    ck_assert_ptr_null(wv);
    ck_assert_msg(strstr(oclnn_last_error(), needle), "'%s' not in '%s'", needle, oclnn_last_error());
}

START_TEST(test_errors)
{
    char *empty = temp_file(" \n\t\n"), *text = temp_file("a b c a\nb a\n");
    expect_error("/nonexistent/corpus.txt", NULL, OCLNN_ERR_IO, "/nonexistent/corpus.txt");
    expect_error(empty, NULL, OCLNN_ERR_FORMAT, "has no words");
    expect_error(text, NULL, OCLNN_ERR_FORMAT, "min_count=5 times (the most frequent occurs 3 times)");
    const char *bad[] = {"dim", "window", "negative", "min_count", "sample", "epochs", "cbow", "alpha",
                         "min_alpha", "lanes"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        oclnn_word2vec_options o;
        oclnn_word2vec_options_init(&o);
        o.min_count = 1;
        switch (i) {
        case 0: o.dim = 0; break;
        case 1: o.window = 0; break;
        case 2: o.negative = 0; break;
        case 3: o.min_count = 0; break;
        case 4: o.sample = -0.5; break;
        case 5: o.epochs = 0; break;
        case 6: o.cbow = 2; break;
        case 7: o.alpha = -1; break;
        case 8: o.min_alpha = 1; break;
        default: o.lanes = 3; break;
        }
        char needle[32];
        snprintf(needle, sizeof needle, "bad option %s ", bad[i]);
        expect_error(text, &o, OCLNN_ERR_INVALID_ARG, needle);
    }
    ck_assert_int_eq(oclnn_word2vec_train(NULL, text, NULL, NULL, NULL), OCLNN_ERR_INVALID_ARG);
    char **w;
    int64_t *c, n;
    ck_assert_int_eq(oclnn_word2vec_vocab("/nonexistent/x", 1, &w, &c, &n, NULL), OCLNN_ERR_IO);
    ck_assert_int_eq(oclnn_word2vec_vocab(text, 0, &w, &c, &n, NULL), OCLNN_ERR_INVALID_ARG);
    unlink(empty);
    unlink(text);
    free(empty);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("word2vec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_vocab);
    tcase_add_test(tc, test_corpus_ids);
    tcase_add_test(tc, test_subsampling);
    tcase_add_test(tc, test_launch_skipgram);
    tcase_add_test(tc, test_launch_cbow);
    tcase_add_test(tc, test_learns_skipgram);
    tcase_add_test(tc, test_learns_cbow);
    tcase_add_test(tc, test_reproducible);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
