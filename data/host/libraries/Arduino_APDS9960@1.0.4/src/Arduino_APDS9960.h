// autopilot host run: a stand-in for Arduino_APDS9960 1.0.4 with its public API (from the
// library's documentation), fed from the scene: each presented dataset row gives the colour
// counts r g b c; proximity is the scene's near value (0 by default) while an object is in
// front of the sensor, its far value (255) otherwise.
#ifndef ARDUINO_APDS9960
#define ARDUINO_APDS9960
#include <Arduino.h>
#include <Wire.h>

enum {
  GESTURE_NONE = -1,
  GESTURE_UP = 0,
  GESTURE_DOWN = 1,
  GESTURE_LEFT = 2,
  GESTURE_RIGHT = 3
};

class APDS9960 {
 public:
  APDS9960(TwoWire& wire, int intPin);
  virtual ~APDS9960();
  bool begin();
  void end();
  int gestureAvailable();
  int readGesture();
  int colorAvailable();
  bool readColor(int& r, int& g, int& b);
  bool readColor(int& r, int& g, int& b, int& c);
  int proximityAvailable();
  int readProximity();
  void setGestureSensitivity(uint8_t sensitivity);
  void setInterruptPin(int pin);
  bool setLEDBoost(uint8_t boost);

 private:
  TwoWire& _wire;
  int _intPin;
  unsigned long long _lastColorUs;
  unsigned long long _lastProximityUs;
  bool _begun;
};

extern APDS9960 APDS;
#endif
