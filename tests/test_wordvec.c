/* Word-vector files: the fixtures gensim wrote (tests/gen/wordvec_fixtures.py)
 * in word2vec binary and text, fastText .vec and GloVe load with the same
 * words and bits; lookups; the nearest neighbours gensim's most_similar
 * found come out of the device search; our writer's files read back
 * exactly and are byte for byte the committed oclnn_written.* that the
 * script checked with gensim; and every kind of malformed file is a clear
 * error (or, where a policy says so, read as documented). A fastText .bin
 * trained and saved by gensim (tests/gen/fasttext_fixture.py) gives
 * gensim's vectors for words in and out of its vocabulary; truncated and
 * corrupt copies of it are clear errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { COUNT = 40, DIM = 8 };

static char words[COUNT][64];
static float expected[COUNT * DIM];
static char tmpdir[256];

static const char *data_path(const char *name) { return tu_data_path("wordvec/%s", name); }

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static void load_expected(void)
{
    FILE *f = fopen(data_path("words.txt"), "rb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < COUNT; i++) {
        ck_assert_ptr_nonnull(fgets(words[i], sizeof words[i], f));
        words[i][strcspn(words[i], "\n")] = 0;
    }
    fclose(f);
    f = fopen(data_path("expected.f32"), "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fread(expected, sizeof(float), COUNT * DIM, f), COUNT * DIM);
    fclose(f);
}

static void setup(void)
{
    load_expected();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oclnn_wordvec_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void check_fixture(const oclnn_wordvec *wv, const char *what)
{
    ck_assert_msg(oclnn_wordvec_count(wv) == COUNT && oclnn_wordvec_dim(wv) == DIM, "%s: %lld x %lld", what,
                  (long long)oclnn_wordvec_count(wv), (long long)oclnn_wordvec_dim(wv));
    for (int i = 0; i < COUNT; i++) {
        ck_assert_msg(strcmp(oclnn_wordvec_word(wv, i), words[i]) == 0, "%s: word %d '%s' want '%s'", what, i,
                      oclnn_wordvec_word(wv, i), words[i]);
        ck_assert_int_eq(oclnn_wordvec_find(wv, words[i]), i);
    }
    ck_assert_msg(memcmp(oclnn_wordvec_vectors(wv), expected, sizeof expected) == 0, "%s: vectors differ", what);
}

static oclnn_wordvec *load(const char *path, oclnn_wordvec_format fmt)
{
    oclnn_wordvec *wv = NULL;
    oclnn_wordvec_options o = {.format = fmt};
    TU_OK(oclnn_wordvec_load(path, &o, &wv));
    return wv;
}

START_TEST(test_fixtures_load)
{
    static const struct {
        const char *file;
        oclnn_wordvec_format fmt, detected;
    } cases[] = {
        {"vectors.bin", OCLNN_WORDVEC_WORD2VEC_BINARY, OCLNN_WORDVEC_WORD2VEC_BINARY},
        {"vectors.txt", OCLNN_WORDVEC_WORD2VEC_TEXT, OCLNN_WORDVEC_WORD2VEC_TEXT},
        {"vectors.vec", OCLNN_WORDVEC_FASTTEXT_VEC, OCLNN_WORDVEC_WORD2VEC_TEXT},
        {"vectors.glove.txt", OCLNN_WORDVEC_GLOVE, OCLNN_WORDVEC_GLOVE},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oclnn_wordvec *wv = load(data_path(cases[c].file), OCLNN_WORDVEC_AUTO);
        check_fixture(wv, cases[c].file);
        ck_assert_int_eq(oclnn_wordvec_format_of(wv), cases[c].detected);
        oclnn_wordvec_release(wv);
        wv = load(data_path(cases[c].file), cases[c].fmt);
        check_fixture(wv, cases[c].file);
        ck_assert_int_eq(oclnn_wordvec_format_of(wv), cases[c].fmt);
        oclnn_wordvec_release(wv);
    }
}
END_TEST

START_TEST(test_lookup_and_limit)
{
    oclnn_wordvec *wv = load(data_path("vectors.bin"), OCLNN_WORDVEC_AUTO);
    ck_assert_int_eq(oclnn_wordvec_find(wv, "日本"), 28);
    ck_assert_int_eq(oclnn_wordvec_find(wv, "😀"), 34);
    ck_assert_int_eq(oclnn_wordvec_find(wv, "nonexistent"), -1);
    ck_assert_int_eq(oclnn_wordvec_find(wv, "Café"), -1); /* exact bytes */
    ck_assert_int_eq(oclnn_wordvec_find(wv, ""), -1);
    ck_assert_ptr_null(oclnn_wordvec_word(wv, COUNT));
    ck_assert_ptr_null(oclnn_wordvec_word(wv, -1));
    ck_assert_str_eq(oclnn_wordvec_words(wv)[20], "café");
    oclnn_wordvec_release(wv);
    const char *files[] = {"vectors.bin", "vectors.txt", "vectors.glove.txt"};
    for (int f = 0; f < 3; f++) {
        oclnn_wordvec_options o = {.limit = 7};
        TU_OK(oclnn_wordvec_load(data_path(files[f]), &o, &wv));
        ck_assert_int_eq(oclnn_wordvec_count(wv), 7);
        ck_assert_int_eq(oclnn_wordvec_find(wv, "orange"), -1);
        ck_assert(memcmp(oclnn_wordvec_vectors(wv), expected, 7 * DIM * sizeof(float)) == 0);
        oclnn_wordvec_release(wv);
    }
}
END_TEST

