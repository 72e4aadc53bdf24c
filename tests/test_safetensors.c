/* safetensors reader/writer: round trips, the committed fixtures (made by
 * tests/gen/make_bad_safetensors.py) and saves that must fail without
 * harming an existing file. Host only: needs no OpenCL device. */
#include "oclnn/safetensors.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static char tmp_dir[256];

/* Every test gets a fresh scratch directory, removed afterwards. */
static void make_tmp_dir(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s/oclnn_st_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700); /* a test may have made it read-only */
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char child[1024];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void remove_tmp_dir(void) { remove_tree(tmp_dir); }

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

static const char *fixture(const char *name)
{
    static char buf[1024];
    const char *dir = getenv("OCLNN_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/safetensors/%s", dir ? dir : "tests/data", name);
    return buf;
}

/* Whole file into memory (malloc'ed), or NULL. */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    *size = n;
    return buf;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Number of entries in tmp_dir whose name contains ".tmp." (leftovers). */
static int count_temp_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static oclnn_st_tensor mk(const char *name, oclnn_dtype dtype, int ndim, const int64_t *shape, void *data)
{
    oclnn_st_tensor t = {0};
    t.name = (char *)name;
    t.dtype = dtype;
    t.ndim = ndim;
    size_t n = dtype == OCLNN_DTYPE_I64 ? 8 : 4;
    for (int i = 0; i < ndim; i++) {
        t.shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    t.nbytes = n;
    t.data = data;
    return t;
}

/* Writes a small valid file at path and returns its bytes for comparison. */
static unsigned char *write_old_file(const char *path, size_t *size)
{
    float v[3] = {1, 2, 3};
    int64_t shape[1] = {3};
    oclnn_st_tensor t = mk("old", OCLNN_DTYPE_F32, 1, shape, v);
    ck_assert_int_eq(oclnn_safetensors_save(path, &t, 1, NULL, NULL, 0), OCLNN_OK);
    unsigned char *bytes = slurp(path, size);
    ck_assert_ptr_nonnull(bytes);
    return bytes;
}

static void assert_file_is(const char *path, const unsigned char *bytes, size_t size)
{
    size_t now_size = 0;
    unsigned char *now = slurp(path, &now_size);
    ck_assert_msg(now != NULL, "'%s' disappeared", path);
    ck_assert_msg(now_size == size && memcmp(now, bytes, size) == 0, "'%s' was modified", path);
    free(now);
}

/* ---- round trips --------------------------------------------------------- */

START_TEST(test_roundtrip)
{
    enum { N = 7 };
    float a[3 * 1 * 5];
    for (int i = 0; i < 15; i++) a[i] = (float)i * 0.37f - 2.0f;
    a[3] = NAN;
    a[4] = -INFINITY;
    a[5] = -0.0f;
    int32_t b[7] = {INT32_MIN, -1, 0, 1, 2, 3, INT32_MAX};
    int64_t c[2 * 1 * 1 * 3] = {INT64_MIN, -9007199254740993LL, 0, 1LL << 53, (1LL << 53) + 1, INT64_MAX};
    float scalar = 42.5f;
    int64_t d[1 * 2 * 1 * 1 * 1 * 1 * 2 * 1]; /* eight dims, the most allowed */
    for (int i = 0; i < 4; i++) d[i] = i - 2;
    const int64_t sa[] = {3, 1, 5}, sb[] = {7}, sc[] = {2, 1, 1, 3}, sz[] = {4, 0, 2}, sd[] = {1, 2, 1, 1, 1, 1, 2, 1},
                  s0[] = {0};
    oclnn_st_tensor in[N] = {
        mk("layer.0/weight \"q\" \xc3\xbc", OCLNN_DTYPE_F32, 3, sa, a), /* JSON escaping and UTF-8 */
        mk("b", OCLNN_DTYPE_I32, 1, sb, b),
        mk("c", OCLNN_DTYPE_I64, 4, sc, c),
        mk("scalar", OCLNN_DTYPE_F32, 0, NULL, &scalar),
        mk("zero_sized", OCLNN_DTYPE_F32, 3, sz, NULL),
        mk("eight_dims", OCLNN_DTYPE_I64, 8, sd, d),
        mk("empty_i32", OCLNN_DTYPE_I32, 1, s0, NULL),
    };
    const char *keys[] = {"format", "empty", "odd \"chars\"\n\\"};
    const char *values[] = {"pt", "", "tab\there \xe2\x9c\x93"};
    const char *path = tmp_path("rt.safetensors");

    ck_assert_int_eq(oclnn_safetensors_save(path, in, N, keys, values, 3), OCLNN_OK);
    ck_assert_int_eq(count_temp_files(tmp_dir), 0);

    /* Layout: header length a multiple of 8 padded with spaces, then the
     * tensors back to back in the given order. */
    size_t size = 0;
    unsigned char *file = slurp(path, &size);
    ck_assert_ptr_nonnull(file);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | file[i];
    size_t data_bytes = 0;
    for (int i = 0; i < N; i++) data_bytes += in[i].nbytes;
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_uint_eq(size, 8 + hlen + data_bytes);
    ck_assert_int_eq(file[8], '{');
    ck_assert_int_ne(file[8 + hlen - 1], '\0');
    ck_assert_int_eq(memcmp(file + 8 + hlen, a, sizeof a), 0);
    ck_assert_int_eq(memcmp(file + 8 + hlen + sizeof a, b, sizeof b), 0);
    free(file);

    oclnn_safetensors *st = NULL;
    ck_assert_int_eq(oclnn_safetensors_load(path, &st), OCLNN_OK);
    ck_assert_int_eq(st->count, N);
    for (int i = 0; i < N; i++) {
        const oclnn_st_tensor *t = &st->tensors[i];
        ck_assert_str_eq(t->name, in[i].name); /* file order = save order */
        ck_assert_int_eq(t->dtype, in[i].dtype);
        ck_assert_int_eq(t->ndim, in[i].ndim);
        for (int k = 0; k < t->ndim; k++) ck_assert_int_eq(t->shape[k], in[i].shape[k]);
        ck_assert_uint_eq(t->nbytes, in[i].nbytes);
        ck_assert_ptr_nonnull(t->data); /* even for zero bytes */
        ck_assert_uint_eq((uintptr_t)t->data % (t->dtype == OCLNN_DTYPE_I64 ? 8 : 4), 0);
        ck_assert_str_eq(t->stored_dtype, t->dtype == OCLNN_DTYPE_F32 ? "F32" : t->dtype == OCLNN_DTYPE_I32 ? "I32" : "I64");
        if (t->nbytes) ck_assert_int_eq(memcmp(t->data, in[i].data, t->nbytes), 0); /* bitwise: NaN, -0 */
        ck_assert_ptr_eq(oclnn_safetensors_find(st, in[i].name), t);
    }
    ck_assert_ptr_null(oclnn_safetensors_find(st, "missing"));
    ck_assert_ptr_null(oclnn_safetensors_find(st, ""));
    ck_assert_ptr_null(oclnn_safetensors_find(NULL, "b"));
    ck_assert_int_eq(st->meta_count, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(st->meta_keys[i], keys[i]);
        ck_assert_str_eq(st->meta_values[i], values[i]);
    }
    oclnn_safetensors_free(st);
}
END_TEST

START_TEST(test_empty_file_roundtrip)
{
    const char *path = tmp_path("empty.safetensors");
    oclnn_safetensors *st = NULL;
    ck_assert_int_eq(oclnn_safetensors_save(path, NULL, 0, NULL, NULL, 0), OCLNN_OK);
    ck_assert_int_eq(oclnn_safetensors_load(path, &st), OCLNN_OK);
    ck_assert_int_eq(st->count, 0);
    ck_assert_int_eq(st->meta_count, 0);
    oclnn_safetensors_free(st);

    const char *k = "only", *v = "metadata";
    ck_assert_int_eq(oclnn_safetensors_save(path, NULL, 0, &k, &v, 1), OCLNN_OK);
    ck_assert_int_eq(oclnn_safetensors_load(path, &st), OCLNN_OK);
    ck_assert_int_eq(st->count, 0);
    ck_assert_int_eq(st->meta_count, 1);
    ck_assert_str_eq(st->meta_values[0], "metadata");
    oclnn_safetensors_free(st);
    oclnn_safetensors_free(NULL); /* allowed */
}
END_TEST

START_TEST(test_overwrite)
{
    const char *path = tmp_path("w.safetensors");
    size_t old_size;
    free(write_old_file(path, &old_size));
    int32_t v[2] = {5, 6};
    int64_t shape[1] = {2};
    oclnn_st_tensor t = mk("new", OCLNN_DTYPE_I32, 1, shape, v);
    ck_assert_int_eq(oclnn_safetensors_save(path, &t, 1, NULL, NULL, 0), OCLNN_OK);
    oclnn_safetensors *st = NULL;
    ck_assert_int_eq(oclnn_safetensors_load(path, &st), OCLNN_OK);
    ck_assert_int_eq(st->count, 1);
    ck_assert_str_eq(st->tensors[0].name, "new");
    ck_assert_int_eq(((int32_t *)st->tensors[0].data)[1], 6);
    oclnn_safetensors_free(st);
    ck_assert_int_eq(count_temp_files(tmp_dir), 0);
}
END_TEST

/* ---- committed fixtures -------------------------------------------------- */

START_TEST(test_good_fixture)
{
    const char *path = fixture("good.safetensors");
    oclnn_safetensors *st = NULL;
    ck_assert_msg(oclnn_safetensors_load(path, &st) == OCLNN_OK, "%s", oclnn_last_error());
    ck_assert_int_eq(st->count, 5);

    const oclnn_st_tensor *w = oclnn_safetensors_find(st, "weight");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->dtype, OCLNN_DTYPE_F32);
    ck_assert_int_eq(w->ndim, 2);
    ck_assert_int_eq(w->shape[0], 2);
    ck_assert_int_eq(w->shape[1], 3);
    const float *wf = w->data;
    const float want_w[6] = {0.5f, -1.25f, 2.0f, 3.75f, -0.0f, 1e-3f};
    for (int i = 0; i < 6; i++) ck_assert_msg(wf[i] == want_w[i], "weight[%d] = %g", i, (double)wf[i]);
    ck_assert(signbit(wf[4]));

    const oclnn_st_tensor *ix = oclnn_safetensors_find(st, "index");
    ck_assert_ptr_nonnull(ix);
    ck_assert_int_eq(ix->dtype, OCLNN_DTYPE_I32);
    const int32_t want_i[4] = {-1, 0, 7, 2147483647};
    ck_assert_int_eq(memcmp(ix->data, want_i, sizeof want_i), 0);

    const oclnn_st_tensor *c = oclnn_safetensors_find(st, "count");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->dtype, OCLNN_DTYPE_I64);
    ck_assert_int_eq(((const int64_t *)c->data)[0], -9007199254740993LL);
    ck_assert_int_eq(((const int64_t *)c->data)[1], 1LL << 40);

    const oclnn_st_tensor *s = oclnn_safetensors_find(st, "scale");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_uint_eq(s->nbytes, 4);
    ck_assert(*(const float *)s->data == 3.5f);

    const oclnn_st_tensor *e = oclnn_safetensors_find(st, "empty");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->ndim, 2);
    ck_assert_int_eq(e->shape[0], 0);
    ck_assert_int_eq(e->shape[1], 4);
    ck_assert_uint_eq(e->nbytes, 0);

    ck_assert_int_eq(st->meta_count, 2);
    ck_assert_str_eq(st->meta_keys[0], "format");
    ck_assert_str_eq(st->meta_values[0], "pt");

    /* The generator serialises exactly as the writer does, so re-saving the
     * loaded file must reproduce it byte for byte. */
    const char *copy = tmp_path("copy.safetensors");
    ck_assert_int_eq(oclnn_safetensors_save(copy, st->tensors, st->count, (const char *const *)st->meta_keys,
                                            (const char *const *)st->meta_values, st->meta_count),
                     OCLNN_OK);
    size_t size = 0;
    unsigned char *orig = slurp(path, &size);
    ck_assert_ptr_nonnull(orig);
    assert_file_is(copy, orig, size);
    free(orig);
    oclnn_safetensors_free(st);
}
END_TEST

