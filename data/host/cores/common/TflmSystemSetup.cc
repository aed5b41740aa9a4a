// autopilot host run: tflite::InitializeTarget() for sketches built against an installed TFLM
// library, in place of the library's board glue (which opens the board's Serial and defines
// DebugLog; the host runtime's DebugLog sends TFLM's messages to the observation log).
#include "tensorflow/lite/micro/system_setup.h"

namespace tflite {
void InitializeTarget() {}
}  // namespace tflite
