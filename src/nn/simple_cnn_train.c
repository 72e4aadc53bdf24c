/* Training and evaluation of an image classifier on an MNIST-format
 * dataset (SimpleCNN here, the LSTM/GRU models in rnn_train.c), and
 * file-to-file inference for SimpleCNN.
 *
 * Training uses one graph with a fixed batch (the last partial batch of an
 * epoch is dropped, as the shuffled order changes every epoch); evaluation
 * uses a second, forward-only graph in eval mode that shares the training
 * graph's weights, and pads the final partial batch. */
#include "core/context.h"
#include "core/error.h"
#include "nn/classifier.h"
#include "oclnn/nn.h"
#include "oclnn/oclnn.h"
#include "train/feed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVAL_BATCH 500
#define LOSS_EVERY 10

typedef struct classifier {
    oclnn_graph *g;
    oclnn_tensor *images, *labels, *logits, *loss;
    int batch;
    const char *name; /* of the model, for messages */
} classifier;

static void classifier_release(classifier *c)
{
    oclnn_graph_release(c->g);
    memset(c, 0, sizeof *c);
}

static oclnn_tensor *build_simple_cnn(oclnn_graph *g, oclnn_tensor *images, const void *config)
{
    (void)config;
    return oclnn_simple_cnn(g, images);
}

static const nn_image_model simple_cnn_model = {"simple_cnn", build_simple_cnn, NULL};

static oclnn_status classifier_build(oclnn_context *ctx, const nn_image_model *m, int batch, int training,
                                     const oclnn_graph *share, classifier *c)
{
    memset(c, 0, sizeof *c);
    c->batch = batch;
    c->name = m->name;
    c->g = oclnn_graph_create(ctx);
    if (!c->g) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", m->name);
    c->images = oclnn_input(c->g, "images", OCLNN_DTYPE_F32, 4, (const int64_t[]){batch, 1, 28, 28});
    c->logits = m->build(c->g, c->images, m->config);
    oclnn_status s = OCLNN_OK;
    if (training) {
        c->labels = oclnn_input(c->g, "labels", OCLNN_DTYPE_I32, 1, (const int64_t[]){batch});
        c->loss = oclnn_cross_entropy_loss(c->g, c->logits, c->labels, OCLNN_REDUCTION_MEAN, 0.0f);
        s = oclnn_graph_output(c->g, c->loss);
        if (!s) s = oclnn_graph_backward(c->g, c->loss);
    } else {
        s = oclnn_graph_output(c->g, c->logits);
        if (!s) s = oclnn_graph_set_training(c->g, 0);
        if (!s && share) s = oclnn_graph_share_params(c->g, share);
    }
    if (!s) s = oclnn_graph_compile(c->g, NULL);
    if (s) classifier_release(c);
    return s;
}

/* Accuracy and confusion matrix over the first `limit` test images. */
static oclnn_status evaluate(classifier *eval, const oclnn_dataset *test, oclnn_train_result *r)
{
    memset(r->confusion, 0, sizeof r->confusion);
    const size_t image_floats = 28 * 28;
    float *batch = calloc((size_t)eval->batch * image_floats, sizeof *batch);
    float *logits = malloc((size_t)eval->batch * 10 * sizeof *logits);
    if (!batch || !logits) {
        free(batch);
        free(logits);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", eval->name);
    }
    int64_t correct = 0;
    oclnn_status s = OCLNN_OK;
    for (int64_t start = 0; start < test->count && !s; start += eval->batch) {
        int64_t n = test->count - start < eval->batch ? test->count - start : eval->batch;
        memset(batch, 0, (size_t)eval->batch * image_floats * sizeof *batch);
        memcpy(batch, test->images + start * (int64_t)image_floats, (size_t)n * image_floats * sizeof *batch);
        s = oclnn_tensor_write(eval->images, batch, (size_t)eval->batch * image_floats * sizeof *batch);
        if (!s) s = oclnn_graph_run(eval->g);
        if (!s) s = oclnn_tensor_read(eval->logits, logits, (size_t)eval->batch * 10 * sizeof *logits);
        for (int64_t i = 0; i < n && !s; i++) {
            int best = 0;
            for (int k = 1; k < 10; k++)
                if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
            int truth = test->labels[start + i];
            r->confusion[truth][best]++;
            correct += best == truth;
        }
    }
    r->test_images = test->count;
    r->test_accuracy = test->count ? (double)correct / (double)test->count : 0.0;
    free(batch);
    free(logits);
    return s;
}

static void report_loss(classifier *tr, const scalar_reader *r, int epoch, int64_t batches,
                        const oclnn_train_options *o, double t0, double run_start, int64_t done_batches,
                        int64_t total_batches, double *last_loss)
{
    *last_loss = r->value;
    if (!o->on_progress) return;
    double elapsed = oclnn_wall_seconds() - t0;
    oclnn_train_progress p = {epoch, o->epochs, r->tag, batches, r->value, (double)(r->tag * tr->batch) / elapsed, 0,
                              -1};
    double per_batch = (oclnn_wall_seconds() - run_start) / (double)done_batches;
    p.eta_s = per_batch * (double)(total_batches - done_batches);
    o->on_progress(&p, o->user);
}