static const struct bad_case {
    const char *file;
    oclnn_status status;
    const char *word; /* the message must contain it */
} bad_cases[] = {
    {"bad_too_short", OCLNN_ERR_FORMAT, "too short"},
    {"bad_header_len", OCLNN_ERR_FORMAT, "larger than the file"},
    {"bad_header_huge", OCLNN_ERR_FORMAT, "limit"},
    {"bad_header_zero", OCLNN_ERR_FORMAT, "JSON"},
    {"bad_json", OCLNN_ERR_FORMAT, "not valid JSON"},
    {"bad_trailing", OCLNN_ERR_FORMAT, "trailing"},
    {"bad_not_object", OCLNN_ERR_FORMAT, "not a JSON object"},
    {"bad_entry_not_object", OCLNN_ERR_FORMAT, "not an object"},
    {"bad_missing_dtype", OCLNN_ERR_FORMAT, "dtype"},
    {"bad_unknown_dtype", OCLNN_ERR_FORMAT, "unknown dtype 'Q7'"},
    {"bad_f64", OCLNN_ERR_UNSUPPORTED, "dtype F64"},
    {"bad_bool", OCLNN_ERR_UNSUPPORTED, "dtype BOOL"},
    {"bad_f16_size", OCLNN_ERR_FORMAT, "size mismatch"},
    {"bad_f4_bits", OCLNN_ERR_FORMAT, "whole number of bytes"},
    {"bad_shape_negative", OCLNN_ERR_FORMAT, "shape"},
    {"bad_shape_fraction", OCLNN_ERR_FORMAT, "shape"},
    {"bad_shape_not_array", OCLNN_ERR_FORMAT, "shape"},
    {"bad_shape_overflow", OCLNN_ERR_FORMAT, "too large"},
    {"bad_ndim", OCLNN_ERR_FORMAT, "dimensions"},
    {"bad_offsets_count", OCLNN_ERR_FORMAT, "data_offsets"},
    {"bad_offsets_reversed", OCLNN_ERR_FORMAT, "after end"},
    {"bad_offsets_past_end", OCLNN_ERR_FORMAT, "past the end"},
    {"bad_truncated", OCLNN_ERR_FORMAT, "past the end"},
    {"bad_overlap", OCLNN_ERR_FORMAT, "overlap"},
    {"bad_size_mismatch", OCLNN_ERR_FORMAT, "size mismatch"},
    {"bad_duplicate", OCLNN_ERR_FORMAT, "duplicate"},
    {"bad_empty_name", OCLNN_ERR_FORMAT, "empty tensor name"},
    {"bad_metadata", OCLNN_ERR_FORMAT, "__metadata__"},
};
#define N_BAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

