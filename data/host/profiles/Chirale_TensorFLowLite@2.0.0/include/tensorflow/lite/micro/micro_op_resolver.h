// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: the op resolver base. On the host it
// only records which operators the sketch registered; the adapter resolves them.
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_OP_RESOLVER_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_OP_RESOLVER_H

#include "tensorflow/lite/c/common.h"

namespace tflite {

class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() {}
  unsigned int host_op_count() const { return host_count_; }
  const char* host_op(unsigned int i) const { return host_ops_[i]; }

 protected:
  // Registers an operator by its schema name; fails like the library when the resolver is full
  // or the operator is already registered.
  TfLiteStatus host_add(const char* name, unsigned int capacity);
  TfLiteStatus host_add_custom(const char* name, unsigned int capacity);

 private:
  const char* host_ops_[160] = {};
  unsigned int host_count_ = 0;
};

}  // namespace tflite

#endif
