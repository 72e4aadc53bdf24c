/* oclnn tokenize: texts -> BERT WordPiece token ids (or pieces), one line per
 * text, exactly as the model sees them: [CLS] ... [SEP], truncated to
 * --max-length. Host only: no OpenCL device is opened. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_row(const oclnn_tokenizer *tok, const oclnn_token_batch *b, int64_t row, int pieces)
{
    const int32_t *ids = b->ids + row * b->length;
    for (int64_t i = 0; i < b->lengths[row]; i++) {
        if (i) putchar(' ');
        if (pieces) fputs(oclnn_tokenizer_piece(tok, ids[i]), stdout);
        else printf("%d", ids[i]);
    }
    putchar('\n');
}

/* Encodes one text (or pair) and prints it; returns an exit status. */
static int tokenize_one(const oclnn_tokenizer *tok, const char *a, const char *b, long long max_length, int pieces,
                        const char *where)
{
    oclnn_token_batch enc;
    if (oclnn_tokenizer_encode(tok, a, b, max_length, &enc)) {
        cli_error("tokenize: %s: %s", where, oclnn_last_error());
        return CLI_EXIT_FAIL;
    }
    print_row(tok, &enc, 0, pieces);
    oclnn_token_batch_free(&enc);
    return CLI_EXIT_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL;
    int tokens = 0, pair = 0;
    long long max_length = OCLNN_TOKENIZER_MAX_LENGTH;
    const cli_option options[] = {
        {"model", CLI_STRING, &model, "DIR",
         "model directory holding vocab.txt (scripts/get-model.sh prints it), or a vocab.txt file", 0, 0},
        {"tokens", CLI_FLAG, &tokens, NULL, "print the word pieces instead of their ids", 0, 0},
        {"max-length", CLI_INT, &max_length, "N",
         "keep at most N tokens per line, [CLS] and [SEP] included; 0: no limit (default 256)", 0, 1 << 30},
        {"pair", CLI_FLAG, &pair, NULL,
         "texts are pairs (A B A B ...; stdin lines: A<TAB>B): [CLS] A [SEP] B [SEP], cut longest-first", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "tokenize", "[TEXT...]",
        "Prints the token ids of each TEXT, one line per text (per pair with\n"
        "--pair), as BERT's uncased WordPiece tokenizer makes them (Hugging Face's\n"
        "BertTokenizer): [CLS] text [SEP], lower-cased, accents stripped, split at\n"
        "punctuation and into the vocabulary's word pieces. Without TEXT, each line\n"
        "of standard input is one text.",
        options, 0, argc};
    char **texts = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *texts);
    if (!texts) {
        cli_error("tokenize: out of memory");
        return CLI_EXIT_FAIL;
    }
    int ntexts = 0;
    int rc = cli_parse(&spec, argc, argv, texts, &ntexts);
    if (rc >= 0) goto out;
    if (!model) {
        rc = cli_usage_error("tokenize", "--model DIR is required (scripts/get-model.sh minilm prints one)");
        goto out;
    }
    if (max_length > 0 && max_length < (pair ? 3 : 2)) {
        rc = cli_usage_error("tokenize", "--max-length %lld leaves no room for the special tokens (at least %d)",
                             max_length, pair ? 3 : 2);
        goto out;
    }
    if (pair && ntexts % 2) {
        rc = cli_usage_error("tokenize", "--pair needs an even number of texts (got %d)", ntexts);
        goto out;
    }

    oclnn_tokenizer *tok;
    if (oclnn_tokenizer_load(model, &tok)) {
        rc = cli_fail("cannot load the tokenizer");
        goto out;
    }
    rc = CLI_EXIT_OK;
    char where[64];
    if (ntexts > 0) {
        for (int i = 0; i < ntexts && rc == CLI_EXIT_OK; i += pair ? 2 : 1) {
            snprintf(where, sizeof where, "text %d", i + 1);
            rc = tokenize_one(tok, texts[i], pair ? texts[i + 1] : NULL, max_length, tokens, where);
        }
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long long lineno = 0;
        while (rc == CLI_EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
            if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
            char *b = NULL;
            if (pair) {
                b = strchr(line, '\t');
                if (!b) {
                    cli_error("tokenize: stdin line %lld has no TAB between the two texts of the pair", lineno);
                    rc = CLI_EXIT_FAIL;
                    break;
                }
                *b++ = '\0';
            }
            snprintf(where, sizeof where, "stdin line %lld", lineno);
            rc = tokenize_one(tok, line, b, max_length, tokens, where);
        }
        free(line);
    }
    oclnn_tokenizer_free(tok);
    if (fflush(stdout) && rc == CLI_EXIT_OK) rc = CLI_EXIT_FAIL;
out:
    free(texts);
    return rc;
}
