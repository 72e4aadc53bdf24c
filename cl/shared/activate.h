/* The conv paths' fused activation, -D ACT: 0 none, 1 relu (pasted into
 * cl/conv.cl and cl/conv_winograd.cl by cmake/embed_cl.cmake, so the
 * im2col and Winograd convs apply the same one). */
float activate(float v)
{
#if ACT == 1
    return v > 0.0f ? v : 0.0f;
#else
    return v;
#endif
}
