/* Internals of the word-vector reader shared by src/io/wordvec.c (text
 * and word2vec formats, lookup), src/io/fasttext.c (fastText .bin) and
 * src/nn/word2vec.c (a table built from arrays). */
#ifndef OCLNN_WORDVEC_INTERNAL_H
#define OCLNN_WORDVEC_INTERNAL_H

#include "oclnn/embeddings.h"

#include <stdio.h>

struct oclnn_wordvec {
    int64_t count, dim, cap;
    oclnn_wordvec_format format;
    float *vectors;          /* [cap, dim], count used */
    char **words;            /* [cap] */
    int64_t *table;          /* hash slots: row or -1; size nslots (power of two) */
    int64_t nslots;
    /* fastText .bin only: what gives out-of-vocabulary words a vector */
    float *ngrams;           /* [bucket, dim] n-gram rows, NULL for other formats */
    int64_t bucket;
    int minn, maxn;
};

typedef struct reader {
    const char *path;
    FILE *f;
    oclnn_wordvec *wv;
    oclnn_wordvec_options opt;
    int64_t header_count; /* -1: no header */
    int64_t file_bytes;
    char *line;
    size_t line_cap;
    int64_t lineno;
} reader;

oclnn_status wordvec_oom(const reader *r);
/* Adds the word (n bytes; its vector is already in row wv->count) unless
 * it is a duplicate that is skipped; applies the UTF-8 and duplicate
 * policies. where follows the path in messages. */
oclnn_status wordvec_add_word(reader *r, const char *s, size_t n, const char *where);
/* fastText .bin, after its magic number was seen (src/io/fasttext.c). */
oclnn_status wordvec_read_fasttext(reader *r);

/* A table of count distinct words (malloc'ed strings in a malloc'ed array)
 * and their vectors [count, dim] (malloc'ed), whose ownership passes to
 * the table, also on failure. format is what oclnn_wordvec_format_of says. */
oclnn_status oclnn_wordvec_adopt(int64_t count, int64_t dim, char **words, float *vectors,
                                 oclnn_wordvec_format format, oclnn_wordvec **out);

#endif
