/* fastText's binary model (.bin, as its save_model and gensim's
 * save_facebook_model write it), read into an oclnn_wordvec:
 *
 *   int32 magic 793712314, int32 version (11 or 12)
 *   args: int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model,
 *         bucket, minn, maxn, lrUpdateRate; f64 t
 *   dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size;
 *         size entries (NUL-terminated word, int64 count, int8 type: 0
 *         word, 1 label; words first); pruneidx_size (int32, int32) pairs
 *   u8 quantised; input matrix: int64 rows (nwords + bucket), int64 cols
 *         (dim), rows*cols f32
 *   u8 quantised; output matrix (not needed here: only its size is checked)
 *
 * Little-endian, as every machine fastText runs on writes it. A word's
 * vector is fastText's getWordVector: the mean of its own input row and
 * the rows of its character n-grams, so wv->vectors holds what fastText's
 * .vec holds; the n-gram rows are kept for words outside the vocabulary
 * (oclnn_wordvec_vector_of). Quantised models (.ftz) and pruned
 * dictionaries are refused. */
#include "core/error.h"
#include "io/wordvec_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { FASTTEXT_MAGIC = 793712314, FASTTEXT_VERSION = 12 };

/* Reads n bytes or fails naming what was being read. */
static oclnn_status get(reader *r, void *buf, size_t n, const char *what)
{
    if (fread(buf, 1, n, r->f) == n) return OCLNN_OK;
    if (ferror(r->f))
        return oclnn_fail(OCLNN_ERR_IO, "wordvec: %s: read error in %s: %s", r->path, what, strerror(errno));
    return oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s: truncated fastText .bin: the file (%lld bytes) ends in %s",
                      r->path, (long long)r->file_bytes, what);
}

static oclnn_status get_i32(reader *r, int32_t *v, const char *what)
{
    unsigned char b[4];
    oclnn_status s = get(r, b, 4, what);
    *v = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    return s;
}

static oclnn_status get_i64(reader *r, int64_t *v, const char *what)
{
    int32_t lo = 0, hi = 0;
    oclnn_status s = get_i32(r, &lo, what);
    if (!s) s = get_i32(r, &hi, what);
    *v = (int64_t)((uint64_t)(uint32_t)hi << 32 | (uint32_t)lo);
    return s;
}

static oclnn_status get_f32s(reader *r, float *out, int64_t n, const char *what)
{
    oclnn_status s = get(r, out, (size_t)n * 4, what);
    for (int64_t i = 0; i < n && !s; i++) { /* to host order */
        const unsigned char *b = (const unsigned char *)&out[i];
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&out[i], &u, 4);
    }
    return s;
}

static oclnn_status bad(const reader *r, const char *fmt, long long a, long long b)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, a, b);
    return oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s: not a valid fastText .bin: %s", r->path, msg);
}

/* fastText's Dictionary::hash: FNV-1a over the bytes taken as signed. */
static uint32_t ngram_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)(int32_t)(signed char)s[i]) * 16777619u;
    return h;
}

/* Adds the n-gram rows of "<word>" to acc (fastText's computeSubwords:
 * n-grams of minn..maxn UTF-8 characters; no single-character n-gram at
 * either boundary) and returns how many were added. */
static int64_t add_ngrams(const oclnn_wordvec *wv, const char *word, size_t len, float *acc)
{
    if (!wv->ngrams || wv->bucket <= 0 || wv->maxn <= 0) return 0;
    size_t n = len + 2;
    char *w = malloc(n);
    if (!w) return -1;
    w[0] = '<';
    memcpy(w + 1, word, len);
    w[n - 1] = '>';
    int64_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if ((w[i] & 0xC0) == 0x80) continue;
        size_t j = i;
        for (int chars = 1; j < n && chars <= wv->maxn; chars++) {
            j++;
            while (j < n && (w[j] & 0xC0) == 0x80) j++;
            if (chars >= wv->minn && !(chars == 1 && (i == 0 || j == n))) {
                const float *row = wv->ngrams + (int64_t)(ngram_hash(w + i, j - i) % (uint32_t)wv->bucket) * wv->dim;
                for (int64_t k = 0; k < wv->dim; k++) acc[k] += row[k];
                count++;
            }
        }
    }
    free(w);
    return count;
}

