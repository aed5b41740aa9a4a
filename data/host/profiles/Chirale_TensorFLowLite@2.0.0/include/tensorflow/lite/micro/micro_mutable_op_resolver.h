// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: the public API of
// MicroMutableOpResolver as that library presents it (one Add<Op>() per operator, AddBuiltin
// private), written for autopilot from API facts. Registrations are resolved against the host's
// 2020 TFLM kernels by the profile's adapter; an operator the host lacks is reported
// "unsupported", never silently accepted.
#ifndef AUTOPILOT_HOST_CHIRALE_MICRO_MUTABLE_OP_RESOLVER_H
#define AUTOPILOT_HOST_CHIRALE_MICRO_MUTABLE_OP_RESOLVER_H

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tensorflow/lite/core/api/flatbuffer_conversions.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace tflite {

// The parsers the library passes to its private AddBuiltin (declared for the API; on the host
// the 2020 interpreter parses operator data itself).
TfLiteStatus ParseFullyConnected(const Operator* op, ErrorReporter* error_reporter,
                                 BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseSoftmax(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseConv2D(const Operator* op, ErrorReporter* error_reporter,
                         BuiltinDataAllocator* allocator, void** builtin_data);
TfLiteStatus ParseReshape(const Operator* op, ErrorReporter* error_reporter,
                          BuiltinDataAllocator* allocator, void** builtin_data);

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  explicit MicroMutableOpResolver() {}

  TfLiteStatus AddCustom(const char* name, TfLiteRegistration* registration) {
    (void)registration;
    return host_add_custom(name, tOpCount);
  }

  TfLiteStatus AddAbs() { return host_add("ABS", tOpCount); }
  TfLiteStatus AddAdd() { return host_add("ADD", tOpCount); }
  TfLiteStatus AddAddN() { return host_add("ADD_N", tOpCount); }
  TfLiteStatus AddArgMax() { return host_add("ARG_MAX", tOpCount); }
  TfLiteStatus AddArgMin() { return host_add("ARG_MIN", tOpCount); }
  TfLiteStatus AddAssignVariable() { return host_add("ASSIGN_VARIABLE", tOpCount); }
  TfLiteStatus AddAveragePool2D() { return host_add("AVERAGE_POOL_2D", tOpCount); }
  TfLiteStatus AddBatchToSpaceNd() { return host_add("BATCH_TO_SPACE_ND", tOpCount); }
  TfLiteStatus AddBroadcastArgs() { return host_add("BROADCAST_ARGS", tOpCount); }
  TfLiteStatus AddBroadcastTo() { return host_add("BROADCAST_TO", tOpCount); }
  TfLiteStatus AddCallOnce() { return host_add("CALL_ONCE", tOpCount); }
  TfLiteStatus AddCast() { return host_add("CAST", tOpCount); }
  TfLiteStatus AddCeil() { return host_add("CEIL", tOpCount); }
  TfLiteStatus AddCircularBuffer() { return host_add("CIRCULAR_BUFFER", tOpCount); }
  TfLiteStatus AddConcatenation() { return host_add("CONCATENATION", tOpCount); }
  TfLiteStatus AddConv2D() { return host_add("CONV_2D", tOpCount); }
  TfLiteStatus AddCos() { return host_add("COS", tOpCount); }
  TfLiteStatus AddCumSum() { return host_add("CUMSUM", tOpCount); }
  TfLiteStatus AddDepthToSpace() { return host_add("DEPTH_TO_SPACE", tOpCount); }
  TfLiteStatus AddDepthwiseConv2D() { return host_add("DEPTHWISE_CONV_2D", tOpCount); }
  TfLiteStatus AddDequantize() { return host_add("DEQUANTIZE", tOpCount); }
  TfLiteStatus AddDetectionPostprocess() { return host_add("DETECTION_POSTPROCESS", tOpCount); }
  TfLiteStatus AddDiv() { return host_add("DIV", tOpCount); }
  TfLiteStatus AddElu() { return host_add("ELU", tOpCount); }
  TfLiteStatus AddEqual() { return host_add("EQUAL", tOpCount); }
  TfLiteStatus AddEthosU() { return host_add("ETHOSU", tOpCount); }
  TfLiteStatus AddExp() { return host_add("EXP", tOpCount); }
  TfLiteStatus AddExpandDims() { return host_add("EXPAND_DIMS", tOpCount); }
  TfLiteStatus AddFill() { return host_add("FILL", tOpCount); }
  TfLiteStatus AddFloor() { return host_add("FLOOR", tOpCount); }
  TfLiteStatus AddFloorDiv() { return host_add("FLOOR_DIV", tOpCount); }
  TfLiteStatus AddFloorMod() { return host_add("FLOOR_MOD", tOpCount); }
  TfLiteStatus AddFullyConnected() { return host_add("FULLY_CONNECTED", tOpCount); }
  TfLiteStatus AddGather() { return host_add("GATHER", tOpCount); }
  TfLiteStatus AddGatherNd() { return host_add("GATHER_ND", tOpCount); }
  TfLiteStatus AddGreater() { return host_add("GREATER", tOpCount); }
  TfLiteStatus AddGreaterEqual() { return host_add("GREATER_EQUAL", tOpCount); }
  TfLiteStatus AddHardSwish() { return host_add("HARD_SWISH", tOpCount); }
  TfLiteStatus AddIf() { return host_add("IF", tOpCount); }
  TfLiteStatus AddL2Normalization() { return host_add("L2_NORMALIZATION", tOpCount); }
  TfLiteStatus AddL2Pool2D() { return host_add("L2_POOL_2D", tOpCount); }
  TfLiteStatus AddLeakyRelu() { return host_add("LEAKY_RELU", tOpCount); }
  TfLiteStatus AddLess() { return host_add("LESS", tOpCount); }
  TfLiteStatus AddLessEqual() { return host_add("LESS_EQUAL", tOpCount); }
  TfLiteStatus AddLog() { return host_add("LOG", tOpCount); }
  TfLiteStatus AddLogSoftmax() { return host_add("LOG_SOFTMAX", tOpCount); }
  TfLiteStatus AddLogicalAnd() { return host_add("LOGICAL_AND", tOpCount); }
  TfLiteStatus AddLogicalNot() { return host_add("LOGICAL_NOT", tOpCount); }
  TfLiteStatus AddLogicalOr() { return host_add("LOGICAL_OR", tOpCount); }
  TfLiteStatus AddLogistic() { return host_add("LOGISTIC", tOpCount); }
  TfLiteStatus AddMaxPool2D() { return host_add("MAX_POOL_2D", tOpCount); }
  TfLiteStatus AddMaximum() { return host_add("MAXIMUM", tOpCount); }
  TfLiteStatus AddMean() { return host_add("MEAN", tOpCount); }
  TfLiteStatus AddMinimum() { return host_add("MINIMUM", tOpCount); }
  TfLiteStatus AddMirrorPad() { return host_add("MIRROR_PAD", tOpCount); }
  TfLiteStatus AddMul() { return host_add("MUL", tOpCount); }
  TfLiteStatus AddNeg() { return host_add("NEG", tOpCount); }
  TfLiteStatus AddNotEqual() { return host_add("NOT_EQUAL", tOpCount); }
  TfLiteStatus AddPack() { return host_add("PACK", tOpCount); }
  TfLiteStatus AddPad() { return host_add("PAD", tOpCount); }
  TfLiteStatus AddPadV2() { return host_add("PADV2", tOpCount); }
  TfLiteStatus AddPrelu() { return host_add("PRELU", tOpCount); }
  TfLiteStatus AddQuantize() { return host_add("QUANTIZE", tOpCount); }
  TfLiteStatus AddReadVariable() { return host_add("READ_VARIABLE", tOpCount); }
  TfLiteStatus AddReduceMax() { return host_add("REDUCE_MAX", tOpCount); }
  TfLiteStatus AddRelu() { return host_add("RELU", tOpCount); }
  TfLiteStatus AddRelu6() { return host_add("RELU6", tOpCount); }
  TfLiteStatus AddReshape() { return host_add("RESHAPE", tOpCount); }
  TfLiteStatus AddResizeBilinear() { return host_add("RESIZE_BILINEAR", tOpCount); }
  TfLiteStatus AddResizeNearestNeighbor() { return host_add("RESIZE_NEAREST_NEIGHBOR", tOpCount); }
  TfLiteStatus AddRound() { return host_add("ROUND", tOpCount); }
  TfLiteStatus AddRsqrt() { return host_add("RSQRT", tOpCount); }
  TfLiteStatus AddSelectV2() { return host_add("SELECT_V2", tOpCount); }
  TfLiteStatus AddShape() { return host_add("SHAPE", tOpCount); }
  TfLiteStatus AddSin() { return host_add("SIN", tOpCount); }
  TfLiteStatus AddSlice() { return host_add("SLICE", tOpCount); }
  TfLiteStatus AddSoftmax() { return host_add("SOFTMAX", tOpCount); }
  TfLiteStatus AddSpaceToBatchNd() { return host_add("SPACE_TO_BATCH_ND", tOpCount); }
  TfLiteStatus AddSpaceToDepth() { return host_add("SPACE_TO_DEPTH", tOpCount); }
  TfLiteStatus AddSplit() { return host_add("SPLIT", tOpCount); }
  TfLiteStatus AddSplitV() { return host_add("SPLIT_V", tOpCount); }
  TfLiteStatus AddSqrt() { return host_add("SQRT", tOpCount); }
  TfLiteStatus AddSquare() { return host_add("SQUARE", tOpCount); }
  TfLiteStatus AddSquaredDifference() { return host_add("SQUARED_DIFFERENCE", tOpCount); }
  TfLiteStatus AddSqueeze() { return host_add("SQUEEZE", tOpCount); }
  TfLiteStatus AddStridedSlice() { return host_add("STRIDED_SLICE", tOpCount); }
  TfLiteStatus AddSub() { return host_add("SUB", tOpCount); }
  TfLiteStatus AddSum() { return host_add("SUM", tOpCount); }
  TfLiteStatus AddSvdf() { return host_add("SVDF", tOpCount); }
  TfLiteStatus AddTanh() { return host_add("TANH", tOpCount); }
  TfLiteStatus AddTranspose() { return host_add("TRANSPOSE", tOpCount); }
  TfLiteStatus AddTransposeConv() { return host_add("TRANSPOSE_CONV", tOpCount); }
  TfLiteStatus AddUnidirectionalSequenceLSTM() { return host_add("UNIDIRECTIONAL_SEQUENCE_LSTM", tOpCount); }
  TfLiteStatus AddUnpack() { return host_add("UNPACK", tOpCount); }
  TfLiteStatus AddVarHandle() { return host_add("VAR_HANDLE", tOpCount); }
  TfLiteStatus AddWhile() { return host_add("WHILE", tOpCount); }
  TfLiteStatus AddZerosLike() { return host_add("ZEROS_LIKE", tOpCount); }

  unsigned int GetRegistrationLength() { return host_op_count(); }

 private:
  template <typename Parser>
  TfLiteStatus AddBuiltin(tflite::BuiltinOperator op, const TfLiteRegistration& registration,
                          Parser parser);
};

}  // namespace tflite

#endif
