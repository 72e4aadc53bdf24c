/* oclnn embeddings: similarity, top-k search and word-vector files.
 *
 * Similarity ops (src/ops/similarity.c, cl/similarity.cl) are graph ops
 * with gradients; oclnn_knn_search is a host-level call that searches a
 * table of any size in chunks on the device. Word-vector files
 * (src/io/wordvec.c) are read into one contiguous f32 [count, dim] array,
 * ready to upload as an embedding table; fastText .bin models are read by
 * src/io/fasttext.c. */
#ifndef OCLNN_EMBEDDINGS_H
#define OCLNN_EMBEDDINGS_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Similarity between two sets of vectors a [M, D] and b [N, D] (f32,
 * 2-D, any view) -> [M, N]:
 *   COSINE       <a_i, b_j> / (max(|a_i|, 1e-12) max(|b_j|, 1e-12)): a zero
 *                row has similarity 0 to everything; normalise + one GEMM;
 *   SQ_EUCLIDEAN |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 <a_i, b_j>, one GEMM
 *                plus the norms, clamped at 0 (rounding); the gradient
 *                ignores the clamp;
 *   DOT          <a_i, b_j>, one GEMM.
 * Gradients flow to both a and b. NaN in a row gives NaN in its scores. */
typedef enum oclnn_metric { OCLNN_METRIC_COSINE = 0, OCLNN_METRIC_SQ_EUCLIDEAN = 1, OCLNN_METRIC_DOT = 2 } oclnn_metric;
oclnn_tensor *oclnn_pairwise(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b, oclnn_metric metric);
/* Whether the metric's best matches are its largest scores (cosine, dot)
 * or its smallest (distance); -1 for an unknown metric. */
int oclnn_metric_largest(oclnn_metric metric);
const char *oclnn_metric_name(oclnn_metric metric);

/* y = x / max(|x|_2, eps) over the last axis (F.normalize(x, dim=-1));
 * eps <= 0 means 1e-12. Rows with norm <= eps come out as x / eps. */
oclnn_tensor *oclnn_l2_normalize(oclnn_graph *g, oclnn_tensor *x, float eps);

/* Top-k along the last axis of scores [..., N] (f32, any view): the values
 * [..., k] (the returned tensor) and, in *indices, their columns [..., k]
 * as i32 (an output without gradient; mark it with oclnn_graph_output to
 * read it). largest != 0: the k largest, else the k smallest. Sorted best
 * first; exact ties (-0 equals +0) go to the lower index, so results are
 * deterministic. NaN ranks after every number in both orders (ties among
 * NaNs by index): NaNs come out only when fewer than k numbers exist.
 * 1 <= k <= min(N, 1024). The gradient of the values goes to the selected
 * scores (zeros elsewhere). k <= 32: every work item keeps a sorted
 * private list of its best k over its share of the row (keys tested eight
 * at a time against the list's worst; few elements enter) and the lists
 * are merged; larger k: a radix selection kernel. Neither sorts the row; a long row is split over
 * several work-groups whose candidates are merged. */
#define OCLNN_TOPK_MAX 1024
oclnn_tensor *oclnn_topk(oclnn_graph *g, oclnn_tensor *scores, int64_t k, int largest, oclnn_tensor **indices);

/* Brute-force k nearest neighbours of m queries [m, dim] among n table rows
 * [n, dim] (host row-major f32): values [m, k] and indices [m, k] (rows of
 * the table), best first, ordered as oclnn_topk orders them (the metric
 * says largest or smallest). One search of an oclnn_knn_index made for the
 * call (so the table must fit device memory; to search one table many
 * times, keep an oclnn_knn_index instead): the table is stored in pieces
 * of chunk_rows rows (0: as many as the device's allocation limit allows),
 * each chunk is scored (one GEMM) and top-k-selected on the device, and
 * the per-chunk lists are merged exactly on the host (ties still go to the
 * lower table row). 1 <= k <= min(n, OCLNN_TOPK_MAX), n <= INT32_MAX. */
oclnn_status oclnn_knn_search(oclnn_context *ctx, const float *queries, int64_t m, const float *table, int64_t n,
                              int64_t dim, int64_t k, oclnn_metric metric, int64_t chunk_rows, float *values,
                              int32_t *indices);

