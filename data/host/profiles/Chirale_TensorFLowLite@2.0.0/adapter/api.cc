// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: the facade's functions, over the
// bridge to the host's 2020 interpreter.
#include <cstdio>
#include <cstring>

#include "bridge.h"
#include "tensorflow/lite/micro/all_ops_resolver.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/micro/tflite_bridge/micro_error_reporter.h"

void Log(const char* format, va_list args) { autopilot_host::vlog(format, args); }

void MicroPrintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  Log(format, args);
  va_end(args);
}

namespace tflite {

int ErrorReporter::Report(const char* format, ...) {
  va_list args;
  va_start(args, format);
  int code = Report(format, args);
  va_end(args);
  return code;
}

int MicroErrorReporter::Report(const char* format, va_list args) {
  Log(format, args);
  return 0;
}

ErrorReporter* GetMicroErrorReporter() {
  static MicroErrorReporter reporter;
  return &reporter;
}

void InitializeTarget() {}

TfLiteStatus MicroOpResolver::host_add(const char* name, unsigned int capacity) {
  for (unsigned int i = 0; i < host_count_; i++) {
    if (strcmp(host_ops_[i], name) == 0) {
      MicroPrintf("Calling AddBuiltin with the same op more than once is not supported (Op: %s).",
                  name);
      return kTfLiteError;
    }
  }
  if (host_count_ >= capacity || host_count_ >= sizeof host_ops_ / sizeof host_ops_[0]) {
    MicroPrintf("Couldn't register builtin op %s, resolver size is too small (%u).", name,
                capacity);
    return kTfLiteError;
  }
  host_ops_[host_count_++] = name;
  return kTfLiteOk;
}

TfLiteStatus MicroOpResolver::host_add_custom(const char* name, unsigned int capacity) {
  MicroPrintf("autopilot-host: unsupported_op custom %s", name);
  return host_add(name, capacity);
}

AllOpsResolver::AllOpsResolver() {
  AddAbs(); AddAdd(); AddAddN(); AddArgMax(); AddArgMin(); AddAssignVariable();
  AddAveragePool2D(); AddBatchToSpaceNd(); AddBroadcastArgs(); AddBroadcastTo(); AddCallOnce();
  AddCast(); AddCeil(); AddCircularBuffer(); AddConcatenation(); AddConv2D(); AddCos();
  AddCumSum(); AddDepthToSpace(); AddDepthwiseConv2D(); AddDequantize();
  AddDetectionPostprocess(); AddDiv(); AddElu(); AddEqual(); AddEthosU(); AddExp();
  AddExpandDims(); AddFill(); AddFloor(); AddFloorDiv(); AddFloorMod(); AddFullyConnected();
  AddGather(); AddGatherNd(); AddGreater(); AddGreaterEqual(); AddHardSwish(); AddIf();
  AddL2Normalization(); AddL2Pool2D(); AddLeakyRelu(); AddLess(); AddLessEqual(); AddLog();
  AddLogSoftmax(); AddLogicalAnd(); AddLogicalNot(); AddLogicalOr(); AddLogistic();
  AddMaxPool2D(); AddMaximum(); AddMean(); AddMinimum(); AddMirrorPad(); AddMul(); AddNeg();
  AddNotEqual(); AddPack(); AddPad(); AddPadV2(); AddPrelu(); AddQuantize(); AddReadVariable();
  AddReduceMax(); AddRelu(); AddRelu6(); AddReshape(); AddResizeBilinear();
  AddResizeNearestNeighbor(); AddRound(); AddRsqrt(); AddSelectV2(); AddShape(); AddSin();
  AddSlice(); AddSoftmax(); AddSpaceToBatchNd(); AddSpaceToDepth(); AddSplit(); AddSplitV();
  AddSqrt(); AddSquare(); AddSquaredDifference(); AddSqueeze(); AddStridedSlice(); AddSub();
  AddSum(); AddSvdf(); AddTanh(); AddTranspose(); AddTransposeConv();
  AddUnidirectionalSequenceLSTM(); AddUnpack(); AddVarHandle(); AddWhile(); AddZerosLike();
}

#define HOST_REGISTER(fn, name)                                  \
  TfLiteRegistration fn() {                                      \
    const TfLiteRegistration* r = autopilot_host::registration(name); \
    TfLiteRegistration none = {};                                \
    return r ? *r : none;                                        \
  }
HOST_REGISTER(Register_ADD, "ADD")
HOST_REGISTER(Register_AVERAGE_POOL_2D, "AVERAGE_POOL_2D")
HOST_REGISTER(Register_CONV_2D, "CONV_2D")
HOST_REGISTER(Register_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D")
HOST_REGISTER(Register_FULLY_CONNECTED, "FULLY_CONNECTED")
HOST_REGISTER(Register_LOGISTIC, "LOGISTIC")
HOST_REGISTER(Register_MAX_POOL_2D, "MAX_POOL_2D")
HOST_REGISTER(Register_MUL, "MUL")
HOST_REGISTER(Register_QUANTIZE, "QUANTIZE")
HOST_REGISTER(Register_RELU, "RELU")
HOST_REGISTER(Register_RELU6, "RELU6")
HOST_REGISTER(Register_SOFTMAX, "SOFTMAX")
HOST_REGISTER(Register_SUB, "SUB")
HOST_REGISTER(Register_SVDF, "SVDF")
namespace ops {
namespace micro {
HOST_REGISTER(Register_RESHAPE, "RESHAPE")
HOST_REGISTER(Register_ROUND, "ROUND")
HOST_REGISTER(Register_TANH, "TANH")
}  // namespace micro
}  // namespace ops

MicroInterpreter::MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver,
                                   uint8_t* tensor_arena, size_t tensor_arena_size,
                                   MicroResourceVariables*, MicroProfilerInterface*) {
  const char* ops[160];
  unsigned int count = op_resolver.host_op_count();
  for (unsigned int i = 0; i < count; i++) ops[i] = op_resolver.host_op(i);
  host_impl_ = autopilot_host::create(model, ops, count, tensor_arena, tensor_arena_size,
                                      &initialization_status_);
}

MicroInterpreter::~MicroInterpreter() {
  autopilot_host::destroy(static_cast<autopilot_host::Interpreter*>(host_impl_));
}

#define HOST_IMPL static_cast<autopilot_host::Interpreter*>(host_impl_)
TfLiteStatus MicroInterpreter::AllocateTensors() { return autopilot_host::allocate(HOST_IMPL); }
TfLiteStatus MicroInterpreter::Invoke() { return autopilot_host::invoke(HOST_IMPL); }
TfLiteStatus MicroInterpreter::Reset() { return autopilot_host::reset(HOST_IMPL); }
TfLiteTensor* MicroInterpreter::input(size_t i) { return autopilot_host::input(HOST_IMPL, i); }
TfLiteTensor* MicroInterpreter::output(size_t i) { return autopilot_host::output(HOST_IMPL, i); }
size_t MicroInterpreter::inputs_size() const { return autopilot_host::inputs_size(HOST_IMPL); }
size_t MicroInterpreter::outputs_size() const { return autopilot_host::outputs_size(HOST_IMPL); }
size_t MicroInterpreter::operators_size() const { return autopilot_host::operators_size(HOST_IMPL); }
size_t MicroInterpreter::arena_used_bytes() const {
  return autopilot_host::arena_used_bytes(HOST_IMPL);
}

}  // namespace tflite
