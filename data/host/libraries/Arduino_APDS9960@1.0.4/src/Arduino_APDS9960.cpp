// autopilot host run: APDS9960 stand-in behaviour. A new colour reading every 10 ms and a new
// proximity reading every 10 ms of simulated time; polling costs 100 us, so a busy-wait ends.
#include "Arduino_APDS9960.h"
#include "HostRuntime.h"

static const unsigned long long kSampleUs = 10000;
static const unsigned long long kPollUs = 100;

APDS9960::APDS9960(TwoWire& wire, int intPin)
    : _wire(wire), _intPin(intPin), _lastColorUs(0), _lastProximityUs(0), _begun(false) {}
APDS9960::~APDS9960() {}
bool APDS9960::begin() { _begun = true; host_advance_us(1000); return true; }
void APDS9960::end() { _begun = false; }
int APDS9960::gestureAvailable() { host_advance_us(kPollUs); return 0; }
int APDS9960::readGesture() { return GESTURE_NONE; }

int APDS9960::colorAvailable() {
  host_advance_us(kPollUs);
  return _begun && host_now_us() >= _lastColorUs + kSampleUs;
}

bool APDS9960::readColor(int& r, int& g, int& b) {
  int c;
  return readColor(r, g, b, c);
}

bool APDS9960::readColor(int& r, int& g, int& b, int& c) {
  if (!_begun) return false;
  _lastColorUs = host_now_us();
  host_log("sensor_read", "%llu\t%d", (unsigned long long)host_now_us(), host_object());
  const float* v = host_object_values();
  if (!v) {
    // Nothing in front of the sensor: dim ambient light.
    r = 12; g = 11; b = 10; c = 33;
    return true;
  }
  r = (int)v[0]; g = (int)v[1]; b = (int)v[2]; c = (int)v[3];
  return true;
}

int APDS9960::proximityAvailable() {
  host_advance_us(kPollUs);
  return _begun && host_now_us() >= _lastProximityUs + kSampleUs;
}

int APDS9960::readProximity() {
  if (!_begun) return -1;
  _lastProximityUs = host_now_us();
  return host_proximity();
}

void APDS9960::setGestureSensitivity(uint8_t) {}
void APDS9960::setInterruptPin(int pin) { _intPin = pin; }
bool APDS9960::setLEDBoost(uint8_t boost) { return boost <= 3; }

APDS9960 APDS(Wire, -1);