oclnn_status wordvec_read_fasttext(reader *r)
{
    oclnn_wordvec *wv = r->wv;
    int32_t head[2], a[12];
    double t;
    oclnn_status s = get_i32(r, &head[0], "the header");
    if (!s) s = get_i32(r, &head[1], "the header");
    if (!s && head[0] != FASTTEXT_MAGIC) return bad(r, "magic number %lld, expected %lld", head[0], FASTTEXT_MAGIC);
    if (!s && (head[1] < 11 || head[1] > FASTTEXT_VERSION))
        return bad(r, "version %lld (versions 11 and %lld are read)", head[1], FASTTEXT_VERSION);
    for (int i = 0; i < 12 && !s; i++) s = get_i32(r, &a[i], "the arguments block");
    if (!s) s = get(r, &t, sizeof t, "the arguments block");
    if (s) return s;
    int32_t dim = a[0], model = a[7], bucket = a[8], minn = a[9], maxn = a[10];
    if (head[1] == 11 && model == 3) maxn = 0; /* old supervised models used no n-grams (fastText's rule) */
    if (dim < 1 || bucket < 0 || minn < 0 || maxn < 0)
        return bad(r, "dim %lld, bucket %lld, or a negative minn / maxn in the arguments", dim, bucket);
    int32_t size, nwords, nlabels;
    int64_t ntokens, npruned;
    s = get_i32(r, &size, "the dictionary header");
    if (!s) s = get_i32(r, &nwords, "the dictionary header");
    if (!s) s = get_i32(r, &nlabels, "the dictionary header");
    if (!s) s = get_i64(r, &ntokens, "the dictionary header");
    if (!s) s = get_i64(r, &npruned, "the dictionary header");
    if (s) return s;
    if (nwords < 0 || nlabels < 0 || size != (int64_t)nwords + nlabels)
        return bad(r, "dictionary of %lld entries, %lld words plus labels", size, nwords);
    if (npruned >= 0)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "wordvec: %s: a pruned fastText dictionary (%lld n-grams kept): "
                          "only quantised models are pruned; use the unquantised .bin", r->path, (long long)npruned);
    int64_t keep = r->opt.limit > 0 && r->opt.limit < nwords ? r->opt.limit : nwords;
    wv->dim = dim;
    wv->bucket = bucket;
    wv->minn = minn;
    wv->maxn = bucket > 0 ? maxn : 0;
    wv->format = OCLNN_WORDVEC_FASTTEXT_BIN;
    /* The words' bytes as read (n-grams hash these), then the matrix. */
    char **raw = calloc((size_t)(keep ? keep : 1), sizeof *raw);
    size_t *rawlen = calloc((size_t)(keep ? keep : 1), sizeof *rawlen);
    wv->vectors = malloc((size_t)(keep ? keep : 1) * (size_t)dim * sizeof(float));
    wv->words = calloc((size_t)(keep ? keep : 1), sizeof *wv->words);
    wv->ngrams = malloc((size_t)(bucket ? bucket : 1) * (size_t)dim * sizeof(float));
    if (!raw || !rawlen || !wv->vectors || !wv->words || !wv->ngrams) s = wordvec_oom(r);
    wv->cap = keep;
    size_t wcap = 64, n = 0;
    char *word = s ? NULL : malloc(wcap), what[96];
    if (!s && !word) s = wordvec_oom(r);
    for (int64_t e = 0; e < size && !s; e++) {
        snprintf(what, sizeof what, "dictionary entry %lld of %lld", (long long)e + 1, (long long)size);
        int c;
        for (n = 0; (c = getc(r->f)) != EOF && c != 0; word[n++] = (char)c) {
            if (n + 1 >= wcap) {
                char *w = n >= (1u << 20) ? NULL : realloc(word, wcap *= 2);
                if (!w) {
                    s = n >= (1u << 20) ? bad(r, "dictionary entry %lld: over 1 MiB without its NUL byte", e + 1, 0)
                                        : wordvec_oom(r);
                    break;
                }
                word = w;
            }
        }
        int64_t count;
        signed char type;
        if (!s && c == EOF) s = get(r, &type, 1, what); /* reports the truncation */
        if (!s) s = get_i64(r, &count, what);
        if (!s) s = get(r, &type, 1, what);
        if (!s && (type != (e < nwords ? 0 : 1)))
            s = bad(r, "dictionary entry %lld has type %lld (words, type 0, come before labels, type 1)", e + 1, type);
        if (!s && n == 0) s = bad(r, "dictionary entry %lld of %lld is an empty word", e + 1, size);
        if (!s && e < keep) {
            raw[e] = malloc(n + 1);
            if (!raw[e]) s = wordvec_oom(r);
            else memcpy(raw[e], word, n), raw[e][n] = 0, rawlen[e] = n;
        }
    }
    free(word);
    unsigned char quant = 0;
    int64_t rows = 0, cols = 0;
    if (!s) s = get(r, &quant, 1, "the input matrix's quantisation flag");
    if (!s && quant)
        s = oclnn_fail(OCLNN_ERR_UNSUPPORTED, "wordvec: %s: a quantised fastText model (.ftz): its vectors are "
                       "product-quantised codes; use the unquantised .bin (or fasttext's .vec)", r->path);
    if (!s) s = get_i64(r, &rows, "the input matrix's size");
    if (!s) s = get_i64(r, &cols, "the input matrix's size");
    if (!s && (rows != (int64_t)nwords + bucket || cols != dim))
        s = bad(r, "input matrix %lld x %lld, expected words + bucket rows of dim", rows, cols);
    /* The output matrix must be complete too: a cut file is not a model. */
    long start = s ? 0 : ftell(r->f);
    int64_t need = start + rows * cols * 4 + 1 + 16;
    if (!s && r->file_bytes < need)
        s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s: truncated fastText .bin: %lld bytes, the input matrix "
                       "(%lld x %lld) alone needs %lld", r->path, (long long)r->file_bytes, (long long)rows,
                       (long long)cols, (long long)need);
    if (!s) s = get_f32s(r, wv->vectors, keep * dim, "the input matrix");
    if (!s && fseek(r->f, (long)((nwords - keep) * dim * 4), SEEK_CUR))
        s = oclnn_fail(OCLNN_ERR_IO, "wordvec: %s: seek failed: %s", r->path, strerror(errno));
    if (!s) s = get_f32s(r, wv->ngrams, (int64_t)bucket * dim, "the input matrix's n-gram rows");
    int64_t orows = 0, ocols = 0;
    if (!s) s = get(r, &quant, 1, "the output matrix");
    if (!s && !quant) {
        s = get_i64(r, &orows, "the output matrix's size");
        if (!s) s = get_i64(r, &ocols, "the output matrix's size");
        if (!s && (orows < 0 || ocols != dim || r->file_bytes - ftell(r->f) != orows * ocols * 4))
            s = bad(r, "the output matrix (%lld rows) does not fit the %lld bytes after it", orows,
                    r->file_bytes - ftell(r->f));
    }
    /* Each word's vector: its row plus its n-gram rows, averaged. */
    for (int64_t e = 0; e < keep && !s; e++) {
        float *v = wv->vectors + wv->count * dim;
        if (v != wv->vectors + e * dim) memcpy(v, wv->vectors + e * dim, (size_t)dim * sizeof *v);
        int64_t k = strcmp(raw[e], "</s>") ? add_ngrams(wv, raw[e], rawlen[e], v) : 0;
        if (k < 0) s = wordvec_oom(r);
        float inv = (float)(1.0 / (double)(k + 1)); /* fastText's Vector::mul(1.0 / n) */
        for (int64_t j = 0; j < dim && k > 0; j++) v[j] *= inv;
        snprintf(what, sizeof what, ": dictionary entry %lld", (long long)e + 1);
        if (!s) s = wordvec_add_word(r, raw[e], rawlen[e], what);
    }
    for (int64_t e = 0; e < keep; e++) free(raw[e]);
    free(raw);
    free(rawlen);
    return s;
}

