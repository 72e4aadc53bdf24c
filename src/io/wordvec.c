/* Word-vector files: word2vec binary and text, fastText .vec, GloVe text
 * (fastText's .bin is read by src/io/fasttext.c).
 * See include/oclnn/embeddings.h for the formats and the error policies.
 *
 * The file is streamed once through stdio: text line by line (getline),
 * binary record by record. Vectors are appended to one growing f32 array
 * (a header's count only caps the first allocation, so a lying header
 * cannot make us allocate much), words to a string arena, and each word
 * goes into an open-addressing hash table as it is read, which is also
 * how duplicates are found. */
#include "core/error.h"
#include "io/wordvec_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- hash table (FNV-1a) */

static uint64_t hash_word(const char *w)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

static int64_t find_slot(const oclnn_wordvec *wv, const char *word)
{
    uint64_t mask = (uint64_t)wv->nslots - 1;
    for (uint64_t i = hash_word(word) & mask;; i = (i + 1) & mask) {
        int64_t r = wv->table[i];
        if (r < 0 || strcmp(wv->words[r], word) == 0) return (int64_t)i;
    }
}

static int rehash(oclnn_wordvec *wv, int64_t nslots)
{
    int64_t *t = malloc(sizeof *t * (size_t)nslots);
    if (!t) return 0;
    for (int64_t i = 0; i < nslots; i++) t[i] = -1;
    free(wv->table);
    wv->table = t;
    wv->nslots = nslots;
    for (int64_t r = 0; r < wv->count; r++) wv->table[find_slot(wv, wv->words[r])] = r;
    return 1;
}

int64_t oclnn_wordvec_find(const oclnn_wordvec *wv, const char *word)
{
    if (!wv || !word || !wv->nslots) return -1;
    return wv->table[find_slot(wv, word)];
}

/* ---- UTF-8 */

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static int utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if ((size_t)len > n) return 0;
    unsigned cp = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static int utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int l = utf8_seq((const unsigned char *)s + i, n - i);
        if (!l) return 0;
        i += (size_t)l;
    }
    return 1;
}

/* A malloc'ed copy of the word (n bytes) with invalid bytes replaced by
 * U+FFFD when replace, else NULL with *bad set when it is invalid. */
static char *word_copy(const char *s, size_t n, int replace, int *bad)
{
    *bad = 0;
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int l = utf8_seq((const unsigned char *)s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, (size_t)l);
            o += (size_t)l;
            i += (size_t)l;
        } else if (replace) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            free(out);
            *bad = 1;
            return NULL;
        }
    }
    out[o] = 0;
    return out;
}

oclnn_status wordvec_oom(const reader *r) { return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "wordvec: %s: out of host memory", r->path); }

/* Room for one more row. */
static oclnn_status grow(reader *r)
{
    oclnn_wordvec *wv = r->wv;
    if (wv->count < wv->cap) return OCLNN_OK;
    int64_t cap = wv->cap ? wv->cap * 2 : 1024;
    /* The header's count sizes the array at once when the file is big
     * enough to hold that many rows (each number takes at least 2 bytes
     * of text or 4 of binary), so a large file is not copied by growth. */
    int64_t want = r->header_count;
    if (r->opt.limit > 0 && want > r->opt.limit) want = r->opt.limit;
    int64_t per_row = wv->dim * (wv->format == OCLNN_WORDVEC_WORD2VEC_BINARY ? 4 : 2);
    if (!wv->cap && want > cap && want <= r->file_bytes / per_row + 1) cap = want;
    if (cap > (int64_t)(SIZE_MAX / sizeof(float)) / wv->dim) return wordvec_oom(r);
    float *v = realloc(wv->vectors, sizeof(float) * (size_t)(cap * wv->dim));
    if (!v) return wordvec_oom(r);
    wv->vectors = v;
    char **w = realloc(wv->words, sizeof(char *) * (size_t)cap);
    if (!w) return wordvec_oom(r);
    wv->words = w;
    wv->cap = cap;
    return OCLNN_OK;
}

