/* Word-vector evaluation as gensim 4 does it (case-insensitive, restricted
 * to the first N words): word-pair similarity (Spearman, Pearson) and
 * analogies (3CosAdd accuracy per section), see include/oclnn/embeddings.h.
 *
 * gensim maps word.upper() to the first row (of the first N) with that
 * upper case; here each of those rows gets an upper-case key in a small
 * open-addressing table, and canon[row] names the first row sharing its
 * key, so comparing predictions and answers is comparing rows. */
#include "core/error.h"
#include "oclnn/embeddings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static oclnn_status out_of_memory(void)
{
    return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "wordvec eval: out of host memory");
}

/* ---- Upper-case vocabulary of the first n rows */

typedef struct caseless {
    int64_t n;
    char **keys;      /* [n] upper-case words */
    int64_t *canon;   /* [n] first row with the same key */
    int64_t *slots;   /* hash slots: row or -1 */
    uint64_t mask;
} caseless;

/* Upper case of s (n bytes) as a new string; NULL with *bad = 1 for invalid
 * UTF-8, NULL with *bad = 0 when out of memory. */
static char *upper_utf8(const char *s, size_t n, int *bad)
{
    *bad = 0;
    char *out = malloc(4 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (len <= 0) {
            free(out);
            *bad = 1;
            return NULL;
        }
        o += (size_t)utf8proc_encode_char(utf8proc_toupper(c), (utf8proc_uint8_t *)out + o);
        i += (size_t)len;
    }
    out[o] = 0;
    return out;
}

static uint64_t fnv1a(const char *w)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* Slot of key: the one holding it, or the empty one where it would go. */
static uint64_t caseless_slot(const caseless *v, const char *key)
{
    uint64_t i = fnv1a(key) & v->mask;
    while (v->slots[i] >= 0 && strcmp(v->keys[v->slots[i]], key)) i = (i + 1) & v->mask;
    return i;
}

/* First row whose upper case is key, or -1. */
static int64_t caseless_find(const caseless *v, const char *key) { return v->slots[caseless_slot(v, key)]; }

static void caseless_free(caseless *v)
{
    for (int64_t i = 0; v->keys && i < v->n; i++) free(v->keys[i]);
    free(v->keys);
    free(v->canon);
    free(v->slots);
}

static oclnn_status caseless_build(const oclnn_wordvec *wv, int64_t restrict_vocab, caseless *v)
{
    const int64_t count = oclnn_wordvec_count(wv);
    memset(v, 0, sizeof *v);
    v->n = restrict_vocab > 0 && restrict_vocab < count ? restrict_vocab : count;
    uint64_t nslots = 16;
    while (nslots < 2 * (uint64_t)v->n) nslots *= 2;
    v->mask = nslots - 1;
    v->keys = calloc((size_t)v->n + 1, sizeof *v->keys);
    v->canon = malloc(sizeof *v->canon * ((size_t)v->n + 1));
    v->slots = malloc(sizeof *v->slots * nslots);
    if (!v->keys || !v->canon || !v->slots) return out_of_memory();
    for (uint64_t i = 0; i < nslots; i++) v->slots[i] = -1;
    for (int64_t r = 0; r < v->n; r++) {
        const char *w = oclnn_wordvec_word(wv, r);
        int bad;
        v->keys[r] = upper_utf8(w, strlen(w), &bad);
        if (!v->keys[r])
            return bad ? oclnn_fail(OCLNN_ERR_FORMAT, "wordvec eval: word %lld is not valid UTF-8", (long long)r)
                       : out_of_memory();
        uint64_t slot = caseless_slot(v, v->keys[r]);
        if (v->slots[slot] < 0) v->slots[slot] = r;
        v->canon[r] = v->slots[slot];
    }
    return OCLNN_OK;
}

/* ---- Evaluation files, line by line */

typedef struct eval_file {
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    long lineno;
} eval_file;

