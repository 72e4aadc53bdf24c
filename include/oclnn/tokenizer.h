/* oclnn tokenizer: BERT's WordPiece tokenizer (uncased), host side only.
 *
 * Text becomes token ids exactly as Hugging Face's BertTokenizer makes them
 * for an uncased BERT vocabulary (do_lower_case=True, tokenize_chinese_chars
 * =True, strip_accents unset) - the tokenizer of bert-base-uncased and of
 * sentence-transformers' all-MiniLM-L6-v2, whose tokenizer.json has the same
 * settings. The steps, in order:
 *
 *   1. special tokens: [CLS], [SEP], [UNK], [PAD] and [MASK] written
 *      literally in the text (case-sensitive) are kept as those tokens;
 *      the text between them goes through steps 2-5;
 *   2. clean: NUL, U+FFFD and control characters (general category Cc, Cf,
 *      Co, except tab, newline and carriage return) are dropped; whitespace
 *      (the Unicode White_Space set: space, tab, newline, NBSP, U+2028, ...)
 *      becomes a space;
 *   3. CJK ideographs get a space on each side, so each is a word;
 *   4. accents are stripped (canonical decomposition, NFD, then every
 *      non-spacing mark, category Mn, is dropped) and letters lower-cased;
 *   5. words are split at whitespace and every punctuation character (ASCII
 *      33-47, 58-64, 91-96, 123-126 and Unicode categories P*) is a word of
 *      its own; each word then becomes the longest vocabulary entry that
 *      starts it, then the longest "##" continuation, and so on (greedy
 *      longest match first). A word of more than 100 characters, or one with
 *      a part that matches nothing, becomes [UNK].
 *
 * Encoding adds [CLS] text [SEP] (a pair: [CLS] a [SEP] b [SEP], with
 * token_type_ids 0 for the first part and 1 for b [SEP]), truncates to a
 * maximum length and pads a batch to its longest row with [PAD] and
 * attention mask 0.
 *
 * Unicode data (categories, decompositions, case mappings) come from
 * libutf8proc. Text must be valid UTF-8: anything else is refused with an
 * error naming the byte offset (nothing is replaced silently). Loaded
 * tokenizers are read-only, so one may be used by several threads at once.
 *
 *     oclnn_tokenizer *tok;
 *     if (oclnn_tokenizer_load("models/all-MiniLM-L6-v2", &tok)) puts(oclnn_last_error());
 *     const char *texts[2] = {"A man is eating food.", "Someone plays a guitar."};
 *     oclnn_token_batch b;
 *     oclnn_tokenizer_encode_batch(tok, 2, texts, NULL, OCLNN_TOKENIZER_MAX_LENGTH, &b);
 *     // b.ids, b.type_ids, b.attention_mask: [b.count, b.length] int32, row-major
 *     oclnn_token_batch_free(&b);
 *     oclnn_tokenizer_free(tok);
 */
#ifndef OCLNN_TOKENIZER_H
#define OCLNN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "oclnn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default maximum length of an encoding, special tokens included:
 * all-MiniLM-L6-v2's max_seq_length. */
#define OCLNN_TOKENIZER_MAX_LENGTH 256
/* Words longer than this many characters (after step 4) become [UNK]. */
#define OCLNN_TOKENIZER_MAX_WORD_CHARS 100

typedef struct oclnn_tokenizer oclnn_tokenizer;

/* Loads a WordPiece vocabulary: a UTF-8 text file with one token per line,
 * the line number (from 0) being the token's id; lines end in \n, \r\n or
 * \r, and a token that appears twice gets its later id. `path` is the file
 * or a model directory holding vocab.txt. Failures (*out = NULL; the
 * message names the file):
 *   OCLNN_ERR_IO       the file cannot be opened or read
 *   OCLNN_ERR_FORMAT   empty file; a line that is not UTF-8 or holds a NUL
 *                      byte (the line number is given); no [UNK], [CLS],
 *                      [SEP] or [PAD] line ([MASK] is optional)
 *   OCLNN_ERR_OUT_OF_MEMORY */
