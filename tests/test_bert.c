/* Tests for the BERT encoder (include/oclnn/bert.h) against Hugging Face
 * transformers (tests/gen/bert_fixture.py, outputs in $OCLNN_TEST_DATA/bert):
 *   - a tiny random BERT committed with its outputs: always runs;
 *   - all-MiniLM-L6-v2's sentence embeddings: runs when the model folder is
 *     there ($OCLNN_BERT_MODEL, else the folder scripts/get-model.sh minilm
 *     fills), and is skipped with a message otherwise.
 * Every component must match within 1e-5 (absolute). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define TOL 1e-5

static const char *data_path(const char *name) { return tu_data_path("bert/%s", name); }

/* Lines of a text file (the fixture's texts), without their newline. */
static int read_lines(const char *path, char ***lines)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int n = 0;
    char **out = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        out = realloc(out, (size_t)(n + 1) * sizeof *out);
        out[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    *lines = out;
    return n;
}

static void free_lines(char **lines, int n)
{
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

static const oclnn_st_tensor *expect(oclnn_safetensors *st, const char *name)
{
    const oclnn_st_tensor *t;
    TU_OK(oclnn_safetensors_get(st, name, &t));
    return t;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

#define ck_close(a, b, n, what)                                                                    \
    do {                                                                                          \
        double d_ = max_abs_diff((a), (b), (n));                                                  \
        printf("bert: %-28s max |diff| %.3g\n", (what), d_);                                    \
        ck_assert_msg(d_ <= TOL, "%s: max |diff| %g > %g", (what), d_, TOL);                      \
    } while (0)

/* Runs the batch (single texts or pairs) through the tiny model and
 * compares every output with the fixture. */
static void check_tiny_batch(oclnn_bert *m, const char *key, int pairs)
{
    oclnn_safetensors *ex;
    TU_OK(oclnn_safetensors_load(data_path("tiny_expected.safetensors"), &ex));
    char name[64];
    char **texts;
    int n;
    char **b = NULL;
    if (pairs) {
        n = read_lines(data_path("tiny_pairs.tsv"), &texts);
        b = calloc((size_t)n, sizeof *b);
        for (int i = 0; i < n; i++) {
            char *tab = strchr(texts[i], '\t');
            ck_assert(tab != NULL);
            *tab = '\0';
            b[i] = tab + 1;
        }
    } else {
        n = read_lines(data_path("tiny_texts.txt"), &texts);
    }
    oclnn_token_batch tb;
    TU_OK(oclnn_tokenizer_encode_batch(oclnn_bert_tokenizer(m), n, (const char *const *)texts,
                                       (const char *const *)b, 16, &tb));
    snprintf(name, sizeof name, "%s.ids", key);
    const oclnn_st_tensor *ids = expect(ex, name);
    ck_assert_int_eq(ids->shape[0], n);
    ck_assert_int_eq(ids->shape[1], tb.length);
    ck_assert_msg(!memcmp(ids->data, tb.ids, (size_t)(n * tb.length) * sizeof(int32_t)), "%s: token ids differ", key);
    snprintf(name, sizeof name, "%s.type_ids", key);
    ck_assert(!memcmp(expect(ex, name)->data, tb.type_ids, (size_t)(n * tb.length) * sizeof(int32_t)));

    const int64_t hid = oclnn_bert_get_config(m)->hidden_size;
    float *hidden = malloc((size_t)(n * tb.length * hid) * sizeof(float));
    float *pooler = malloc((size_t)(n * hid) * sizeof(float));
    float *sent = malloc((size_t)(n * hid) * sizeof(float));
    TU_OK(oclnn_bert_forward(m, &tb, hidden, pooler, sent));
    snprintf(name, sizeof name, "%s.last_hidden", key);
    ck_close(hidden, (const float *)expect(ex, name)->data, (size_t)(n * tb.length * hid), name);
    snprintf(name, sizeof name, "%s.pooler", key);
    ck_close(pooler, (const float *)expect(ex, name)->data, (size_t)(n * hid), name);
    snprintf(name, sizeof name, "%s.sentence", key);
    const float *want = expect(ex, name)->data;
    ck_close(sent, want, (size_t)(n * hid), name);
    if (!pairs) { /* the same through embed(): sorted, bucketed, batches of 1, 2 and all */
        for (int bs = 1; bs <= n; bs = bs == 1 ? 2 : n) {
            memset(sent, 0, (size_t)(n * hid) * sizeof(float));
            TU_OK(oclnn_bert_embed(m, n, (const char *const *)texts, 16, bs, sent, NULL, NULL));
            snprintf(name, sizeof name, "embed, batch %d", bs);
            ck_close(sent, want, (size_t)(n * hid), name);
            if (bs == n) break;
        }
    }
    free(hidden);
    free(pooler);
    free(sent);
    free(b);
    oclnn_token_batch_free(&tb);
    free_lines(texts, n);
    oclnn_safetensors_free(ex);
}

START_TEST(test_tiny_config)
{
    oclnn_bert_config cfg;
    TU_OK(oclnn_bert_config_load(data_path("tiny"), &cfg));
    ck_assert_int_eq(cfg.hidden_size, 32);
    ck_assert_int_eq(cfg.num_layers, 2);
    ck_assert_int_eq(cfg.num_heads, 4);
    ck_assert_int_eq(cfg.intermediate_size, 64);
    ck_assert_int_eq(cfg.vocab_size, 96);
    ck_assert_int_eq(cfg.max_position_embeddings, 64);
    ck_assert_int_eq(cfg.activation, OCLNN_BERT_GELU);
    ck_assert_int_eq(oclnn_bert_bucket(1), 8);
    ck_assert_int_eq(oclnn_bert_bucket(9), 16);
    ck_assert_int_eq(oclnn_bert_bucket(65), 80);
    ck_assert_int_eq(oclnn_bert_bucket(200), 224);
    ck_assert_int_eq(oclnn_bert_bucket(257), 320);
}
END_TEST

START_TEST(test_tiny_model)
{
    oclnn_bert *m;
    TU_OK(oclnn_bert_load(tu_context(), data_path("tiny"), &m));
    ck_assert(oclnn_bert_get_config(m)->pooler);
    check_tiny_batch(m, "single", 0);
    check_tiny_batch(m, "pair", 1);
    oclnn_bert_free(m);
}
END_TEST

/* A copy of the tiny model in a temporary folder, its tensors renamed (or
 * one dropped, or reshaped) by `edit`. */
typedef int (*edit_fn)(oclnn_st_tensor *t, char *name, size_t size);

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    ck_assert(a && b);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) ck_assert(fwrite(buf, 1, n, b) == n);
    fclose(a);
    fclose(b);
}