static oclnn_status eval_open(eval_file *e, const char *path)
{
    memset(e, 0, sizeof *e);
    e->path = path;
    e->f = fopen(path, "rb");
    if (!e->f) return oclnn_fail(OCLNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return OCLNN_OK;
}

static void eval_close(eval_file *e)
{
    if (e->f) fclose(e->f);
    free(e->line);
}

/* Next line without its "\n" / "\r\n" into e->line: 1, or 0 at the end;
 * a read error or a NUL byte sets *s. */
static int eval_next(eval_file *e, oclnn_status *s)
{
    errno = 0;
    ssize_t n = getline(&e->line, &e->cap, e->f);
    if (n < 0) {
        if (ferror(e->f)) *s = oclnn_fail(OCLNN_ERR_IO, "%s: read error after line %ld", e->path, e->lineno);
        return 0;
    }
    e->lineno++;
    if ((size_t)n != strlen(e->line)) {
        *s = oclnn_fail(OCLNN_ERR_FORMAT, "%s:%ld: NUL byte in the line", e->path, e->lineno);
        return 0;
    }
    if (n && e->line[n - 1] == '\n') e->line[--n] = 0;
    if (n && e->line[n - 1] == '\r') e->line[--n] = 0;
    return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static int is_blank(const char *s)
{
    while (is_space(*s)) s++;
    return !*s;
}

/* Row of a file's word (n bytes) in the vocabulary, or -1; -2 after
 * setting *s (invalid UTF-8, out of memory). */
static int64_t eval_word(const eval_file *e, const caseless *v, const char *w, size_t n, oclnn_status *s)
{
    int bad;
    char *u = upper_utf8(w, n, &bad);
    if (!u) {
        *s = bad ? oclnn_fail(OCLNN_ERR_FORMAT, "%s:%ld: invalid UTF-8", e->path, e->lineno)
                 : out_of_memory();
        return -2;
    }
    int64_t r = caseless_find(v, u);
    free(u);
    return r;
}

/* ---- Word pairs */

static double cosine(const float *a, const float *b, int64_t dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t d = 0; d < dim; d++) {
        ab += (double)a[d] * b[d];
        aa += (double)a[d] * a[d];
        bb += (double)b[d] * b[d];
    }
    double na = sqrt(aa), nb = sqrt(bb);
    return ab / ((na > 1e-12 ? na : 1e-12) * (nb > 1e-12 ? nb : 1e-12));
}

static double pearson(const double *x, const double *y, int64_t n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return n < 2 || sxx <= 0 || syy <= 0 ? NAN : sxy / sqrt(sxx * syy);
}

static const double *sort_key;
static int by_key(const void *a, const void *b)
{
    double x = sort_key[*(const int64_t *)a], y = sort_key[*(const int64_t *)b];
    return x < y ? -1 : x > y;
}

/* Ranks 1..n of x into r, ties sharing their average rank. */
static int average_ranks(const double *x, int64_t n, double *r)
{
    int64_t *order = malloc(sizeof *order * (size_t)n);
    if (!order) return 0;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    sort_key = x;
    qsort(order, (size_t)n, sizeof *order, by_key);
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && x[order[j]] == x[order[i]]) j++;
        for (int64_t t = i; t < j; t++) r[order[t]] = (double)(i + j + 1) / 2.0; /* mean of ranks i+1 .. j */
        i = j;
    }
    free(order);
    return 1;
}

/* Reads one pair line into the arrays (or counts it as out of vocabulary). */
static oclnn_status pair_line(const eval_file *e, const oclnn_wordvec *wv, const caseless *v, double *gold,
                              double *model, oclnn_word_pairs_eval *out)
{
    char *f[4];
    int nf = 0;
    for (char *p = e->line; nf < 4; p++) {
        f[nf++] = p;
        p = strchr(p, '\t');
        if (!p) break;
        *p = 0;
    }
    if (nf != 3)
        return oclnn_fail(OCLNN_ERR_FORMAT, "%s:%ld: expected 'word1<TAB>word2<TAB>score', got %s tab-separated "
                          "fields", e->path, e->lineno, nf > 3 ? "more than 3" : nf == 2 ? "2" : "1");
    char *end;
    errno = 0;
    double score = strtod(f[2], &end);
    while (is_space(*end)) end++;
    if (end == f[2] || *end || errno == ERANGE)
        return oclnn_fail(OCLNN_ERR_FORMAT, "%s:%ld: the score '%s' is not a number", e->path, e->lineno, f[2]);
    oclnn_status s = OCLNN_OK;
    int64_t a = eval_word(e, v, f[0], strlen(f[0]), &s);
    int64_t b = a == -2 ? -2 : eval_word(e, v, f[1], strlen(f[1]), &s);
    if (s) return s;
    if (a < 0 || b < 0) {
        out->oov++;
        return OCLNN_OK;
    }
    const int64_t dim = oclnn_wordvec_dim(wv);
    gold[out->used] = score;
    model[out->used++] = cosine(oclnn_wordvec_vectors(wv) + a * dim, oclnn_wordvec_vectors(wv) + b * dim, dim);
    return OCLNN_OK;
}

/* Room for index `need` in an array of *cap elements of `size` bytes
 * (doubling): the array, perhaps moved, or NULL when out of memory (the
 * old one is still valid then). */
