// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: kernels/conv.h declares
// tflite::Register_CONV_2D() (with the other registrations of micro_ops.h).
#include "tensorflow/lite/micro/kernels/micro_ops.h"