/* Adds the word (n bytes; the vector is already in row count) unless it
 * is a duplicate that is skipped. where follows the path in messages:
 * ":12" (a line) or ": word 7 (byte 345)". */
oclnn_status wordvec_add_word(reader *r, const char *s, size_t n, const char *where)
{
    oclnn_wordvec *wv = r->wv;
    if (n == 0) return oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s%s: empty word", r->path, where);
    int bad;
    char *w = word_copy(s, n, r->opt.invalid_utf8 == OCLNN_WORDVEC_UTF8_REPLACE, &bad);
    if (bad)
        return oclnn_fail(OCLNN_ERR_FORMAT,
                          "wordvec: %s%s: the word is not valid UTF-8 (OCLNN_WORDVEC_UTF8_REPLACE reads it with "
                          "U+FFFD for the bad bytes)", r->path, where);
    if (!w) return wordvec_oom(r);
    if ((wv->count + 1) * 2 > wv->nslots && !rehash(wv, wv->nslots ? wv->nslots * 2 : 2048)) {
        free(w);
        return wordvec_oom(r);
    }
    int64_t slot = find_slot(wv, w);
    if (wv->table[slot] >= 0) {
        int64_t first = wv->table[slot];
        if (r->opt.duplicates == OCLNN_WORDVEC_DUP_KEEP_FIRST) {
            free(w);
            return OCLNN_OK; /* the row is overwritten by the next one */
        }
        oclnn_status s = oclnn_fail(OCLNN_ERR_FORMAT,
                                    "wordvec: %s%s: duplicate word '%s' (first as word %lld; "
                                    "OCLNN_WORDVEC_DUP_KEEP_FIRST keeps the first, as gensim does)",
                                    r->path, where, w, (long long)first + 1);
        free(w);
        return s;
    }
    wv->words[wv->count] = w;
    wv->table[slot] = wv->count;
    wv->count++;
    return OCLNN_OK;
}

static int is_sep(char c) { return c == ' ' || c == '\t'; }

/* Splits the line (trailing whitespace removed) into fields in place.
 * Returns the number of fields, at most max (more: max + 1). */
static int64_t split(char *line, char **fields, int64_t max)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || is_sep(line[n - 1]))) line[--n] = 0;
    int64_t c = 0;
    char *p = line;
    while (*p) {
        while (is_sep(*p)) p++;
        if (!*p) break;
        if (c == max) return max + 1;
        fields[c++] = p;
        while (*p && !is_sep(*p)) p++;
        if (*p) *p++ = 0;
    }
    return c;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end) return 0;
    *out = v; /* ERANGE: strtof's rounding to 0 or inf is what a float holds */
    return 1;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s) return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}

/* Reads the next line; 0 at end of file, -1 on error. */
static int next_line(reader *r)
{
    errno = 0;
    ssize_t n = getline(&r->line, &r->line_cap, r->f);
    if (n < 0) return ferror(r->f) ? -1 : 0;
    r->lineno++;
    if ((size_t)n != strlen(r->line)) return -2; /* a NUL byte in the line */
    return 1;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!is_sep(*s) && *s != '\n' && *s != '\r') return 0;
    return 1;
}

/* Text rows (after the header, if any). dim may be 0 (GloVe): taken from
 * the first row. */