static void make_copy(char *dir, edit_fn edit)
{
    strcpy(dir, "/tmp/oclnn_bert_XXXXXX");
    ck_assert(mkdtemp(dir) != NULL);
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    copy_file(data_path("tiny/config.json"), p);
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    copy_file(data_path("tiny/vocab.txt"), p);
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(data_path("tiny/model.safetensors"), &st));
    oclnn_st_tensor *ts = calloc((size_t)st->count, sizeof *ts);
    char (*names)[160] = calloc((size_t)st->count, sizeof *names);
    int k = 0;
    for (int i = 0; i < st->count; i++) {
        ts[k] = st->tensors[i];
        snprintf(names[k], sizeof names[k], "%s", st->tensors[i].name);
        if (edit(&ts[k], names[k], sizeof names[k])) {
            ts[k].name = names[k];
            k++;
        }
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    TU_OK(oclnn_safetensors_save(p, ts, k, NULL, NULL, 0));
    free(ts);
    free(names);
    oclnn_safetensors_free(st);
}

static void remove_copy(const char *dir)
{
    char p[4200];
    static const char *const files[] = {"config.json", "vocab.txt", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int add_prefix(oclnn_st_tensor *t, char *name, size_t size)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "bert.%s", t->name);
    snprintf(name, size, "%s", tmp);
    return 1;
}

static int drop_value(oclnn_st_tensor *t, char *name, size_t size)
{
    (void)name, (void)size;
    return strcmp(t->name, "encoder.layer.1.attention.self.value.weight") != 0;
}

static int drop_pooler(oclnn_st_tensor *t, char *name, size_t size)
{
    (void)name, (void)size;
    return strncmp(t->name, "pooler.", 7) != 0;
}

static int bad_shape(oclnn_st_tensor *t, char *name, size_t size)
{
    (void)name, (void)size;
    if (!strcmp(t->name, "encoder.layer.0.intermediate.dense.bias")) {
        t->shape[0] -= 1;
        t->nbytes -= sizeof(float);
    }
    return 1;
}

