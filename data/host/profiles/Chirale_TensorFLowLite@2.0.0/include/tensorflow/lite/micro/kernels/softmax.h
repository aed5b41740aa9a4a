// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: kernels/softmax.h declares
// tflite::Register_SOFTMAX() (with the other registrations of micro_ops.h).
#include "tensorflow/lite/micro/kernels/micro_ops.h"
