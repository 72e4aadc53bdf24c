/* oclnn word2vec: train word vectors on a text corpus on the device and
 * write them as a word2vec binary (or text) file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void show_progress(const oclnn_word2vec_progress *p, void *user)
{
    cli_progress_update(user, "word2vec: epoch %d, %.1f%% of %lld words, %.0f words/s, alpha %.6f", p->epoch + 1,
                        100.0 * (double)p->words_done / (double)p->words_total, (long long)p->words_total,
                        p->words_per_s, (double)p->alpha);
}

int cmd_word2vec(int argc, char **argv)
{
    const char *corpus = NULL, *output = NULL, *device = NULL;
    int cbow = 0, text = 0, quiet = 0;
    long long dim = 100, window = 5, negative = 5, min_count = 5, epochs = 5, seed = 1, batch = 0, chunk = 0,
              concurrent = 0, lanes = 0;
    double sample = 1e-3, alpha = 0, min_alpha = 0.0001;
    const cli_option options[] = {
        {"corpus", CLI_STRING, &corpus, "FILE", "text corpus: whitespace-separated words, a sentence per line", 0, 0},
        {"output", CLI_STRING, &output, "FILE", "where the vectors go (word2vec binary unless --text)", 0, 0},
        {"text", CLI_FLAG, &text, NULL, "write the word2vec text format instead", 0, 0},
        {"cbow", CLI_FLAG, &cbow, NULL, "CBOW (mean of the context) instead of skip-gram", 0, 0},
        {"dim", CLI_INT, &dim, "N", "vector size (default 100)", 1, 100000},
        {"window", CLI_INT, &window, "N", "max distance of a context word (default 5)", 1, 1000},
        {"negative", CLI_INT, &negative, "N", "negative samples per prediction (default 5)", 1, 1000},
        {"min-count", CLI_INT, &min_count, "N", "drop words seen fewer times (default 5)", 1, 1e15},
        {"sample", CLI_FLOAT, &sample, "T", "subsampling threshold of frequent words; 0: off (default 1e-3)", 0,
         0.999999},
        {"epochs", CLI_INT, &epochs, "N", "passes over the corpus (default 5)", 1, 100000},
        {"alpha", CLI_FLOAT, &alpha, "A", "initial learning rate (default 0.025, 0.05 with --cbow)", 1e-9, 10},
        {"min-alpha", CLI_FLOAT, &min_alpha, "A", "final learning rate (default 0.0001)", 0, 10},
        {"seed", CLI_INT, &seed, "N", "random seed (default 1)", 0, 9.2e18},
        {"batch", CLI_INT, &batch, "N", "corpus words per kernel launch (default 1048576)", 1, 1 << 28},
        {"chunk", CLI_INT, &chunk, "N", "words one work-group trains in a row (default 1000 on CPUs, 100 else)", 1,
         1 << 28},
        {"concurrent", CLI_INT, &concurrent, "N",
         "most chunks trained at once; 1 makes runs reproducible (default: all of a batch)", 1, 1 << 30},
        {"lanes", CLI_INT, &lanes, "N", "work items per chunk, a power of two (default 1 on CPUs, 32 else)", 1, 1024},
        {"device", CLI_STRING, &device, "D", "device index or name (see 'oclnn devices')", 0, 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress line", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "word2vec", NULL,
        "Trains word2vec vectors (skip-gram or CBOW with negative sampling, as the\n"
        "original tool and gensim do) on the device and writes them for\n"
        "gensim's KeyedVectors.load_word2vec_format. scripts/get-corpus.sh makes\n"
        "a 4-million-word English corpus from the GCIDE dictionary.",
        options, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    if (!corpus) return cli_usage_error("word2vec", "--corpus FILE is required (scripts/get-corpus.sh makes one)");
    if (!output) return cli_usage_error("word2vec", "--output FILE is required");

    /* A wrong output path is found now, not after the training. */
    char *dir = strdup(output), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) slash[slash == dir] = '\0';
    int writable = dir && access(slash ? dir : ".", W_OK) == 0;
    int err = errno;
    if (!writable) cli_error("word2vec: cannot write %s: %s", output, strerror(err));
    free(dir);
    if (!writable) return CLI_EXIT_FAIL;

    oclnn_word2vec_options o;
    oclnn_word2vec_options_init(&o);
    o.dim = dim;
    o.window = (int)window;
    o.negative = (int)negative;
    o.min_count = min_count;
    o.sample = sample;
    o.epochs = (int)epochs;
    o.cbow = cbow;
    o.alpha = (float)alpha;
    o.min_alpha = (float)min_alpha;
    o.seed = (uint64_t)seed;
    o.batch_words = batch;
    o.chunk_words = chunk;
    o.concurrent_chunks = concurrent;
    o.lanes = (int)lanes;
    cli_progress progress;
    cli_progress_init(&progress, stderr);
    if (!quiet) {
        o.progress = show_progress;
        o.progress_user = &progress;
    }

    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    oclnn_wordvec *wv = NULL;
    oclnn_word2vec_stats st;
    rc = CLI_EXIT_OK;
    if (oclnn_word2vec_train(ctx, corpus, &o, &wv, &st)) {
        cli_progress_clear(&progress);
        rc = cli_fail("word2vec");
    } else {
        if (!quiet) cli_progress_done(&progress);
        if (oclnn_wordvec_save(output, text ? OCLNN_WORDVEC_WORD2VEC_TEXT : OCLNN_WORDVEC_WORD2VEC_BINARY,
                               oclnn_wordvec_count(wv), oclnn_wordvec_dim(wv), oclnn_wordvec_words(wv),
                               oclnn_wordvec_vectors(wv)))
            rc = cli_fail("word2vec: saving the vectors");
        else
            fprintf(stderr,
                    "word2vec: %s, vocabulary %lld words (of %lld corpus tokens), %lld words trained (%lld after "
                    "subsampling) in %.2f s: %.0f words/s; vocabulary %.2f s; wrote %s\n",
                    cbow ? "CBOW" : "skip-gram", (long long)st.vocab_size, (long long)st.corpus_words,
                    (long long)st.train_words, (long long)st.trained_words, st.train_seconds, st.words_per_s,
                    st.vocab_seconds, output);
    }
    oclnn_wordvec_release(wv);
    oclnn_context_release(ctx);
    return rc;
}