/* gensim's most_similar (cosine, the query excluded) vs the device search. */
START_TEST(test_neighbours_match_gensim)
{
    oclnn_wordvec *wv = load(data_path("vectors.txt"), OCLNN_WORDVEC_AUTO);
    FILE *f = fopen(data_path("neighbours.txt"), "rb");
    ck_assert_ptr_nonnull(f);
    char line[2048];
    int queries = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *save, *q = strtok_r(line, "\t", &save);
        int64_t row = oclnn_wordvec_find(wv, q);
        ck_assert_msg(row >= 0, "query '%s' not found", q);
        float v[6];
        int32_t ix[6];
        TU_OK(oclnn_knn_search(tu_context(), oclnn_wordvec_vectors(wv) + row * DIM, 1, oclnn_wordvec_vectors(wv), COUNT,
                               DIM, 6, OCLNN_METRIC_COSINE, 16, v, ix));
        int j = 0;
        for (int n = 0; n < 5; n++) {
            char *w = strtok_r(NULL, "\t", &save), *s = strtok_r(NULL, "\t", &save);
            ck_assert_ptr_nonnull(s);
            if (ix[j] == row) j++; /* the query itself */
            ck_assert_msg(strcmp(oclnn_wordvec_word(wv, ix[j]), w) == 0, "'%s' neighbour %d: '%s', gensim '%s'", q, n,
                          oclnn_wordvec_word(wv, ix[j]), w);
            ck_assert_msg(fabs(v[j] - atof(s)) < 1e-5, "'%s' neighbour %d: %g, gensim %s", q, n, v[j], s);
            j++;
        }
        queries++;
    }
    ck_assert_int_eq(queries, 6);
    fclose(f);
    oclnn_wordvec_release(wv);
}
END_TEST

