// autopilot host run: Arduino.h of the esp32 core family — stand-in. Serial is a
// HardwareSerial that has printf; LED_BUILTIN is GPIO 2 on the ESP32 Dev Module.
#ifndef Arduino_h
#define Arduino_h
#define HOST_SERIAL_CLASS HardwareSerial
#define HOST_SERIAL_HAS_PRINTF 1
#include "../common/HostArduino.h"
#define LED_BUILTIN 2
#define A0 36
#endif
