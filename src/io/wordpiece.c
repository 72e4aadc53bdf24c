/* BERT's WordPiece tokenizer (include/oclnn/tokenizer.h).
 *
 * The reference is Hugging Face's BertTokenizer as transformers 5 ships it
 * (backed by the `tokenizers` library: BertNormalizer + BertPreTokenizer +
 * WordPiece, the same pipeline as all-MiniLM-L6-v2's tokenizer.json and
 * what sentence-transformers runs). tests/gen/wordpiece_fixture.py records
 * its ids for a few hundred strings; tests/test_wordpiece.c matches them.
 * Where that implementation and the older pure-Python one
 * (BertTokenizerLegacy) disagree, this file follows the former:
 *   - lower-casing maps each character on its own (no Greek final sigma:
 *     "ΟΔΟΣ" -> "οδοσ"; Python's str.lower() would give "οδος");
 *   - accents are stripped before lower-casing, and there is no NFC step;
 *   - unassigned code points (category Cn) are kept, not dropped as
 *     control characters;
 *   - the CJK range U+2B820..U+2B91F is not treated as ideographs (the
 *     `tokenizers` table starts that block at U+2B920).
 * Unicode properties come from libutf8proc (Unicode 15). The `tokenizers`
 * library uses older tables for categories, so characters that became
 * Cf, Mn or P* after Unicode 9 (a few dozen rare ones, e.g. U+0890,
 * U+1AC1, U+2E53) can tokenize differently; see tests/data/wordpiece/README.md.
 *
 * Text is decoded once into code points; each stage maps a code point array
 * to a new one; words are encoded back to UTF-8 for vocabulary lookups in an
 * open-addressing hash table keyed by the bytes of each line. */
#include "oclnn/tokenizer.h"
#include "core/error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

struct oclnn_tokenizer {
    char *text;       /* the file, each line end replaced by NUL */
    int32_t count;    /* lines = ids */
    char **pieces;    /* [count] into text */
    uint32_t *lens;   /* [count] bytes */
    int32_t *table;   /* open addressing: id or -1 */
    size_t mask;      /* table size - 1 (a power of two) */
    uint32_t max_len; /* longest entry in bytes */
    oclnn_special_tokens special;
};

/* ---- Small growable code point buffer ------------------------------------ */

typedef struct cpbuf {
    uint32_t *v;
    size_t n, cap;
} cpbuf;

static int cp_reserve(cpbuf *b, size_t extra)
{
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) cap *= 2;
    uint32_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) return -1;
    b->v = v;
    b->cap = cap;
    return 0;
}

static int cp_push(cpbuf *b, uint32_t c)
{
    if (cp_reserve(b, 1)) return -1;
    b->v[b->n++] = c;
    return 0;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* Decodes one code point at s[i] (strict: no overlong forms, surrogates or
 * values above U+10FFFF). Returns its length in bytes, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *out)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *out = c;
        return 1;
    }
    size_t n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (len - i < n) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    *out = cp;
    return n;
}

/* Offset of the first invalid byte of s[0..len), or len when all is valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_decode(s, len, i, &cp);
        if (!n) return i;
        i += n;
    }
    return len;
}

static size_t utf8_encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---- Vocabulary ----------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int32_t vocab_find(const oclnn_tokenizer *t, const char *s, size_t n)
{
    if (n > t->max_len) return -1;
    for (size_t i = (size_t)hash_bytes(s, n) & t->mask;; i = (i + 1) & t->mask) {
        int32_t id = t->table[i];
        if (id < 0) return -1;
        if (t->lens[id] == n && !memcmp(t->pieces[id], s, n)) return id;
    }
}

/* Inserts id; an entry already there with the same bytes is replaced (the
 * later line wins, as in Hugging Face's vocabulary loading). */
static void vocab_insert(oclnn_tokenizer *t, int32_t id)
{
    const char *s = t->pieces[id];
    size_t n = t->lens[id];
    for (size_t i = (size_t)hash_bytes(s, n) & t->mask;; i = (i + 1) & t->mask) {
        int32_t old = t->table[i];
        if (old < 0 || (t->lens[old] == n && !memcmp(t->pieces[old], s, n))) {
            t->table[i] = id;
            return;
        }
    }
}