static void *grow(void *p, int64_t *cap, int64_t need, size_t size)
{
    if (need < *cap) return p;
    int64_t c = *cap ? *cap * 2 : 256;
    void *np = realloc(p, size * (size_t)c);
    if (np) *cap = c;
    return np;
}

oclnn_status oclnn_wordvec_eval_pairs(const oclnn_wordvec *wv, const char *path, int64_t restrict_vocab,
                                      oclnn_word_pairs_eval *out)
{
    if (!wv || !path || !out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_eval_pairs: NULL argument");
    memset(out, 0, sizeof *out);
    if (oclnn_wordvec_count(wv) < 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_eval_pairs: the word vectors are empty");
    caseless v;
    eval_file e = {0};
    double *gold = NULL, *model = NULL;
    int64_t gold_cap = 0, model_cap = 0;
    oclnn_status s = caseless_build(wv, restrict_vocab, &v);
    if (!s) s = eval_open(&e, path);
    while (!s && eval_next(&e, &s)) {
        if (e.line[0] == '#' || is_blank(e.line)) continue;
        double *ng = grow(gold, &gold_cap, out->used, sizeof *gold);
        if (ng) gold = ng;
        double *nm = ng ? grow(model, &model_cap, out->used, sizeof *model) : NULL;
        if (nm) model = nm;
        s = ng && nm ? pair_line(&e, wv, &v, gold, model, out) : out_of_memory();
    }
    if (!s && out->used == 0)
        s = oclnn_fail(OCLNN_ERR_FORMAT, "%s: no pair with both words in the vocabulary (%lld pairs skipped)", path,
                       (long long)out->oov);
    if (!s) {
        double *rg = malloc(sizeof *rg * (size_t)out->used), *rm = malloc(sizeof *rm * (size_t)out->used);
        if (!rg || !rm || !average_ranks(gold, out->used, rg) || !average_ranks(model, out->used, rm))
            s = out_of_memory();
        else {
            out->pearson = pearson(gold, model, out->used);
            out->spearman = pearson(rg, rm, out->used);
        }
        free(rg);
        free(rm);
    }
    eval_close(&e);
    caseless_free(&v);
    free(gold);
    free(model);
    return s;
}

/* ---- Analogies */

typedef struct question {
    int64_t abc[3];   /* rows of a, b, c: a negative, b and c positive */
    int64_t expected;
    int64_t section;
} question;

typedef struct analogy_state {
    oclnn_analogy_eval *out;
    question *q;
    int64_t nq, qcap, scap;
} analogy_state;

static oclnn_status new_section(const eval_file *e, analogy_state *st)
{
    oclnn_analogy_eval *out = st->out;
    oclnn_analogy_score *ns = grow(out->sections, &st->scap, out->nsections, sizeof *ns);
    if (!ns) return out_of_memory();
    out->sections = ns;
    /* gensim: line.lstrip(': ').strip() */
    const char *name = e->line;
    while (*name == ':' || *name == ' ') name++;
    while (is_space(*name)) name++;
    size_t n = strlen(name);
    while (n && is_space(name[n - 1])) n--;
    oclnn_analogy_score *sec = &out->sections[out->nsections];
    memset(sec, 0, sizeof *sec);
    if (!(sec->name = strndup(name, n))) return out_of_memory();
    out->nsections++;
    return OCLNN_OK;
}

static oclnn_status question_line(const eval_file *e, const caseless *v, analogy_state *st)
{
    if (!st->out->nsections)
        return oclnn_fail(OCLNN_ERR_FORMAT, "%s:%ld: a question before the first ': section' line", e->path, e->lineno);
    int64_t rows[4];
    int nf = 0;
    oclnn_status s = OCLNN_OK;
    for (const char *p = e->line; !s;) {
        while (is_space(*p)) p++;
        if (!*p) break;
        const char *w = p;
        while (*p && !is_space(*p)) p++;
        if (nf < 4) rows[nf] = eval_word(e, v, w, (size_t)(p - w), &s);
        nf++;
    }
    if (s) return s;
    if (nf != 4)
        return oclnn_fail(OCLNN_ERR_FORMAT, "%s:%ld: expected 4 words 'a b c expected', got %d", e->path, e->lineno, nf);
    oclnn_analogy_score *sec = &st->out->sections[st->out->nsections - 1];
    if (rows[0] < 0 || rows[1] < 0 || rows[2] < 0 || rows[3] < 0) {
        sec->oov++;
        return OCLNN_OK;
    }
    question *nq = grow(st->q, &st->qcap, st->nq, sizeof *nq);
    if (!nq) return out_of_memory();
    st->q = nq;
    question *q = &st->q[st->nq++];
    memcpy(q->abc, rows, sizeof q->abc);
    q->expected = rows[3];
    q->section = st->out->nsections - 1;
    sec->used++;
    return OCLNN_OK;
}

/* gensim's answer among the top 5 (inputs' rows already excluded): the
 * first whose upper case is none of the inputs', else the last one. */
static int answered(const caseless *v, const question *q, const int64_t *top, int64_t k)
{
    int64_t predicted = -1;
    for (int64_t j = 0; j < k && top[j] >= 0; j++) {
        predicted = v->canon[top[j]];
        if (predicted != q->abc[0] && predicted != q->abc[1] && predicted != q->abc[2]) break;
    }
    return predicted == q->expected;
}

static void add_score(oclnn_analogy_score *to, const oclnn_analogy_score *from)
{
    to->correct += from->correct;
    to->used += from->used;
    to->oov += from->oov;
}

/* Runs every question on the device and fills in the scores. */
static oclnn_status score_questions(oclnn_context *ctx, const oclnn_wordvec *wv, const caseless *v, analogy_state *st)
{
    enum { TOPN = 5 };
    const int64_t m = st->nq;
    int64_t *pos = malloc(sizeof *pos * (size_t)(2 * m + 1)), *neg = malloc(sizeof *neg * (size_t)(m + 1));
    int64_t *rows = malloc(sizeof *rows * (size_t)(TOPN * m + 1));
    float *scores = malloc(sizeof *scores * (size_t)(TOPN * m + 1));
    oclnn_status s = OCLNN_OK;
    if (!pos || !neg || !rows || !scores) s = out_of_memory();
    for (int64_t i = 0; i < m && !s; i++) {
        neg[i] = st->q[i].abc[0];
        pos[2 * i] = st->q[i].abc[1];
        pos[2 * i + 1] = st->q[i].abc[2];
    }
    if (!s && m) s = oclnn_wordvec_most_similar(ctx, wv, m, 2, pos, 1, neg, TOPN, v->n, scores, rows);
    oclnn_analogy_eval *out = st->out;
    for (int64_t i = 0; i < m && !s; i++)
        out->sections[st->q[i].section].correct += answered(v, &st->q[i], rows + i * TOPN, TOPN);
    for (int64_t i = 0; i < out->nsections && !s; i++) {
        int syntactic = !strncmp(out->sections[i].name, "gram", 4);
        add_score(syntactic ? &out->syntactic : &out->semantic, &out->sections[i]);
        add_score(&out->total, &out->sections[i]);
    }
    free(pos);
    free(neg);
    free(rows);
    free(scores);
    return s;
}

oclnn_status oclnn_wordvec_eval_analogies(oclnn_context *ctx, const oclnn_wordvec *wv, const char *path,
                                          int64_t restrict_vocab, oclnn_analogy_eval *out)
{
    if (!ctx || !wv || !path || !out)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_eval_analogies: NULL argument");
    memset(out, 0, sizeof *out);
    if (oclnn_wordvec_count(wv) < 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_eval_analogies: the word vectors are empty");
    caseless v;
    eval_file e = {0};
    analogy_state st = {.out = out};
    oclnn_status s = caseless_build(wv, restrict_vocab, &v);
    if (!s) s = eval_open(&e, path);
    while (!s && eval_next(&e, &s)) {
        if (!strncmp(e.line, ": ", 2)) s = new_section(&e, &st);
        else if (!is_blank(e.line)) s = question_line(&e, &v, &st);
    }
    if (!s && !out->nsections) s = oclnn_fail(OCLNN_ERR_FORMAT, "%s: no ': section' line and no question", path);
    const char *names[3] = {"semantic", "syntactic", "total"};
    oclnn_analogy_score *totals[3] = {&out->semantic, &out->syntactic, &out->total};
    for (int i = 0; i < 3 && !s; i++)
        if (!(totals[i]->name = strdup(names[i])))
            s = out_of_memory();
    if (!s) s = score_questions(ctx, wv, &v, &st);
    eval_close(&e);
    caseless_free(&v);
    free(st.q);
    if (s) oclnn_analogy_eval_free(out);
    return s;
}

void oclnn_analogy_eval_free(oclnn_analogy_eval *e)
{
    if (!e) return;
    for (int64_t i = 0; i < e->nsections; i++) free(e->sections[i].name);
    free(e->sections);
    free(e->semantic.name);
    free(e->syntactic.name);
    free(e->total.name);
    memset(e, 0, sizeof *e);
}
