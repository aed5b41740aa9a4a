// autopilot host run: the 2020 side of the bridge. Compiled with -Dtflite=tflite2020 against the
// tfmicro sources, like the host TFLM library itself.
#include <cstdio>
#include <cstring>
#include <new>

#include "bridge.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/micro_error_reporter.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/micro_string.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace autopilot_host {
namespace {
namespace ops = tflite::ops::micro;
struct Kernel {
  const char* name;
  TfLiteRegistration* (*reg)();
};
// The 2020 kernels (those of its AllOpsResolver).
const Kernel kKernels[] = {
    {"FULLY_CONNECTED", ops::Register_FULLY_CONNECTED}, {"MAX_POOL_2D", ops::Register_MAX_POOL_2D},
    {"SOFTMAX", ops::Register_SOFTMAX}, {"LOGISTIC", ops::Register_LOGISTIC},
    {"SVDF", ops::Register_SVDF}, {"CONV_2D", ops::Register_CONV_2D},
    {"CONCATENATION", ops::Register_CONCATENATION},
    {"DEPTHWISE_CONV_2D", ops::Register_DEPTHWISE_CONV_2D},
    {"AVERAGE_POOL_2D", ops::Register_AVERAGE_POOL_2D}, {"ABS", ops::Register_ABS},
    {"SIN", ops::Register_SIN}, {"COS", ops::Register_COS}, {"LOG", ops::Register_LOG},
    {"SQRT", ops::Register_SQRT}, {"RSQRT", ops::Register_RSQRT},
    {"SQUARE", ops::Register_SQUARE}, {"PRELU", ops::Register_PRELU},
    {"FLOOR", ops::Register_FLOOR}, {"MAXIMUM", ops::Register_MAXIMUM},
    {"MINIMUM", ops::Register_MINIMUM}, {"ARG_MAX", ops::Register_ARG_MAX},
    {"ARG_MIN", ops::Register_ARG_MIN}, {"LOGICAL_OR", ops::Register_LOGICAL_OR},
    {"LOGICAL_AND", ops::Register_LOGICAL_AND}, {"LOGICAL_NOT", ops::Register_LOGICAL_NOT},
    {"RESHAPE", ops::Register_RESHAPE}, {"EQUAL", ops::Register_EQUAL},
    {"NOT_EQUAL", ops::Register_NOT_EQUAL}, {"GREATER", ops::Register_GREATER},
    {"GREATER_EQUAL", ops::Register_GREATER_EQUAL}, {"LESS", ops::Register_LESS},
    {"LESS_EQUAL", ops::Register_LESS_EQUAL}, {"CEIL", ops::Register_CEIL},
    {"ROUND", ops::Register_ROUND}, {"STRIDED_SLICE", ops::Register_STRIDED_SLICE},
    {"PACK", ops::Register_PACK}, {"PAD", ops::Register_PAD}, {"PADV2", ops::Register_PADV2},
    {"SPLIT", ops::Register_SPLIT}, {"UNPACK", ops::Register_UNPACK}, {"NEG", ops::Register_NEG},
    {"ADD", ops::Register_ADD}, {"MUL", ops::Register_MUL}, {"SUB", ops::Register_SUB},
    {"QUANTIZE", ops::Register_QUANTIZE}, {"DEQUANTIZE", ops::Register_DEQUANTIZE},
    {"RELU", ops::Register_RELU}, {"RELU6", ops::Register_RELU6}, {"MEAN", ops::Register_MEAN},
    {"L2_NORMALIZATION", ops::Register_L2_NORMALIZATION}, {"TANH", ops::Register_TANH},
};

typedef tflite::MicroMutableOpResolver<160> Resolver;

bool registered(const char* const* ops, unsigned int count, const char* name) {
  for (unsigned int i = 0; i < count; i++)
    if (strcmp(ops[i], name) == 0) return true;
  return false;
}
}  // namespace

struct Interpreter {
  tflite::MicroErrorReporter reporter;
  Resolver resolver;
  tflite::MicroInterpreter* interpreter;
};

const TfLiteRegistration* registration(const char* name) {
  for (const Kernel& k : kKernels)
    if (strcmp(k.name, name) == 0) return k.reg();
  return nullptr;
}

Interpreter* create(const void* model_table, const char* const* ops, unsigned int op_count,
                    uint8_t* arena, size_t arena_size, TfLiteStatus* init_status) {
  Interpreter* self = new Interpreter();
  // The facade hands over the sketch's `const tflite::Model*`: the same flatbuffer table.
  const tflite::Model* model = static_cast<const tflite::Model*>(model_table);
  // The operators the model needs: registered and on the host → the host kernel; registered but
  // not on the host → reported unsupported (never a pass); not registered → left out, so the
  // interpreter fails as the board's would.
  auto codes = model->operator_codes();
  for (unsigned int i = 0; codes && i < codes->size(); i++) {
    tflite::BuiltinOperator op = codes->Get(i)->builtin_code();
    const char* name = tflite::EnumNameBuiltinOperator(op);
    if (!registered(ops, op_count, name)) continue;
    TfLiteRegistration* reg = nullptr;
    for (const Kernel& k : kKernels)
      if (strcmp(k.name, name) == 0) reg = k.reg();
    if (!reg) {
      char line[128];
      snprintf(line, sizeof line, "autopilot-host: unsupported_op %s\n", name);
      DebugLog(line);
      continue;
    }
    if (!self->resolver.FindOp(op, 0))
      self->resolver.AddBuiltin(op, reg, tflite::MicroOpResolverAnyVersion());
  }
  self->interpreter = new tflite::MicroInterpreter(model, self->resolver, arena, arena_size,
                                                   &self->reporter);
  *init_status = self->interpreter->initialization_status();
  return self;
}

void destroy(Interpreter* self) {
  delete self->interpreter;
  delete self;
}
TfLiteStatus allocate(Interpreter* self) { return self->interpreter->AllocateTensors(); }
TfLiteStatus invoke(Interpreter* self) { return self->interpreter->Invoke(); }
TfLiteStatus reset(Interpreter* self) { return self->interpreter->ResetVariableTensors(); }
TfLiteTensor* input(Interpreter* self, size_t i) { return self->interpreter->input(i); }
TfLiteTensor* output(Interpreter* self, size_t i) { return self->interpreter->output(i); }
size_t inputs_size(Interpreter* self) { return self->interpreter->inputs_size(); }
size_t outputs_size(Interpreter* self) { return self->interpreter->outputs_size(); }
size_t operators_size(Interpreter* self) { return self->interpreter->operators_size(); }
size_t arena_used_bytes(Interpreter* self) { return self->interpreter->arena_used_bytes(); }

void vlog(const char* format, va_list args) {
  char line[512];
  MicroVsnprintf(line, sizeof line - 1, format, args);
  strcat(line, "\n");
  DebugLog(line);
}
}  // namespace autopilot_host
