// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: the error reporter moved to
// tflite_bridge/ in this library, with GetMicroErrorReporter().
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_ERROR_REPORTER_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_ERROR_REPORTER_H
#include <cstdarg>
#include "tensorflow/lite/core/api/error_reporter.h"
namespace tflite {
ErrorReporter* GetMicroErrorReporter();
class MicroErrorReporter : public ErrorReporter {
 public:
  ~MicroErrorReporter() override {}
  int Report(const char* format, va_list args) override;
};
}  // namespace tflite
#endif
