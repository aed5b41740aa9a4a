// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: kernels/depthwise_conv.h declares
// tflite::Register_DEPTHWISE_CONV_2D() (with the other registrations of micro_ops.h).
#include "tensorflow/lite/micro/kernels/micro_ops.h"
