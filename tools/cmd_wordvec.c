/* oclnn nearest / analogy / word2vec-eval: query and evaluate a
 * word-vector file (word2vec binary or text, fastText .vec, GloVe) on the
 * device, with gensim's semantics (include/oclnn/embeddings.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/data_dir.h"

/* Options and state shared by the three commands. */
typedef struct wv_cli {
    const char *command, *vectors, *format, *device;
    long long k, restrict_vocab;
    oclnn_wordvec *wv;
    oclnn_context *ctx;
} wv_cli;

#define VECTORS_OPTIONS(w)                                                                                        \
    {"vectors", CLI_STRING, &(w).vectors, "FILE", "word vectors: word2vec binary or text, fastText .vec, GloVe", 0, \
     0},                                                                                                          \
    {"format", CLI_STRING, &(w).format, "F",                                                                      \
     "auto (default: detected), word2vec-binary, word2vec-text, fasttext or glove", 0, 0},                        \
    {"device", CLI_STRING, &(w).device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0}

static const struct {
    const char *name;
    oclnn_wordvec_format format;
} formats[] = {{"auto", OCLNN_WORDVEC_AUTO},
               {"word2vec-binary", OCLNN_WORDVEC_WORD2VEC_BINARY},
               {"word2vec-text", OCLNN_WORDVEC_WORD2VEC_TEXT},
               {"fasttext", OCLNN_WORDVEC_FASTTEXT_VEC},
               {"glove", OCLNN_WORDVEC_GLOVE}};

/* Checks the options, loads the vectors and opens the device; an exit
 * status on failure, -1 to go on. */
static int wv_open(wv_cli *w)
{
    if (!w->vectors) return cli_usage_error(w->command, "--vectors FILE is required");
    oclnn_wordvec_options opt = {0};
    if (w->format) {
        size_t i = 0, n = sizeof formats / sizeof formats[0];
        while (i < n && strcmp(formats[i].name, w->format)) i++;
        if (i == n)
            return cli_usage_error(w->command, "unknown --format '%s' (auto, word2vec-binary, word2vec-text, fasttext, "
                                   "glove)", w->format);
        opt.format = formats[i].format;
    }
    if (oclnn_wordvec_load(w->vectors, &opt, &w->wv)) return cli_fail(w->command);
    if (oclnn_wordvec_count(w->wv) == 0) {
        cli_error("%s: %s holds no word vectors", w->command, w->vectors);
        return CLI_EXIT_FAIL;
    }
    if (cli_open_context(w->device, &w->ctx)) return CLI_EXIT_FAIL;
    return -1;
}

static void wv_close(wv_cli *w)
{
    oclnn_wordvec_release(w->wv);
    oclnn_context_release(w->ctx);
}

/* Runs m queries of npos positive and nneg negative words (rows) and
 * prints k "prefix word score" lines each (prefix: the query's first
 * word, or nothing). */
static int print_similar(wv_cli *w, int64_t m, int npos, const int64_t *pos, int nneg, const int64_t *neg,
                         char **prefix)
{
    float *scores = malloc(sizeof *scores * (size_t)(m * w->k));
    int64_t *rows = malloc(sizeof *rows * (size_t)(m * w->k));
    int rc = CLI_EXIT_OK;
    if (!scores || !rows) {
        cli_error("%s: out of memory", w->command);
        rc = CLI_EXIT_FAIL;
    } else if (oclnn_wordvec_most_similar(w->ctx, w->wv, m, npos, pos, nneg, neg, w->k, w->restrict_vocab, scores,
                                          rows)) {
        rc = cli_fail(w->command);
    } else {
        for (int64_t q = 0; q < m; q++)
            for (int64_t j = 0; j < w->k && rows[q * w->k + j] >= 0; j++) {
                if (prefix) printf("%s\t", prefix[q]);
                printf("%s\t%.6f\n", oclnn_wordvec_word(w->wv, rows[q * w->k + j]), scores[q * w->k + j]);
            }
    }
    free(scores);
    free(rows);
    return rc;
}

