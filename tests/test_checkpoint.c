/* Weight files and checkpoints: round trips, mismatch errors that change
 * nothing, and resuming training bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph.h"
#include "testutil.h"

static void temp_path(char *buf, size_t size, const char *tag)
{
    snprintf(buf, size, "/tmp/oclnn_test_%s_%ld.safetensors", tag, (long)getpid());
}

/* fc: Linear(in -> out) + a batch-norm-like state of each dtype */
typedef struct model {
    oclnn_graph *g;
    oclnn_tensor *x, *y, *w, *b, *loss, *mean, *count, *ids;
} model;

static model make_model(int in, int out, int with_state, int with_backward)
{
    model m = {0};
    m.g = oclnn_graph_create(tu_context());
    m.x = oclnn_input_f32(m.g, "x", 2, 8, in);
    m.y = oclnn_input_f32(m.g, "y", 2, 8, out);
    m.w = oclnn_param(m.g, "fc.weight", 2, (const int64_t[]){out, in});
    m.b = oclnn_param(m.g, "fc.bias", 1, (const int64_t[]){out});
    if (with_state) {
        m.mean = oclnn_state_new(m.g, "bn.running_mean", OCLNN_DTYPE_F32, 1, (const int64_t[]){out}, 0);
        m.count = oclnn_state_new(m.g, "bn.num_batches_tracked", OCLNN_DTYPE_I64, 0, NULL, 0);
        m.ids = oclnn_state_new(m.g, "ids", OCLNN_DTYPE_I32, 1, (const int64_t[]){4}, 0);
    }
    m.loss = oclnn_mse_loss(m.g, oclnn_linear(m.g, m.x, m.w, m.b), m.y, OCLNN_REDUCTION_MEAN);
    TU_OK(oclnn_graph_status(m.g));
    if (with_backward) TU_OK(oclnn_graph_backward(m.g, m.loss));
    TU_OK(oclnn_graph_compile(m.g, NULL));
    return m;
}

static void *read_bytes(oclnn_tensor *t, size_t *bytes)
{
    *bytes = (size_t)oclnn_tensor_numel(t) * (oclnn_tensor_dtype(t) == OCLNN_DTYPE_I64 ? 8 : 4);
    void *v = malloc(*bytes ? *bytes : 1);
    TU_OK(oclnn_tensor_read(t, v, *bytes));
    return v;
}

static void assert_same(oclnn_tensor *a, oclnn_tensor *b)
{
    size_t na, nb;
    void *va = read_bytes(a, &na), *vb = read_bytes(b, &nb);
    ck_assert_int_eq(na, nb);
    ck_assert_msg(memcmp(va, vb, na) == 0, "'%s' differs", oclnn_tensor_name(a));
    free(va);
    free(vb);
}

static void set_state(model *m, float mean_value, int64_t count)
{
    TU_OK(oclnn_tensor_fill(m->mean, mean_value));
    TU_OK(oclnn_tensor_write(m->count, &count, sizeof count));
    const int32_t ids[4] = {3, -1, 7, 2147483647};
    TU_OK(oclnn_tensor_write(m->ids, ids, sizeof ids));
}

START_TEST(test_weights_round_trip)
{
    char path[256];
    temp_path(path, sizeof path, "weights");
    model a = make_model(5, 3, 1, 0);
    TU_OK(oclnn_graph_init_params(a.g, 11));
    set_state(&a, 0.25f, 1234567890123ll);
    TU_OK(oclnn_graph_save_weights(a.g, path));

    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(path, &st));
    ck_assert_int_eq(st->count, 5);
    const oclnn_st_tensor *w = oclnn_safetensors_find(st, "fc.weight");
    ck_assert(w && w->dtype == OCLNN_DTYPE_F32 && w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 5);
    const oclnn_st_tensor *c = oclnn_safetensors_find(st, "bn.num_batches_tracked");
    ck_assert(c && c->dtype == OCLNN_DTYPE_I64 && c->ndim == 0 && *(int64_t *)c->data == 1234567890123ll);
    const oclnn_st_tensor *ids = oclnn_safetensors_find(st, "ids");
    ck_assert(ids && ids->dtype == OCLNN_DTYPE_I32 && ((int32_t *)ids->data)[3] == 2147483647);
    oclnn_safetensors_free(st);

    model b = make_model(5, 3, 1, 0);
    TU_OK(oclnn_graph_load_weights(b.g, path));
    assert_same(a.w, b.w);
    assert_same(a.b, b.b);
    assert_same(a.mean, b.mean);
    assert_same(a.count, b.count);
    assert_same(a.ids, b.ids);
    unlink(path);
    oclnn_graph_release(a.g);
    oclnn_graph_release(b.g);
}
END_TEST