static oclnn_status read_file(const char *path, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return oclnn_fail(OCLNN_ERR_IO, "tokenizer: cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer: out of memory reading %s", path);
    }
    for (;;) {
        if (n == cap) {
            char *nb = cap > SIZE_MAX / 4 ? NULL : realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer: out of memory reading %s", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    int saved = errno;
    fclose(f);
    if (err) {
        free(buf);
        return oclnn_fail(OCLNN_ERR_IO, "tokenizer: cannot read %s: %s", path, strerror(saved));
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return OCLNN_OK;
}

oclnn_status oclnn_tokenizer_load(const char *path, oclnn_tokenizer **out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tokenizer: out is NULL");
    *out = NULL;
    if (!path) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tokenizer: path is NULL");

    char *file = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        file = malloc(n + sizeof "/vocab.txt");
        if (!file) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        memcpy(file, path, n);
        strcpy(file + n, n && path[n - 1] == '/' ? "vocab.txt" : "/vocab.txt");
        path = file;
    }

    oclnn_tokenizer *t = calloc(1, sizeof *t);
    size_t size = 0;
    oclnn_status st_ = t ? read_file(path, &t->text, &size)
                         : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if (st_) goto fail;
    if (size == 0) {
        st_ = oclnn_fail(OCLNN_ERR_FORMAT,
                         "tokenizer: %s is empty: a WordPiece vocabulary has one token per line", path);
        goto fail;
    }

    /* Count lines: each ends at \n, \r\n or \r (Python's universal
     * newlines, which is how Hugging Face reads vocab.txt); a last line
     * without an end counts too. */
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) {
        if (t->text[i] == '\n' || t->text[i] == '\r') {
            if (t->text[i] == '\r' && i + 1 < size && t->text[i + 1] == '\n') i++;
            lines++;
        } else if (i + 1 == size) {
            lines++;
        }
    }
    if (lines > INT32_MAX) {
        st_ = oclnn_fail(OCLNN_ERR_FORMAT, "tokenizer: %s has %zu lines, more than int32 ids allow", path, lines);
        goto fail;
    }
    t->count = (int32_t)lines;
    t->pieces = malloc(lines * sizeof *t->pieces);
    t->lens = malloc(lines * sizeof *t->lens);
    size_t tsize = 16;
    while (tsize < 2 * lines) tsize *= 2;
    t->table = malloc(tsize * sizeof *t->table);
    if (!t->pieces || !t->lens || !t->table) {
        st_ = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for %zu tokens of %s", lines, path);
        goto fail;
    }
    memset(t->table, 0xFF, tsize * sizeof *t->table);
    t->mask = tsize - 1;

    size_t start = 0;
    int32_t id = 0;
    for (size_t i = 0; i <= size && id < t->count; i++) {
        if (i < size && t->text[i] != '\n' && t->text[i] != '\r') continue;
        size_t n = i - start;
        const unsigned char *line = (const unsigned char *)t->text + start;
        if (memchr(line, '\0', n)) {
            st_ = oclnn_fail(OCLNN_ERR_FORMAT, "tokenizer: %s line %d holds a NUL byte", path, id + 1);
            goto fail;
        }
        size_t bad = utf8_invalid_at(line, n);
        if (bad < n) {
            st_ = oclnn_fail(OCLNN_ERR_FORMAT, "tokenizer: %s line %d is not valid UTF-8 (byte 0x%02x at column %zu)",
                             path, id + 1, line[bad], bad + 1);
            goto fail;
        }
        int two = i + 1 < size && t->text[i] == '\r' && t->text[i + 1] == '\n';
        if (i < size) t->text[i] = '\0';
        t->pieces[id] = t->text + start;
        t->lens[id] = (uint32_t)n;
        if (n > t->max_len) t->max_len = (uint32_t)n;
        vocab_insert(t, id);
        id++;
        if (two) i++;
        start = i + 1;
    }

    static const char *const names[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    int32_t ids[5];
    for (int k = 0; k < 5; k++) {
        ids[k] = vocab_find(t, names[k], strlen(names[k]));
        if (ids[k] < 0 && k < 4) {
            st_ = oclnn_fail(OCLNN_ERR_FORMAT,
                             "tokenizer: %s has no line %s (a BERT vocabulary needs [UNK], [CLS], [SEP] and [PAD], "
                             "each alone on its line)",
                             path, names[k]);
            goto fail;
        }
    }
    t->special = (oclnn_special_tokens){ids[0], ids[1], ids[2], ids[3], ids[4]};
    free(file);
    *out = t;
    return OCLNN_OK;

fail:
    oclnn_tokenizer_free(t);
    free(file);
    return st_;
}

void oclnn_tokenizer_free(oclnn_tokenizer *t)
{
    if (!t) return;
    free(t->text);
    free(t->pieces);
    free(t->lens);
    free(t->table);
    free(t);
}

int32_t oclnn_tokenizer_vocab_size(const oclnn_tokenizer *t) { return t ? t->count : 0; }

int32_t oclnn_tokenizer_token_id(const oclnn_tokenizer *t, const char *piece)
{
    return t && piece ? vocab_find(t, piece, strlen(piece)) : -1;
}

const char *oclnn_tokenizer_piece(const oclnn_tokenizer *t, int32_t id)
{
    return t && id >= 0 && id < t->count ? t->pieces[id] : NULL;
}

oclnn_special_tokens oclnn_tokenizer_special(const oclnn_tokenizer *t)
{
    if (!t) return (oclnn_special_tokens){-1, -1, -1, -1, -1};
    return t->special;
}

/* ---- Character classes ---------------------------------------------------- */

/* The Unicode White_Space property (Rust's char::is_whitespace). */
static int is_whitespace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* Cc, Cf, Co (and Cs, which valid UTF-8 never holds), except \t \n \r. */
static int is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO ||
           cat == UTF8PROC_CATEGORY_CS;
}

