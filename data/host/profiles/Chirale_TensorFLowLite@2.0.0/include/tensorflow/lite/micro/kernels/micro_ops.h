// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: registrations. Most operators are in
// plain tflite::; some (RESHAPE, TANH, …) are still in tflite::ops::micro.
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_OPS_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_OPS_H
#include "tensorflow/lite/c/common.h"
namespace tflite {
TfLiteRegistration Register_ADD();
TfLiteRegistration Register_AVERAGE_POOL_2D();
TfLiteRegistration Register_CONV_2D();
TfLiteRegistration Register_DEPTHWISE_CONV_2D();
TfLiteRegistration Register_FULLY_CONNECTED();
TfLiteRegistration Register_LOGISTIC();
TfLiteRegistration Register_MAX_POOL_2D();
TfLiteRegistration Register_MUL();
TfLiteRegistration Register_QUANTIZE();
TfLiteRegistration Register_RELU();
TfLiteRegistration Register_RELU6();
TfLiteRegistration Register_SOFTMAX();
TfLiteRegistration Register_SUB();
TfLiteRegistration Register_SVDF();
namespace ops {
namespace micro {
TfLiteRegistration Register_RESHAPE();
TfLiteRegistration Register_ROUND();
TfLiteRegistration Register_TANH();
}  // namespace micro
}  // namespace ops
}  // namespace tflite
#endif
