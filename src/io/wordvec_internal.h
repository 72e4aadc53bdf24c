/* Internal: building a word-vector table from arrays (src/nn/word2vec.c). */
#ifndef OCLNN_WORDVEC_INTERNAL_H
#define OCLNN_WORDVEC_INTERNAL_H

#include "oclnn/embeddings.h"

/* A table of count distinct words (malloc'ed strings in a malloc'ed array)
 * and their vectors [count, dim] (malloc'ed), whose ownership passes to
 * the table, also on failure. format is what oclnn_wordvec_format_of says. */
oclnn_status oclnn_wordvec_adopt(int64_t count, int64_t dim, char **words, float *vectors,
                                 oclnn_wordvec_format format, oclnn_wordvec **out);

#endif