static oclnn_status read_text(reader *r)
{
    oclnn_wordvec *wv = r->wv;
    char **fields = NULL;
    int64_t nf_cap = 0;
    oclnn_status s = OCLNN_OK;
    int64_t limit = r->opt.limit > 0 ? r->opt.limit : INT64_MAX;
    int64_t rows = 0; /* rows read, duplicates included */
    for (;;) {
        if (rows >= limit || (r->header_count >= 0 && rows >= r->header_count)) break;
        int got = next_line(r);
        if (got == -1) {
            s = oclnn_fail(OCLNN_ERR_IO, "wordvec: %s: read error after line %lld: %s", r->path,
                           (long long)r->lineno, strerror(errno));
            break;
        }
        if (got == -2) {
            s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:%lld: NUL byte in a text line (a binary file? name the "
                           "format)", r->path, (long long)r->lineno);
            break;
        }
        if (got == 0) {
            if (r->header_count >= 0)
                s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s: the header says %lld words, the file ends after %lld",
                               r->path, (long long)r->header_count, (long long)rows);
            break;
        }
        if (blank(r->line)) continue; /* tolerated; counted in line numbers */
        int64_t want = wv->dim ? wv->dim + 1 : 0;
        if (!want) { /* GloVe: count the fields of the first row */
            char *copy = strdup(r->line);
            if (!copy) {
                s = wordvec_oom(r);
                break;
            }
            int64_t c = 0;
            for (char *p = copy; *p;) {
                while (*p && (is_sep(*p) || *p == '\n' || *p == '\r')) p++;
                if (!*p) break;
                c++;
                while (*p && !is_sep(*p) && *p != '\n' && *p != '\r') p++;
            }
            free(copy);
            if (c < 2) {
                s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:%lld: a row needs a word and at least one number",
                               r->path, (long long)r->lineno);
                break;
            }
            wv->dim = c - 1;
            want = c;
        }
        if (nf_cap < want) {
            free(fields);
            fields = malloc(sizeof *fields * (size_t)(want + 1));
            nf_cap = want;
            if (!fields) {
                s = wordvec_oom(r);
                break;
            }
        }
        int64_t nf = split(r->line, fields, want);
        if (nf != want) {
            s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:%lld: row '%.60s' has %s%lld numbers, expected %lld", r->path,
                           (long long)r->lineno, nf ? fields[0] : "", nf > want ? "more than " : "",
                           (long long)(nf > want ? want - 1 : (nf ? nf - 1 : 0)), (long long)wv->dim);
            break;
        }
        if ((s = grow(r))) break;
        float *row = wv->vectors + wv->count * wv->dim;
        for (int64_t j = 0; j < wv->dim && !s; j++)
            if (!parse_float(fields[j + 1], &row[j]))
                s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:%lld: field %lld of '%.60s' is not a number: '%.40s'",
                               r->path, (long long)r->lineno, (long long)j + 2, fields[0], fields[j + 1]);
        if (s) break;
        char where[64];
        snprintf(where, sizeof where, ":%lld", (long long)r->lineno);
        if ((s = wordvec_add_word(r, fields[0], strlen(fields[0]), where))) break;
        rows++;
    }
    /* Anything but blank lines after the header's count is an error. */
    if (!s && r->header_count >= 0 && rows == r->header_count && rows < limit) {
        int got;
        while ((got = next_line(r)) == 1 && blank(r->line)) {}
        if (got == 1 || got == -2)
            s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:%lld: more rows than the header's count %lld", r->path,
                           (long long)r->lineno, (long long)r->header_count);
    }
    if (!s && wv->count == 0 && wv->dim == 0)
        s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s: no vectors (an empty GloVe file?)", r->path);
    free(fields);
    return s;
}