/* A failed load names the problem and leaves every tensor as it was. */
static void expect_load_error(model *m, const char *path, unsigned flags, oclnn_status want, const char *needle)
{
    float sentinel = 42.0f;
    TU_OK(oclnn_tensor_fill(m->b, sentinel));
    ck_assert_int_eq(oclnn_graph_load_weights_ex(m->g, path, flags), want);
    ck_assert_msg(strstr(oclnn_last_error(), needle), "message '%s' lacks '%s'", oclnn_last_error(), needle);
    float v[3];
    TU_OK(oclnn_tensor_read(m->b, v, sizeof v));
    ck_assert_msg(v[0] == sentinel && v[2] == sentinel, "fc.bias was modified by a failed load");
}

START_TEST(test_weights_mismatch)
{
    char path[256];
    temp_path(path, sizeof path, "mismatch");
    model a = make_model(5, 3, 1, 0);
    TU_OK(oclnn_graph_init_params(a.g, 12));
    TU_OK(oclnn_graph_save_weights(a.g, path));

    model wrong_shape = make_model(6, 3, 1, 0);
    expect_load_error(&wrong_shape, path, 0, OCLNN_ERR_SHAPE, "'fc.weight' is f32 [3, 5] in the file but f32 [3, 6]");
    oclnn_graph_release(wrong_shape.g);

    model no_state = make_model(5, 3, 0, 0);
    expect_load_error(&no_state, path, 0, OCLNN_ERR_NOT_FOUND, "the file has 'bn.");
    TU_OK(oclnn_graph_load_weights_ex(no_state.g, path, OCLNN_LOAD_ALLOW_EXTRA));
    assert_same(a.w, no_state.w);
    oclnn_graph_release(no_state.g);

    /* the graph has more than the file */
    char small[256];
    temp_path(small, sizeof small, "small");
    model b = make_model(5, 3, 0, 0);
    TU_OK(oclnn_graph_init_params(b.g, 13));
    TU_OK(oclnn_graph_save_weights(b.g, small));
    model more = make_model(5, 3, 1, 0);
    expect_load_error(&more, small, 0, OCLNN_ERR_NOT_FOUND, "'bn.running_mean' is missing from the file");
    TU_OK(oclnn_graph_load_weights_ex(more.g, small, OCLNN_LOAD_ALLOW_MISSING));
    assert_same(b.w, more.w);
    oclnn_graph_release(more.g);
    oclnn_graph_release(b.g);

    /* same name, other dtype */
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_param(g, "fc.weight", 2, (const int64_t[]){3, 5});
    oclnn_param(g, "fc.bias", 1, (const int64_t[]){3});
    oclnn_state_new(g, "bn.running_mean", OCLNN_DTYPE_F32, 1, (const int64_t[]){3}, 0);
    oclnn_state_new(g, "bn.num_batches_tracked", OCLNN_DTYPE_I32, 0, NULL, 0);
    oclnn_state_new(g, "ids", OCLNN_DTYPE_I32, 1, (const int64_t[]){4}, 0);
    ck_assert_int_eq(oclnn_graph_load_weights(g, path), OCLNN_ERR_INVALID_ARG); /* not compiled */
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_int_eq(oclnn_graph_load_weights(g, path), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "'bn.num_batches_tracked' is i64 [] in the file but i32 []"), "%s",
                  oclnn_last_error());
    oclnn_graph_release(g);

    ck_assert_int_eq(oclnn_graph_load_weights(a.g, "/nonexistent/oclnn.safetensors"), OCLNN_ERR_IO);
    ck_assert_int_eq(oclnn_graph_load_weights(a.g, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_graph_save_weights(NULL, path), OCLNN_ERR_INVALID_ARG);
    unlink(path);
    unlink(small);
    oclnn_graph_release(a.g);
}
END_TEST

/* ---- resume: 2N steps straight == N steps, checkpoint, fresh objects, N steps */

static void train(model *m, oclnn_optimizer *opt, int from, int to)
{
    float x[8 * 5], y[8 * 3];
    for (int step = from; step < to; step++) {
        for (int i = 0; i < 40; i++) x[i] = sinf((float)(step * 13 + i));
        for (int i = 0; i < 24; i++) y[i] = cosf((float)(step * 7 + i));
        TU_OK(oclnn_tensor_write(m->x, x, sizeof x));
        TU_OK(oclnn_tensor_write(m->y, y, sizeof y));
        TU_OK(oclnn_graph_zero_grad(m->g));
        TU_OK(oclnn_graph_run(m->g));
        TU_OK(oclnn_optimizer_step(opt));
    }
}

static oclnn_optimizer *make_opt(oclnn_graph *g, int adam, float scale)
{
    /* scale != 1 builds the resumed optimizer with other hyper-parameters:
     * loading must restore the saved ones */
    oclnn_optimizer *opt = adam ? oclnn_optimizer_adam(g, 0.01f * scale, 0.9f, 0.999f, 1e-8f, 0.01f, adam == 2)
                                : oclnn_optimizer_sgd(g, 0.05f * scale, 0.9f, 0.1f, 0.001f, 0);
    ck_assert_msg(opt != NULL, "%s", oclnn_last_error());
    return opt;
}

