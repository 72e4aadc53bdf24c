/* oclnn BERT: pretrained BERT-architecture encoders (src/nn/bert.c) and
 * their sentence embeddings, e.g. sentence-transformers' all-MiniLM-L6-v2.
 *
 * A model folder holds, as Hugging Face writes them:
 *   config.json        hidden_size, num_hidden_layers, num_attention_heads,
 *                      intermediate_size, max_position_embeddings,
 *                      type_vocab_size, vocab_size, layer_norm_eps,
 *                      hidden_act ("gelu", "gelu_new"/"gelu_pytorch_tanh",
 *                      "relu"), position_embedding_type "absolute" if given;
 *   vocab.txt          the WordPiece vocabulary (tokenizer.h);
 *   model.safetensors  BertModel's state_dict: "embeddings.word_embeddings.
 *                      weight", "encoder.layer.0.attention.self.query.weight",
 *                      ... with or without a "bert." prefix (BertFor* heads
 *                      and other extra tensors are ignored); F32, F16 or BF16;
 *                      "pooler.dense.*" optional;
 *   1_Pooling/config.json (optional) sentence-transformers' pooling: mean
 *                      (the default) or the [CLS] token.
 * A missing file, a missing tensor or one whose shape disagrees with
 * config.json is an error naming the file and the tensor.
 *
 * The encoder is BERT's post-LN Transformer: embeddings (word + position +
 * token type, LayerNorm), then per layer self-attention over the real
 * tokens (padding is masked, as the attention_mask of Hugging Face), add &
 * LayerNorm, feed-forward (GELU), add & LayerNorm; the pooler is
 * tanh(dense(hidden of [CLS])). The sentence embedding is the mean of the
 * last hidden states over the real tokens, L2-normalised
 * (sentence-transformers' Pooling + Normalize). */
#ifndef OCLNN_BERT_H
#define OCLNN_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "oclnn/graph.h"
#include "oclnn/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oclnn_bert_activation {
    OCLNN_BERT_GELU = 0,      /* "gelu": the exact erf form */
    OCLNN_BERT_GELU_TANH = 1, /* "gelu_new", "gelu_pytorch_tanh", "gelu_fast" */
    OCLNN_BERT_RELU = 2
} oclnn_bert_activation;

typedef enum oclnn_bert_pooling { OCLNN_BERT_POOL_MEAN = 0, OCLNN_BERT_POOL_CLS = 1 } oclnn_bert_pooling;

typedef struct oclnn_bert_config {
    int64_t vocab_size, hidden_size, num_layers, num_heads, intermediate_size;
    int64_t max_position_embeddings, type_vocab_size;
    float layer_norm_eps;
    oclnn_bert_activation activation;
    int pooler;                 /* the checkpoint has pooler.dense.*: build the pooler */
    oclnn_bert_pooling pooling; /* of the sentence embedding */
} oclnn_bert_config;

/* Reads config.json (path: the file or the model folder). Missing keys get
 * BERT's defaults except hidden_size, num_hidden_layers and
 * num_attention_heads, which are required. OCLNN_ERR_IO / OCLNN_ERR_FORMAT
 * name the file and the key. cfg->pooler is left 0 (the weights decide). */
oclnn_status oclnn_bert_config_load(const char *path, oclnn_bert_config *cfg);

/* ---- The graph. Parameters get Hugging Face's BertModel names (no
 * prefix): embeddings.word_embeddings.weight, embeddings.position_embeddings.
 * weight, embeddings.token_type_embeddings.weight, embeddings.LayerNorm.
 * {weight,bias}, encoder.layer.<i>.attention.self.{query,key,value}.{weight,
 * bias}, encoder.layer.<i>.attention.output.{dense,LayerNorm}.{weight,bias},
 * encoder.layer.<i>.intermediate.dense.{weight,bias}, encoder.layer.<i>.
 * output.{dense,LayerNorm}.{weight,bias}, pooler.dense.{weight,bias}.
 *
 * Inputs, all [N, L] i32: ids, type_ids (NULL: all 0) and pad (nonzero =
 * padding, i.e. 1 - attention_mask; NULL: no padding); pool_weights f32
 * [N, L, 1] weights the tokens of the sentence embedding (1 / real tokens
 * for a real token, 0 for padding: the mean; NULL: no sentence output).
 * L <= max_position_embeddings. */
typedef struct oclnn_bert_outputs {
    oclnn_tensor *last_hidden; /* [N, L, hidden] */
    oclnn_tensor *pooler;      /* [N, hidden], NULL without a pooler */
    oclnn_tensor *sentence;    /* [N, hidden] L2-normalised pooled embedding, NULL without pool_weights */
} oclnn_bert_outputs;
oclnn_status oclnn_bert_build(oclnn_graph *g, const oclnn_bert_config *cfg, oclnn_tensor *ids, oclnn_tensor *type_ids,
                              oclnn_tensor *pad, oclnn_tensor *pool_weights, oclnn_bert_outputs *out);

