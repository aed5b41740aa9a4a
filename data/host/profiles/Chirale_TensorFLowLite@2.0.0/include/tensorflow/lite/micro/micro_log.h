// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: MicroPrintf is a global function.
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_LOG_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_LOG_H
#include <cstdarg>
void Log(const char* format, va_list args);
void MicroPrintf(const char* format, ...);
namespace tflite {
template <typename... Args>
void Unused(Args&&... args) {
  (void)(sizeof...(args));
}
}  // namespace tflite
#endif
