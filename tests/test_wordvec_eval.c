/* Word-vector queries and evaluation against numpy and gensim
 * (tests/gen/wordvec_eval_fixtures.py, tests/data/wordvec_eval): nearest
 * neighbours and analogies from the device search are numpy's brute-force
 * lists (same words, same order, scores within 1e-5), also across query
 * batches; word-pair Spearman / Pearson and analogy accuracies per section
 * are gensim's (counts exact, correlations within 1e-6), whole and
 * restricted vocabulary; malformed evaluation files, unknown words, empty
 * vectors and bad arguments are clear errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { K = 10, MAXF = 64 };

static oclnn_wordvec *wv;
static char tmpdir[256];

static const char *data_path(const char *name) { return tu_data_path("wordvec_eval/%s", name); }

/* Writes text to a file in the temporary folder; returns its path. */
static const char *tmp_file(const char *name, const char *text)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(b, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return b;
}

static void setup(void)
{
    TU_OK(oclnn_wordvec_load(data_path("vectors.bin"), NULL, &wv));
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oclnn_wveval_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    oclnn_wordvec_release(wv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Splits a line at tabs (the newline dropped); returns the field count. */
static int split_tabs(char *line, char **f)
{
    line[strcspn(line, "\n")] = 0;
    int n = 0;
    for (char *p = line; n < MAXF; p++) {
        f[n++] = p;
        if (!(p = strchr(p, '\t'))) break;
        *p = 0;
    }
    return n;
}

/* Checks every line of an expected_{nearest,analogy}.txt: "restrict", then
 * ninputs words, then K (word, score). The lines of one restrict run as one
 * batch, each repeated `repeat` times (to cross the query batch size). */
static void check_expected(const char *file, int ninputs, int repeat)
{
    FILE *f = fopen(data_path(file), "r");
    ck_assert_ptr_nonnull(f);
    char lines[16][2048];
    int nl = 0;
    while (nl < 16 && fgets(lines[nl], sizeof lines[nl], f)) nl++;
    fclose(f);
    ck_assert_int_ge(nl, 3);
    for (int first = 0; first < nl;) {
        char copy[16][2048], *fl[16][MAXF];
        int n = 0;
        long restrict_vocab = atol(lines[first]);
        while (first + n < nl && atol(lines[first + n]) == restrict_vocab) {
            strcpy(copy[n], lines[first + n]);
            ck_assert_int_eq(split_tabs(copy[n], fl[n]), 1 + ninputs + 2 * K);
            n++;
        }
        const int64_t m = (int64_t)n * repeat;
        int64_t *in = malloc(sizeof *in * (size_t)(m * ninputs)), *rows = malloc(sizeof *rows * (size_t)(m * K));
        float *scores = malloc(sizeof *scores * (size_t)(m * K));
        for (int64_t q = 0; q < m; q++)
            TU_OK(oclnn_wordvec_lookup(wv, ninputs, (const char *const *)fl[q % n] + 1, in + q * ninputs));
        /* analogy a b c: positive (b, c), negative (a) */
        int64_t *pos = in, *neg = NULL;
        int npos = 1, nneg = 0;
        int64_t *abc = NULL;
        if (ninputs == 3) {
            abc = malloc(sizeof *abc * (size_t)(m * 3));
            for (int64_t q = 0; q < m; q++) {
                abc[q * 2] = in[q * 3 + 1];
                abc[q * 2 + 1] = in[q * 3 + 2];
                abc[2 * m + q] = in[q * 3];
            }
            pos = abc;
            neg = abc + 2 * m;
            npos = 2;
            nneg = 1;
        }
        TU_OK(oclnn_wordvec_most_similar(tu_context(), wv, m, npos, pos, nneg, neg, K, restrict_vocab, scores, rows));
        for (int64_t q = 0; q < m; q++)
            for (int j = 0; j < K; j++) {
                char **e = fl[q % n] + 1 + ninputs;
                const char *got = oclnn_wordvec_word(wv, rows[q * K + j]);
                ck_assert_msg(got && !strcmp(got, e[2 * j]), "%s query %lld (%s) rank %d: %s, want %s", file,
                              (long long)q, fl[q % n][1], j, got ? got : "(none)", e[2 * j]);
                ck_assert_msg(fabs(scores[q * K + j] - atof(e[2 * j + 1])) < 1e-5, "%s query %lld rank %d: %.8f, want %s",
                              file, (long long)q, j, scores[q * K + j], e[2 * j + 1]);
            }
        free(in);
        free(abc);
        free(rows);
        free(scores);
        first += n;
    }
}

START_TEST(nearest_matches_numpy) { check_expected("expected_nearest.txt", 1, 1); }
END_TEST

START_TEST(analogy_matches_numpy) { check_expected("expected_analogy.txt", 3, 1); }
END_TEST

/* 8 queries x 1100 = 8800: more than one device batch (8192). */
START_TEST(nearest_across_batches) { check_expected("expected_nearest.txt", 1, 1100); }
END_TEST

/* Fewer candidates than k: the tail is -1 / NaN; the query's row is not a candidate. */
START_TEST(fewer_candidates_than_k)
{
    int64_t q = 1, rows[5];
    float scores[5];
    TU_OK(oclnn_wordvec_most_similar(tu_context(), wv, 1, 1, &q, 0, NULL, 5, 3, scores, rows));
    ck_assert_int_eq(rows[0] + rows[1], 2); /* rows 0 and 2, in either order */
    ck_assert(rows[0] != 1 && rows[1] != 1 && rows[0] >= 0 && rows[1] >= 0);
    ck_assert(scores[0] >= scores[1]);
    for (int j = 2; j < 5; j++) {
        ck_assert_int_eq(rows[j], -1);
        ck_assert(isnan(scores[j]));
    }
}
END_TEST

typedef struct expected_eval {
    char kind[16], name[64];
    long restrict_vocab;
    long long a, b, c;
    double spearman, pearson;
} expected_eval;

static int read_expected_eval(expected_eval *e, int max)
{
    FILE *f = fopen(data_path("expected_eval.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char line[512], *fl[MAXF];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        int nf = split_tabs(line, fl);
        expected_eval *x = &e[n++];
        memset(x, 0, sizeof *x);
        snprintf(x->kind, sizeof x->kind, "%s", fl[0]);
        x->restrict_vocab = atol(fl[1]);
        snprintf(x->name, sizeof x->name, "%s", fl[2]);
        x->a = atoll(fl[3]);
        x->b = atoll(fl[4]);
        ck_assert_int_eq(nf, !strcmp(fl[0], "pairs") ? 7 : 6);
        if (nf == 7) {
            x->spearman = atof(fl[5]);
            x->pearson = atof(fl[6]);
        } else {
            x->c = atoll(fl[5]);
        }
    }
    fclose(f);
    return n;
}

static void check_score(const oclnn_analogy_score *got, const expected_eval *x)
{
    ck_assert_msg(got->correct == x->a && got->used == x->b && got->oov == x->c,
                  "restrict %ld %s: %lld/%lld (%lld skipped), gensim %lld/%lld (%lld skipped)", x->restrict_vocab,
                  x->name, (long long)got->correct, (long long)got->used, (long long)got->oov, x->a, x->b, x->c);
}

START_TEST(eval_matches_gensim)
{
    expected_eval ex[32];
    int n = read_expected_eval(ex, 32), pairs = 0, analogies = 0;
    for (int i = 0; i < n; i++) {
        expected_eval *x = &ex[i];
        if (strcmp(x->kind, "pairs")) continue;
        oclnn_word_pairs_eval r;
        TU_OK(oclnn_wordvec_eval_pairs(wv, data_path(x->name), x->restrict_vocab, &r));
        ck_assert_msg(r.used == x->a && r.oov == x->b, "%s: %lld used %lld skipped, gensim %lld %lld", x->name,
                      (long long)r.used, (long long)r.oov, x->a, x->b);
        ck_assert_msg(fabs(r.spearman - x->spearman) < 1e-6, "%s spearman %.9f gensim %.9f", x->name, r.spearman,
                      x->spearman);
        ck_assert_msg(fabs(r.pearson - x->pearson) < 1e-6, "%s pearson %.9f gensim %.9f", x->name, r.pearson,
                      x->pearson);
        pairs++;
    }
    for (long restrict_vocab = 0; restrict_vocab < 2; restrict_vocab++) {
        long rv = restrict_vocab ? 480 : 300000;
        oclnn_analogy_eval r;
        TU_OK(oclnn_wordvec_eval_analogies(tu_context(), wv, data_path("questions-words.txt"), rv, &r));
        oclnn_analogy_score sem = {0}, syn = {0};
        int64_t s = 0;
        for (int i = 0; i < n; i++) {
            expected_eval *x = &ex[i];
            if (strcmp(x->kind, "analogy") || x->restrict_vocab != rv) continue;
            if (!strcmp(x->name, "total")) {
                check_score(&r.total, x);
                continue;
            }
            ck_assert_int_lt(s, r.nsections);
            ck_assert_str_eq(r.sections[s].name, x->name);
            check_score(&r.sections[s], x);
            oclnn_analogy_score *to = strncmp(x->name, "gram", 4) ? &sem : &syn;
            to->correct += x->a;
            to->used += x->b;
            to->oov += x->c;
            s++;
            analogies++;
        }
        ck_assert_int_eq(s, r.nsections);
        ck_assert(r.semantic.correct == sem.correct && r.semantic.used == sem.used && r.semantic.oov == sem.oov);
        ck_assert(r.syntactic.correct == syn.correct && r.syntactic.used == syn.used && r.syntactic.oov == syn.oov);
        ck_assert_str_eq(r.total.name, "total");
        oclnn_analogy_eval_free(&r);
    }
    ck_assert_int_eq(pairs, 4);
    ck_assert_int_eq(analogies, 8);
}
END_TEST

/* Evaluation file text -> the status and a piece of the message. */
static void expect_error(int analogies, const char *text, oclnn_status want, const char *msg)
{
    const char *path = tmp_file(analogies ? "q.txt" : "p.tsv", text);
    oclnn_status s;
    if (analogies) {
        oclnn_analogy_eval r;
        s = oclnn_wordvec_eval_analogies(tu_context(), wv, path, 0, &r);
        ck_assert_ptr_null(r.sections);
    } else {
        oclnn_word_pairs_eval r;
        s = oclnn_wordvec_eval_pairs(wv, path, 0, &r);
    }
    ck_assert_msg(s == want && strstr(oclnn_last_error(), msg), "%s -> %s: %s (want %s)", text, oclnn_status_name(s),
                  oclnn_last_error(), msg);
    ck_assert_msg(s == OCLNN_ERR_IO || strstr(oclnn_last_error(), path), "no file name: %s", oclnn_last_error());
}

START_TEST(malformed_eval_files)
{
    expect_error(0, "# c\nking\tqueen\t8.5\nking queen 8.5\n", OCLNN_ERR_FORMAT, ":3: expected 'word1<TAB>word2<TAB>score'");
    expect_error(0, "king\tqueen\t8.5\tx\n", OCLNN_ERR_FORMAT, ":1: expected");
    expect_error(0, "king\tqueen\thigh\n", OCLNN_ERR_FORMAT, ":1: the score 'high' is not a number");
    expect_error(0, "king\tqu\xff\t1\n", OCLNN_ERR_FORMAT, ":1: invalid UTF-8");
    expect_error(0, "# only comments\n\nzzqx\tking\t3\n", OCLNN_ERR_FORMAT, "no pair with both words");
    expect_error(1, "man king woman queen\n", OCLNN_ERR_FORMAT, ":1: a question before the first ': section'");
    expect_error(1, ": family\nman king woman\n", OCLNN_ERR_FORMAT, ":2: expected 4 words 'a b c expected', got 3");
    expect_error(1, ": family\n\nman king woman queen x\n", OCLNN_ERR_FORMAT, ":3: expected 4 words");
    expect_error(1, "\n\n", OCLNN_ERR_FORMAT, "no ': section' line");
    oclnn_word_pairs_eval p;
    ck_assert_int_eq(oclnn_wordvec_eval_pairs(wv, "/nonexistent/ws.tsv", 0, &p), OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "/nonexistent/ws.tsv"));
    /* CRLF line ends, blank lines and case do not matter */
    const char *crlf = tmp_file("crlf.tsv", "# x\r\nKING\tqueen\t8\r\n\r\nman\tWoman\t7.5\r\nzzqx\tking\t1\r\n");
    TU_OK(oclnn_wordvec_eval_pairs(wv, crlf, 0, &p));
    ck_assert_int_eq(p.used, 2);
    ck_assert_int_eq(p.oov, 1);
    ck_assert(fabs(p.spearman - (p.pearson > 0 ? 1 : -1)) < 1e-12);
}
END_TEST

START_TEST(unknown_words_and_bad_arguments)
{
    const char *words[] = {"king", "zzqx-unknown"};
    int64_t rows[2], q = 0, bad = 100000;
    float scores[4];
    ck_assert_int_eq(oclnn_wordvec_lookup(wv, 2, words, rows), OCLNN_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "unknown word 'zzqx-unknown'"));
    ck_assert_int_eq(oclnn_wordvec_lookup(wv, 1, (const char *[]){"KING"}, rows), OCLNN_ERR_NOT_FOUND);
    oclnn_context *ctx = tu_context();
    ck_assert_int_eq(oclnn_wordvec_most_similar(ctx, wv, 1, 1, &bad, 0, NULL, 4, 0, scores, rows),
                     OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "row 100000"));
    ck_assert_int_eq(oclnn_wordvec_most_similar(ctx, wv, 1, 1, &q, 0, NULL, 0, 0, scores, rows), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_wordvec_most_similar(ctx, wv, 1, 1, &q, 0, NULL, OCLNN_TOPK_MAX, 0, scores, rows),
                     OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_wordvec_most_similar(ctx, wv, 1, 0, &q, 0, NULL, 4, 0, scores, rows), OCLNN_ERR_INVALID_ARG);
    /* empty vectors */
    oclnn_wordvec *empty;
    TU_OK(oclnn_wordvec_load(tmp_file("empty.txt", "0 24\n"), NULL, &empty));
    ck_assert_int_eq(oclnn_wordvec_most_similar(ctx, empty, 1, 1, &q, 0, NULL, 4, 0, scores, rows),
                     OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "empty"));
    oclnn_word_pairs_eval p;
    ck_assert_int_eq(oclnn_wordvec_eval_pairs(empty, data_path("wordsim353.tsv"), 0, &p), OCLNN_ERR_INVALID_ARG);
    oclnn_analogy_eval a;
    ck_assert_int_eq(oclnn_wordvec_eval_analogies(ctx, empty, data_path("questions-words.txt"), 0, &a),
                     OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "empty"));
    oclnn_wordvec_release(empty);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wordvec_eval");
    TCase *tc = tcase_create("wordvec_eval");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, nearest_matches_numpy);
    tcase_add_test(tc, analogy_matches_numpy);
    tcase_add_test(tc, nearest_across_batches);
    tcase_add_test(tc, fewer_candidates_than_k);
    tcase_add_test(tc, eval_matches_gensim);
    tcase_add_test(tc, malformed_eval_files);
    tcase_add_test(tc, unknown_words_and_bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