/* oclnn_last_error() is overwritten by the next failure: keep the text. */
static const char *msg_copy(const char *msg)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s", msg);
    return buf;
}

START_TEST(test_bad_fixture)
{
    const struct bad_case *bc = &bad_cases[_i];
    char name[128];
    snprintf(name, sizeof name, "%s.safetensors", bc->file);
    const char *path = fixture(name);
    ck_assert_msg(exists(path), "fixture %s missing (run tests/gen/make_bad_safetensors.py)", path);

    oclnn_safetensors *st = (oclnn_safetensors *)&st; /* poison: must come back NULL */
    oclnn_status s = oclnn_safetensors_load(path, &st);
    const char *msg = msg_copy(oclnn_last_error());
    ck_assert_msg(s == bc->status, "%s: got %s (%s), want %s", bc->file, oclnn_status_name(s), msg,
                  oclnn_status_name(bc->status));
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(msg, bc->word) != NULL, "%s: message \"%s\" lacks \"%s\"", bc->file, msg, bc->word);
    ck_assert_msg(strstr(msg, name) != NULL, "%s: message \"%s\" does not name the file", bc->file, msg);

    /* open() checks the same header; a dtype oclnn cannot read is refused
     * only when that tensor is asked for, with the same message. */
    st = (oclnn_safetensors *)&st;
    s = oclnn_safetensors_open(path, &st);
    if (bc->status == OCLNN_ERR_UNSUPPORTED) {
        ck_assert_msg(s == OCLNN_OK, "%s: open failed: %s", bc->file, oclnn_last_error());
        const oclnn_st_tensor *t = (const oclnn_st_tensor *)&t;
        ck_assert_int_eq(oclnn_safetensors_get(st, "a", &t), OCLNN_ERR_UNSUPPORTED);
        ck_assert_ptr_null(t);
        ck_assert_str_eq(oclnn_last_error(), msg);
        ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "tensor 'a'"));
        oclnn_safetensors_free(st);
    } else {
        ck_assert_msg(s == bc->status, "%s: open gave %s (%s)", bc->file, oclnn_status_name(s), oclnn_last_error());
        ck_assert_ptr_null(st);
        ck_assert_str_eq(oclnn_last_error(), msg);
    }
}
END_TEST

