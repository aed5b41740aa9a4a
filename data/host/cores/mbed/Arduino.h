// autopilot host run: Arduino.h of the mbed core family (Nano 33 BLE / Sense) — stand-in.
// Facts kept: Serial is an arduino::UART without printf; LEDR/LEDG/LEDB exist (active low);
// char is unsigned (the build passes -funsigned-char); the board macro comes from the build.
#ifndef Arduino_h
#define Arduino_h
#define HOST_ARDUINO_NAMESPACE arduino
#define HOST_SERIAL_CLASS UART
#include "../common/HostArduino.h"
#define LED_BUILTIN 13
#define LED_PWR 25
#define LEDR 22
#define LEDG 23
#define LEDB 24
#define A0 14
#define A1 15
#define A2 16
#define A3 17
#define A4 18
#define A5 19
#define A6 20
#define A7 21
#endif
