// autopilot host run, profile Chirale_TensorFLowLite@2.0.0: the library's main header includes
// Arduino.h and Wire.h and nothing of TFLM.
#ifndef AUTOPILOT_HOST_CHIRALE_TENSORFLOWLITE_H
#define AUTOPILOT_HOST_CHIRALE_TENSORFLOWLITE_H
#include <Arduino.h>
#include <Wire.h>
#endif