START_TEST(test_tiny_prefix_and_errors)
{
    char dir[64], p[4200];
    oclnn_bert *m;
    /* "bert." names (BertForMaskedLM, BertForSequenceClassification) */
    make_copy(dir, add_prefix);
    TU_OK(oclnn_bert_load(tu_context(), dir, &m));
    check_tiny_batch(m, "single", 0);
    oclnn_bert_free(m);
    remove_copy(dir);

    /* no pooler: loads, sentence embeddings still work, pooler refused */
    make_copy(dir, drop_pooler);
    TU_OK(oclnn_bert_load(tu_context(), dir, &m));
    ck_assert(!oclnn_bert_get_config(m)->pooler);
    const char *t = "a man";
    float e[32];
    TU_OK(oclnn_bert_embed(m, 1, &t, 0, 0, e, NULL, NULL));
    oclnn_bert_free(m);
    remove_copy(dir);

    make_copy(dir, drop_value);
    ck_assert_int_eq(oclnn_bert_load(tu_context(), dir, &m), OCLNN_ERR_NOT_FOUND);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(oclnn_last_error(), "encoder.layer.1.attention.self.value.weight") &&
                      strstr(oclnn_last_error(), "model.safetensors"),
                  "%s", oclnn_last_error());
    remove_copy(dir);

    make_copy(dir, bad_shape);
    ck_assert_int_eq(oclnn_bert_load(tu_context(), dir, &m), OCLNN_ERR_FORMAT);
    ck_assert_msg(strstr(oclnn_last_error(), "encoder.layer.0.intermediate.dense.bias") &&
                      strstr(oclnn_last_error(), "[63]"),
                  "%s", oclnn_last_error());
    /* missing files are named */
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    unlink(p);
    ck_assert_int_eq(oclnn_bert_load(tu_context(), dir, &m), OCLNN_ERR_IO);
    ck_assert_msg(strstr(oclnn_last_error(), "vocab.txt"), "%s", oclnn_last_error());
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    ck_assert_int_eq(oclnn_bert_load(tu_context(), dir, &m), OCLNN_ERR_IO);
    ck_assert_msg(strstr(oclnn_last_error(), "config.json"), "%s", oclnn_last_error());
    FILE *f = fopen(p, "w");
    fputs("{\"hidden_size\": 30, \"num_hidden_layers\": 1, \"num_attention_heads\": 4}", f);
    fclose(f);
    ck_assert_int_eq(oclnn_bert_config_load(dir, &(oclnn_bert_config){0}), OCLNN_ERR_FORMAT);
    ck_assert_msg(strstr(oclnn_last_error(), "num_attention_heads"), "%s", oclnn_last_error());
    remove_copy(dir);
    ck_assert_int_eq(oclnn_bert_load(tu_context(), dir, &m), OCLNN_ERR_IO);
}
END_TEST

typedef struct ft_log {
    int epochs;
    double loss[8], acc[8];
} ft_log;

static void ft_epoch(void *user, int epoch, double loss, double acc, double seconds)
{
    ft_log *l = user;
    (void)seconds;
    if (epoch <= 8) {
        l->loss[epoch - 1] = loss;
        l->acc[epoch - 1] = acc;
    }
    l->epochs = epoch;
    printf("bert: finetune epoch %d: loss %.4f, accuracy %.3f\n", epoch, loss, acc);
}

/* Fine-tuning the tiny BERT on a toy task (does the text name an animal?):
 * the loss falls, the test accuracy beats chance, and the saved folder
 * loads back with changed weights and the classifier in it. */