#define K_OPTION(w) {"k", CLI_INT, &(w).k, "K", "words per query (default 10)", 1, OCLNN_TOPK_MAX - 3}
#define RESTRICT_OPTION(w, dflt)                                                                                   \
    {"restrict", CLI_INT, &(w).restrict_vocab, "N",                                                               \
     "only the first N words (the most frequent in word2vec files) are candidates; 0 = all (default " dflt ")", 0, \
     1e15}

/* nearest and analogy: words on the command line -> rows (exact match). */
static int lookup(wv_cli *w, int n, char **words, int64_t *rows)
{
    return oclnn_wordvec_lookup(w->wv, n, (const char *const *)words, rows) ? cli_fail(w->command) : -1;
}

int cmd_nearest(int argc, char **argv)
{
    wv_cli w = {.command = "nearest", .k = 10};
    const cli_option options[] = {VECTORS_OPTIONS(w), K_OPTION(w), RESTRICT_OPTION(w, "0"), {0}};
    const cli_spec spec = {"nearest", "WORD...",
                           "Prints the K words nearest to each WORD by cosine similarity, as\n"
                           "'WORD<TAB>neighbour<TAB>score' lines, best first (the WORD itself excluded;\n"
                           "gensim's most_similar). All words are searched at once on the device.",
                           options, 1, argc};
    char **words = malloc(sizeof *words * (size_t)argc);
    int64_t *rows = malloc(sizeof *rows * (size_t)argc);
    int n = 0, rc = words && rows ? cli_parse(&spec, argc, argv, words, &n) : CLI_EXIT_FAIL;
    if (rc < 0) rc = wv_open(&w);
    if (rc < 0) rc = lookup(&w, n, words, rows);
    if (rc < 0) rc = print_similar(&w, n, 1, rows, 0, NULL, words);
    wv_close(&w);
    free(words);
    free(rows);
    return rc;
}

int cmd_analogy(int argc, char **argv)
{
    wv_cli w = {.command = "analogy", .k = 10};
    const cli_option options[] = {VECTORS_OPTIONS(w), K_OPTION(w), RESTRICT_OPTION(w, "0"), {0}};
    const cli_spec spec = {"analogy", "A B C",
                           "a is to b as c is to ?: prints the K words closest by cosine to\n"
                           "unit(B) - unit(A) + unit(C) as 'word<TAB>score' lines, best first, A, B and C\n"
                           "excluded (3CosAdd, gensim's most_similar(positive=[B, C], negative=[A])).\n"
                           "'oclnn analogy --vectors V man king woman' answers queen in a good model.",
                           options, 3, 3};
    char *words[3];
    int64_t rows[3], pos[2], neg[1];
    int n = 0, rc = cli_parse(&spec, argc, argv, words, &n);
    if (rc < 0) rc = wv_open(&w);
    if (rc < 0) rc = lookup(&w, 3, words, rows);
    if (rc < 0) {
        pos[0] = rows[1];
        pos[1] = rows[2];
        neg[0] = rows[0];
        rc = print_similar(&w, 1, 2, pos, 1, neg, NULL);
    }
    wv_close(&w);
    return rc;
}

/* ---- word2vec-eval */

/* Where scripts/get-eval-data.sh puts the files: $OCLNN_DATA/word-eval,
 * else ${XDG_DATA_HOME:-~/.local/share}/oclnn/word-eval. */
static void default_data_dir(char *buf, size_t size)
{
    if (!oclnn_data_dir_file("word-eval", buf, size)) snprintf(buf, size, "word-eval");
}

static const char *const pair_files[] = {"wordsim353.tsv", "simlex999.txt"};
#define ANALOGY_FILE "questions-words.txt"

static void print_analogy(const oclnn_analogy_score *s, int json)
{
    double acc = s->used ? (double)s->correct / (double)s->used : 0.0;
    if (json) {
        printf("{\"eval\":\"analogy\",\"section\":");
        cli_json_string(stdout, s->name);
        printf(",\"accuracy\":%.17g,\"correct\":%lld,\"used\":%lld,\"skipped\":%lld}\n", acc, (long long)s->correct,
               (long long)s->used, (long long)s->oov);
    } else {
        printf("  %-28s %6.2f%%  (%lld/%lld, %lld skipped)\n", s->name, 100.0 * acc, (long long)s->correct,
               (long long)s->used, (long long)s->oov);
    }
}