static int is_punctuation(uint32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return 1;
    default: return 0;
    }
}

/* BERT's "Chinese character": the CJK Unified Ideographs blocks and the
 * compatibility ideographs, with the ranges of the `tokenizers` library
 * (whose Extension E/F range starts at U+2B920; BertTokenizerLegacy starts
 * it at U+2B820). */
static int is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- Normalisation (steps 2-4) -------------------------------------------- */

/* Appends the canonical decomposition of c (NFD of one character, before
 * reordering). */
static int push_nfd(cpbuf *out, uint32_t c)
{
    utf8proc_int32_t buf[8];
    int bound = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 8, UTF8PROC_DECOMPOSE, &bound);
    if (n < 0 || n > 8) return cp_push(out, c); /* cannot happen for valid code points */
    if (cp_reserve(out, (size_t)n)) return -1;
    for (utf8proc_ssize_t k = 0; k < n; k++) out->v[out->n++] = (uint32_t)buf[k];
    return 0;
}

/* Canonical ordering: each run of characters with a nonzero combining class
 * is sorted by class, stably. */
static void canonical_order(uint32_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int cc = utf8proc_get_property((utf8proc_int32_t)v[i])->combining_class;
        if (!cc) continue;
        size_t j = i;
        uint32_t c = v[i];
        while (j > 0) {
            int pc = utf8proc_get_property((utf8proc_int32_t)v[j - 1])->combining_class;
            if (pc <= cc) break; /* pc == 0 stops too: a starter ends the run */
            v[j] = v[j - 1];
            j--;
        }
        v[j] = c;
    }
}

/* Full lower-case mapping of one character: utf8proc's simple mapping,
 * except U+0130 (capital I with dot above), whose full lower case is two
 * characters (i + combining dot above). Context-free: no final sigma. */
