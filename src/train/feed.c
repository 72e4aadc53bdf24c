/* Double-buffered input staging and non-blocking scalar reads (feed.h). */
#include "train/feed.h"

#include <stdlib.h>
#include <string.h>

static oclnn_status wait_release(cl_event *e)
{
    if (!*e) return OCLNN_OK;
    cl_int err = clWaitForEvents(1, e);
    clReleaseEvent(*e);
    *e = NULL;
    return oclnn_cl_check(err, "clWaitForEvents", "training input");
}

oclnn_status feed_init(train_feed *f, int count, oclnn_tensor *const *tensors)
{
    memset(f, 0, sizeof *f);
    if (count > FEED_MAX) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "training feed: more than %d inputs", FEED_MAX);
    f->count = count;
    for (int i = 0; i < count; i++) {
        f->tensor[i] = tensors[i];
        f->bytes[i] = (size_t)oclnn_tensor_numel(tensors[i]) * oclnn_dtype_size(oclnn_tensor_dtype(tensors[i]));
        for (int set = 0; set < 2; set++)
            if (!(f->host[set][i] = calloc(f->bytes[i] ? f->bytes[i] : 1, 1))) {
                feed_release(f);
                return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "training feed: out of host memory");
            }
    }
    return OCLNN_OK;
}

oclnn_status feed_wait(train_feed *f) { return wait_release(&f->written[f->cur]); }

oclnn_status feed_submit(train_feed *f)
{
    oclnn_status s = wait_release(&f->written[f->cur]);
    for (int i = 0; i < f->count && !s; i++) {
        cl_event e = NULL;
        s = oclnn_tensor_write_async(f->tensor[i], f->host[f->cur][i], f->bytes[i], &e);
        if (e && f->written[f->cur]) clReleaseEvent(f->written[f->cur]); /* in order: the last write covers all */
        if (e) f->written[f->cur] = e;
    }
    if (!s && f->count)
        s = oclnn_cl_check(clFlush(f->tensor[0]->graph->ctx->queue), "clFlush", "training input");
    f->cur ^= 1;
    return s;
}

void feed_release(train_feed *f)
{
    for (int set = 0; set < 2; set++) {
        wait_release(&f->written[set]);
        for (int i = 0; i < f->count; i++) free(f->host[set][i]);
    }
    memset(f, 0, sizeof *f);
}

oclnn_status scalar_start(scalar_reader *r, int64_t tag)
{
    if (r->pending) return OCLNN_OK;
    r->pending_tag = tag;
    return oclnn_tensor_read_async(r->tensor, &r->value, sizeof r->value, &r->pending);
}

bool scalar_poll(scalar_reader *r, bool wait, oclnn_status *status)
{
    if (!r->pending) return false;
    cl_int state = CL_QUEUED;
    if (!wait) {
        cl_int err = clGetEventInfo(r->pending, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL);
        if (err) {
            *status = oclnn_cl_check(err, "clGetEventInfo", "loss read");
            return false;
        }
        if (state < 0) {
            *status = oclnn_cl_check(state, "clEnqueueReadBuffer", "loss read");
            return false;
        }
        if (state != CL_COMPLETE) return false;
    }
    oclnn_status s = wait_release(&r->pending);
    if (s) {
        *status = s;
        return false;
    }
    r->tag = r->pending_tag;
    return true;
}

void scalar_release(scalar_reader *r)
{
    wait_release(&r->pending);
}
