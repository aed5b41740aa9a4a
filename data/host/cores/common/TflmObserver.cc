// autopilot host run: observes inference. Linked with -Wl,--wrap on the mangled
// tflite::MicroInterpreter::Invoke and ::AllocateTensors, so every call the sketch makes is
// logged with its input and output tensors (dequantized), whatever library implements them.
#include "HostRuntime.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

#include <cstdio>
#include <string>

extern "C" TfLiteStatus __real__ZN6tflite16MicroInterpreter6InvokeEv(tflite::MicroInterpreter*);
extern "C" TfLiteStatus __real__ZN6tflite16MicroInterpreter15AllocateTensorsEv(
    tflite::MicroInterpreter*);

namespace {
std::string values(const TfLiteTensor* t) {
  std::string out;
  if (!t) return out;
  size_t n = 0, width = 1;
  switch (t->type) {
    case kTfLiteFloat32: width = 4; break;
    case kTfLiteInt8: case kTfLiteUInt8: width = 1; break;
    case kTfLiteInt16: width = 2; break;
    case kTfLiteInt32: width = 4; break;
    default: return "?";
  }
  n = t->bytes / width;
  char buf[48];
  for (size_t i = 0; i < n && i < 64; i++) {
    double v = 0;
    switch (t->type) {
      case kTfLiteFloat32: v = t->data.f[i]; break;
      case kTfLiteInt8: v = (t->data.int8[i] - t->params.zero_point) * (double)t->params.scale; break;
      case kTfLiteUInt8: v = (t->data.uint8[i] - t->params.zero_point) * (double)t->params.scale; break;
      case kTfLiteInt16: v = (t->data.i16[i] - t->params.zero_point) * (double)t->params.scale; break;
      case kTfLiteInt32: v = t->data.i32[i]; break;
      default: break;
    }
    snprintf(buf, sizeof buf, "%s%.6g", i ? "," : "", v);
    out += buf;
  }
  return out;
}
}  // namespace

extern "C" TfLiteStatus __wrap__ZN6tflite16MicroInterpreter15AllocateTensorsEv(
    tflite::MicroInterpreter* self) {
  TfLiteStatus status = __real__ZN6tflite16MicroInterpreter15AllocateTensorsEv(self);
  host_log("allocate", "%llu\t%d\t%zu", (unsigned long long)host_now_us(), (int)status,
           status == kTfLiteOk ? self->arena_used_bytes() : (size_t)0);
  return status;
}

extern "C" TfLiteStatus __wrap__ZN6tflite16MicroInterpreter6InvokeEv(tflite::MicroInterpreter* self) {
  int object = host_object();
  unsigned long long t = (unsigned long long)host_now_us();
  std::string in = values(self->inputs_size() > 0 ? self->input(0) : nullptr);
  TfLiteStatus status = __real__ZN6tflite16MicroInterpreter6InvokeEv(self);
  std::string out = values(self->outputs_size() > 0 ? self->output(0) : nullptr);
  host_log("invoke", "%llu\t%d\t%d\t%s\t%s", t, object, (int)status, in.c_str(), out.c_str());
  return status;
}