/* Every fixture the generator wrote is in the table above (so a new one cannot
 * be forgotten), and each is under 1 KB. */
START_TEST(test_fixture_table_complete)
{
    char dir[1024];
    const char *data = getenv("OCLNN_TEST_DATA");
    snprintf(dir, sizeof dir, "%s/safetensors", data ? data : "tests/data");
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "bad_", 4) != 0) continue;
        int found = 0;
        for (int i = 0; i < N_BAD; i++) {
            size_t n = strlen(bad_cases[i].file);
            if (strncmp(e->d_name, bad_cases[i].file, n) == 0 && strcmp(e->d_name + n, ".safetensors") == 0)
                found = 1;
        }
        ck_assert_msg(found, "fixture %s is not tested", e->d_name);
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_lt(sb.st_size, 1024);
        seen++;
    }
    closedir(d);
    ck_assert_int_eq(seen, N_BAD);
}
END_TEST

START_TEST(test_missing_file)
{
    oclnn_safetensors *st = NULL;
    const char *path = tmp_path("does_not_exist.safetensors");
    ck_assert_int_eq(oclnn_safetensors_load(path, &st), OCLNN_ERR_IO);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), strerror(ENOENT)));
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "does_not_exist"));

    ck_assert_int_eq(oclnn_safetensors_load(tmp_dir, &st), OCLNN_ERR_IO); /* a directory */
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "regular file"));
    ck_assert_int_eq(oclnn_safetensors_load(NULL, &st), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_safetensors_load(path, NULL), OCLNN_ERR_INVALID_ARG);
}
END_TEST