static int push_lower(cpbuf *out, uint32_t c)
{
    if (c == 0x130) return cp_push(out, 'i') || cp_push(out, 0x307);
    return cp_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

/* Steps 2-4 on in[0..n): cleaned, CJK spaced, accents stripped, lowered. */
static int normalize(const uint32_t *in, size_t n, cpbuf *out, cpbuf *tmp)
{
    tmp->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_whitespace(c)) c = ' ';
        if (is_cjk(c)) {
            if (cp_push(tmp, ' ') || push_nfd(tmp, c) || cp_push(tmp, ' ')) return -1;
        } else if (push_nfd(tmp, c)) {
            return -1;
        }
    }
    canonical_order(tmp->v, tmp->n);
    out->n = 0;
    for (size_t i = 0; i < tmp->n; i++) {
        uint32_t c = tmp->v[i];
        if (utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_MN) continue;
        if (push_lower(out, c)) return -1;
    }
    return 0;
}

/* ---- WordPiece (step 5) ---------------------------------------------------- */

typedef struct idbuf {
    int32_t *v;
    size_t n, cap;
} idbuf;

static int id_push(idbuf *b, int32_t id)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) return -1;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return 0;
}

/* Scratch space for one word: "##" + its UTF-8 bytes, and the byte offset
 * of each character. */
typedef struct wordbuf {
    char *bytes;
    size_t *offs;
    size_t cap; /* characters */
} wordbuf;

static int wordpiece(const oclnn_tokenizer *t, const uint32_t *w, size_t n, wordbuf *wb, idbuf *ids)
{
    if (n > OCLNN_TOKENIZER_MAX_WORD_CHARS) return id_push(ids, t->special.unk);
    if (n + 1 > wb->cap) {
        size_t cap = n + 1;
        char *b = realloc(wb->bytes, 2 + 4 * cap);
        if (!b) return -1;
        wb->bytes = b;
        size_t *o = realloc(wb->offs, cap * sizeof *o);
        if (!o) return -1;
        wb->offs = o;
        wb->cap = cap;
    }
    char *s = wb->bytes + 2; /* the word; s[-2..-1] is room for "##" */
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        wb->offs[i] = len;
        len += utf8_encode(w[i], s + len);
    }
    wb->offs[n] = len;

    size_t first = ids->n;
    for (size_t start = 0; start < n;) {
        int32_t found = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t nb = wb->offs[end] - wb->offs[start];
            const char *p = s + wb->offs[start];
            if (start > 0) {
                if (nb + 2 > t->max_len) continue;
                /* "##" goes just before the piece: save and restore the two
                 * bytes it overwrites. */
                char *q = (char *)p - 2;
                char saved[2] = {q[0], q[1]};
                q[0] = q[1] = '#';
                found = vocab_find(t, q, nb + 2);
                q[0] = saved[0];
                q[1] = saved[1];
            } else {
                found = vocab_find(t, p, nb);
            }
            if (found >= 0) break;
        }
        if (found < 0) {
            ids->n = first; /* the whole word becomes [UNK] */
            return id_push(ids, t->special.unk);
        }
        if (id_push(ids, found)) return -1;
        start = end;
    }
    return 0;
}

/* Step 5 on a normalised segment: split at whitespace and punctuation. */
static int split_words(const oclnn_tokenizer *t, const cpbuf *text, wordbuf *wb, idbuf *ids)
{
    size_t start = 0;
    for (size_t i = 0; i <= text->n; i++) {
        uint32_t c = i < text->n ? text->v[i] : ' ';
        int ws = is_whitespace(c), punct = !ws && is_punctuation(c);
        if (!ws && !punct) continue;
        if (i > start && wordpiece(t, text->v + start, i - start, wb, ids)) return -1;
        if (punct && wordpiece(t, text->v + i, 1, wb, ids)) return -1;
        start = i + 1;
    }
    return 0;
}

/* ---- Tokenize ------------------------------------------------------------- */