/* A table kept on the device for repeated k-NN searches: uploaded (and,
 * for cosine, L2-normalised on the device) once at create, then
 * each oclnn_knn_index_search call uploads only its queries, scores the
 * table in chunks (one GEMM each, a chunk's [m, chunk] scores within 64
 * MiB), selects the top-k of every chunk on the device and merges the
 * chunk lists exactly on the host. Up to 4 queries with k <= 32 (cosine,
 * dot) take a fused scan instead: the table is read once, scores and
 * top-k together, no score matrix. Results are those of
 * oclnn_knn_search: best first, ties to the lower row, NaN last. The
 * table may exceed one device allocation (it is stored in pieces) but must
 * fit the device's memory. The search graph for one (m, k) is kept until
 * a call with another m or k rebuilds it, so search batches of one size.
 * The index does not keep the caller's table pointer.
 *   create: n >= 1 rows of dim >= 1 (n <= INT32_MAX), a known metric;
 *   search: m >= 1 queries [m, dim], 1 <= k <= min(n, OCLNN_TOPK_MAX),
 *           values / indices [m, k];
 *   release: frees the index and sets *index to NULL, so releasing the
 *           same variable twice (or a NULL one) does nothing. */
typedef struct oclnn_knn_index oclnn_knn_index;
oclnn_status oclnn_knn_index_create(oclnn_context *ctx, const float *table, int64_t n, int64_t dim,
                                    oclnn_metric metric, oclnn_knn_index **out);
oclnn_status oclnn_knn_index_search(oclnn_knn_index *index, const float *queries, int64_t m, int64_t k,
                                    float *values, int32_t *indices);
void oclnn_knn_index_release(oclnn_knn_index **index);

/* How well labelled vectors [n, dim] (host row-major f32) retrieve their
 * own kind: each row queries all the others (leave-one-out) for its k
 * nearest under `metric`, and precision@k is the fraction of those k whose
 * label equals the row's. The row itself is excluded by index, wherever it
 * ranks (oclnn_knn_search for k + 1, so an exact duplicate, which ties and
 * goes first by lower index, still counts as a neighbour). *overall is the
 * mean over all n rows; per_class (optional, num_classes entries) the mean
 * over the rows of each label (NaN for a label no row has); neighbours
 * (optional, [n, k]) the rows found, best first. Labels in [0,
 * num_classes); 1 <= k <= min(n - 1, OCLNN_TOPK_MAX - 1): one of the top-k
 * places goes to the row itself. */
oclnn_status oclnn_knn_precision(oclnn_context *ctx, const float *vectors, int64_t n, int64_t dim,
                                 const int32_t *labels, int num_classes, int64_t k, oclnn_metric metric,
                                 double *overall, double *per_class, int32_t *neighbours);

/* ---- Word-vector files (src/io/wordvec.c). Formats:
 *   WORD2VEC_BINARY  header "count dim\n", then per word: the word, a space,
 *                    dim little-endian f32 (optionally followed by '\n', as
 *                    the original C tool writes; leading newlines of a word
 *                    are skipped, as gensim does);
 *   WORD2VEC_TEXT    header "count dim", then "word v1 ... vdim" per line;
 *   FASTTEXT_VEC     fastText's .vec: the same as WORD2VEC_TEXT (a trailing
 *                    space per line is fine);
 *   GLOVE            no header; dim is taken from the first line;
 *   FASTTEXT_BIN     fastText's binary model (.bin, as fastText's
 *                    save_model and gensim's save_facebook_model write it:
 *                    magic 793712314, version 12 (11 too), the arguments,
 *                    the dictionary, the input matrix of the words' and
 *                    `bucket` character n-gram rows). A word's vector is
 *                    fastText's: the mean of its own row and its n-gram
 *                    rows (what fastText's .vec and gensim's wv hold); the
 *                    n-gram rows are kept so oclnn_wordvec_vector_of gives
 *                    words outside the vocabulary a vector. Labels of
 *                    supervised models are skipped. Quantised models (.ftz)
 *                    and pruned dictionaries are OCLNN_ERR_UNSUPPORTED; a
 *                    truncated file, a bad magic, version, size or entry is
 *                    OCLNN_ERR_FORMAT naming the part. limit keeps the
 *                    first limit words (the others become out-of-vocabulary).
 * AUTO detects: fastText's magic number means FASTTEXT_BIN; otherwise a
 * first line of exactly two integers is a header, then a first record that
 * parses as text means text, else binary; no header means GloVe (a GloVe file of dim 1 whose first word is an integer is
 * misread as a header: name the format). Fields are separated by runs of
 * spaces or tabs; "\r\n" line ends are accepted; numbers are parsed as C's
 * strtof does (nan and inf included). The file is streamed once; vectors
 * land in one contiguous f32 [count, dim] array (ready for upload as an
 * embedding table); words are looked up through a hash table.
 *
 * Malformed input is an OCLNN_ERR_FORMAT naming the file and the line
 * (text) or the word number and byte offset (binary): a bad header, a row
 * with too few or too many numbers (wrong dimension), a field that is not a
 * number, fewer rows than the header's count (or more, other than blank
 * lines), a truncated binary record, a duplicate word, invalid UTF-8.
 * Policies, as options:
 *   duplicates   ERROR (default) or KEEP_FIRST: later rows of a word are
 *                skipped (gensim's behaviour, which logs a warning);
 *   invalid_utf8 ERROR (default, gensim's unicode_errors='strict') or
 *                REPLACE: each invalid byte becomes U+FFFD
 *                (unicode_errors='replace'; the original C tool can cut
 *                multi-byte characters at its 50-byte word limit).
 * I/O errors are OCLNN_ERR_IO, allocation failures OCLNN_ERR_OUT_OF_MEMORY. */
