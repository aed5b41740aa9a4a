// autopilot host run: the narrow bridge between a library profile's facade (namespace tflite, the
// sketch's API) and the host's 2020 TFLM (compiled into namespace tflite2020). Plain types only.
#ifndef AUTOPILOT_HOST_BRIDGE_H
#define AUTOPILOT_HOST_BRIDGE_H
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include "tensorflow/lite/c/common.h"

namespace autopilot_host {
struct Interpreter;
// Builds a 2020 interpreter for the model bytes with the operators the sketch registered.
Interpreter* create(const void* model_table, const char* const* ops, unsigned int op_count,
                    uint8_t* arena, size_t arena_size, TfLiteStatus* init_status);
void destroy(Interpreter* interpreter);
TfLiteStatus allocate(Interpreter* interpreter);
TfLiteStatus invoke(Interpreter* interpreter);
TfLiteStatus reset(Interpreter* interpreter);
TfLiteTensor* input(Interpreter* interpreter, size_t index);
TfLiteTensor* output(Interpreter* interpreter, size_t index);
size_t inputs_size(Interpreter* interpreter);
size_t outputs_size(Interpreter* interpreter);
size_t operators_size(Interpreter* interpreter);
size_t arena_used_bytes(Interpreter* interpreter);
// The host kernel of a builtin operator by schema name, or nullptr when the host lacks it.
const TfLiteRegistration* registration(const char* name);
// Writes through TFLM's DebugLog, like MicroPrintf on the board.
void vlog(const char* format, va_list args);
}  // namespace autopilot_host
#endif