/* Length of the special token at v[i..n), or 0; its id in *id. */
static size_t special_at(const oclnn_tokenizer *t, const uint32_t *v, size_t n, size_t i, int32_t *id)
{
    static const char *const names[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    const int32_t ids[5] = {t->special.pad, t->special.unk, t->special.cls, t->special.sep, t->special.mask};
    for (int k = 0; k < 5; k++) {
        if (ids[k] < 0) continue;
        size_t len = strlen(names[k]);
        if (n - i < len) continue;
        size_t j = 0;
        while (j < len && v[i + j] == (unsigned char)names[k][j]) j++;
        if (j == len) {
            *id = ids[k];
            return len;
        }
    }
    return 0;
}

/* Tokenizes text into ids (appended). what names the text in messages
 * ("text", "text 3", "pair 3"). */
static oclnn_status tokenize_into(const oclnn_tokenizer *t, const char *text, size_t len, const char *what,
                                  idbuf *ids)
{
    const unsigned char *s = (const unsigned char *)text;
    cpbuf cps = {0}, norm = {0}, tmp = {0};
    wordbuf wb = {0};
    oclnn_status st = OCLNN_OK;
    if (cp_reserve(&cps, len + 1)) goto oom;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t k = utf8_decode(s, len, i, &c);
        if (!k) {
            st = oclnn_fail(OCLNN_ERR_INVALID_ARG,
                            "tokenizer: %s is not valid UTF-8: byte 0x%02x at offset %zu %s", what, s[i], i,
                            s[i] >= 0x80 && s[i] < 0xC0 ? "(a continuation byte without a lead byte)"
                            : s[i] == 0xC0 || s[i] == 0xC1 || s[i] >= 0xF5
                                ? "(never valid in UTF-8)"
                                : "(starts a truncated, overlong or out-of-range sequence)");
            goto done;
        }
        cps.v[cps.n++] = c;
        i += k;
    }
    size_t seg = 0;
    for (size_t i = 0; i <= cps.n; i++) {
        int32_t sid = -1;
        size_t sl = i < cps.n && cps.v[i] == '[' ? special_at(t, cps.v, cps.n, i, &sid) : 0;
        if (i < cps.n && !sl) continue;
        if (i > seg) {
            if (normalize(cps.v + seg, i - seg, &norm, &tmp) || split_words(t, &norm, &wb, ids)) goto oom;
        }
        if (sl) {
            if (id_push(ids, sid)) goto oom;
            i += sl - 1;
        }
        seg = i + 1;
    }
    goto done;
oom:
    st = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer: out of memory tokenizing %s (%zu bytes)", what, len);
done:
    free(cps.v);
    free(norm.v);
    free(tmp.v);
    free(wb.bytes);
    free(wb.offs);
    return st;
}

oclnn_status oclnn_tokenizer_tokenize(const oclnn_tokenizer *t, const char *text, size_t len, int32_t **ids,
                                      int64_t *count)
{
    if (ids) *ids = NULL;
    if (count) *count = 0;
    if (!t || !ids || !count || (!text && len))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tokenizer_tokenize: NULL argument");
    idbuf b = {0};
    oclnn_status st = tokenize_into(t, text, len, "text", &b);
    if (st) {
        free(b.v);
        return st;
    }
    if (!b.n) {
        free(b.v);
        return OCLNN_OK;
    }
    *ids = b.v;
    *count = (int64_t)b.n;
    return OCLNN_OK;
}

/* ---- Encode --------------------------------------------------------------- */

/* How many tokens of each part stay within max_length (see the header). */
static void truncate_lengths(size_t *na, size_t *nb, int pair, int64_t max_length)
{
    if (max_length <= 0) return;
    if (!pair) {
        size_t room = (size_t)max_length - 2;
        if (*na > room) *na = room;
        return;
    }
    size_t room = (size_t)max_length - 3;
    if (*na + *nb <= room) return;
    int swap = *na > *nb;
    size_t shorter = swap ? *nb : *na;
    size_t half = room / 2;
    size_t keep_short = shorter <= half ? shorter : half;
    size_t keep_long = room - keep_short;
    *na = swap ? keep_long : keep_short;
    *nb = swap ? keep_short : keep_long;
}

void oclnn_token_batch_free(oclnn_token_batch *b)
{
    if (!b) return;
    free(b->ids);
    free(b->type_ids);
    free(b->attention_mask);
    free(b->lengths);
    memset(b, 0, sizeof *b);
}