START_TEST(test_tiny_finetune)
{
    static const char *const animals[] = {"dog", "cat", "dogs", "cats"};
    static const char *const things[] = {"food", "bread", "music", "guitar", "piece"};
    static const char *const fill[] = {"the", "a", "big", "small", "red", "blue", "green", "one", "two", "fast"};
    enum { NTRAIN = 96, NTEST = 48 };
    char buf[NTRAIN + NTEST][128];
    const char *texts[NTRAIN + NTEST];
    int32_t labels[NTRAIN + NTEST];
    uint64_t x = 12345;
    for (int i = 0; i < NTRAIN + NTEST; i++) {
        int label = i % 2, n = 0;
        buf[i][0] = '\0';
        for (int w = 0; w < 5; w++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *word = w == (int)((x >> 33) % 5) ? (label ? animals[(x >> 20) % 4] : things[(x >> 20) % 5])
                                                          : fill[(x >> 40) % 10];
            n += snprintf(buf[i] + n, sizeof buf[i] - (size_t)n, "%s%s", w ? " " : "", word);
        }
        texts[i] = buf[i];
        labels[i] = label;
    }
    const oclnn_text_dataset train = {NTRAIN, texts, labels}, test = {NTEST, texts + NTRAIN, labels + NTRAIN};
    ft_log log = {0};
    oclnn_bert_finetune_options o = {.epochs = 5, .batch = 16, .lr = 3e-3, .seed = 7, .on_epoch = ft_epoch,
                                     .user = &log};
    char dir[] = "/tmp/oclnn_bert_ft_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    double acc;
    TU_OK(oclnn_bert_finetune(tu_context(), data_path("tiny"), 2, &train, &test, &o, dir, &acc));
    ck_assert_int_eq(log.epochs, 5);
    ck_assert_msg(log.loss[4] < log.loss[0], "loss %g -> %g", log.loss[0], log.loss[4]);
    ck_assert_msg(acc >= 0.65, "test accuracy %g (chance: 0.5)", acc);

    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(p, &st));
    const oclnn_st_tensor *cw = oclnn_safetensors_find(st, "classifier.weight");
    ck_assert_ptr_nonnull(cw);
    ck_assert_int_eq(cw->shape[0], 2);
    ck_assert_int_eq(cw->shape[1], 32);
    ck_assert_ptr_nonnull(oclnn_safetensors_find(st, "pooler.dense.weight"));
    oclnn_safetensors_free(st);
    oclnn_bert *a, *b;
    TU_OK(oclnn_bert_load(tu_context(), data_path("tiny"), &a));
    TU_OK(oclnn_bert_load(tu_context(), dir, &b));
    float ea[32], eb[32];
    TU_OK(oclnn_bert_embed(a, 1, texts, 0, 0, ea, NULL, NULL));
    TU_OK(oclnn_bert_embed(b, 1, texts, 0, 0, eb, NULL, NULL));
    ck_assert_msg(max_abs_diff(ea, eb, 32) > 1e-3, "the saved model is the original");
    oclnn_bert_free(a);
    oclnn_bert_free(b);
    static const char *const files[] = {"model.safetensors", "config.json", "vocab.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        ck_assert_int_eq(unlink(p), 0);
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static int minilm_dir(char *buf, size_t size)
{
    const char *env = getenv("OCLNN_BERT_MODEL");
    if (env && *env) snprintf(buf, size, "%s", env);
    else if (!oclnn_model_dir(OCLNN_MINILM_NAME, buf, size)) return 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", buf);
    return access(p, R_OK) == 0;
}

START_TEST(test_minilm)
{
    char dir[4096];
    if (!minilm_dir(dir, sizeof dir)) {
        printf("bert: SKIPPED the all-MiniLM-L6-v2 check: no model in %s (run scripts/get-model.sh minilm, "
               "or set OCLNN_BERT_MODEL)\n", dir);
        return;
    }
    oclnn_bert *m;
    TU_OK(oclnn_bert_load(tu_context(), dir, &m));
    ck_assert_int_eq(oclnn_bert_get_config(m)->hidden_size, 384);
    char **texts;
    int n = read_lines(data_path("minilm_sentences.txt"), &texts);
    oclnn_safetensors *ex;
    TU_OK(oclnn_safetensors_load(data_path("minilm_expected.safetensors"), &ex));
    const oclnn_st_tensor *want = expect(ex, "embeddings");
    ck_assert_int_eq(want->shape[0], n);
    float *e = malloc((size_t)n * 384 * sizeof(float));
    TU_OK(oclnn_bert_embed(m, n, (const char *const *)texts, 0, 5, e, NULL, NULL));
    ck_close(e, (const float *)want->data, (size_t)n * 384, "MiniLM embeddings, batch 5");
    double cos = 0;
    for (int i = 0; i < 384; i++) cos += (double)e[i] * e[384 + i];
    const char *st_cos = NULL;
    for (int i = 0; i < ex->meta_count; i++)
        if (!strcmp(ex->meta_keys[i], "st_cosine")) st_cos = ex->meta_values[i];
    printf("bert: cosine(\"%s\", \"%s\") = %.7f (sentence-transformers: %s)\n", texts[0], texts[1], cos,
           st_cos ? st_cos : "?");
    if (st_cos) ck_assert_msg(fabs(cos - atof(st_cos)) <= TOL, "cosine %.7f vs %s", cos, st_cos);
    free(e);
    oclnn_safetensors_free(ex);
    free_lines(texts, n);
    oclnn_bert_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bert");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_tiny_config);
    tcase_add_test(tc, test_tiny_model);
    tcase_add_test(tc, test_tiny_prefix_and_errors);
    tcase_add_test(tc, test_tiny_finetune);
    tcase_add_test(tc, test_minilm);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
