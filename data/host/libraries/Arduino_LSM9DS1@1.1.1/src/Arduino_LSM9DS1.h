// autopilot host run: the Arduino_LSM9DS1 1.1.1 main header (it brings in the class header).
#ifndef AUTOPILOT_HOST_ARDUINO_LSM9DS1_H
#define AUTOPILOT_HOST_ARDUINO_LSM9DS1_H
#include "LSM9DS1.h"
#endif
