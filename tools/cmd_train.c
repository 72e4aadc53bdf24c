/* oclnn train / eval / forward: SimpleCNN on Fashion-MNIST. */
#include "cli.h"

#include <string.h>

static int check_model(const char *command, const char *model)
{
    if (!model) return cli_usage_error(command, "name the model: simple-cnn");
    if (strcmp(model, "simple-cnn") != 0)
        return cli_usage_error(command, "unknown model '%s' (available: simple-cnn)", model);
    return -1;
}

typedef struct progress_state {
    cli_progress line;
    double last_fraction;
} progress_state;

static void on_progress(const oclnn_train_progress *p, void *user)
{
    progress_state *st = user;
    if (p->test_accuracy >= 0) {
        cli_progress_clear(&st->line);
        printf("epoch %d/%d: loss %.4f, test accuracy %.4f\n", p->epoch, p->epochs, p->loss, p->test_accuracy);
        fflush(stdout);
        return;
    }
    /* In a log (not a terminal) keep every ~5% only. */
    double fraction = (double)p->batch / (double)p->batches;
    if (!st->line.tty && fraction - st->last_fraction < 0.05 && p->batch != p->batches) return;
    st->last_fraction = p->batch == p->batches ? 0 : fraction;
    cli_progress_update(&st->line, "epoch %d/%d  batch %lld/%lld  loss %.4f  %.0f img/s  ETA %.0f s", p->epoch,
                        p->epochs, (long long)p->batch, (long long)p->batches, p->loss, p->images_per_s, p->eta_s);
}

