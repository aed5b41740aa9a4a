// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: MicroPrintf is a global function.
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_LOG_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_LOG_H
#include <cstdarg>
void MicroPrintf(const char* format, ...);
void VMicroPrintf(const char* format, va_list args);
#endif
