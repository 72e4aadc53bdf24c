/* oclnn word2vec: trains word vectors from a text corpus on the device.
 *
 * The model is the original word2vec tool's (Mikolov et al. 2013) as gensim
 * also implements it: skip-gram or CBOW (mean of the context vectors),
 * negative sampling from the unigram^0.75 distribution, subsampling of
 * frequent words, a window shrunk at random per centre word, the sigmoid
 * from a 1000-entry table over (-6, 6) with clipped gradients outside, a learning
 * rate decaying linearly from alpha to min_alpha over all epochs, input
 * vectors initialised uniform in [-0.5/dim, 0.5/dim) and output vectors
 * zero. The result is the input vectors, one row per vocabulary word.
 *
 * How it runs (src/nn/word2vec.c, cl/word2vec.cl): the host reads the
 * corpus once into word ids, and per epoch subsamples it, cuts it into
 * chunks of whole sentences and sends a batch of chunks per kernel launch
 * (preparing the next batch while the device runs this one). One
 * work-group trains one chunk, word after word as the original tool's
 * threads do, and all chunks update the shared vectors without locks
 * (Hogwild, as the original tool and gensim do with several threads). A
 * work-group is one work item on CPUs (the loops over dim are explicit
 * vectors) and `lanes` work items splitting dim on GPUs.
 *
 * Randomness: subsampling draws come from Philox (seed, epoch, position)
 * and each chunk's windows and negatives from the original tool's LCG
 * seeded by Philox (seed, epoch, chunk), so they depend on the seed only.
 * With concurrent_chunks = 1 (one chunk in flight) a run is bit-for-bit
 * reproducible on a device; with more, the lock-free updates race (as in
 * the original tool and gensim with workers > 1) and results vary by
 * rounding, not in quality. */
#ifndef OCLNN_WORD2VEC_H
#define OCLNN_WORD2VEC_H

#include "oclnn/embeddings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress report, called from the training thread after each batch. */
typedef struct oclnn_word2vec_progress {
    int64_t words_done;  /* corpus words (before subsampling) processed, over all epochs */
    int64_t words_total; /* epochs * corpus words in the vocabulary */
    int epoch;           /* 0-based epoch of the last batch */
    double seconds;      /* since training started (after the vocabulary) */
    double words_per_s;  /* words_done / seconds */
    float alpha;         /* learning rate of the last batch */
} oclnn_word2vec_progress;

typedef struct oclnn_word2vec_options {
    int64_t dim;          /* vector size (100) */
    int window;           /* max distance between centre and context word (5) */
    int negative;         /* negative samples per prediction (5), >= 1 */
    int64_t min_count;    /* words seen fewer times are dropped (5) */
    double sample;        /* subsampling threshold (1e-3); 0 keeps every word */
    int epochs;           /* passes over the corpus (5) */
    int cbow;             /* 0: skip-gram, 1: CBOW with the mean of the context (0) */
    float alpha;          /* initial learning rate; 0: 0.025 skip-gram, 0.05 CBOW */
    float min_alpha;      /* final learning rate (0.0001) */
    uint64_t seed;        /* random seed (1) */
    /* Execution, not the model: */
    int64_t batch_words;  /* corpus words per kernel launch (0: 1 << 20) */
    int64_t chunk_words;  /* subsampled words per chunk (0: 1000 on CPUs, 100 else); sentences are not split */
    int64_t concurrent_chunks; /* most chunks in flight at once (0: as many as a batch has) */
    int lanes;            /* work items per chunk (0: 1 on CPUs, 32 otherwise) */
    /* Called after each batch (NULL: none). */
    void (*progress)(const oclnn_word2vec_progress *p, void *user);
    void *progress_user;
} oclnn_word2vec_options;

/* Summary of a finished run. */
typedef struct oclnn_word2vec_stats {
    int64_t vocab_size;
    int64_t corpus_words;   /* tokens in the corpus file */
    int64_t train_words;    /* epochs * tokens of vocabulary words */
    int64_t trained_words;  /* those left after subsampling, over all epochs */
    double vocab_seconds;   /* reading the corpus and building the vocabulary */
    double train_seconds;   /* training, from the first upload to the last read back */
    double words_per_s;     /* train_words / train_seconds */
} oclnn_word2vec_stats;

/* The defaults above (skip-gram). */
void oclnn_word2vec_options_init(oclnn_word2vec_options *o);

/* Vocabulary of a corpus: whitespace-separated tokens (each line is a
 * sentence; lines over 10000 tokens are cut into 10000-token sentences, as
 * gensim does), words seen at least min_count times, sorted by descending
 * count; equal counts go in reverse order of first appearance, as gensim 4
 * sorts them (the original tool's qsort leaves that order unspecified), so
 * both give the same word order. Writes
 * the words (a malloc'ed array of malloc'ed strings; free with
 * oclnn_word2vec_vocab_free) and their counts, and the corpus's token
 * count. Errors: a missing or unreadable file (OCLNN_ERR_IO), a file
 * without tokens or without a word reaching min_count (OCLNN_ERR_FORMAT,
 * naming the file and the count), min_count < 1 (OCLNN_ERR_INVALID_ARG). */
oclnn_status oclnn_word2vec_vocab(const char *corpus, int64_t min_count, char ***words, int64_t **counts,
                                  int64_t *count, int64_t *corpus_words);
void oclnn_word2vec_vocab_free(char **words, int64_t *counts, int64_t count);

/* Keep probability of a word seen `count` times among `total` vocabulary
 * tokens: (sqrt(count / (sample total)) + 1) (sample total) / count,
 * capped at 1 (the original tool's formula); 1 when sample is 0. */
double oclnn_word2vec_keep_probability(int64_t count, int64_t total, double sample);

/* Trains on a corpus file and returns the vocabulary words with their
 * input vectors as a word-vector table (save it with oclnn_wordvec_save;
 * release it with oclnn_wordvec_release). options NULL: defaults; stats
 * may be NULL. Bad options (dim, window, negative, epochs, alpha < 1 or
 * out of range, sample < 0, min_alpha > alpha, ...) are
 * OCLNN_ERR_INVALID_ARG naming the option; corpus errors as for
 * oclnn_word2vec_vocab. */
oclnn_status oclnn_word2vec_train(oclnn_context *ctx, const char *corpus, const oclnn_word2vec_options *options,
                                  oclnn_wordvec **out, oclnn_word2vec_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