static oclnn_status read_binary(reader *r)
{
    oclnn_wordvec *wv = r->wv;
    int64_t limit = r->opt.limit > 0 && r->opt.limit < r->header_count ? r->opt.limit : r->header_count;
    size_t wcap = 64, vbytes = (size_t)wv->dim * 4;
    char *word = malloc(wcap);
    unsigned char *buf = malloc(vbytes);
    oclnn_status s = word && buf ? OCLNN_OK : wordvec_oom(r);
    for (int64_t rows = 0; rows < limit && !s; rows++) {
        long at = ftell(r->f);
        char where[96];
        snprintf(where, sizeof where, ": word %lld (byte %ld)", (long long)rows + 1, at);
        int c;
        while ((c = getc(r->f)) == '\n') {}
        size_t n = 0;
        while (c != EOF && c != ' ') {
            if (n + 1 >= wcap) {
                char *w = realloc(word, wcap *= 2);
                if (!w) {
                    s = wordvec_oom(r);
                    break;
                }
                word = w;
            }
            if (c == 0 || n >= (1u << 20)) {
                s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s%s: %s in a word: not a word2vec binary file?",
                               r->path, where, c == 0 ? "NUL byte" : "over 1 MiB without a space");
                break;
            }
            word[n++] = (char)c;
            c = getc(r->f);
        }
        if (s) break;
        if (c == EOF) {
            s = ferror(r->f) ? oclnn_fail(OCLNN_ERR_IO, "wordvec: %s: read error at%s", r->path, where)
                             : oclnn_fail(OCLNN_ERR_FORMAT,
                                          "wordvec: %s: truncated: the header says %lld words, the file ends in%s",
                                          r->path, (long long)r->header_count, where);
            break;
        }
        size_t got = fread(buf, 1, vbytes, r->f);
        if (got != vbytes) {
            s = oclnn_fail(OCLNN_ERR_FORMAT,
                           "wordvec: %s: truncated:%s has %zu of its %zu vector bytes (header: %lld words of dim %lld)",
                           r->path, where, got, vbytes, (long long)r->header_count, (long long)wv->dim);
            break;
        }
        if ((s = grow(r))) break;
        float *row = wv->vectors + wv->count * wv->dim;
        for (int64_t j = 0; j < wv->dim; j++) {
            const unsigned char *b = buf + 4 * j;
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            memcpy(&row[j], &u, 4);
        }
        s = wordvec_add_word(r, word, n, where);
    }
    free(word);
    free(buf);
    return s;
}

/* A header line: exactly two non-negative integers. */
static int parse_header(char *line, int64_t *count, int64_t *dim)
{
    char *f[3];
    return split(line, f, 2) == 2 && parse_int(f[0], count) && parse_int(f[1], dim);
}

/* After a header: does the first record read as a text row of dim numbers?
 * Peeks at most one line and rewinds. */
static int first_record_is_text(reader *r, long data_start)
{
    int text = 0;
    int got = next_line(r);
    if (got == 1) {
        char **f = malloc(sizeof *f * (size_t)(r->wv->dim + 2));
        if (f) {
            int64_t nf = split(r->line, f, r->wv->dim + 1);
            float v;
            text = nf == r->wv->dim + 1;
            for (int64_t j = 1; j < nf && text; j++) text = parse_float(f[j], &v);
            free(f);
        }
    }
    fseek(r->f, data_start, SEEK_SET);
    r->lineno = 1;
    return text;
}

