/* Tests for the WordPiece tokenizer (include/oclnn/tokenizer.h). Host only.
 * The reference ids come from Hugging Face's BertTokenizer through
 * tests/gen/wordpiece_fixture.py and live in $OCLNN_TEST_DATA/wordpiece:
 * every case must match exactly. */
#include "oclnn/tokenizer.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fixture(const char *name) { return tu_data_path("wordpiece/%s", name); }

#define ck_fails_with(expr, status, word)                                                     \
    do {                                                                                      \
        oclnn_status st_ = (expr);                                                            \
        ck_assert_msg(st_ == (status), "%s: got %s, expected %s (%s)", #expr,                 \
                      oclnn_status_name(st_), oclnn_status_name(status), oclnn_last_error()); \
        ck_assert_msg(strstr(oclnn_last_error(), (word)) != NULL, "message \"%s\" lacks \"%s\"", \
                      oclnn_last_error(), (word));                                            \
    } while (0)

#define OK(expr)                                                                                   \
    do {                                                                                           \
        oclnn_status s_ = (expr);                                                                  \
        ck_assert_msg(s_ == OCLNN_OK, "%s -> %s: %s", #expr, oclnn_status_name(s_), oclnn_last_error()); \
    } while (0)

static oclnn_tokenizer *g_tok;

static void setup_tok(void)
{
    OK(oclnn_tokenizer_load(fixture("vocab.txt"), &g_tok));
}

static void teardown_tok(void)
{
    oclnn_tokenizer_free(g_tok);
    g_tok = NULL;
}

/* ---- fixture parsing ------------------------------------------------------- */

/* Decodes hex into a malloc'ed buffer (NUL-terminated; *len excludes it). "-"
 * gives NULL. */
static char *unhex(const char *h, size_t *len)
{
    if (!strcmp(h, "-")) return NULL;
    size_t n = strlen(h) / 2;
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(h + 2 * i, "%2x", &v), 1);
        s[i] = (char)v;
    }
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