/* Opens each file once to report a missing one with the way to get it. */
static int check_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return -1;
    }
    cli_error("word2vec-eval: cannot open %s - run scripts/get-eval-data.sh or give --data DIR", path);
    return CLI_EXIT_FAIL;
}

int cmd_word2vec_eval(int argc, char **argv)
{
    wv_cli w = {.command = "word2vec-eval", .restrict_vocab = 300000};
    const char *data = NULL;
    int json = 0;
    const cli_option options[] = {
        VECTORS_OPTIONS(w),
        {"data", CLI_STRING, &data, "DIR",
         "folder with wordsim353.tsv, simlex999.txt and questions-words.txt (default: where "
         "scripts/get-eval-data.sh puts them, $OCLNN_DATA/word-eval or ~/.local/share/oclnn/word-eval)", 0, 0},
        RESTRICT_OPTION(w, "300000, as gensim"),
        {"json", CLI_FLAG, &json, NULL, "one JSON object per result line", 0, 0},
        {0}};
    const cli_spec spec = {"word2vec-eval", NULL,
                           "Evaluates word vectors as gensim's evaluate_word_pairs and\n"
                           "evaluate_word_analogies do (case-insensitive, the first --restrict words):\n"
                           "Spearman and Pearson correlation of cosine similarity with the human scores of\n"
                           "WordSim-353 and SimLex-999, and the accuracy of 3CosAdd on the Google analogy\n"
                           "questions per section, semantic, syntactic (gram*) and total, all questions\n"
                           "answered in large batches on the device. Pairs and questions with a word outside\n"
                           "the vocabulary are skipped and counted.",
                           options, 0, 0};
    char dir[4096], path[4200];
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    if (data) snprintf(dir, sizeof dir, "%s", data);
    else default_data_dir(dir, sizeof dir);
    for (int i = 0; i < 3 && rc < 0; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, i < 2 ? pair_files[i] : ANALOGY_FILE);
        rc = check_file(path);
    }
    if (rc < 0) rc = wv_open(&w);
    for (int i = 0; i < 2 && rc < 0; i++) {
        oclnn_word_pairs_eval p;
        snprintf(path, sizeof path, "%s/%s", dir, pair_files[i]);
        if (oclnn_wordvec_eval_pairs(w.wv, path, w.restrict_vocab, &p)) {
            rc = cli_fail("word2vec-eval");
            break;
        }
        if (json)
            printf("{\"eval\":\"pairs\",\"file\":\"%s\",\"spearman\":%.17g,\"pearson\":%.17g,\"used\":%lld,"
                   "\"skipped\":%lld}\n", pair_files[i], p.spearman, p.pearson, (long long)p.used, (long long)p.oov);
        else
            printf("%-16s Spearman %7.4f  Pearson %7.4f  (%lld pairs, %lld skipped: unknown word)\n", pair_files[i],
                   p.spearman, p.pearson, (long long)p.used, (long long)p.oov);
    }
    if (rc < 0) {
        oclnn_analogy_eval a;
        snprintf(path, sizeof path, "%s/%s", dir, ANALOGY_FILE);
        if (oclnn_wordvec_eval_analogies(w.ctx, w.wv, path, w.restrict_vocab, &a)) {
            rc = cli_fail("word2vec-eval");
        } else {
            if (!json && w.restrict_vocab > 0)
                printf("%s (3CosAdd, first %lld words):\n", ANALOGY_FILE, w.restrict_vocab);
            else if (!json) printf("%s (3CosAdd, all words):\n", ANALOGY_FILE);
            for (int64_t i = 0; i < a.nsections; i++) print_analogy(&a.sections[i], json);
            print_analogy(&a.semantic, json);
            print_analogy(&a.syntactic, json);
            print_analogy(&a.total, json);
            oclnn_analogy_eval_free(&a);
            rc = CLI_EXIT_OK;
        }
    }
    wv_close(&w);
    return rc;
}