typedef enum oclnn_wordvec_format {
    OCLNN_WORDVEC_AUTO = 0,
    OCLNN_WORDVEC_WORD2VEC_BINARY,
    OCLNN_WORDVEC_WORD2VEC_TEXT,
    OCLNN_WORDVEC_FASTTEXT_VEC,
    OCLNN_WORDVEC_GLOVE,
    OCLNN_WORDVEC_FASTTEXT_BIN
} oclnn_wordvec_format;
enum { OCLNN_WORDVEC_DUP_ERROR = 0, OCLNN_WORDVEC_DUP_KEEP_FIRST = 1 };
enum { OCLNN_WORDVEC_UTF8_ERROR = 0, OCLNN_WORDVEC_UTF8_REPLACE = 1 };

typedef struct oclnn_wordvec_options {
    oclnn_wordvec_format format; /* AUTO (0): detect */
    int64_t limit;               /* read at most this many words (0: all) */
    int duplicates;              /* OCLNN_WORDVEC_DUP_* */
    int invalid_utf8;            /* OCLNN_WORDVEC_UTF8_* */
} oclnn_wordvec_options;

typedef struct oclnn_wordvec oclnn_wordvec;

/* Reads a word-vector file (options may be NULL: defaults). */
oclnn_status oclnn_wordvec_load(const char *path, const oclnn_wordvec_options *options, oclnn_wordvec **out);
void oclnn_wordvec_release(oclnn_wordvec *wv);
int64_t oclnn_wordvec_count(const oclnn_wordvec *wv);
int64_t oclnn_wordvec_dim(const oclnn_wordvec *wv);
/* The format read (AUTO resolved; a text file with a header reads as
 * WORD2VEC_TEXT unless FASTTEXT_VEC was asked for). */
oclnn_wordvec_format oclnn_wordvec_format_of(const oclnn_wordvec *wv);
/* Row-major f32 [count, dim], owned by wv. */
const float *oclnn_wordvec_vectors(const oclnn_wordvec *wv);
/* Word of row i (NUL-terminated UTF-8), NULL when i is out of range. */
const char *oclnn_wordvec_word(const oclnn_wordvec *wv, int64_t i);
/* All words, in row order (count entries, owned by wv). */
const char *const *oclnn_wordvec_words(const oclnn_wordvec *wv);
/* Row of a word (exact bytes), or -1. */
int64_t oclnn_wordvec_find(const oclnn_wordvec *wv, const char *word);

/* The vector of any word into out [dim]: its row when it is in the
 * vocabulary (exact bytes); otherwise, for a FASTTEXT_BIN model, the mean
 * of its character n-gram rows exactly as fastText computes it (n-grams of
 * minn..maxn UTF-8 characters of "<" word ">", FNV-1a over the bytes taken
 * as signed, modulo bucket). OCLNN_ERR_NOT_FOUND for an unknown word of
 * another format, or one without any n-gram (maxn 0, or too short). */
oclnn_status oclnn_wordvec_vector_of(const oclnn_wordvec *wv, const char *word, float *out);

/* Writes count words and their vectors [count, dim] in a format (AUTO is
 * refused): binary as the original word2vec tool does (a '\n' after each
 * vector), text with "%.9g" numbers, which read back to the same f32 bits
 * (gensim's load_word2vec_format reads both back exactly). Words must be
 * non-empty valid UTF-8 without spaces, tabs or line breaks, else
 * OCLNN_ERR_INVALID_ARG. Written to a temporary file renamed over path. */
oclnn_status oclnn_wordvec_save(const char *path, oclnn_wordvec_format format, int64_t count, int64_t dim,
                                const char *const *words, const float *vectors);

/* ---- Querying word vectors on the device (src/nn/wordvec_query.c) ----
 *
 * Rows of n words (exact bytes, as oclnn_wordvec_find) into rows[n]; the
 * first unknown word is an OCLNN_ERR_NOT_FOUND naming it. */
oclnn_status oclnn_wordvec_lookup(const oclnn_wordvec *wv, int64_t n, const char *const *words, int64_t *rows);