static void resume_case(int adam)
{
    enum { N = 5 };
    char path[256];
    temp_path(path, sizeof path, "resume");
    model a = make_model(5, 3, 0, 1);
    oclnn_optimizer *oa = make_opt(a.g, adam, 1);
    TU_OK(oclnn_graph_init_params(a.g, 5));
    train(&a, oa, 0, 2 * N);

    model b = make_model(5, 3, 0, 1);
    oclnn_optimizer *ob = make_opt(b.g, adam, 1);
    TU_OK(oclnn_graph_init_params(b.g, 5));
    train(&b, ob, 0, N);
    TU_OK(oclnn_checkpoint_save(b.g, ob, path));
    oclnn_optimizer_release(ob);
    oclnn_graph_release(b.g);

    model c = make_model(5, 3, 0, 1);
    oclnn_optimizer *oc = make_opt(c.g, adam, 3);
    TU_OK(oclnn_checkpoint_load(c.g, oc, path));
    ck_assert_int_eq(oclnn_optimizer_get_step(oc), N);
    ck_assert_float_eq(oclnn_optimizer_get_lr(oc), oclnn_optimizer_get_lr(oa));
    train(&c, oc, N, 2 * N);
    assert_same(a.w, c.w);
    assert_same(a.b, c.b);
    for (int i = 0; i < oclnn_optimizer_state_count(oa); i++) {
        float sa[15], sc[15];
        size_t bytes = (size_t)oclnn_tensor_numel(oclnn_optimizer_state_param(oa, i)) * sizeof(float);
        TU_OK(oclnn_optimizer_state_read(oa, i, sa, bytes));
        TU_OK(oclnn_optimizer_state_read(oc, i, sc, bytes));
        ck_assert_msg(memcmp(sa, sc, bytes) == 0, "state %s differs", oclnn_optimizer_state_name(oa, i));
    }

    /* weights alone load from a checkpoint (its optimizer state is skipped) */
    model d = make_model(5, 3, 0, 0);
    TU_OK(oclnn_graph_load_weights(d.g, path));
    /* the wrong optimizer kind is refused, and changes nothing */
    oclnn_optimizer *wrong = make_opt(c.g, adam ? 0 : 1, 1);
    ck_assert_int_eq(oclnn_checkpoint_load(c.g, wrong, path), OCLNN_ERR_FORMAT);
    ck_assert_msg(strstr(oclnn_last_error(), adam == 2 ? "adamw" : adam ? "adam" : "sgd"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_optimizer_get_step(wrong), 0);
    assert_same(a.w, c.w);
    /* an optimizer of another graph is refused */
    ck_assert_int_eq(oclnn_checkpoint_load(d.g, oc, path), OCLNN_ERR_INVALID_ARG);
    oclnn_optimizer_release(wrong);
    oclnn_graph_release(d.g);

    unlink(path);
    oclnn_optimizer_release(oa);
    oclnn_optimizer_release(oc);
    oclnn_graph_release(a.g);
    oclnn_graph_release(c.g);
}

START_TEST(test_resume_sgd_momentum) { resume_case(0); }
END_TEST

START_TEST(test_resume_adam) { resume_case(1); }
END_TEST

START_TEST(test_resume_adamw) { resume_case(2); }
END_TEST

START_TEST(test_checkpoint_needs_metadata)
{
    char path[256];
    temp_path(path, sizeof path, "plain");
    model m = make_model(5, 3, 0, 1);
    oclnn_optimizer *opt = make_opt(m.g, 1, 1);
    TU_OK(oclnn_graph_save_weights(m.g, path));
    ck_assert_int_eq(oclnn_checkpoint_load(m.g, opt, path), OCLNN_ERR_FORMAT);
    ck_assert_msg(strstr(oclnn_last_error(), "not an oclnn checkpoint"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_checkpoint_save(m.g, NULL, path), OCLNN_ERR_INVALID_ARG);
    /* a checkpoint missing one optimizer state: saved with an SGD without
     * momentum, loaded into one with momentum */
    oclnn_optimizer *plain = oclnn_optimizer_sgd(m.g, 0.1f, 0, 0, 0, 0);
    TU_OK(oclnn_checkpoint_save(m.g, plain, path));
    oclnn_optimizer *mom = oclnn_optimizer_sgd(m.g, 0.1f, 0.9f, 0, 0, 0);
    ck_assert_int_eq(oclnn_checkpoint_load(m.g, mom, path), OCLNN_ERR_FORMAT);
    ck_assert_msg(strstr(oclnn_last_error(), "momentum"), "%s", oclnn_last_error());
    unlink(path);
    oclnn_optimizer_release(plain);
    oclnn_optimizer_release(mom);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(m.g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_weights_round_trip);
    tcase_add_test(tc, test_weights_mismatch);
    tcase_add_test(tc, test_resume_sgd_momentum);
    tcase_add_test(tc, test_resume_adam);
    tcase_add_test(tc, test_resume_adamw);
    tcase_add_test(tc, test_checkpoint_needs_metadata);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