oclnn_status oclnn_wordvec_load(const char *path, const oclnn_wordvec_options *options, oclnn_wordvec **out)
{
    if (out) *out = NULL;
    if (!path || !out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_load: NULL argument");
    reader r = {.path = path, .header_count = -1};
    if (options) r.opt = *options;
    if (r.opt.format < OCLNN_WORDVEC_AUTO || r.opt.format > OCLNN_WORDVEC_FASTTEXT_BIN || r.opt.limit < 0 ||
        (r.opt.duplicates != OCLNN_WORDVEC_DUP_ERROR && r.opt.duplicates != OCLNN_WORDVEC_DUP_KEEP_FIRST) ||
        (r.opt.invalid_utf8 != OCLNN_WORDVEC_UTF8_ERROR && r.opt.invalid_utf8 != OCLNN_WORDVEC_UTF8_REPLACE))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_load %s: bad options (format %d, limit %lld, "
                          "duplicates %d, invalid_utf8 %d)", path, (int)r.opt.format, (long long)r.opt.limit,
                          r.opt.duplicates, r.opt.invalid_utf8);
    r.f = fopen(path, "rb");
    if (!r.f) return oclnn_fail(OCLNN_ERR_IO, "wordvec: cannot open %s: %s", path, strerror(errno));
    setvbuf(r.f, NULL, _IOFBF, 1 << 20);
    if (fseek(r.f, 0, SEEK_END) == 0) r.file_bytes = ftell(r.f);
    rewind(r.f);
    r.wv = calloc(1, sizeof *r.wv);
    oclnn_status s = r.wv ? OCLNN_OK : wordvec_oom(&r);
    oclnn_wordvec_format fmt = r.opt.format;

    /* fastText's .bin starts with its magic number (no text file does). */
    unsigned char magic[4] = {0};
    size_t nmagic = s ? 0 : fread(magic, 1, 4, r.f);
    rewind(r.f);
    int ftbin = nmagic == 4 && !memcmp(magic, "\xba\x16\x4f\x2f", 4); /* 793712314 */
    if (!s && (fmt == OCLNN_WORDVEC_FASTTEXT_BIN || (fmt == OCLNN_WORDVEC_AUTO && ftbin))) {
        s = wordvec_read_fasttext(&r);
        fclose(r.f);
        if (s) oclnn_wordvec_release(r.wv);
        else *out = r.wv;
        return s;
    }

    /* The first line: a header, or (GloVe) the first row. */
    int got = s ? 1 : next_line(&r);
    if (!s && got != 1)
        s = got == 0 ? oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s: empty file", path)
                     : oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:1: unreadable first line", path);
    int64_t count = 0, dim = 0;
    if (!s) {
        char *copy = strdup(r.line);
        int header = copy && parse_header(copy, &count, &dim);
        free(copy);
        if (fmt == OCLNN_WORDVEC_AUTO) fmt = header ? OCLNN_WORDVEC_WORD2VEC_TEXT : OCLNN_WORDVEC_GLOVE;
        if (fmt != OCLNN_WORDVEC_GLOVE) {
            if (!header)
                s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:1: bad header '%.60s': expected \"count dim\" (two "
                               "non-negative integers)", path, r.line);
            else if (dim < 1 || dim > INT_MAX || count > INT32_MAX)
                s = oclnn_fail(OCLNN_ERR_FORMAT, "wordvec: %s:1: bad header: %lld words of dim %lld (dim must be in "
                               "[1, 2^31), count below 2^31)", path, (long long)count, (long long)dim);
            else {
                r.header_count = count;
                r.wv->dim = dim;
                if (r.opt.format == OCLNN_WORDVEC_AUTO)
                    fmt = first_record_is_text(&r, ftell(r.f)) ? OCLNN_WORDVEC_WORD2VEC_TEXT
                                                                : OCLNN_WORDVEC_WORD2VEC_BINARY;
            }
        } else {
            rewind(r.f);
            r.lineno = 0;
        }
    }
    if (!s) {
        r.wv->format = fmt;
        s = fmt == OCLNN_WORDVEC_WORD2VEC_BINARY ? read_binary(&r) : read_text(&r);
    }
    free(r.line);
    fclose(r.f);
    if (s) {
        oclnn_wordvec_release(r.wv);
        return s;
    }
    /* Give back what growth (or skipped duplicates) left unused. */
    if (r.wv->count < r.wv->cap && r.wv->count > 0) {
        float *v = realloc(r.wv->vectors, sizeof(float) * (size_t)(r.wv->count * r.wv->dim));
        if (v) r.wv->vectors = v;
    }
    *out = r.wv;
    return OCLNN_OK;
}

void oclnn_wordvec_release(oclnn_wordvec *wv)
{
    if (!wv) return;
    for (int64_t i = 0; i < wv->count; i++) free(wv->words[i]);
    free(wv->words);
    free(wv->vectors);
    free(wv->table);
    free(wv->ngrams);
    free(wv);
}

