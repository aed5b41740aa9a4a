// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: core/c/common.h (the library's new
// home of the C API types) presents the same types as c/common.h.
#include "tensorflow/lite/c/common.h"