/* ---- saves that must fail ------------------------------------------------ */

START_TEST(test_save_invalid_args)
{
    float v[2] = {1, 2};
    int64_t s2[1] = {2}, neg[1] = {-2};
    const char *path = tmp_path("inv.safetensors");
    oclnn_st_tensor good = mk("x", OCLNN_DTYPE_F32, 1, s2, v);
    oclnn_st_tensor t[2];
    const struct {
        const char *what;
        const char *word;
    } cases[] = {
        {"duplicate names", "duplicate"}, {"empty name", "empty name"},   {"NULL name", "empty name"},
        {"reserved name", "reserved"},   {"nbytes mismatch", "nbytes"},   {"negative shape", "negative"},
        {"nine dims", "dimensions"},     {"NULL data", "NULL data"},      {"bad dtype", "dtype"},
    };
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        t[0] = good;
        t[1] = mk("y", OCLNN_DTYPE_F32, 1, s2, v);
        switch (c) {
        case 0: t[1].name = "x"; break;
        case 1: t[1].name = ""; break;
        case 2: t[1].name = NULL; break;
        case 3: t[1].name = "__metadata__"; break;
        case 4: t[1].nbytes = 4; break;
        case 5: t[1].shape[0] = neg[0]; break;
        case 6: t[1].ndim = 9; break;
        case 7: t[1].data = NULL; break;
        case 8: t[1].dtype = (oclnn_dtype)7; break;
        }
        ck_assert_msg(oclnn_safetensors_save(path, t, 2, NULL, NULL, 0) == OCLNN_ERR_INVALID_ARG, "%s accepted",
                      cases[c].what);
        ck_assert_msg(strstr(oclnn_last_error(), cases[c].word), "%s: \"%s\" lacks \"%s\"", cases[c].what,
                      oclnn_last_error(), cases[c].word);
        ck_assert(!exists(path));
    }

    const char *keys[2] = {"k", "k"}, *values[2] = {"1", "2"};
    ck_assert_int_eq(oclnn_safetensors_save(path, &good, 1, keys, values, 2), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "duplicate metadata key"));
    values[1] = NULL;
    keys[1] = "j";
    ck_assert_int_eq(oclnn_safetensors_save(path, &good, 1, keys, values, 2), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_safetensors_save(NULL, &good, 1, NULL, NULL, 0), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_safetensors_save(path, NULL, 1, NULL, NULL, 0), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_safetensors_save(path, &good, -1, NULL, NULL, 0), OCLNN_ERR_INVALID_ARG);
    ck_assert(!exists(path));
}
END_TEST

