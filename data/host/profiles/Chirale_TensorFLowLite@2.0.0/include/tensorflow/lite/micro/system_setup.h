// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: target initialisation (no-op).
#ifndef AUTOPILOT_HOST_CHIRALE_SYSTEM_SETUP_H
#define AUTOPILOT_HOST_CHIRALE_SYSTEM_SETUP_H
namespace tflite {
void InitializeTarget();
}  // namespace tflite
#endif