/* Splits a line at tabs in place: up to max fields. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\n")] = '\0';
    while (n < max) {
        f[n++] = line;
        char *t = strchr(line, '\t');
        if (!t) break;
        *t = '\0';
        line = t + 1;
    }
    return n;
}

/* "101 7592 102" -> ids; returns the count. */
static int parse_ids(const char *s, int32_t *ids, int max)
{
    int n = 0;
    char *end;
    while (*s) {
        long v = strtol(s, &end, 10);
        if (end == s) break;
        ck_assert_int_lt(n, max);
        ids[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

static char *format_ids(const int32_t *ids, int64_t n)
{
    static char buf[1 << 16];
    size_t k = 0;
    buf[0] = '\0';
    for (int64_t i = 0; i < n && k + 16 < sizeof buf; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, " %d", ids[i]);
    return buf;
}

#define MAX_IDS 8192
static char g_line[1 << 20];

/* ---- the fixture ------------------------------------------------------------ */

START_TEST(fixture_cases)
{
    FILE *f = fopen(fixture("cases.tsv"), "r");
    ck_assert_msg(f != NULL, "cannot open %s (run tests/gen/wordpiece_fixture.py)", fixture("cases.tsv"));
    static int32_t want[MAX_IDS];
    int cases = 0, matched = 0, pieces_ok = 0;
    while (fgets(g_line, sizeof g_line, f)) {
        if (g_line[0] == '#') continue;
        char *fld[5];
        ck_assert_int_eq(split_tabs(g_line, fld, 5), 5);
        size_t la = 0;
        char *a = unhex(fld[0], &la), *b = unhex(fld[1], NULL);
        int nwant = parse_ids(fld[3], want, MAX_IDS);
        cases++;

        oclnn_token_batch enc;
        int32_t *ids = NULL;
        int64_t n = 0;
        if (b) {
            OK(oclnn_tokenizer_encode(g_tok, a, b, 0, &enc));
            ids = enc.ids;
            n = enc.length;
            /* type ids: 0 up to the first [SEP], then 1 */
            int seen_sep = 0;
            for (int64_t i = 0; i < n; i++) {
                ck_assert_int_eq(enc.type_ids[i], seen_sep);
                if (ids[i] == oclnn_tokenizer_special(g_tok).sep && !seen_sep) seen_sep = 1;
            }
        } else {
            /* tokenize() takes a length, so texts with NUL bytes go through
             * whole; encode() must agree on every text without one. */
            int32_t *raw;
            int64_t nraw;
            OK(oclnn_tokenizer_tokenize(g_tok, a, la, &raw, &nraw));
            ids = malloc((size_t)(nraw + 2) * sizeof *ids);
            ids[0] = oclnn_tokenizer_special(g_tok).cls;
            if (nraw) memcpy(ids + 1, raw, (size_t)nraw * sizeof *raw);
            ids[nraw + 1] = oclnn_tokenizer_special(g_tok).sep;
            n = nraw + 2;
            free(raw);
            if (strlen(a) == la) {
                OK(oclnn_tokenizer_encode(g_tok, a, NULL, 0, &enc));
                ck_assert_int_eq(enc.length, n);
                ck_assert_mem_eq(enc.ids, ids, (size_t)n * sizeof *ids);
                oclnn_token_batch_free(&enc);
            }
        }
        int same = n == nwant && !memcmp(ids, want, (size_t)n * sizeof *ids);
        if (same) {
            matched++;
            /* the pieces column is the same ids as vocabulary entries */
            char *p = fld[4];
            int ok = 1;
            for (int64_t i = 0; i < n && ok; i++) {
                const char *piece = oclnn_tokenizer_piece(g_tok, ids[i]);
                size_t pl = strlen(piece);
                ok = !strncmp(p, piece, pl) && (p[pl] == ' ' || p[pl] == '\0');
                p += pl + (p[pl] == ' ');
            }
            pieces_ok += ok;
        } else {
            fprintf(stderr, "wordpiece: case %d (%s | %s) differs:\n  got %s\n", cases, fld[0], fld[1],
                    format_ids(ids, n));
            fprintf(stderr, "  want %s\n", fld[3]);
        }
        if (b) oclnn_token_batch_free(&enc);
        else free(ids);
        free(a);
        free(b);
    }
    fclose(f);
    printf("wordpiece fixture: %d of %d cases match Hugging Face's ids exactly (%d pieces)\n", matched, cases,
           pieces_ok);
    ck_assert_int_gt(cases, 300);
    ck_assert_int_eq(matched, cases);
    ck_assert_int_eq(pieces_ok, cases);
}
END_TEST

START_TEST(fixture_batches)
{
    FILE *f = fopen(fixture("batches.tsv"), "r");
    ck_assert_ptr_nonnull(f);
    static int32_t want[3][MAX_IDS];
    int batches = 0;
    while (fgets(g_line, sizeof g_line, f)) {
        if (g_line[0] == '#') continue;
        long long max_length, rows;
        ck_assert_int_eq(sscanf(g_line, "batch %lld %lld", &max_length, &rows), 2);
        char **a = calloc((size_t)rows, sizeof *a), **b = calloc((size_t)rows, sizeof *b);
        char ***lines = calloc((size_t)rows, sizeof *lines);
        char *texts[64][5];
        ck_assert_int_le(rows, 64);
        int any_pair = 0;
        for (long long r = 0; r < rows; r++) {
            ck_assert_ptr_nonnull(fgets(g_line, sizeof g_line, f));
            char *copy = strdup(g_line);
            ck_assert_int_eq(split_tabs(copy, texts[r], 5), 5);
            a[r] = unhex(texts[r][0], NULL);
            b[r] = unhex(texts[r][1], NULL);
            any_pair |= b[r] != NULL;
            lines[r] = (char **)copy;
        }
        oclnn_token_batch enc;
        OK(oclnn_tokenizer_encode_batch(g_tok, rows, (const char *const *)a, any_pair ? (const char *const *)b : NULL,
                                        max_length, &enc));
        ck_assert_int_eq(enc.count, rows);
        for (long long r = 0; r < rows; r++) {
            int n = parse_ids(texts[r][2], want[0], MAX_IDS);
            ck_assert_int_eq(parse_ids(texts[r][3], want[1], MAX_IDS), n);
            ck_assert_int_eq(parse_ids(texts[r][4], want[2], MAX_IDS), n);
            ck_assert_msg(enc.length == n, "batch %d (max_length %lld) row %lld: length %lld, want %d", batches,
                          max_length, r, (long long)enc.length, n);
            ck_assert_msg(!memcmp(enc.ids + r * n, want[0], (size_t)n * 4), "batch %d row %lld ids:%s want %s",
                          batches, r, format_ids(enc.ids + r * n, n), texts[r][2]);
            ck_assert_msg(!memcmp(enc.type_ids + r * n, want[1], (size_t)n * 4), "batch %d row %lld type ids",
                          batches, r);
            ck_assert_msg(!memcmp(enc.attention_mask + r * n, want[2], (size_t)n * 4), "batch %d row %lld mask",
                          batches, r);
            int64_t real = 0;
            for (int i = 0; i < n; i++) real += want[2][i];
            ck_assert_int_eq(enc.lengths[r], real);
        }
        oclnn_token_batch_free(&enc);
        for (long long r = 0; r < rows; r++) {
            free(a[r]);
            free(b[r]);
            free(lines[r]);
        }
        free(a);
        free(b);
        free(lines);
        batches++;
    }
    fclose(f);
    printf("wordpiece fixture: %d of %d batches (truncation, pairs, padding) match exactly\n", batches, batches);
    ck_assert_int_gt(batches, 100);
}
END_TEST

/* ---- vocabulary ------------------------------------------------------------- */

static char g_dir[256];

static const char *write_file(const char *name, const char *data, size_t len)
{
    static char path[512];
    if (!g_dir[0]) {
        strcpy(g_dir, "/tmp/oclnn-wordpiece-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}
#define WRITE(name, lit) write_file(name, lit, sizeof lit - 1)

START_TEST(vocab_accessors)
{
    ck_assert_int_eq(oclnn_tokenizer_vocab_size(g_tok), 30522);
    oclnn_special_tokens sp = oclnn_tokenizer_special(g_tok);
    ck_assert_int_eq(sp.pad, 0);
    ck_assert_int_eq(sp.unk, 100);
    ck_assert_int_eq(sp.cls, 101);
    ck_assert_int_eq(sp.sep, 102);
    ck_assert_int_eq(sp.mask, 103);
    ck_assert_int_eq(oclnn_tokenizer_token_id(g_tok, "hello"), 7592);
    ck_assert_int_eq(oclnn_tokenizer_token_id(g_tok, "##ing"), 2075);
    ck_assert_int_eq(oclnn_tokenizer_token_id(g_tok, "no-such-token"), -1);
    ck_assert_str_eq(oclnn_tokenizer_piece(g_tok, 7592), "hello");
    ck_assert_ptr_null(oclnn_tokenizer_piece(g_tok, -1));
    ck_assert_ptr_null(oclnn_tokenizer_piece(g_tok, 30522));
}
END_TEST

START_TEST(vocab_from_directory)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture(""));
    oclnn_tokenizer *t;
    OK(oclnn_tokenizer_load(dir, &t)); /* a model directory holding vocab.txt */
    ck_assert_int_eq(oclnn_tokenizer_vocab_size(t), 30522);
    oclnn_tokenizer_free(t);
    oclnn_tokenizer_free(NULL);
}
END_TEST

START_TEST(vocab_line_ends_and_duplicates)
{
    /* \r\n, \r and \n all end lines; no final newline; a repeated token
     * keeps its later id; the empty line is a token too. */
    const char *p = WRITE("v1.txt", "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nhello\n\nhello\nworld");
    oclnn_tokenizer *t;
    OK(oclnn_tokenizer_load(p, &t));
    ck_assert_int_eq(oclnn_tokenizer_vocab_size(t), 8);
    ck_assert_int_eq(oclnn_tokenizer_token_id(t, "[UNK]"), 1);
    ck_assert_int_eq(oclnn_tokenizer_token_id(t, "[CLS]"), 2);
    ck_assert_int_eq(oclnn_tokenizer_token_id(t, "hello"), 6);
    ck_assert_int_eq(oclnn_tokenizer_token_id(t, "world"), 7);
    ck_assert_int_eq(oclnn_tokenizer_token_id(t, ""), 5);
    ck_assert_int_eq(oclnn_tokenizer_special(t).mask, -1);
    oclnn_token_batch b;
    OK(oclnn_tokenizer_encode(t, "Hello WORLD, hi", NULL, 0, &b));
    int32_t want[] = {2, 6, 7, 1, 1, 3}; /* "," and "hi" are not in the vocabulary */
    ck_assert_int_eq(b.length, 6);
    ck_assert_mem_eq(b.ids, want, sizeof want);
    oclnn_token_batch_free(&b);
    oclnn_tokenizer_free(t);
}
END_TEST

START_TEST(vocab_errors)
{
    oclnn_tokenizer *t = (oclnn_tokenizer *)1;
    ck_fails_with(oclnn_tokenizer_load("/nonexistent/vocab.txt", &t), OCLNN_ERR_IO, "/nonexistent/vocab.txt");
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "No such file"));
    WRITE("placeholder", "x");
    ck_fails_with(oclnn_tokenizer_load(g_dir, &t), OCLNN_ERR_IO, "vocab.txt"); /* a directory without one */
    ck_fails_with(oclnn_tokenizer_load(WRITE("empty.txt", ""), &t), OCLNN_ERR_FORMAT, "empty");
    ck_fails_with(oclnn_tokenizer_load(WRITE("nounk.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n"), &t), OCLNN_ERR_FORMAT,
                  "[UNK]");
    ck_fails_with(oclnn_tokenizer_load(WRITE("nocls.txt", "[PAD]\n[UNK]\n[SEP]\n"), &t), OCLNN_ERR_FORMAT, "[CLS]");
    ck_fails_with(oclnn_tokenizer_load(WRITE("nosep.txt", "[PAD]\n[UNK]\n[CLS]\n"), &t), OCLNN_ERR_FORMAT, "[SEP]");
    ck_fails_with(oclnn_tokenizer_load(WRITE("nopad.txt", "[UNK]\n[CLS]\n[SEP]\n"), &t), OCLNN_ERR_FORMAT, "[PAD]");
    ck_fails_with(oclnn_tokenizer_load(WRITE("spaced.txt", "[PAD]\n[UNK] \n[CLS]\n[SEP]\n"), &t), OCLNN_ERR_FORMAT,
                  "[UNK]");
    ck_fails_with(oclnn_tokenizer_load(WRITE("latin1.txt", "[PAD]\n[UNK]\ncaf\xe9\n[CLS]\n[SEP]\n"), &t),
                  OCLNN_ERR_FORMAT, "line 3");
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "UTF-8"));
    ck_fails_with(oclnn_tokenizer_load(WRITE("nul.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\0b\n"), &t), OCLNN_ERR_FORMAT,
                  "line 5");
    ck_fails_with(oclnn_tokenizer_load(NULL, &t), OCLNN_ERR_INVALID_ARG, "NULL");
    ck_assert_ptr_null(t);
}
END_TEST

