/* Internal pieces of word2vec training (src/nn/word2vec.c), exposed for
 * tests/test_word2vec.c: the corpus as word ids, batch preparation
 * (subsampling, chunks) and one kernel launch on host arrays. */
#ifndef OCLNN_WORD2VEC_INTERNAL_H
#define OCLNN_WORD2VEC_INTERNAL_H

#include "oclnn/word2vec.h"

/* The corpus read once: ids of vocabulary words (sorted vocabulary order),
 * each sentence ended by -1; words below min_count are left out and
 * sentences left without words are dropped. */
typedef struct w2v_corpus {
    int32_t *ids;
    int64_t n;
    char **words;
    int64_t *counts;
    int64_t vocab;
    int64_t corpus_words; /* tokens in the file */
    int64_t train_words;  /* tokens of vocabulary words (sum of counts) */
} w2v_corpus;

oclnn_status w2v_corpus_read(const char *path, int64_t min_count, int keep_ids, w2v_corpus *c);
void w2v_corpus_free(w2v_corpus *c);

/* One launch's work: chunks k = 0..nchunk-1 of tokens[off[k] .. off[k+1])
 * (sentences of >= 2 words, each ended by -1), each with its learning rate
 * and LCG seed (seed[2k] low, seed[2k+1] high 32 bits). */
typedef struct w2v_batch {
    int32_t *tokens, *off;
    float *alpha;
    uint32_t *seed;
    int64_t ntok, nchunk;
    int64_t raw_words;  /* corpus vocabulary tokens the batch covered */
    int64_t kept_words; /* those left after subsampling (in sentences of >= 2) */
    int64_t cap_tok, cap_chunk;
} w2v_batch;

/* Where batch preparation stands: the next sentence of the corpus stream. */
typedef struct w2v_cursor {
    int epoch;
    int64_t pos;        /* index into corpus ids */
    int64_t raw_done;   /* vocabulary tokens before pos in this epoch */
    int64_t chunk_id;   /* chunks started in this epoch */
} w2v_cursor;

typedef struct w2v_plan {
    const w2v_corpus *corpus;
    const uint32_t *keep; /* per word: keep when a Philox word < keep (UINT32_MAX: always) */
    oclnn_word2vec_options opt;
} w2v_plan;

/* Keep thresholds of the plan's words (malloc'ed; NULL when out of memory). */
uint32_t *w2v_keep_thresholds(const w2v_corpus *c, double sample);
/* Fills b from the cursor on: whole sentences, subsampled, until at least
 * opt.batch_words corpus words are covered or the epoch ends (then the
 * cursor moves to the next epoch). b's arrays are grown as needed. */
oclnn_status w2v_batch_fill(const w2v_plan *plan, w2v_cursor *cur, w2v_batch *b);
void w2v_batch_free(w2v_batch *b);

/* Runs one launch of w2v_train on the device for host arrays syn0 and
 * syn1neg [vocab, dim] (updated in place) and a cumulative negative
 * table cum[vocab]; opt gives dim, window, negative, cbow, lanes and
 * concurrent_chunks. */
oclnn_status w2v_train_batch_host(oclnn_context *ctx, const oclnn_word2vec_options *opt, int64_t vocab,
                                  float *syn0, float *syn1neg, const uint32_t *cum, const w2v_batch *b);
/* The unigram^0.75 cumulative table over counts, scaled to 2^31 - 1. */
uint32_t *w2v_cum_table(const int64_t *counts, int64_t vocab);
/* guide[j] = the first word whose cum exceeds floor(j cum[vocab-1] /
 * guides), j = 0..guides: where the kernel's search for a negative starts. */
#define W2V_GUIDES 65536
int32_t *w2v_guide_table(const uint32_t *cum, int64_t vocab, int guides);
/* sigmoid(x) at x = (i / 1000 * 2 - 1) * 6, i = 0..999: the original
 * tool's and gensim's EXP_TABLE, which the kernel indexes with
 * (int)((f + 6) * 1000 / 12) for f in (-6, 6). */
#define W2V_SIGMOID_TABLE 1000
void w2v_sigmoid_table(float *t);

#endif
