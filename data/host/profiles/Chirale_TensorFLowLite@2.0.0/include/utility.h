// autopilot host run: the 2020 flatbuffers include <utility.h> when ARDUINO is defined (for
// ArduinoSTL); the host's standard library has <utility>.
#include <utility>
