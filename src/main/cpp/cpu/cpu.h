// LeanSeg cpu backend: declarations shared by the JNI bindings (jni.cpp), the oneDNN convolutions
// (conv.cpp) and our own kernels (kernels.cpp). Every tensor is a plain row-major float array in the
// planned native arena; integer tensors (labels) hold exact float values, as on the reference backend.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include "oneapi/dnnl/dnnl.hpp"

namespace leanseg_cpu {

dnnl::engine& eng();
dnnl::stream& strm();

// kind: 0 forward, 1 backward data, 2 backward weights. geo: N C H W O kh kw sh sw ph pw dh dw G Ho Wo.
long long conv_workspace(int kind, const int* geo, bool bias);
void conv_run(int kind, const int* geo, void* a, void* b, void* bias, void* out, void* ws);
std::string conv_impl(int kind, const int* geo, bool bias);

}  // namespace leanseg_cpu
