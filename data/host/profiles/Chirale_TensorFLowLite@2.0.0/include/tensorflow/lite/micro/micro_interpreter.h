// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: the MicroInterpreter of this library
// — no ErrorReporter argument; resource variables and profiler optional; TFLITE_SCHEMA_VERSION
// comes with this header. It runs the host's 2020 interpreter through the profile's adapter.
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_INTERPRETER_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_INTERPRETER_H

#include <cstddef>
#include <cstdint>

#include "flatbuffers/flatbuffers.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/core/api/error_reporter.h"
#include "tensorflow/lite/kernels/internal/tensor_ctypes.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/type_to_tflitetype.h"

#define TFLITE_SCHEMA_VERSION (3)

namespace tflite {

class MicroResourceVariables;
class MicroProfilerInterface;

class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena,
                   size_t tensor_arena_size, MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr);
  ~MicroInterpreter();

  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();

  TfLiteTensor* input(size_t index);
  size_t inputs_size() const;
  TfLiteTensor* output(size_t index);
  size_t outputs_size() const;

  template <class T>
  T* typed_input_tensor(int tensor_index) {
    if (TfLiteTensor* tensor_ptr = input(tensor_index)) {
      if (tensor_ptr->type == typeToTfLiteType<T>()) {
        return GetTensorData<T>(tensor_ptr);
      }
    }
    return nullptr;
  }

  template <class T>
  T* typed_output_tensor(int tensor_index) {
    if (TfLiteTensor* tensor_ptr = output(tensor_index)) {
      if (tensor_ptr->type == typeToTfLiteType<T>()) {
        return GetTensorData<T>(tensor_ptr);
      }
    }
    return nullptr;
  }

  TfLiteStatus Reset();
  TfLiteStatus initialization_status() const { return initialization_status_; }
  size_t operators_size() const;
  size_t arena_used_bytes() const;

 private:
  void* host_impl_ = nullptr;
  TfLiteStatus initialization_status_ = kTfLiteError;
};

}  // namespace tflite

#endif