START_TEST(test_save_readonly_dir)
{
    const char *dir = tmp_path("ro");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t old_size;
    unsigned char *old = write_old_file(path, &old_size);
    ck_assert_int_eq(chmod(dir, 0500), 0);

    /* root (as in many containers) ignores directory permissions: then this
     * case cannot be provoked, and test_save_temp_blocked covers the same
     * code path with a method root cannot bypass. */
    char probe[700];
    snprintf(probe, sizeof probe, "%s/probe", dir);
    FILE *f = fopen(probe, "w");
    if (f) {
        fclose(f);
        unlink(probe);
        fprintf(stderr, "test_save_readonly_dir: directory permissions not enforced (root?); part skipped\n");
    } else {
        float v = 9;
        oclnn_st_tensor t = mk("new", OCLNN_DTYPE_F32, 0, NULL, &v);
        ck_assert_int_eq(oclnn_safetensors_save(path, &t, 1, NULL, NULL, 0), OCLNN_ERR_IO);
        ck_assert_ptr_nonnull(strstr(oclnn_last_error(), strerror(EACCES)));
        ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "model.safetensors"));
        assert_file_is(path, old, old_size);
        ck_assert_int_eq(count_temp_files(dir), 0);
    }
    chmod(dir, 0700);
    free(old);
}
END_TEST

