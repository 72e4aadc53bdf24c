#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

static _Thread_local char last_message[4096];

const char *oclnn_last_error(void) { return last_message; }

oclnn_status oclnn_fail(oclnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

oclnn_status oclnn_fail_append(oclnn_status status, const char *fmt, ...)
{
    size_t len = strlen(last_message);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message + len, sizeof last_message - len, fmt, ap);
    va_end(ap);
    return status;
}

const char *oclnn_status_name(oclnn_status status)
{
    switch (status) {
    case OCLNN_OK: return "OCLNN_OK";
    case OCLNN_ERR_INVALID_ARG: return "OCLNN_ERR_INVALID_ARG";
    case OCLNN_ERR_NO_DEVICE: return "OCLNN_ERR_NO_DEVICE";
    case OCLNN_ERR_OPENCL: return "OCLNN_ERR_OPENCL";
    case OCLNN_ERR_BUILD: return "OCLNN_ERR_BUILD";
    case OCLNN_ERR_SHAPE: return "OCLNN_ERR_SHAPE";
    case OCLNN_ERR_IO: return "OCLNN_ERR_IO";
    case OCLNN_ERR_FORMAT: return "OCLNN_ERR_FORMAT";
    case OCLNN_ERR_OUT_OF_MEMORY: return "OCLNN_ERR_OUT_OF_MEMORY";
    case OCLNN_ERR_UNSUPPORTED: return "OCLNN_ERR_UNSUPPORTED";
    case OCLNN_ERR_NOT_FOUND: return "OCLNN_ERR_NOT_FOUND";
    }
    return "OCLNN_ERR_UNKNOWN";
}

const char *oclnn_cl_error_name(int code)
{
    switch (code) {
#define N(x) case x: return #x;
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE) N(CL_COMPILER_NOT_AVAILABLE)
    N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
    N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH)
    N(CL_IMAGE_FORMAT_NOT_SUPPORTED) N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
    N(CL_MISALIGNED_SUB_BUFFER_OFFSET) N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE)
    N(CL_DEVICE_PARTITION_FAILED) N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    N(CL_INVALID_VALUE) N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE)
    N(CL_INVALID_CONTEXT) N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE)
    N(CL_INVALID_HOST_PTR) N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    N(CL_INVALID_IMAGE_SIZE) N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS)
    N(CL_INVALID_PROGRAM) N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME)
    N(CL_INVALID_KERNEL_DEFINITION) N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX)
    N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE) N(CL_INVALID_KERNEL_ARGS)
    N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE) N(CL_INVALID_WORK_ITEM_SIZE)
    N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST) N(CL_INVALID_EVENT)
    N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE)
    N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
    N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS)
    N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
}

oclnn_status oclnn_cl_check(int code, const char *call, const char *op)
{
    if (code == CL_SUCCESS) return OCLNN_OK;
    oclnn_status s = (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_HOST_MEMORY)
                         ? OCLNN_ERR_OUT_OF_MEMORY : OCLNN_ERR_OPENCL;
    return oclnn_fail(s, "%s failed with %s (%d) in op '%s'", call, oclnn_cl_error_name(code), code,
                      op ? op : "(none)");
}