/* gensim's KeyedVectors.most_similar(positive, negative, topn=k,
 * restrict_vocab) for m queries at once. Query q combines the rows
 * positive[q*npositive ..] and negative[q*nnegative ..] (npositive >= 1,
 * nnegative >= 0, the same counts for every query) as gensim does: the
 * mean of the unit-normalised vectors, negatives weighted -1, normalised
 * again; candidates are the first restrict_vocab rows (<= 0 or more than
 * the count: all) ranked by cosine (oclnn_knn_search: one GEMM and a top-k
 * selection per chunk of the table on the device, queries in batches),
 * the query's own rows excluded. Writes scores [m, k] and rows [m, k],
 * best first (exact ties to the lower row); when fewer than k candidates
 * remain the rest are NaN / -1. 1 <= k, k + npositive + nnegative <=
 * OCLNN_TOPK_MAX. A row outside the table is OCLNN_ERR_INVALID_ARG.
 *   nearest neighbours of a word:  npositive 1, nnegative 0;
 *   analogy a : b :: c : ?         positive (b, c), negative (a) (3CosAdd). */
oclnn_status oclnn_wordvec_most_similar(oclnn_context *ctx, const oclnn_wordvec *wv, int64_t m, int npositive,
                                        const int64_t *positive, int nnegative, const int64_t *negative, int64_t k,
                                        int64_t restrict_vocab, float *scores, int64_t *rows);

/* ---- Evaluating word vectors (src/nn/wordvec_eval.c) ----
 *
 * Both evaluations follow gensim 4's KeyedVectors.evaluate_word_pairs and
 * evaluate_word_analogies with case_insensitive=True: a word of the file
 * matches the first of the first restrict_vocab rows (<= 0: all rows;
 * gensim's default is 300000) whose word has the same upper case
 * (utf8proc's simple upper-case mapping per code point, where Python also
 * applies special casing such as "ß" -> "SS"). Questions or pairs with an
 * unmatched word are skipped and counted, as gensim does without
 * dummy4unknown. Unlike gensim, which silently skips unreadable lines, a
 * malformed line is an OCLNN_ERR_FORMAT naming file:line (blank lines are
 * skipped; invalid UTF-8 is malformed too). */

/* Word-pair similarity (WordSim-353 as gensim's wordsim353.tsv, SimLex-999
 * as gensim's simlex999.txt): lines "word1<TAB>word2<TAB>score", lines
 * starting with '#' are comments. The cosine of each pair's vectors (a
 * zero vector has cosine 0) against the human scores: Spearman's rank
 * correlation (ties get their average rank, as scipy.stats.spearmanr) and
 * Pearson's. A file with no pair in the vocabulary is OCLNN_ERR_FORMAT;
 * with fewer than 2 pairs (or constant scores) the correlations are NaN. */
typedef struct oclnn_word_pairs_eval {
    int64_t used;      /* pairs whose words were both found */
    int64_t oov;       /* pairs skipped for an unknown word */
    double spearman, pearson;
} oclnn_word_pairs_eval;
oclnn_status oclnn_wordvec_eval_pairs(const oclnn_wordvec *wv, const char *path, int64_t restrict_vocab,
                                      oclnn_word_pairs_eval *out);

/* Analogies in the Google questions-words.txt format: ": section" lines,
 * then "a b c expected" per line, separated by ASCII whitespace (Python's
 * split() also splits at Unicode spaces). Each question is
 * answered as gensim does: most_similar(positive=[b, c], negative=[a],
 * topn=5) among the first restrict_vocab rows, the first of those five
 * whose upper case is none of the three inputs' is the prediction (if all
 * five are, the last one is). All questions run on the device in large
 * batches (oclnn_wordvec_most_similar). Sections whose name starts with
 * "gram" are syntactic, the others semantic. A question before any
 * section header is OCLNN_ERR_FORMAT, as for gensim. */
typedef struct oclnn_analogy_score {
    char *name;        /* section name (owned by the oclnn_analogy_eval) */
    int64_t correct;   /* questions answered correctly */
    int64_t used;      /* questions asked (accuracy = correct / used) */
    int64_t oov;       /* questions skipped for an unknown word */
} oclnn_analogy_score;
typedef struct oclnn_analogy_eval {
    int64_t nsections;
    oclnn_analogy_score *sections;            /* in file order */
    oclnn_analogy_score semantic, syntactic, total; /* names "semantic", "syntactic", "total" */
} oclnn_analogy_eval;
oclnn_status oclnn_wordvec_eval_analogies(oclnn_context *ctx, const oclnn_wordvec *wv, const char *path,
                                          int64_t restrict_vocab, oclnn_analogy_eval *out);
/* Frees what oclnn_wordvec_eval_analogies allocated in e (not e itself). */
void oclnn_analogy_eval_free(oclnn_analogy_eval *e);

#ifdef __cplusplus
}
#endif
#endif