oclnn_status oclnn_wordvec_vector_of(const oclnn_wordvec *wv, const char *word, float *out)
{
    if (!wv || !word || !out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_vector_of: NULL argument");
    int64_t row = oclnn_wordvec_find(wv, word);
    if (row >= 0) {
        memcpy(out, wv->vectors + row * wv->dim, (size_t)wv->dim * sizeof *out);
        return OCLNN_OK;
    }
    if (!wv->ngrams)
        return oclnn_fail(OCLNN_ERR_NOT_FOUND, "wordvec: '%.80s' is not in the vocabulary (only a fastText .bin "
                          "has the subword rows that give unknown words a vector)", word);
    for (int64_t j = 0; j < wv->dim; j++) out[j] = 0;
    int64_t k = add_ngrams(wv, word, strlen(word), out);
    if (k < 0) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_wordvec_vector_of: out of host memory");
    if (k == 0)
        return oclnn_fail(OCLNN_ERR_NOT_FOUND, "wordvec: '%.80s' is not in the vocabulary and has no character "
                          "n-grams of %d..%d characters to build a vector from", word, wv->minn, wv->maxn);
    float inv = (float)(1.0 / (double)k);
    for (int64_t j = 0; j < wv->dim; j++) out[j] *= inv;
    return OCLNN_OK;
}
