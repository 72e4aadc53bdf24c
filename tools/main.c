/* The oclnn command-line program: one binary, one subcommand per job.
 * Adding a subcommand: write tools/cmd_<name>.c with cmd_<name>() (see
 * cli.h) and add one line to the table below. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"devices", "list every OpenCL device and the one used by default", cmd_devices},
    {"ops", "list every op of the registry: family, backward, in-place, input contract", cmd_ops},
    {"bench", "time SGEMM, elementwise and softmax kernels on one or all devices", cmd_bench},
    {"xor", "learn XOR by backprop: a single layer cannot, an MLP can", cmd_xor},
    {"train", "train SimpleCNN, LSTM or GRU on Fashion-MNIST and report test accuracy", cmd_train},
    {"eval", "test accuracy and confusion matrix of saved SimpleCNN/LSTM/GRU weights", cmd_eval},
    {"forward", "run SimpleCNN/LSTM/GRU on a safetensors input and write the result", cmd_forward},
    {"tokenize", "BERT WordPiece token ids (or pieces) of texts, as the model sees them", cmd_tokenize},
    {"embed", "sentence embeddings of texts (BERT, e.g. all-MiniLM-L6-v2)", cmd_embed},
    {"similarity", "cosine similarity of two texts' sentence embeddings", cmd_similarity},
    {"search", "semantic search: rank a corpus's lines by similarity to queries", cmd_search},
    {"nearest", "nearest words by cosine in a word-vector file (word2vec, fastText .vec, GloVe)", cmd_nearest},
    {"analogy", "a : b :: c : ? by 3CosAdd in a word-vector file (man king woman -> queen)", cmd_analogy},
    {"word2vec-eval", "WordSim-353 / SimLex-999 Spearman and analogy accuracy of word vectors", cmd_word2vec_eval},
    {"similar-images", "image search with SimpleCNN embeddings: precision@k vs raw pixels, PNG grid",
     cmd_similar_images},
    {"finetune", "fine-tune BERT for text classification (finetune bert --train T.tsv --test V.tsv)", cmd_finetune},
    {"word2vec", "train word vectors (skip-gram or CBOW, negative sampling) on a text corpus", cmd_word2vec},
};
static const int ncommands = (int)(sizeof commands / sizeof commands[0]);

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: oclnn <command> [options]\n"
            "       oclnn <command> --help\n"
            "       oclnn --version\n"
            "\n"
            "oclnn %s - deep learning on OpenCL (any GPU vendor, or the CPU via PoCL).\n"
            "\n"
            "commands:\n",
            OCLNN_VERSION_STRING);
    for (int i = 0; i < ncommands; i++) fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Commands that run kernels take --device D: gpu, cpu, P:D (as listed by\n"
            "'oclnn devices') or part of a device, platform or vendor name. Without it\n"
            "$OCLNN_DEVICE is used, else the first GPU, else the first CPU.\n"
            "Kernel binaries are cached in $OCLNN_CACHE_DIR (default ~/.cache/oclnn).\n"
            "\n"
            "exit status: 0 success, 1 failure, 2 bad command line\n");
}

static const cli_command *find_command(const char *name)
{
    for (int i = 0; i < ncommands; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "oclnn: no command given - run 'oclnn --help' for the list\n");
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(name, "--version")) {
        printf("oclnn %s\n", OCLNN_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    /* "oclnn help bench" reads naturally; it is "oclnn bench --help". */
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            print_usage(stdout);
            return CLI_EXIT_OK;
        }
        const cli_command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "oclnn: unknown command '%s' - run 'oclnn --help' for the list\n", argv[2]);
            return CLI_EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return c->run(2, help_argv);
    }
    if (name[0] == '-') {
        fprintf(stderr, "oclnn: unknown option '%s' - run 'oclnn --help' for the usage\n", name);
        return CLI_EXIT_USAGE;
    }
    const cli_command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "oclnn: unknown command '%s' - run 'oclnn --help' for the list\n", name);
        return CLI_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