oclnn_status oclnn_tokenizer_encode_batch(const oclnn_tokenizer *t, int64_t count, const char *const *texts,
                                          const char *const *pairs, int64_t max_length, oclnn_token_batch *out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tokenizer_encode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!t || count < 0 || (count > 0 && !texts))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tokenizer_encode: NULL tokenizer or texts, or count %lld < 0",
                          (long long)count);
    if (max_length < 0) max_length = 0;
    for (int64_t i = 0; i < count; i++) {
        if (!texts[i]) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tokenizer_encode: text %lld is NULL", (long long)i);
        int pair = pairs && pairs[i];
        if (max_length > 0 && max_length < (pair ? 3 : 2))
            return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                              "tokenizer_encode: max_length %lld cannot hold the special tokens of %s "
                              "(at least %d)",
                              (long long)max_length, pair ? "a pair, [CLS] a [SEP] b [SEP]" : "[CLS] text [SEP]",
                              pair ? 3 : 2);
    }

    idbuf *a = calloc((size_t)count + 1, sizeof *a), *b = calloc((size_t)count + 1, sizeof *b);
    size_t *na = calloc((size_t)count + 1, sizeof *na), *nb = calloc((size_t)count + 1, sizeof *nb);
    oclnn_status st = OCLNN_OK;
    if (!a || !b || !na || !nb) {
        st = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer_encode: out of memory for %lld texts", (long long)count);
        goto done;
    }
    size_t longest = 0;
    for (int64_t i = 0; i < count; i++) {
        char what[64];
        int pair = pairs && pairs[i];
        snprintf(what, sizeof what, count == 1 ? "text" : "text %lld", (long long)i);
        st = tokenize_into(t, texts[i], strlen(texts[i]), what, &a[i]);
        if (!st && pair) {
            snprintf(what, sizeof what, count == 1 ? "pair text" : "pair text %lld", (long long)i);
            st = tokenize_into(t, pairs[i], strlen(pairs[i]), what, &b[i]);
        }
        if (st) goto done;
        na[i] = a[i].n;
        nb[i] = b[i].n;
        truncate_lengths(&na[i], &nb[i], pair, max_length);
        size_t row = na[i] + 2 + (pair ? nb[i] + 1 : 0);
        if (row > longest) longest = row;
    }

    size_t cells = (size_t)count * longest;
    out->ids = malloc((cells ? cells : 1) * sizeof *out->ids);
    out->type_ids = calloc(cells ? cells : 1, sizeof *out->type_ids);
    out->attention_mask = calloc(cells ? cells : 1, sizeof *out->attention_mask);
    out->lengths = malloc(((size_t)count + 1) * sizeof *out->lengths);
    if (!out->ids || !out->type_ids || !out->attention_mask || !out->lengths) {
        oclnn_token_batch_free(out);
        st = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "tokenizer_encode: out of memory for a %lld x %zu batch",
                        (long long)count, longest);
        goto done;
    }
    out->count = count;
    out->length = (int64_t)longest;
    for (int64_t i = 0; i < count; i++) {
        int32_t *ids = out->ids + (size_t)i * longest;
        int32_t *types = out->type_ids + (size_t)i * longest;
        size_t k = 0;
        ids[k++] = t->special.cls;
        for (size_t j = 0; j < na[i]; j++) ids[k++] = a[i].v[j];
        ids[k++] = t->special.sep;
        if (pairs && pairs[i]) {
            for (size_t j = 0; j < nb[i]; j++) types[k] = 1, ids[k++] = b[i].v[j];
            types[k] = 1;
            ids[k++] = t->special.sep;
        }
        out->lengths[i] = (int64_t)k;
        for (size_t j = 0; j < k; j++) out->attention_mask[(size_t)i * longest + j] = 1;
        for (; k < longest; k++) ids[k] = t->special.pad;
    }
done:
    for (int64_t i = 0; a && b && i < count; i++) {
        free(a[i].v);
        free(b[i].v);
    }
    free(a);
    free(b);
    free(na);
    free(nb);
    return st;
}

oclnn_status oclnn_tokenizer_encode(const oclnn_tokenizer *t, const char *text, const char *pair,
                                    int64_t max_length, oclnn_token_batch *out)
{
    const char *texts[1] = {text}, *pairs[1] = {pair};
    return oclnn_tokenizer_encode_batch(t, 1, texts, pair ? pairs : NULL, max_length, out);
}
