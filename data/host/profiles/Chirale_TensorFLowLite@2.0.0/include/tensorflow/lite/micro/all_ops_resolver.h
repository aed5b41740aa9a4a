// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: tflite::AllOpsResolver (still
// present in this library) registers every operator the library has.
#ifndef AUTOPILOT_HOST_CHIRALE_ALL_OPS_RESOLVER_H
#define AUTOPILOT_HOST_CHIRALE_ALL_OPS_RESOLVER_H
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
namespace tflite {
class AllOpsResolver : public MicroMutableOpResolver<128> {
 public:
  AllOpsResolver();
};
}  // namespace tflite
#endif