START_TEST(test_save_impossible_path)
{
    float v = 1;
    oclnn_st_tensor t = mk("v", OCLNN_DTYPE_F32, 0, NULL, &v);

    ck_assert_int_eq(oclnn_safetensors_save(tmp_path("no/such/dir/x.safetensors"), &t, 1, NULL, NULL, 0),
                     OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), strerror(ENOENT)));

    /* A regular file used as a directory: ENOTDIR, even for root. */
    const char *file = tmp_path("plain.safetensors");
    size_t old_size;
    unsigned char *old = write_old_file(file, &old_size);
    char below[600];
    snprintf(below, sizeof below, "%s/x.safetensors", file);
    ck_assert_int_eq(oclnn_safetensors_save(below, &t, 1, NULL, NULL, 0), OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), strerror(ENOTDIR)));
    assert_file_is(file, old, old_size);

    /* The target is a directory: the temp file is written, then rename()
     * fails, and the temp file must be cleaned up. */
    const char *d = tmp_path("a_dir.safetensors");
    ck_assert_int_eq(mkdir(d, 0700), 0);
    ck_assert_int_eq(oclnn_safetensors_save(d, &t, 1, NULL, NULL, 0), OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "rename"));
    ck_assert_int_eq(count_temp_files(tmp_dir), 0);
    free(old);
}
END_TEST

/* The temporary name is taken by a directory: the save cannot start, and the
 * existing file must be left alone. Works for root too. */
START_TEST(test_save_temp_blocked)
{
    const char *path = tmp_path("blocked.safetensors");
    size_t old_size;
    unsigned char *old = write_old_file(path, &old_size);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_eq(mkdir(tmp, 0700), 0);

    float v = 9;
    oclnn_st_tensor t = mk("new", OCLNN_DTYPE_F32, 0, NULL, &v);
    ck_assert_int_eq(oclnn_safetensors_save(path, &t, 1, NULL, NULL, 0), OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "temporary file"));
    assert_file_is(path, old, old_size);
    rmdir(tmp);

    /* A stale temp *file* of our pid (a crashed earlier save) is replaced. */
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs("garbage", f);
    fclose(f);
    ck_assert_int_eq(oclnn_safetensors_save(path, &t, 1, NULL, NULL, 0), OCLNN_OK);
    ck_assert(!exists(tmp));
    free(old);
}
END_TEST

/* A write that fails part way (here: the file size limit, EFBIG) must leave
 * the old file intact and no temporary file. */
START_TEST(test_save_write_error)
{
    const char *path = tmp_path("big.safetensors");
    size_t old_size;
    unsigned char *old = write_old_file(path, &old_size);

    enum { NV = 1 << 16 };
    float *v = calloc(NV, sizeof *v);
    ck_assert_ptr_nonnull(v);
    int64_t shape[1] = {NV};
    oclnn_st_tensor t = mk("big", OCLNN_DTYPE_F32, 1, shape, v);

    struct rlimit saved, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN); /* get EFBIG, not a signal */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    oclnn_status s = oclnn_safetensors_save(path, &t, 1, NULL, NULL, 0);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);

    ck_assert_int_eq(s, OCLNN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), strerror(EFBIG)));
    assert_file_is(path, old, old_size);
    ck_assert_int_eq(count_temp_files(tmp_dir), 0);
    free(v);
    free(old);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_checked_fixture(tc, make_tmp_dir, remove_tmp_dir);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_empty_file_roundtrip);
    tcase_add_test(tc, test_overwrite);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_checked_fixture(tc, make_tmp_dir, remove_tmp_dir);
    tcase_add_test(tc, test_good_fixture);
    tcase_add_loop_test(tc, test_bad_fixture, 0, N_BAD);
    tcase_add_test(tc, test_fixture_table_complete);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("save_failures");
    tcase_add_checked_fixture(tc, make_tmp_dir, remove_tmp_dir);
    tcase_add_test(tc, test_save_invalid_args);
    tcase_add_test(tc, test_save_readonly_dir);
    tcase_add_test(tc, test_save_impossible_path);
    tcase_add_test(tc, test_save_temp_blocked);
    tcase_add_test(tc, test_save_write_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(safetensors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
