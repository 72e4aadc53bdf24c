/* oclnn train / eval / forward: SimpleCNN on Fashion-MNIST, and the
 * LSTM / GRU models on sequential Fashion-MNIST (rows as time steps). */
#include "cli.h"

#include <string.h>

typedef enum { MODEL_SIMPLE_CNN, MODEL_LSTM, MODEL_GRU, MODEL_VIT } model_kind;

/* -1 and *kind set when the name is known, else the exit status. */
static int check_model(const char *command, const char *model, model_kind *kind)
{
    if (!model) return cli_usage_error(command, "name the model: simple-cnn, lstm, gru or vit");
    if (!strcmp(model, "simple-cnn")) *kind = MODEL_SIMPLE_CNN;
    else if (!strcmp(model, "lstm")) *kind = MODEL_LSTM;
    else if (!strcmp(model, "gru")) *kind = MODEL_GRU;
    else if (!strcmp(model, "vit")) *kind = MODEL_VIT;
    else return cli_usage_error(command, "unknown model '%s' (available: simple-cnn, lstm, gru, vit)", model);
    return -1;
}

static oclnn_rnn_kind rnn_kind(model_kind k) { return k == MODEL_GRU ? OCLNN_RNN_GRU : OCLNN_RNN_LSTM; }

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
    long long epochs = 1, batch = 64, limit = 0, test_limit = 0, seed = 1, hidden = 0, layers = 0, heads = 0;
    int bidirectional = 0, cosine = 0;
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
        {"cosine", CLI_FLAG, &cosine, NULL, "decay the learning rate as a cosine to 0 over the run (per batch)", 0, 0},
        {"save", CLI_STRING, &save, "FILE", "checkpoint (safetensors) written after each epoch", 0, 0},
        {"hidden", CLI_INT, &hidden, "H", "lstm/gru: hidden size (default 128); vit: width (default 64)", 1, 65536},
        {"layers", CLI_INT, &layers, "L", "lstm/gru: stacked layers (default 2); vit: encoder layers (default 4)", 1, 64},
        {"heads", CLI_INT, &heads, "H", "vit: attention heads (default width / 16)", 1, 1024},
        {"bidirectional", CLI_FLAG, &bidirectional, NULL, "lstm/gru: both directions", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "train", "simple-cnn|lstm|gru|vit",
        "Trains a model on Fashion-MNIST, evaluates test accuracy after each epoch and\n"
        "ends with 'result: epochs=E train_images=N seconds=S images_per_s=R\n"
        "test_accuracy=A' (seconds: training time, evaluation excluded).\n"
        "  simple-cnn  conv5x5 32, pool, conv5x5 64, pool, dropout .25, fc 3136-1000, fc 1000-10\n"
        "  lstm, gru   sequential Fashion-MNIST: each image is 28 steps (rows) of 28\n"
        "              pixels; a stacked LSTM/GRU, its last step, fc to 10 classes\n"
        "              (PyTorch's LSTMModel/GRUModel; weights lstm.* or gru.*, fc.*)\n"
        "  vit         7x7 patches as 16 tokens plus a class token, learned position\n"
        "              embeddings, pre-LN Transformer encoder layers (GELU MLP of\n"
        "              2 * width), final LayerNorm, linear head on the class token",
        options, 1, 1};
    char *model = NULL;
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, &model, &npos);
    if (rc >= 0) return rc;
    model_kind mk = MODEL_SIMPLE_CNN;
    if ((rc = check_model("train", model, &mk)) >= 0) return rc;
    if (mk == MODEL_SIMPLE_CNN && (hidden || layers || bidirectional || heads))
        return cli_usage_error("train", "--hidden, --layers, --heads and --bidirectional are for lstm, gru and vit");
    if (mk == MODEL_VIT && bidirectional) return cli_usage_error("train", "--bidirectional is for lstm and gru");
    if (mk != MODEL_VIT && heads) return cli_usage_error("train", "--heads is for vit");
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
                             .save_path = save, .on_progress = on_progress, .user = &st,
                             .cosine = cosine};
    oclnn_train_result r;
    oclnn_rnn_model_config rc_model = {.hidden_size = (int)hidden, .num_layers = (int)layers,
                                       .bidirectional = bidirectional};
    oclnn_vit_config vc = {.width = (int)hidden, .layers = (int)layers, .heads = (int)heads};
    oclnn_status s = mk == MODEL_SIMPLE_CNN ? oclnn_simple_cnn_train(ctx, &o, &r)
                     : mk == MODEL_VIT      ? oclnn_vit_train(ctx, &vc, &o, &r)
                                            : oclnn_rnn_model_train(ctx, rnn_kind(mk), &rc_model, &o, &r);
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
    long long test_limit = 0, heads = 0;
    const cli_option options[] = {
        {"heads", CLI_INT, &heads, "H", "vit: attention heads (default width / 16; weights do not show them)", 1,
         1024},
        {"weights", CLI_STRING, &weights, "FILE", "weights or checkpoint (safetensors) to evaluate", 0, 0},
        {"test-limit", CLI_INT, &test_limit, "N", "evaluate on the first N test images only", 0, 1e9},
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {"data", CLI_STRING, &data, "DIR", "MNIST-format data ($OCLNN_DATA, default /usr/share/datasets/fashion-mnist)",
         0, 0},
        {0},
    };
    const cli_spec spec = {"eval", "simple-cnn|lstm|gru|vit",
                           "Prints the test accuracy of saved weights on Fashion-MNIST (sequential for\n"
                           "lstm and gru, whose sizes come from the file) and the 10x10 confusion\n"
                           "matrix (rows: true class, columns: predicted class).",
                           options, 1, 1};
    char *model = NULL;
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, &model, &npos);
    if (rc >= 0) return rc;
    model_kind mk = MODEL_SIMPLE_CNN;
    if ((rc = check_model("eval", model, &mk)) >= 0) return rc;
    if (!weights) return cli_usage_error("eval", "--weights FILE is required");
    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    oclnn_train_result r;
    oclnn_status s = mk == MODEL_SIMPLE_CNN ? oclnn_simple_cnn_evaluate(ctx, weights, data, test_limit, &r)
                     : mk == MODEL_VIT      ? oclnn_vit_evaluate(ctx, (int)heads, weights, data, test_limit, &r)
                                            : oclnn_rnn_model_evaluate(ctx, rnn_kind(mk), weights, data, test_limit, &r);
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
        {"input", CLI_STRING, &input, "FILE", "safetensors file with 'input' (see above)", 0, 0},
        {"output", CLI_STRING, &output, "FILE", "safetensors file to write 'output' (and h_n, c_n) to", 0, 0},
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "forward", "simple-cnn|lstm|gru",
        "Runs a model (eval mode) on the tensor 'input' of a safetensors file and\n"
        "writes the result as 'output'.\n"
        "  simple-cnn  input [N,1,28,28] f32 -> output: logits [N,10]\n"
        "  lstm, gru   PyTorch's LSTMModel/GRUModel (weights lstm.* or gru.*, fc.*):\n"
        "              hidden size, input size, layers, direction and output size come\n"
        "              from the weights' names and shapes. input [N,T,I] f32 and,\n"
        "              optionally, lengths [N] i32/i64 (padded at the end) ->\n"
        "              output: fc(out[:, -1, :]) [N,O] (step T-1, as PyTorch's model\n"
        "              on a padded batch: a shorter sequence gets fc.bias there),\n"
        "              h_n [L*D,N,H] (each sequence's state at its own end), c_n (lstm)",
        options, 1, 1};
    char *model = NULL;
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, &model, &npos);
    if (rc >= 0) return rc;
    model_kind mk = MODEL_SIMPLE_CNN;
    if ((rc = check_model("forward", model, &mk)) >= 0) return rc;
    if (mk == MODEL_VIT) return cli_usage_error("forward", "forward runs simple-cnn, lstm or gru (vit: use train and eval)");
    if (!weights || !input || !output) return cli_usage_error("forward", "--weights, --input and --output are required");
    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    oclnn_status s = mk == MODEL_SIMPLE_CNN ? oclnn_simple_cnn_forward_file(ctx, weights, input, output)
                                            : oclnn_rnn_model_forward_file(ctx, rnn_kind(mk), weights, input, output);
    oclnn_context_release(ctx);
    if (s) return cli_fail("forward failed");
    printf("wrote %s\n", output);
    return CLI_EXIT_OK;
}
