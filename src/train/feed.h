/* Host side of a training loop that never waits for the device inside a
 * step (used by src/nn's training loops).
 *
 * A feed double-buffers the host staging memory of the inputs written every
 * step: the loop fills one set (feed_host) while the device still computes
 * the previous step, then feed_submit queues non-blocking writes of that set
 * and switches to the other. The queue is in order, so a write lands after
 * the kernels of the step before it; filling a set waits only for that
 * set's own previous write, which leaves the host at most two steps ahead.
 *
 * A scalar_reader reads a scalar output (the loss) without waiting: start
 * queues a non-blocking read (ignored while one is pending), poll reports it
 * once it has landed, or waits for it when asked to. */
#ifndef OCLNN_TRAIN_FEED_H
#define OCLNN_TRAIN_FEED_H

#include "graph/graph.h"

#define FEED_MAX 8

typedef struct train_feed {
    int count;
    oclnn_tensor *tensor[FEED_MAX];
    size_t bytes[FEED_MAX]; /* the tensor's size, and each staging buffer's */
    void *host[2][FEED_MAX];
    cl_event written[2];
    int cur;
} train_feed;

/* Staging for count tensors (each contiguous and persistent). */
oclnn_status feed_init(train_feed *f, int count, oclnn_tensor *const *tensors);
/* The current set's buffer for tensor i, once its previous write is done. */
oclnn_status feed_wait(train_feed *f);
static inline void *feed_host(train_feed *f, int i) { return f->host[f->cur][i]; }
/* Queues the writes of the current set (whole tensors), flushes, and
 * switches sets. */
oclnn_status feed_submit(train_feed *f);
void feed_release(train_feed *f);

typedef struct scalar_reader {
    oclnn_tensor *tensor;
    float value;
    cl_event pending;
    int64_t tag, pending_tag;
} scalar_reader;

oclnn_status scalar_start(scalar_reader *r, int64_t tag);
/* True when a read has landed (waiting for it if wait is set): r->value is
 * the scalar as it was when the read with r->tag was started. */
bool scalar_poll(scalar_reader *r, bool wait, oclnn_status *status);
void scalar_release(scalar_reader *r);

#endif