oclnn_status oclnn_tokenizer_load(const char *path, oclnn_tokenizer **out);
/* NULL is fine. */
void oclnn_tokenizer_free(oclnn_tokenizer *tok);

/* Number of lines (ids) of the vocabulary. */
int32_t oclnn_tokenizer_vocab_size(const oclnn_tokenizer *tok);
/* Id of a vocabulary entry ("##ing", "[CLS]"), or -1 when it has none. */
int32_t oclnn_tokenizer_token_id(const oclnn_tokenizer *tok, const char *piece);
/* The vocabulary entry of an id (valid while tok lives), or NULL when the
 * id is out of range. */
const char *oclnn_tokenizer_piece(const oclnn_tokenizer *tok, int32_t id);

/* Ids of the special tokens; mask is -1 when the vocabulary has no [MASK]. */
typedef struct oclnn_special_tokens {
    int32_t pad, unk, cls, sep, mask;
} oclnn_special_tokens;
oclnn_special_tokens oclnn_tokenizer_special(const oclnn_tokenizer *tok);

/* Tokenizes len bytes of UTF-8 text (steps 1-5, no [CLS]/[SEP], no
 * truncation): *ids gets a malloc'ed array of *count ids (NULL when
 * count is 0); release it with free(). NUL bytes inside the text are
 * dropped like any control character. Failures (*ids = NULL, *count = 0):
 *   OCLNN_ERR_INVALID_ARG   the text is not valid UTF-8: the message names
 *                           the byte offset and value (overlong forms,
 *                           surrogates and code points above U+10FFFF are
 *                           invalid too)
 *   OCLNN_ERR_OUT_OF_MEMORY */
oclnn_status oclnn_tokenizer_tokenize(const oclnn_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                                      int64_t *count);

/* A batch of encoded texts, padded to its longest row. Every array is
 * malloc'ed and row-major; row i holds lengths[i] real tokens, then padding
 * ([PAD], type 0, mask 0). */
typedef struct oclnn_token_batch {
    int64_t count;           /* rows (texts) */
    int64_t length;          /* columns: the longest row, special tokens included */
    int32_t *ids;            /* [count, length] token ids */
    int32_t *type_ids;       /* [count, length] 0 for [CLS] a [SEP], 1 for b [SEP] */
    int32_t *attention_mask; /* [count, length] 1 for real tokens, 0 for padding */
    int64_t *lengths;        /* [count] real tokens of each row */
} oclnn_token_batch;

/* Encodes count texts (NUL-terminated UTF-8), each alone or with its pair:
 * pairs may be NULL (no pairs), and pairs[i] NULL makes row i a single text
 * (an empty string is an empty second part: [CLS] a [SEP] [SEP]).
 * max_length > 0 truncates every row to at most that many tokens, special
 * tokens included; 0 keeps every token. A single text keeps its first
 * max_length - 2 tokens; a pair is cut as Hugging Face's "longest_first"
 * does: with room for R = max_length - 3 tokens, when the shorter part has
 * at most R/2 (rounded down) tokens it stays whole and the longer keeps the
 * rest, else the first part keeps R/2 (rounded down, or up when it is the
 * longer one) and the second the rest. Failures (*out zeroed):
 *   OCLNN_ERR_INVALID_ARG   NULL arguments, count < 0, max_length below the
 *                           special tokens it must hold (2 for a single text,
 *                           3 for a pair), or a text that is not UTF-8 (the
 *                           message names the row, which part, the offset)
 *   OCLNN_ERR_OUT_OF_MEMORY */
oclnn_status oclnn_tokenizer_encode_batch(const oclnn_tokenizer *tok, int64_t count, const char *const *texts,
                                          const char *const *pairs, int64_t max_length, oclnn_token_batch *out);
/* One text (pair NULL) or one pair: a batch of one row, no padding. */
oclnn_status oclnn_tokenizer_encode(const oclnn_tokenizer *tok, const char *text, const char *pair,
                                    int64_t max_length, oclnn_token_batch *out);
/* Frees the arrays and zeroes *batch; NULL and zeroed structs are fine. */
void oclnn_token_batch_free(oclnn_token_batch *batch);

#ifdef __cplusplus
}
#endif

#endif