static size_t read_all(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    *out = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

/* Our writer: every format reads back with the same bits; text and binary
 * are byte for byte the committed files gensim read back exactly
 * (OCLNN_WORDVEC_REGEN=1 rewrites them; then rerun the gen script). */
START_TEST(test_writer_round_trip)
{
    oclnn_wordvec *wv = load(data_path("vectors.bin"), OCLNN_WORDVEC_AUTO);
    const char *const *ws = oclnn_wordvec_words(wv);
    const float *vs = oclnn_wordvec_vectors(wv);
    static const struct {
        const char *name, *committed;
        oclnn_wordvec_format fmt;
    } cases[] = {
        {"w.bin", "oclnn_written.bin", OCLNN_WORDVEC_WORD2VEC_BINARY},
        {"w.txt", "oclnn_written.txt", OCLNN_WORDVEC_WORD2VEC_TEXT},
        {"w.vec", NULL, OCLNN_WORDVEC_FASTTEXT_VEC},
        {"w.glove", NULL, OCLNN_WORDVEC_GLOVE},
    };
    int regen = getenv("OCLNN_WORDVEC_REGEN") != NULL;
    for (int c = 0; c < 4; c++) {
        const char *path = regen && cases[c].committed ? data_path(cases[c].committed) : tmp_path(cases[c].name);
        TU_OK(oclnn_wordvec_save(path, cases[c].fmt, COUNT, DIM, ws, vs));
        oclnn_wordvec *back = load(path, OCLNN_WORDVEC_AUTO);
        check_fixture(back, cases[c].name);
        oclnn_wordvec_release(back);
        if (cases[c].committed && !regen) {
            char *a, *b;
            size_t na = read_all(path, &a), nb = read_all(data_path(cases[c].committed), &b);
            ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "%s differs from the committed %s", path,
                          cases[c].committed);
            free(a);
            free(b);
        }
    }
    /* a file of zero words is valid too */
    TU_OK(oclnn_wordvec_save(tmp_path("empty.txt"), OCLNN_WORDVEC_WORD2VEC_TEXT, 0, 3, NULL, NULL));
    oclnn_wordvec *e = load(tmp_path("empty.txt"), OCLNN_WORDVEC_AUTO);
    ck_assert_int_eq(oclnn_wordvec_count(e), 0);
    ck_assert_int_eq(oclnn_wordvec_dim(e), 3);
    oclnn_wordvec_release(e);
    /* values that need all nine digits, and specials */
    const char *w2[3] = {"a", "b", "c"};
    const float v2[6] = {1.0f / 3.0f, -1e-38f, 3.4028235e38f, 1e-45f, INFINITY, -0.0f};
    for (int fmt = OCLNN_WORDVEC_WORD2VEC_BINARY; fmt <= OCLNN_WORDVEC_GLOVE; fmt++) {
        TU_OK(oclnn_wordvec_save(tmp_path("s"), (oclnn_wordvec_format)fmt, 3, 2, w2, v2));
        oclnn_wordvec *s = load(tmp_path("s"), (oclnn_wordvec_format)fmt);
        ck_assert(memcmp(oclnn_wordvec_vectors(s), v2, sizeof v2) == 0);
        oclnn_wordvec_release(s);
    }
    oclnn_wordvec_release(wv);
}
END_TEST

START_TEST(test_writer_errors)
{
    const float v[2] = {1, 2};
    const char *bad[] = {"two words", "tab\tword", "line\nbreak", "", "\xff\xfe"};
    for (int i = 0; i < 5; i++) {
        const char *w[1] = {bad[i]};
        ck_assert_int_eq(oclnn_wordvec_save(tmp_path("x"), OCLNN_WORDVEC_WORD2VEC_TEXT, 1, 2, w, v),
                         OCLNN_ERR_INVALID_ARG);
        ck_assert(access(tmp_path("x"), F_OK) != 0);
    }
    const char *w[1] = {"ok"};
    ck_assert_int_eq(oclnn_wordvec_save(tmp_path("x"), OCLNN_WORDVEC_AUTO, 1, 2, w, v), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_wordvec_save(tmp_path("x"), OCLNN_WORDVEC_GLOVE, 1, 0, w, v), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_wordvec_save("/nonexistent-dir/x", OCLNN_WORDVEC_GLOVE, 1, 2, w, v), OCLNN_ERR_IO);
}
END_TEST