/* ---- A loaded model: weights on the device once, a compiled graph per
 * (batch, length bucket) sharing them (oclnn_graph_share_params), so a
 * batch of short sentences runs a short graph. Lengths are rounded up to a
 * bucket: multiples of 8 up to 64, of 16 up to 128, of 32 up to 256, of 64
 * beyond. Not thread-safe. */
typedef struct oclnn_bert oclnn_bert;

/* dir: the model folder (see the top of this file). */
oclnn_status oclnn_bert_load(oclnn_context *ctx, const char *dir, oclnn_bert **out);
void oclnn_bert_free(oclnn_bert *m); /* NULL is fine */
const oclnn_bert_config *oclnn_bert_get_config(const oclnn_bert *m);
const oclnn_tokenizer *oclnn_bert_tokenizer(const oclnn_bert *m);
/* The bucket a sequence of `length` tokens runs in. */
int64_t oclnn_bert_bucket(int64_t length);

/* Runs one encoded batch (tokenizer.h; batch->length <=
 * max_position_embeddings) as one graph. Each output may be NULL:
 * last_hidden [count, length, hidden] (padding rows included, as Hugging
 * Face returns them), pooler [count, hidden] (needs cfg->pooler), sentence
 * [count, hidden]. */
oclnn_status oclnn_bert_forward(oclnn_bert *m, const oclnn_token_batch *batch, float *last_hidden, float *pooler,
                                float *sentence);

/* Sentence embeddings of count texts into out [count, hidden]: texts are
 * tokenized (truncated to max_length tokens, 0: OCLNN_TOKENIZER_MAX_LENGTH,
 * at most max_position_embeddings), sorted by length and run `batch` at a
 * time (0: 32), so every batch pads only to its own longest text's bucket.
 * progress (may be NULL) is called after each batch with the texts done. */
typedef void (*oclnn_bert_progress_fn)(void *user, int64_t done, int64_t total);
oclnn_status oclnn_bert_embed(oclnn_bert *m, int64_t count, const char *const *texts, int64_t max_length,
                              int64_t batch, float *out, oclnn_bert_progress_fn progress, void *user);

/* ---- Fine-tuning for text classification: a head on the mean-pooled
 * embedding (dropout, then classifier.weight [classes, hidden] and
 * classifier.bias, N(0, 0.02) / zero init as Hugging Face does) and the
 * whole encoder trained with AdamW (weight decay on every parameter), the
 * learning rate warmed up linearly over the first `warmup` fraction of the
 * steps and decayed linearly to 0, cross-entropy loss. Texts are truncated
 * to max_length tokens; every batch is padded to one length bucket (the
 * longest text's), a last partial training batch per epoch is dropped
 * (the order is reshuffled every epoch). */
typedef struct oclnn_bert_finetune_options {
    int epochs;           /* 0: 3 */
    int64_t batch;        /* 0: 32 */
    double lr;            /* 0: 5e-5 */
    double weight_decay;  /* AdamW's; < 0: 0, 0: 0.01 */
    double warmup;        /* fraction of the steps; 0: 0.1, < 0: none */
    double dropout;       /* before the classifier; 0: 0.1, < 0: none */
    int64_t max_length;   /* 0: 128 */
    uint64_t seed;        /* shuffling, dropout, head init */
    /* called every `report_every` steps (0: never) and after each epoch */
    int64_t report_every;
    void (*on_step)(void *user, int epoch, int64_t step, int64_t steps, double loss, double lr);
    void (*on_epoch)(void *user, int epoch, double train_loss, double test_accuracy, double seconds);
    void *user;
} oclnn_bert_finetune_options;

typedef struct oclnn_text_dataset {
    int64_t count;
    const char *const *texts;
    const int32_t *labels; /* in [0, classes) */
} oclnn_text_dataset;

/* Fine-tunes the model in model_dir on train, reporting accuracy on test
 * after each epoch (*accuracy: the last one; may be NULL). save_dir (NULL:
 * do not save) receives a model folder: config.json, vocab.txt (and
 * 1_Pooling/config.json) copied, model.safetensors with BertModel's names
 * (the pooler copied unchanged) plus classifier.weight and classifier.bias:
 * oclnn_bert_load, `oclnn embed` and transformers' BertModel.from_pretrained
 * read it. */
oclnn_status oclnn_bert_finetune(oclnn_context *ctx, const char *model_dir, int classes,
                                 const oclnn_text_dataset *train, const oclnn_text_dataset *test,
                                 const oclnn_bert_finetune_options *options, const char *save_dir, double *accuracy);

/* The folder scripts/get-model.sh puts a model in: $OCLNN_DATA/models/<name>
 * when OCLNN_DATA is set, else ${XDG_DATA_HOME:-~/.local/share}/oclnn/
 * models/<name>. Returns buf, or NULL when it does not fit. */
const char *oclnn_model_dir(const char *name, char *buf, size_t size);
#define OCLNN_MINILM_NAME "all-MiniLM-L6-v2"

#ifdef __cplusplus
}
#endif
#endif
