/* MiniLM (all-MiniLM-L6-v2) sentence embeddings per second, end to end:
 * tokenize, run the encoder, pool and normalise, read back
 * (oclnn_bert_embed). The sentences (8 to 64 tokens) are the ones
 * bench/pytorch_reference.py --bert builds, so the two can be compared. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const words[] = {
    "the", "man", "woman", "dog", "cat", "is", "eating", "food", "in", "a", "small", "house", "near", "river",
    "while", "children", "play", "music", "on", "old", "guitar", "and", "people", "walk", "through", "green",
    "park", "with", "their", "friends", "every", "morning", "before", "work", "city", "bright",
};
#define NWORDS ((int)(sizeof words / sizeof words[0]))

/* Sentence i: 6 + (37 i mod 57) words, all single word pieces: 8 to 64
 * tokens with [CLS] and [SEP]. */
static char *sentence(int i)
{
    int n = 6 + (37 * i) % 57;
    char *s = malloc((size_t)n * 10 + 1), *p = s;
    if (!s) return NULL;
    for (int j = 0; j < n; j++) p += sprintf(p, j ? " %s" : "%s", words[(7 * i + 13 * j) % NWORDS]);
    return s;
}

oclnn_status bench_minilm(bench_env *env)
{
    char dir[4096];
    const char *env_dir = getenv("OCLNN_BERT_MODEL");
    if (env_dir && *env_dir) snprintf(dir, sizeof dir, "%s", env_dir);
    else oclnn_model_dir(OCLNN_MINILM_NAME, dir, sizeof dir);
    oclnn_bert *m;
    bench_progress(env, "minilm: loading the model");
    if (oclnn_bert_load(env->ctx, dir, &m)) {
        bench_note(env, "minilm skipped: %s (scripts/get-model.sh minilm)", oclnn_last_error());
        return OCLNN_OK;
    }
    const int count = env->tiny ? 4 : 64;
    char **texts = calloc((size_t)count, sizeof *texts);
    float *out = malloc((size_t)count * (size_t)oclnn_bert_get_config(m)->hidden_size * sizeof(float));
    oclnn_status s = texts && out ? OCLNN_OK : OCLNN_ERR_OUT_OF_MEMORY;
    for (int i = 0; !s && i < count; i++)
        if (!(texts[i] = sentence(i))) s = OCLNN_ERR_OUT_OF_MEMORY;
    static const int batches[] = {1, 32};
    for (int b = 0; !s && b < 2; b++) {
        char label[32];
        snprintf(label, sizeof label, "embed.b%d", batches[b]);
        bench_progress(env, label);
        /* warm-up: compiles every bucket graph this batch size needs */
        s = oclnn_bert_embed(m, count, (const char *const *)texts, 0, batches[b], out, NULL, NULL);
        double *t = malloc((size_t)env->repeat * sizeof *t);
        for (int r = 0; !s && t && r < env->repeat; r++) {
            double t0 = bench_now();
            s = oclnn_bert_embed(m, count, (const char *const *)texts, 0, batches[b], out, NULL, NULL);
            t[r] = bench_now() - t0;
        }
        if (s || !t) {
            bench_fail(env, "minilm", label, "", s ? oclnn_last_error() : "out of memory");
            free(t);
            s = OCLNN_OK;
            continue;
        }
        bench_result res = {.bench = "minilm", .label = label, .repeats = env->repeat, .images = count};
        snprintf(res.shape, sizeof res.shape, "%d sentences, 8-64 tok", count);
        double best = t[0];
        for (int i = 1; i < env->repeat; i++) {
            if (t[i] < best) best = t[i];
            for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                double x = t[j];
                t[j] = t[j - 1];
                t[j - 1] = x;
            }
        }
        res.seconds = t[env->repeat / 2];
        res.min_seconds = best;
        free(t);
        bench_report(env, &res);
    }
    if (texts)
        for (int i = 0; i < count; i++) free(texts[i]);
    free(texts);
    free(out);
    oclnn_bert_free(m);
    return s;
}
