package org.leanseg.backend.cuda;

/**
 * Every size of one convolution as cuDNN needs it (the backend imports no ops: the op's CUDA binding
 * fills this from its geometry, whose output sizes come from ShapeMath). Also the key of the
 * per-shape descriptor and algorithm cache.
 */
public record ConvShape(int n, int cin, int h, int w, int cout, int kh, int kw, int hOut, int wOut,
                        int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {
}