/* ---- text ------------------------------------------------------------------- */

START_TEST(invalid_utf8)
{
    static const struct {
        const char *text;
        size_t len;
        const char *offset;
    } bad[] = {
        {"abc\xff", 4, "offset 3"},              /* never valid */
        {"\x80x", 2, "offset 0"},                /* lone continuation byte */
        {"caf\xc3", 4, "offset 3"},              /* truncated sequence */
        {"ab\xc3(", 4, "offset 2"},              /* lead byte without its continuation */
        {"\xc0\x80", 2, "offset 0"},             /* overlong NUL */
        {"x\xe0\x80\xaf", 4, "offset 1"},        /* overlong '/' */
        {"ok \xed\xa0\x80", 6, "offset 3"},      /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, "offset 0"},     /* above U+10FFFF */
        {"\xe4\xb8\xad\xe6\x96", 5, "offset 3"}, /* 中 then half a character */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = (int32_t *)1;
        int64_t n = 7;
        ck_fails_with(oclnn_tokenizer_tokenize(g_tok, bad[i].text, bad[i].len, &ids, &n), OCLNN_ERR_INVALID_ARG,
                      bad[i].offset);
        ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "UTF-8"));
        ck_assert_ptr_null(ids);
        ck_assert_int_eq(n, 0);
    }
    /* encode names the row and the part */
    const char *texts[3] = {"fine", "also fine", "bad \xfe"};
    const char *pairs[3] = {NULL, "bad \xc3", NULL};
    oclnn_token_batch b;
    ck_fails_with(oclnn_tokenizer_encode_batch(g_tok, 3, texts, NULL, 0, &b), OCLNN_ERR_INVALID_ARG, "text 2");
    ck_assert_ptr_null(b.ids);
    ck_fails_with(oclnn_tokenizer_encode_batch(g_tok, 3, texts, pairs, 0, &b), OCLNN_ERR_INVALID_ARG, "pair text 1");
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "offset 4"));
}
END_TEST