oclnn_status oclnn_wordvec_adopt(int64_t count, int64_t dim, char **words, float *vectors,
                                 oclnn_wordvec_format format, oclnn_wordvec **out)
{
    oclnn_wordvec *wv = calloc(1, sizeof *wv);
    if (wv) {
        *wv = (oclnn_wordvec){.count = count, .dim = dim, .cap = count, .format = format, .vectors = vectors,
                              .words = words};
        int64_t slots = 2048;
        while (slots < 2 * count) slots *= 2;
        if (rehash(wv, slots)) {
            *out = wv;
            return OCLNN_OK;
        }
    } else {
        for (int64_t i = 0; i < count; i++) free(words[i]);
        free(words);
        free(vectors);
    }
    oclnn_wordvec_release(wv);
    *out = NULL;
    return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "wordvec: out of host memory for %lld words", (long long)count);
}

int64_t oclnn_wordvec_count(const oclnn_wordvec *wv) { return wv ? wv->count : 0; }
int64_t oclnn_wordvec_dim(const oclnn_wordvec *wv) { return wv ? wv->dim : 0; }
oclnn_wordvec_format oclnn_wordvec_format_of(const oclnn_wordvec *wv) { return wv ? wv->format : OCLNN_WORDVEC_AUTO; }
const float *oclnn_wordvec_vectors(const oclnn_wordvec *wv) { return wv ? wv->vectors : NULL; }
const char *const *oclnn_wordvec_words(const oclnn_wordvec *wv) { return wv ? (const char *const *)wv->words : NULL; }

const char *oclnn_wordvec_word(const oclnn_wordvec *wv, int64_t i)
{
    return wv && i >= 0 && i < wv->count ? wv->words[i] : NULL;
}

/* ---- writer */

oclnn_status oclnn_wordvec_save(const char *path, oclnn_wordvec_format format, int64_t count, int64_t dim,
                                const char *const *words, const float *vectors)
{
    if (!path || (count > 0 && (!words || !vectors)))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_save: NULL argument");
    if (format < OCLNN_WORDVEC_WORD2VEC_BINARY || format > OCLNN_WORDVEC_GLOVE || count < 0 || dim < 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_save %s: bad format %d or sizes (%lld words of dim "
                          "%lld)", path, (int)format, (long long)count, (long long)dim);
    for (int64_t i = 0; i < count; i++) {
        const char *w = words[i];
        if (!w || !*w || strpbrk(w, " \t\n\r") || !utf8_valid(w, strlen(w)))
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_save %s: word %lld is %s", path,
                              (long long)i + 1, !w ? "NULL" : !*w ? "empty" : strpbrk(w, " \t\n\r")
                                  ? "not writable (a space, tab or line break)" : "not valid UTF-8");
    }
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_wordvec_save: out of host memory");
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        oclnn_status s = oclnn_fail(OCLNN_ERR_IO, "wordvec: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    if (format != OCLNN_WORDVEC_GLOVE) fprintf(f, "%lld %lld\n", (long long)count, (long long)dim);
    for (int64_t i = 0; i < count; i++) {
        const float *row = vectors + i * dim;
        fputs(words[i], f);
        if (format == OCLNN_WORDVEC_WORD2VEC_BINARY) {
            putc(' ', f);
            for (int64_t j = 0; j < dim; j++) {
                uint32_t u;
                memcpy(&u, &row[j], 4);
                unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                      (unsigned char)(u >> 24)};
                fwrite(b, 1, 4, f);
            }
            putc('\n', f);
        } else {
            for (int64_t j = 0; j < dim; j++) fprintf(f, " %.9g", row[j]);
            putc('\n', f);
        }
    }
    int ok = !ferror(f);
    ok = fflush(f) == 0 && ok;
    ok = ok && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    oclnn_status s = OCLNN_OK;
    if (!ok) {
        s = oclnn_fail(OCLNN_ERR_IO, "wordvec: writing %s failed: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return s;
}
