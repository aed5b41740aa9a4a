// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: kernels/fully_connected.h declares
// tflite::Register_FULLY_CONNECTED() (with the other registrations of micro_ops.h).
#include "tensorflow/lite/micro/kernels/micro_ops.h"