START_TEST(tokenize_basics)
{
    int32_t *ids;
    int64_t n;
    OK(oclnn_tokenizer_tokenize(g_tok, "", 0, &ids, &n));
    ck_assert_ptr_null(ids);
    ck_assert_int_eq(n, 0);
    OK(oclnn_tokenizer_tokenize(g_tok, NULL, 0, &ids, &n));
    ck_assert_int_eq(n, 0);
    OK(oclnn_tokenizer_tokenize(g_tok, " \t\x01\xef\xbf\xbd", 6, &ids, &n)); /* only dropped characters */
    ck_assert_int_eq(n, 0);
    /* embedded NUL: dropped, the text goes on */
    OK(oclnn_tokenizer_tokenize(g_tok, "hel\0lo", 6, &ids, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], 7592);
    free(ids);
    OK(oclnn_tokenizer_tokenize(g_tok, "unaffable", 9, &ids, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(oclnn_tokenizer_piece(g_tok, ids[0]), "una");
    ck_assert_str_eq(oclnn_tokenizer_piece(g_tok, ids[1]), "##ffa");
    ck_assert_str_eq(oclnn_tokenizer_piece(g_tok, ids[2]), "##ble");
    free(ids);
    /* 100 characters after accent stripping are a word, 101 are [UNK] */
    char word[2 * 101 + 1];
    for (int i = 0; i < 101; i++) word[2 * i] = (char)0xc3, word[2 * i + 1] = (char)0xa9; /* é */
    OK(oclnn_tokenizer_tokenize(g_tok, word, 200, &ids, &n));
    ck_assert_int_gt(n, 1);
    free(ids);
    OK(oclnn_tokenizer_tokenize(g_tok, word, 202, &ids, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], 100);
    free(ids);
}
END_TEST

/* ---- encode: pairs, truncation, padding ------------------------------------- */

START_TEST(encode_pair_layout)
{
    oclnn_token_batch b;
    OK(oclnn_tokenizer_encode(g_tok, "hello", "world", 0, &b));
    int32_t ids[] = {101, 7592, 102, 2088, 102}, types[] = {0, 0, 0, 1, 1}, mask[] = {1, 1, 1, 1, 1};
    ck_assert_int_eq(b.count, 1);
    ck_assert_int_eq(b.length, 5);
    ck_assert_int_eq(b.lengths[0], 5);
    ck_assert_mem_eq(b.ids, ids, sizeof ids);
    ck_assert_mem_eq(b.type_ids, types, sizeof types);
    ck_assert_mem_eq(b.attention_mask, mask, sizeof mask);
    oclnn_token_batch_free(&b);
    ck_assert_ptr_null(b.ids);
    oclnn_token_batch_free(&b);
    oclnn_token_batch_free(NULL);
    /* an empty second part is still a pair */
    OK(oclnn_tokenizer_encode(g_tok, "hello", "", 0, &b));
    ck_assert_int_eq(b.length, 4);
    ck_assert_int_eq(b.ids[3], 102);
    ck_assert_int_eq(b.type_ids[3], 1);
    oclnn_token_batch_free(&b);
}
END_TEST

START_TEST(encode_mixed_batch)
{
    /* single rows and pairs in one batch, padded to the longest */
    const char *texts[3] = {"hello", "a b c d", ""};
    const char *pairs[3] = {"world", NULL, NULL};
    oclnn_token_batch b;
    OK(oclnn_tokenizer_encode_batch(g_tok, 3, texts, pairs, 0, &b));
    ck_assert_int_eq(b.count, 3);
    ck_assert_int_eq(b.length, 6);
    int32_t ids[18] = {101, 7592, 102, 2088, 102, 0, 101, 1037, 1038, 1039, 1040, 102, 101, 102, 0, 0, 0, 0};
    int32_t types[18] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int32_t mask[18] = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    ck_assert_mem_eq(b.ids, ids, sizeof ids);
    ck_assert_mem_eq(b.type_ids, types, sizeof types);
    ck_assert_mem_eq(b.attention_mask, mask, sizeof mask);
    ck_assert_int_eq(b.lengths[0], 5);
    ck_assert_int_eq(b.lengths[1], 6);
    ck_assert_int_eq(b.lengths[2], 2);
    oclnn_token_batch_free(&b);
    /* the same rows truncated to 4 */
    OK(oclnn_tokenizer_encode_batch(g_tok, 3, texts, pairs, 4, &b));
    ck_assert_int_eq(b.length, 4);
    /* the pair has room for one token: longest_first with a tie cuts the first part */
    int32_t ids4[12] = {101, 102, 2088, 102, 101, 1037, 1038, 102, 101, 102, 0, 0};
    ck_assert_mem_eq(b.ids, ids4, sizeof ids4);
    oclnn_token_batch_free(&b);
    /* an empty batch */
    OK(oclnn_tokenizer_encode_batch(g_tok, 0, NULL, NULL, 0, &b));
    ck_assert_int_eq(b.count, 0);
    ck_assert_int_eq(b.length, 0);
    oclnn_token_batch_free(&b);
}
END_TEST

START_TEST(encode_truncation_default_and_limits)
{
    /* 300 words, default maximum: 256 tokens, [SEP] last */
    char text[300 * 2 + 1];
    for (int i = 0; i < 300; i++) text[2 * i] = 'a', text[2 * i + 1] = ' ';
    text[600] = '\0';
    oclnn_token_batch b;
    OK(oclnn_tokenizer_encode(g_tok, text, NULL, OCLNN_TOKENIZER_MAX_LENGTH, &b));
    ck_assert_int_eq(b.length, 256);
    ck_assert_int_eq(b.ids[0], 101);
    ck_assert_int_eq(b.ids[254], 1037);
    ck_assert_int_eq(b.ids[255], 102);
    oclnn_token_batch_free(&b);
    OK(oclnn_tokenizer_encode(g_tok, text, NULL, 0, &b)); /* 0: no limit */
    ck_assert_int_eq(b.length, 302);
    oclnn_token_batch_free(&b);
    OK(oclnn_tokenizer_encode(g_tok, text, NULL, 2, &b)); /* room for the special tokens only */
    ck_assert_int_eq(b.length, 2);
    oclnn_token_batch_free(&b);
    ck_fails_with(oclnn_tokenizer_encode(g_tok, text, NULL, 1, &b), OCLNN_ERR_INVALID_ARG, "max_length 1");
    ck_fails_with(oclnn_tokenizer_encode(g_tok, "a", "b", 2, &b), OCLNN_ERR_INVALID_ARG, "pair");
    ck_assert_ptr_null(b.ids);
    ck_fails_with(oclnn_tokenizer_encode(g_tok, NULL, NULL, 0, &b), OCLNN_ERR_INVALID_ARG, "NULL");
    ck_fails_with(oclnn_tokenizer_encode_batch(g_tok, -1, NULL, NULL, 0, &b), OCLNN_ERR_INVALID_ARG, "< 0");
}
END_TEST

static void cleanup_dir(void)
{
    if (!g_dir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

int main(void)
{
    Suite *s = suite_create("wordpiece");
    TCase *tc = tcase_create("fixture");
    tcase_add_checked_fixture(tc, setup_tok, teardown_tok);
    tcase_add_test(tc, fixture_cases);
    tcase_add_test(tc, fixture_batches);
    suite_add_tcase(s, tc);
    tc = tcase_create("vocab");
    tcase_add_checked_fixture(tc, setup_tok, teardown_tok);
    tcase_add_test(tc, vocab_accessors);
    tcase_add_test(tc, vocab_from_directory);
    tcase_add_test(tc, vocab_line_ends_and_duplicates);
    tcase_add_test(tc, vocab_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("text");
    tcase_add_checked_fixture(tc, setup_tok, teardown_tok);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, tokenize_basics);
    tcase_add_test(tc, encode_pair_layout);
    tcase_add_test(tc, encode_mixed_batch);
    tcase_add_test(tc, encode_truncation_default_and_limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_dir();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