/* One epoch without waiting for the device inside a step: the next batch is
 * drawn and staged while the device computes the current one (train/feed.h),
 * and the loss is read back without blocking every LOSS_EVERY batches. */
static oclnn_status train_epoch(classifier *tr, oclnn_optimizer *opt, oclnn_batcher *batcher, int epoch,
                                const oclnn_train_options *o, double run_start, int64_t total_batches,
                                int64_t *done_batches, double *train_seconds, double *last_loss)
{
    train_feed feed;
    scalar_reader loss = {.tensor = tr->loss};
    oclnn_status s = feed_init(&feed, 2, (oclnn_tensor *const[]){tr->images, tr->labels});
    if (s) return s;
    int64_t batches = oclnn_batcher_batches_per_epoch(batcher);
    double t0 = oclnn_wall_seconds();
    int n = oclnn_batcher_next(batcher, feed_host(&feed, 0), feed_host(&feed, 1));
    int64_t b = 0;
    while (!s && n > 0) {
        b++;
        s = feed_submit(&feed); /* n == batch: the batcher drops a last partial batch */
        /* per batch, as CosineAnnealingLR(T_max = all steps) stepped each batch:
         * per-epoch steps would hold the rate high through a short run */
        if (!s && o->cosine)
            s = oclnn_optimizer_set_lr(opt, (float)(0.5 * o->lr *
                                                    (1.0 + cos(3.14159265358979323846 * (double)*done_batches /
                                                               (double)total_batches))));
        if (!s) s = oclnn_graph_zero_grad(tr->g);
        if (!s) s = oclnn_graph_run(tr->g);
        if (!s) s = oclnn_optimizer_step(opt);
        (*done_batches)++;
        if (!s && b == batches && scalar_poll(&loss, true, &s)) /* the epoch's last loss must be read */
            report_loss(tr, &loss, epoch, batches, o, t0, run_start, *done_batches, total_batches, last_loss);
        if (!s && (b % LOSS_EVERY == 0 || b == batches)) s = scalar_start(&loss, b);
        if (!s) s = oclnn_cl_check(clFlush(oclnn_graph_context(tr->g)->queue), "clFlush", tr->name);
        if (!s && scalar_poll(&loss, false, &s))
            report_loss(tr, &loss, epoch, batches, o, t0, run_start, *done_batches, total_batches, last_loss);
        if (!s) s = feed_wait(&feed); /* the staging set's write of two steps ago */
        if (!s) n = oclnn_batcher_next(batcher, feed_host(&feed, 0), feed_host(&feed, 1));
    }
    if (!s) s = oclnn_context_finish(oclnn_graph_context(tr->g));
    if (!s && scalar_poll(&loss, true, &s))
        report_loss(tr, &loss, epoch, batches, o, t0, run_start, *done_batches, total_batches, last_loss);
    *train_seconds += oclnn_wall_seconds() - t0;
    scalar_release(&loss);
    feed_release(&feed);
    return s;
}

oclnn_status nn_classifier_train(oclnn_context *ctx, const nn_image_model *m, const oclnn_train_options *options,
                                 oclnn_train_result *result)
{
    if (!ctx || !options || !result) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s_train: NULL argument", m->name);
    oclnn_train_options o = *options;
    if (o.epochs <= 0) o.epochs = 1;
    if (o.batch <= 0) o.batch = 64;
    if (o.lr <= 0) o.lr = o.optimizer == OCLNN_OPTIMIZER_ADAM ? 1e-3f : 1e-2f;
    if (o.optimizer == OCLNN_OPTIMIZER_SGD && o.momentum == 0) o.momentum = 0.9f;
    memset(result, 0, sizeof *result);

    /* A checkpoint path that cannot be written should fail now, not after
     * an epoch of training. */
    if (o.save_path) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", o.save_path);
        char *slash = strrchr(dir, '/');
        if (!slash) snprintf(dir, sizeof dir, ".");
        else if (slash == dir) dir[1] = 0;
        else *slash = 0;
        if (access(dir, W_OK) != 0)
            return oclnn_fail(OCLNN_ERR_IO, "checkpoint '%s': cannot write to folder '%s': %s", o.save_path, dir,
                              strerror(errno));
    }
    oclnn_dataset train = {0}, test = {0};
    oclnn_status s = oclnn_dataset_load_mnist(o.data_dir, 1, o.limit, &train);
    if (!s) s = oclnn_dataset_load_mnist(o.data_dir, 0, o.test_limit, &test);
    if (!s && train.count < o.batch)
        s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s_train: %lld training images, fewer than one batch of %d",
                       m->name, (long long)train.count, o.batch);
    classifier tr = {0}, ev = {0};
    oclnn_optimizer *opt = NULL;
    oclnn_batcher *batcher = NULL;
    if (!s) s = classifier_build(ctx, m, o.batch, 1, NULL, &tr);
    if (!s) s = oclnn_graph_init_params(tr.g, o.seed);
    if (!s) s = classifier_build(ctx, m, EVAL_BATCH, 0, tr.g, &ev);
    if (!s) {
        opt = o.optimizer == OCLNN_OPTIMIZER_ADAM ? oclnn_optimizer_adam(tr.g, o.lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0)
                                                  : oclnn_optimizer_sgd(tr.g, o.lr, o.momentum, 0.0f, 0.0f, 0);
        if (!opt) s = oclnn_fail_append(OCLNN_ERR_OUT_OF_MEMORY, " (creating the optimizer)");
    }
    if (!s) s = oclnn_batcher_create(&train, o.batch, 1, o.seed, 1, &batcher);
    double run_start = oclnn_wall_seconds(), train_seconds = 0, loss = 0;
    int64_t done = 0, total = oclnn_batcher_batches_per_epoch(batcher) * o.epochs;
    for (int epoch = 1; epoch <= o.epochs && !s; epoch++) {
        s = train_epoch(&tr, opt, batcher, epoch, &o, run_start, total, &done, &train_seconds, &loss);
        if (!s) s = evaluate(&ev, &test, result);
        if (!s && o.save_path) s = oclnn_checkpoint_save(tr.g, opt, o.save_path);
        if (!s && o.on_progress) {
            oclnn_train_progress p = {epoch, o.epochs, 0, 0, loss, 0, 0, result->test_accuracy};
            o.on_progress(&p, o.user);
        }
        result->train_images += oclnn_batcher_batches_per_epoch(batcher) * o.batch;
    }
    result->epochs = o.epochs;
    result->seconds = train_seconds;
    result->images_per_s = train_seconds > 0 ? (double)result->train_images / train_seconds : 0;
    result->final_loss = loss;
    oclnn_batcher_free(batcher);
    oclnn_optimizer_release(opt);
    classifier_release(&ev);
    classifier_release(&tr);
    oclnn_dataset_free(&train);
    oclnn_dataset_free(&test);
    return s;
}