int cmd_train(int argc, char **argv)
{
    const char *device = NULL, *data = NULL, *save = NULL, *optimizer = "adam";
    long long epochs = 1, batch = 64, limit = 0, test_limit = 0, seed = 1;
    double lr = 0;
    const cli_option options[] = {
        {"epochs", CLI_INT, &epochs, "N", "passes over the training set (default 1)", 1, 1000},
        {"batch", CLI_INT, &batch, "B", "batch size (default 64)", 1, 65536},
        {"lr", CLI_FLOAT, &lr, "X", "learning rate (default 0.001 adam, 0.01 sgd)", 1e-9, 10},
        {"optimizer", CLI_STRING, &optimizer, "O", "sgd (momentum 0.9) or adam (default adam)", 0, 0},
        {"limit", CLI_INT, &limit, "N", "train on the first N images only", 0, 1e9},
        {"test-limit", CLI_INT, &test_limit, "N", "evaluate on the first N test images only", 0, 1e9},
        {"seed", CLI_INT, &seed, "S", "seed for initialisation, shuffling and dropout (default 1)", 0, 0},
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {"data", CLI_STRING, &data, "DIR", "MNIST-format data ($OCLNN_DATA, default /usr/share/datasets/fashion-mnist)",
         0, 0},
        {"save", CLI_STRING, &save, "FILE", "checkpoint (safetensors) written after each epoch", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "train", "simple-cnn",
        "Trains SimpleCNN (conv5x5 32, pool, conv5x5 64, pool, dropout .25, fc 3136-1000,\n"
        "fc 1000-10) on Fashion-MNIST, evaluates test accuracy after each epoch and\n"
        "ends with 'result: epochs=E train_images=N seconds=S images_per_s=R\n"
        "test_accuracy=A' (seconds: training time, evaluation excluded).",
        options, 1, 1};
    char *model = NULL;
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, &model, &npos);
    if (rc >= 0) return rc;
    if ((rc = check_model("train", model)) >= 0) return rc;
    oclnn_optimizer_kind kind;
    if (!strcmp(optimizer, "adam")) kind = OCLNN_OPTIMIZER_ADAM;
    else if (!strcmp(optimizer, "sgd")) kind = OCLNN_OPTIMIZER_SGD;
    else return cli_usage_error("train", "unknown optimizer '%s' (use sgd or adam)", optimizer);

    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    printf("device: %s (%s)\n", oclnn_context_device(ctx)->name, oclnn_context_device(ctx)->platform);
    progress_state st = {0};
    cli_progress_init(&st.line, stdout);
    oclnn_train_options o = {.epochs = (int)epochs, .batch = (int)batch, .lr = (float)lr, .optimizer = kind,
                             .limit = limit, .test_limit = test_limit, .seed = (uint64_t)seed, .data_dir = data,
                             .save_path = save, .on_progress = on_progress, .user = &st};
    oclnn_train_result r;
    oclnn_status s = oclnn_simple_cnn_train(ctx, &o, &r);
    cli_progress_clear(&st.line);
    oclnn_context_release(ctx);
    if (s) return cli_fail("training failed");
    if (save) printf("saved %s\n", save);
    printf("result: epochs=%d train_images=%lld seconds=%.1f images_per_s=%.1f test_accuracy=%.4f\n", r.epochs,
           (long long)r.train_images, r.seconds, r.images_per_s, r.test_accuracy);
    return CLI_EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    const char *device = NULL, *data = NULL, *weights = NULL;
    long long test_limit = 0;
    const cli_option options[] = {
        {"weights", CLI_STRING, &weights, "FILE", "weights or checkpoint (safetensors) to evaluate", 0, 0},
        {"test-limit", CLI_INT, &test_limit, "N", "evaluate on the first N test images only", 0, 1e9},
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {"data", CLI_STRING, &data, "DIR", "MNIST-format data ($OCLNN_DATA, default /usr/share/datasets/fashion-mnist)",
         0, 0},
        {0},
    };
    const cli_spec spec = {"eval", "simple-cnn",
                           "Prints the test accuracy of saved SimpleCNN weights and the 10x10 confusion\n"
                           "matrix (rows: true class, columns: predicted class).",
                           options, 1, 1};
    char *model = NULL;
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, &model, &npos);
    if (rc >= 0) return rc;
    if ((rc = check_model("eval", model)) >= 0) return rc;
    if (!weights) return cli_usage_error("eval", "--weights FILE is required");
    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    oclnn_train_result r;
    oclnn_status s = oclnn_simple_cnn_evaluate(ctx, weights, data, test_limit, &r);
    oclnn_context_release(ctx);
    if (s) return cli_fail("evaluation failed");
    printf("confusion matrix (%lld test images; rows true, columns predicted):\n      ", (long long)r.test_images);
    for (int j = 0; j < 10; j++) printf("%6d", j);
    printf("\n");
    for (int i = 0; i < 10; i++) {
        printf("  %2d  ", i);
        for (int j = 0; j < 10; j++) printf("%6lld", (long long)r.confusion[i][j]);
        printf("\n");
    }
    printf("result: test_images=%lld test_accuracy=%.4f\n", (long long)r.test_images, r.test_accuracy);
    return CLI_EXIT_OK;
}

int cmd_forward(int argc, char **argv)
{
    const char *device = NULL, *weights = NULL, *input = NULL, *output = NULL;
    const cli_option options[] = {
        {"weights", CLI_STRING, &weights, "FILE", "weights (safetensors, PyTorch state_dict names)", 0, 0},
        {"input", CLI_STRING, &input, "FILE", "safetensors file with 'input' [N,1,28,28] f32", 0, 0},
        {"output", CLI_STRING, &output, "FILE", "safetensors file to write 'output' (logits [N,10]) to", 0, 0},
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {0},
    };
    const cli_spec spec = {"forward", "simple-cnn",
                           "Runs SimpleCNN (eval mode) on the tensor 'input' of a safetensors file and\n"
                           "writes the logits as 'output'.",
                           options, 1, 1};
    char *model = NULL;
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, &model, &npos);
    if (rc >= 0) return rc;
    if ((rc = check_model("forward", model)) >= 0) return rc;
    if (!weights || !input || !output) return cli_usage_error("forward", "--weights, --input and --output are required");
    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    oclnn_status s = oclnn_simple_cnn_forward_file(ctx, weights, input, output);
    oclnn_context_release(ctx);
    if (s) return cli_fail("forward failed");
    printf("wrote %s\n", output);
    return CLI_EXIT_OK;
}
