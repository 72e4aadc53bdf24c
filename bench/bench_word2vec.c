/* word2vec training speed (part of --only embedding): oclnn_word2vec_train
 * with gensim's defaults (dim 100, window 5, negative 5, min-count 5,
 * sample 1e-3), skip-gram and CBOW, one epoch.
 *
 * Corpora: the GCIDE text of scripts/get-corpus.sh when it is there (4.2M
 * words; skipped with a note otherwise), and always a synthetic one written
 * here, so that every device gets a row: sentences of 20 words drawn from
 * a Zipf(1) law over 30,000 words, as natural text's frequencies roughly
 * are. Timed: training only (the stats' train_seconds, from the first
 * upload to the last read back), not reading the corpus or building the
 * vocabulary. words/s (the img/s column) = corpus tokens of vocabulary
 * words / training seconds, as gensim and the original tool count them.
 * bench/gensim_word2vec.py train runs gensim on the same corpus.
 * Check: every vector finite and not all zero. */
#include "bench.h"
#include "core/data_dir.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SYNTH_VOCAB = 30000, SYNTH_SENTENCE = 20 };

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Writes `tokens` Zipf-distributed words into a new temporary file whose
 * path goes to path (a buffer of size bytes). 0 on success. */
static int write_synthetic_corpus(int64_t tokens, char *path, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/oclnn-bench-w2v-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    double *cdf = malloc(SYNTH_VOCAB * sizeof *cdf);
    if (!f || !cdf) {
        if (f) fclose(f);
        else close(fd);
        free(cdf);
        unlink(path);
        return -1;
    }
    double sum = 0;
    for (int i = 0; i < SYNTH_VOCAB; i++) cdf[i] = (sum += 1.0 / (i + 1));
    uint64_t state = 42;
    for (int64_t t = 0; t < tokens; t++) {
        double u = (double)(next_random(&state) >> 11) * 0x1p-53 * sum;
        int lo = 0, hi = SYNTH_VOCAB - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < u) lo = mid + 1;
            else hi = mid;
        }
        fprintf(f, "w%d%c", lo, (t + 1) % SYNTH_SENTENCE ? ' ' : '\n');
    }
    free(cdf);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        unlink(path);
        return -1;
    }
    return 0;
}

static int vectors_look_trained(const oclnn_wordvec *wv)
{
    const float *v = oclnn_wordvec_vectors(wv);
    int64_t n = oclnn_wordvec_count(wv) * oclnn_wordvec_dim(wv);
    int nonzero = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) return 0;
        nonzero |= v[i] != 0;
    }
    return nonzero;
}

static void train_one(bench_env *env, const char *corpus, const char *label, int cbow)
{
    oclnn_word2vec_options o;
    oclnn_word2vec_options_init(&o);
    o.epochs = 1;
    o.cbow = cbow;
    bench_result br = {.bench = "word2vec", .label = label, .repeats = 1};
    snprintf(br.shape, sizeof br.shape, "%s d%lld w%d n%d", cbow ? "cbow" : "sg", (long long)o.dim, o.window,
             o.negative);
    char what[96];
    snprintf(what, sizeof what, "word2vec %s %s", label, cbow ? "cbow" : "skip-gram");
    bench_progress(env, what);
    oclnn_wordvec *wv = NULL;
    oclnn_word2vec_stats st;
    oclnn_status s = oclnn_word2vec_train(env->ctx, corpus, &o, &wv, &st);
    if (s) {
        bench_fail(env, "word2vec", label, br.shape, oclnn_last_error());
        return;
    }
    br.seconds = br.min_seconds = st.train_seconds;
    br.images = (double)st.train_words;
    br.check_failed = !vectors_look_trained(wv);
    bench_report(env, &br);
    oclnn_wordvec_release(wv);
}

oclnn_status bench_word2vec(bench_env *env)
{
    char path[1024];
    if (!env->tiny && !env->quick) {
        if (oclnn_data_dir_file("corpus/gcide.txt", path, sizeof path) && access(path, R_OK) == 0) {
            for (int cbow = 0; cbow <= 1; cbow++) train_one(env, path, "gcide", cbow);
        } else {
            bench_note(env, "word2vec on GCIDE skipped: no %s (scripts/get-corpus.sh)", path);
        }
    }
    int64_t tokens = env->tiny ? 20000 : env->quick ? 400000 : 2000000;
    if (write_synthetic_corpus(tokens, path, sizeof path)) {
        bench_fail(env, "word2vec", "zipf", "", "cannot write a temporary corpus file ($TMPDIR)");
        return OCLNN_OK;
    }
    for (int cbow = 0; cbow <= 1; cbow++) train_one(env, path, "zipf", cbow);
    unlink(path);
    return OCLNN_OK;
}