oclnn_status nn_classifier_evaluate(oclnn_context *ctx, const nn_image_model *m, const char *weights_path,
                                    const char *data_dir, int64_t test_limit, oclnn_train_result *result)
{
    if (!ctx || !weights_path || !result)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s_evaluate: NULL argument", m->name);
    memset(result, 0, sizeof *result);
    oclnn_dataset test = {0};
    oclnn_status s = oclnn_dataset_load_mnist(data_dir, 0, test_limit, &test);
    classifier ev = {0};
    if (!s) s = classifier_build(ctx, m, EVAL_BATCH, 0, NULL, &ev);
    if (!s) s = oclnn_graph_load_weights(ev.g, weights_path);
    if (!s) s = evaluate(&ev, &test, result);
    classifier_release(&ev);
    oclnn_dataset_free(&test);
    return s;
}

oclnn_status oclnn_simple_cnn_train(oclnn_context *ctx, const oclnn_train_options *options,
                                    oclnn_train_result *result)
{
    return nn_classifier_train(ctx, &simple_cnn_model, options, result);
}

oclnn_status oclnn_simple_cnn_evaluate(oclnn_context *ctx, const char *weights_path, const char *data_dir,
                                       int64_t test_limit, oclnn_train_result *result)
{
    return nn_classifier_evaluate(ctx, &simple_cnn_model, weights_path, data_dir, test_limit, result);
}

oclnn_status oclnn_simple_cnn_forward_file(oclnn_context *ctx, const char *weights_path, const char *input_path,
                                           const char *output_path)
{
    oclnn_safetensors *in = NULL;
    oclnn_status s = oclnn_safetensors_load(input_path, &in);
    if (s) return s;
    const oclnn_st_tensor *x = oclnn_safetensors_find(in, "input");
    if (!x || x->dtype != OCLNN_DTYPE_F32 || x->ndim != 4 || x->shape[1] != 1 || x->shape[2] != 28 ||
        x->shape[3] != 28 || x->shape[0] < 1) {
        oclnn_safetensors_free(in);
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: needs an f32 tensor named 'input' of shape [N, 1, 28, 28]",
                          input_path);
    }
    int64_t n = x->shape[0];
    classifier c = {0};
    s = classifier_build(ctx, &simple_cnn_model, (int)n, 0, NULL, &c);
    if (!s) s = oclnn_graph_load_weights(c.g, weights_path);
    if (!s) s = oclnn_tensor_write(c.images, x->data, x->nbytes);
    if (!s) s = oclnn_graph_run(c.g);
    float *logits = malloc((size_t)n * 10 * sizeof *logits);
    if (!logits && !s) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "simple_cnn: out of host memory");
    if (!s) s = oclnn_tensor_read(c.logits, logits, (size_t)n * 10 * sizeof *logits);
    if (!s) {
        oclnn_st_tensor out = {.name = "output", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {n, 10},
                               .nbytes = (size_t)n * 10 * sizeof *logits, .data = logits};
        s = oclnn_safetensors_save(output_path, &out, 1, NULL, NULL, 0);
    }
    free(logits);
    classifier_release(&c);
    oclnn_safetensors_free(in);
    return s;
}