/* ---- malformed files */
static void write_file(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(tmp_path(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Loads a file with the given bytes and expects status `want` with every
 * fragment in the message. */
static void expect_error(const char *content, size_t n, oclnn_wordvec_format fmt, oclnn_status want,
                         const char *frag1, const char *frag2)
{
    write_file("bad", content, n);
    oclnn_wordvec *wv = (oclnn_wordvec *)1;
    oclnn_wordvec_options o = {.format = fmt};
    oclnn_status s = oclnn_wordvec_load(tmp_path("bad"), &o, &wv);
    const char *msg = oclnn_last_error();
    ck_assert_msg(s == want, "'%.40s': got %s (%s), want %s", content, oclnn_status_name(s), msg,
                  oclnn_status_name(want));
    ck_assert_ptr_null(wv);
    ck_assert_msg(strstr(msg, tmp_path("bad")) != NULL, "message names no file: %s", msg);
    ck_assert_msg(!frag1 || strstr(msg, frag1), "message lacks '%s': %s", frag1, msg);
    ck_assert_msg(!frag2 || strstr(msg, frag2), "message lacks '%s': %s", frag2, msg);
}
#define EXPECT(str, fmt, st, f1, f2) expect_error(str, sizeof(str) - 1, fmt, st, f1, f2)

START_TEST(test_bad_header)
{
    EXPECT("2 x\na 1\nb 2\n", OCLNN_WORDVEC_WORD2VEC_TEXT, OCLNN_ERR_FORMAT, ":1:", "bad header");
    EXPECT("two 3\n", OCLNN_WORDVEC_WORD2VEC_BINARY, OCLNN_ERR_FORMAT, ":1:", "bad header");
    EXPECT("2 0\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":1:", "dim");
    EXPECT("-2 3\n", OCLNN_WORDVEC_WORD2VEC_TEXT, OCLNN_ERR_FORMAT, ":1:", "bad header");
    EXPECT("2 3 4\n", OCLNN_WORDVEC_FASTTEXT_VEC, OCLNN_ERR_FORMAT, ":1:", "bad header");
    EXPECT("99999999999999999999 3\n", OCLNN_WORDVEC_WORD2VEC_TEXT, OCLNN_ERR_FORMAT, ":1:", "bad header");
    EXPECT("", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "empty file", NULL);
    oclnn_wordvec *wv;
    ck_assert_int_eq(oclnn_wordvec_load(tmp_path("missing"), NULL, &wv), OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "missing"));
    oclnn_wordvec_options o = {.format = (oclnn_wordvec_format)9};
    ck_assert_int_eq(oclnn_wordvec_load(data_path("vectors.txt"), &o, &wv), OCLNN_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_short_and_long_rows)
{
    EXPECT("2 3\na 1 2 3\nb 1 2\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":3:", "has 2 numbers, expected 3");
    EXPECT("2 3\na 1 2 3\nb 1 2 3 4\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":3:", "more than 3");
    EXPECT("a 1 2 3\nb 1 2 3\nc 1 2\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":3:", "expected 3");
    EXPECT("a 1 2 3\nlonely\n", OCLNN_WORDVEC_GLOVE, OCLNN_ERR_FORMAT, ":2:", "has 0 numbers");
    EXPECT("lonely\n", OCLNN_WORDVEC_GLOVE, OCLNN_ERR_FORMAT, ":1:", "at least one number");
}
END_TEST

START_TEST(test_non_numeric)
{
    EXPECT("2 3\na 1 2 3\nb 1 x2 3\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":3:", "'x2'");
    EXPECT("a 1 2 3\nb 1 2 3e\n", OCLNN_WORDVEC_GLOVE, OCLNN_ERR_FORMAT, ":2:", "not a number");
    EXPECT("a 1 2 3\nb 1 2\x00 3\n", OCLNN_WORDVEC_GLOVE, OCLNN_ERR_FORMAT, ":2:", "NUL");
    /* nan and inf are numbers, as for strtof and Python's float() */
    write_file("ok", "1 2\nx nan -inf\n", strlen("1 2\nx nan -inf\n"));
    oclnn_wordvec *wv = load(tmp_path("ok"), OCLNN_WORDVEC_AUTO);
    ck_assert(isnan(oclnn_wordvec_vectors(wv)[0]) && isinf(oclnn_wordvec_vectors(wv)[1]));
    oclnn_wordvec_release(wv);
}
END_TEST

START_TEST(test_row_count)
{
    EXPECT("3 2\na 1 2\nb 3 4\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "says 3 words", "after 2");
    EXPECT("1 2\na 1 2\nb 3 4\n", OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":3:", "more rows");
    /* trailing blank lines and CRLF line ends are fine */
    write_file("ok", "2 2\r\na 1 2\r\nb 3 4 \r\n\n\n", strlen("2 2\r\na 1 2\r\nb 3 4 \r\n\n\n"));
    oclnn_wordvec *wv = load(tmp_path("ok"), OCLNN_WORDVEC_AUTO);
    ck_assert_int_eq(oclnn_wordvec_count(wv), 2);
    ck_assert_str_eq(oclnn_wordvec_word(wv, 1), "b");
    ck_assert(oclnn_wordvec_vectors(wv)[3] == 4.0f);
    oclnn_wordvec_release(wv);
}
END_TEST

START_TEST(test_duplicates)
{
    const char txt[] = "3 2\na 1 2\nb 3 4\na 5 6\n";
    EXPECT(txt, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":4:", "duplicate word 'a' (first as word 1");
    oclnn_wordvec *wv;
    oclnn_wordvec_options o = {.duplicates = OCLNN_WORDVEC_DUP_KEEP_FIRST};
    TU_OK(oclnn_wordvec_load(tmp_path("bad"), &o, &wv));
    ck_assert_int_eq(oclnn_wordvec_count(wv), 2);
    ck_assert(oclnn_wordvec_vectors(wv)[0] == 1.0f && oclnn_wordvec_vectors(wv)[3] == 4.0f);
    oclnn_wordvec_release(wv);
    /* binary: the same policy */
    unsigned char bin[64];
    size_t n = 0;
    memcpy(bin, "3 1\n", 4);
    n = 4;
    const char *ws[3] = {"x", "y", "x"};
    for (int i = 0; i < 3; i++) {
        float f = (float)i;
        bin[n++] = (unsigned char)ws[i][0];
        bin[n++] = ' ';
        memcpy(bin + n, &f, 4);
        n += 4;
    }
    expect_error((const char *)bin, n, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "word 3", "duplicate word 'x'");
    TU_OK(oclnn_wordvec_load(tmp_path("bad"), &o, &wv));
    ck_assert_int_eq(oclnn_wordvec_count(wv), 2);
    ck_assert_int_eq(oclnn_wordvec_format_of(wv), OCLNN_WORDVEC_WORD2VEC_BINARY);
    oclnn_wordvec_release(wv);
}
END_TEST

START_TEST(test_truncated_binary)
{
    char *bin;
    size_t n = read_all(data_path("vectors.bin"), &bin);
    /* cut inside the last vector, inside the last word, and just before it */
    expect_error(bin, n - 3, OCLNN_WORDVEC_WORD2VEC_BINARY, OCLNN_ERR_FORMAT, "truncated", "word 40");
    expect_error(bin, n - 3, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "truncated", "29 of its 32 vector bytes");
    size_t last_word = n - 32 - strlen("keyboard ");
    expect_error(bin, last_word + 3, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "truncated", "word 40");
    expect_error(bin, last_word, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "truncated", "word 40");
    /* a 40-word file claiming 41 */
    char *more = malloc(n + 1);
    memcpy(more, "41", 2);
    memcpy(more + 2, bin + 2, n - 2);
    expect_error(more, n, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, "says 41 words", "word 41");
    free(more);
    free(bin);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    const char txt[] = "2 2\nok 1 2\nbad\xc3\x28 3 4\n"; /* 0xC3 0x28: a broken two-byte sequence */
    EXPECT(txt, OCLNN_WORDVEC_AUTO, OCLNN_ERR_FORMAT, ":3:", "not valid UTF-8");
    EXPECT("a\xed\xa0\x80 1 2\n", OCLNN_WORDVEC_GLOVE, OCLNN_ERR_FORMAT, ":1:", "UTF-8"); /* a surrogate */
    EXPECT("a\xc0\xaf 1 2\n", OCLNN_WORDVEC_GLOVE, OCLNN_ERR_FORMAT, ":1:", "UTF-8");     /* overlong */
    oclnn_wordvec *wv;
    oclnn_wordvec_options o = {.invalid_utf8 = OCLNN_WORDVEC_UTF8_REPLACE};
    write_file("bad", txt, sizeof txt - 1);
    TU_OK(oclnn_wordvec_load(tmp_path("bad"), &o, &wv));
    ck_assert_str_eq(oclnn_wordvec_word(wv, 1), "bad\xef\xbf\xbd(");
    ck_assert_int_eq(oclnn_wordvec_find(wv, "bad\xef\xbf\xbd("), 1);
    oclnn_wordvec_release(wv);
    /* binary: a word cut inside a multi-byte character, as the C tool's
     * 50-byte limit does */
    unsigned char bin[32] = "1 1\n\xe6\x97 ";
    float f = 2.5f;
    memcpy(bin + 7, &f, 4);
    expect_error((const char *)bin, 11, OCLNN_WORDVEC_WORD2VEC_BINARY, OCLNN_ERR_FORMAT, "word 1", "UTF-8");
    TU_OK(oclnn_wordvec_load(tmp_path("bad"), &o, &wv));
    ck_assert_str_eq(oclnn_wordvec_word(wv, 0), "\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert(oclnn_wordvec_vectors(wv)[0] == 2.5f);
    oclnn_wordvec_release(wv);
}
END_TEST

/* ---- fastText .bin (tests/data/fasttext, written by gensim) */

static const char *ft_path(const char *name) { return tu_data_path("fasttext/%s", name); }

enum { FT_DIM = 12, FT_WORDS = 75 };

/* Every "kind word v1..v12" line of expected.txt against vector_of, to
 * 1e-5; returns the number of lines. in-vocabulary words are rows (when
 * within limit words), the others not. */
static int check_fasttext_vectors(const oclnn_wordvec *wv, int64_t limit)
{
    FILE *f = fopen(ft_path("expected.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char kind[8], word[128];
    float want[FT_DIM], got[FT_DIM];
    int lines = 0, oov = 0;
    while (fscanf(f, "%7s %127s", kind, word) == 2) {
        for (int j = 0; j < FT_DIM; j++) ck_assert_int_eq(fscanf(f, "%f", &want[j]), 1);
        int64_t row = oclnn_wordvec_find(wv, word);
        if (!strcmp(kind, "oov")) {
            ck_assert_int_eq(row, -1);
            oov++;
        } else if (limit == 0) {
            ck_assert_msg(row >= 0, "'%s' should be in the vocabulary", word);
        }
        TU_OK(oclnn_wordvec_vector_of(wv, word, got));
        if (row >= 0)
            ck_assert(memcmp(got, oclnn_wordvec_vectors(wv) + row * FT_DIM, sizeof got) == 0);
        double err = 0;
        for (int j = 0; j < FT_DIM; j++) err = fmax(err, fabs((double)got[j] - want[j]));
        /* With a limit, a cut word gets its n-gram vector, which differs. */
        if (limit == 0 || row >= 0 || !strcmp(kind, "oov"))
            ck_assert_msg(err <= 1e-5, "%s '%s': max difference %.3g from gensim", kind, word, err);
        else
            ck_assert_msg(err > 1e-4, "'%s' beyond the limit still has its own row's vector", word);
        lines++;
    }
    fclose(f);
    ck_assert_msg(lines >= 12 && oov >= 6, "expected.txt has %d vectors, %d out of the vocabulary", lines, oov);
    return lines;
}

START_TEST(test_fasttext_bin_matches_gensim)
{
    oclnn_wordvec *wv = load(ft_path("model.bin"), OCLNN_WORDVEC_AUTO);
    ck_assert_int_eq(oclnn_wordvec_format_of(wv), OCLNN_WORDVEC_FASTTEXT_BIN);
    ck_assert_int_eq(oclnn_wordvec_count(wv), FT_WORDS);
    ck_assert_int_eq(oclnn_wordvec_dim(wv), FT_DIM);
    check_fasttext_vectors(wv, 0);
    float v[FT_DIM];
    ck_assert_int_eq(oclnn_wordvec_vector_of(wv, "", v), OCLNN_ERR_NOT_FOUND); /* "<>": no 3-gram */
    ck_assert_msg(strstr(oclnn_last_error(), "n-grams of 3..5"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_wordvec_vector_of(wv, NULL, v), OCLNN_ERR_INVALID_ARG);
    oclnn_wordvec_release(wv);
    wv = load(ft_path("model.bin"), OCLNN_WORDVEC_FASTTEXT_BIN);
    check_fasttext_vectors(wv, 0);
    oclnn_wordvec_release(wv);
    oclnn_wordvec_options o = {.limit = 20};
    TU_OK(oclnn_wordvec_load(ft_path("model.bin"), &o, &wv));
    ck_assert_int_eq(oclnn_wordvec_count(wv), 20);
    check_fasttext_vectors(wv, 20);
    oclnn_wordvec_release(wv);
    /* other formats: known words are their rows, unknown ones not found */
    wv = load(data_path("vectors.txt"), OCLNN_WORDVEC_AUTO);
    float row[DIM];
    TU_OK(oclnn_wordvec_vector_of(wv, "日本", row));
    ck_assert(memcmp(row, expected + 28 * DIM, sizeof row) == 0);
    ck_assert_int_eq(oclnn_wordvec_vector_of(wv, "kings", row), OCLNN_ERR_NOT_FOUND);
    ck_assert_msg(strstr(oclnn_last_error(), "'kings' is not in the vocabulary"), "%s", oclnn_last_error());
    oclnn_wordvec_release(wv);
}
END_TEST

static void put_i32(char *p, int32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (char)((uint32_t)v >> (8 * i));
}

/* Cut and damaged copies of model.bin. Layout: 8-byte header, 56-byte
 * arguments, 28-byte dictionary header at 64, entries from 92 ("walker"
 * first), the quantisation byte, the input matrix (16-byte size, then
 * (75 + 2000) x 12 f32), the output's byte, size and 75 x 12 f32. */
START_TEST(test_fasttext_bin_corrupt)
{
    char *bin;
    size_t n = read_all(ft_path("model.bin"), &bin);
    size_t out_part = 1 + 16 + (size_t)FT_WORDS * FT_DIM * 4, in_rows = (size_t)(FT_WORDS + 2000) * FT_DIM * 4;
    size_t quant = n - out_part - in_rows - 16 - 1;
    const oclnn_wordvec_format A = OCLNN_WORDVEC_AUTO;
    expect_error(bin, 6, OCLNN_WORDVEC_FASTTEXT_BIN, OCLNN_ERR_FORMAT, "truncated fastText .bin", "the header");
    expect_error(bin, 30, A, OCLNN_ERR_FORMAT, "truncated", "the arguments block");
    expect_error(bin, 70, A, OCLNN_ERR_FORMAT, "truncated", "the dictionary header");
    expect_error(bin, 97, A, OCLNN_ERR_FORMAT, "truncated", "dictionary entry 1 of 75");
    expect_error(bin, quant + 10, A, OCLNN_ERR_FORMAT, "truncated", "the input matrix's size");
    expect_error(bin, quant + 5000, A, OCLNN_ERR_FORMAT, "truncated", "the input matrix (2075 x 12)");
    expect_error(bin, n - 3, A, OCLNN_ERR_FORMAT, "not a valid fastText .bin", "output matrix");
    char *bad = malloc(n);
    memcpy(bad, bin, n);
    put_i32(bad + 4, 13);
    expect_error(bad, n, A, OCLNN_ERR_FORMAT, "not a valid fastText .bin", "version 13");
    memcpy(bad, bin, n);
    bad[92 + 7 + 8] = 1; /* "walker" a label */
    expect_error(bad, n, A, OCLNN_ERR_FORMAT, "dictionary entry 1 has type 1", NULL);
    memcpy(bad, bin, n);
    put_i32(bad + 68, 74); /* nwords 74 of 75 entries, no labels */
    expect_error(bad, n, A, OCLNN_ERR_FORMAT, "dictionary of 75 entries, 74 words", NULL);
    memcpy(bad, bin, n);
    bad[quant] = 1;
    expect_error(bad, n, A, OCLNN_ERR_UNSUPPORTED, "quantised fastText model (.ftz)", NULL);
    memcpy(bad, bin, n);
    put_i32(bad + quant + 1, 2076);
    expect_error(bad, n, A, OCLNN_ERR_FORMAT, "input matrix 2076 x 12", NULL);
    memcpy(bad, bin, n);
    put_i32(bad + 84, 10); /* pruneidx_size (int64) 10 */
    put_i32(bad + 88, 0);
    expect_error(bad, n, A, OCLNN_ERR_UNSUPPORTED, "pruned", NULL);
    EXPECT("2 3\na 1 2 3\nb 4 5 6\n", OCLNN_WORDVEC_FASTTEXT_BIN, OCLNN_ERR_FORMAT, "not a valid fastText .bin",
           "magic number");
    free(bad);
    free(bin);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wordvec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fixtures_load);
    tcase_add_test(tc, test_lookup_and_limit);
    tcase_add_test(tc, test_neighbours_match_gensim);
    tcase_add_test(tc, test_writer_round_trip);
    tcase_add_test(tc, test_writer_errors);
    tcase_add_test(tc, test_bad_header);
    tcase_add_test(tc, test_short_and_long_rows);
    tcase_add_test(tc, test_non_numeric);
    tcase_add_test(tc, test_row_count);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_truncated_binary);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_fasttext_bin_matches_gensim);
    tcase_add_test(tc, test_fasttext_bin_corrupt);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
