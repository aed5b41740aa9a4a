// autopilot host run: LSM9DS1 stand-in behaviour. The scene presents one row per 1/119 s: the
// acceleration and gyroscope samples are the rows; the magnetic field is sampled at 20 Hz from
// the row in front at that time. *Available() is 1 once a sample not yet read exists, and polling costs
// 100 us of simulated time so that a busy-wait ends. Reads before begin() fail with NaN, as
// the real library's failed register reads do.
#include "LSM9DS1.h"
#include <math.h>
#include "HostRuntime.h"

static const unsigned long long kPollUs = 100;
enum { kAcceleration = 0, kGyroscope = 1, kMagneticField = 2 };

LSM9DS1Class::LSM9DS1Class(TwoWire& wire) : continuousMode(false), begun(false), _wire(&wire) {
  lastRead[0] = lastRead[1] = lastRead[2] = -1;
}
LSM9DS1Class::~LSM9DS1Class() {}

int LSM9DS1Class::begin() {
  _wire->begin();
  host_advance_us(10000);  // the library's reset delay
  begun = true;
  return 1;
}

void LSM9DS1Class::end() {
  begun = false;
  _wire->end();
}

void LSM9DS1Class::setContinuousMode() { continuousMode = true; }
void LSM9DS1Class::setOneShotMode() { continuousMode = false; }

long LSM9DS1Class::sample(float rate) const {
  // At the sensor's main rate a sample is a scene row (the scene's period is 1/119 s).
  if (rate >= 119.0F) return host_object();
  return (long)((double)host_now_us() * rate / 1e6);
}

int LSM9DS1Class::read(int group, long n, float& x, float& y, float& z) {
  const float* v = host_object_values();
  if (!begun || !v || host_columns() < 3 * (group + 1)) {
    x = y = z = NAN;
    return 0;
  }
  lastRead[group] = n;
  host_log("sensor_read", "%llu\t%d", (unsigned long long)host_now_us(), host_object());
  x = v[3 * group];
  y = v[3 * group + 1];
  z = v[3 * group + 2];
  return 1;
}

int LSM9DS1Class::readAcceleration(float& x, float& y, float& z) {
  return read(kAcceleration, sample(accelerationSampleRate()), x, y, z);
}
int LSM9DS1Class::readGyroscope(float& x, float& y, float& z) {
  return read(kGyroscope, sample(gyroscopeSampleRate()), x, y, z);
}
int LSM9DS1Class::readMagneticField(float& x, float& y, float& z) {
  return read(kMagneticField, sample(magneticFieldSampleRate()), x, y, z);
}

int LSM9DS1Class::accelerationAvailable() {
  host_advance_us(kPollUs);
  return begun && host_columns() >= 3 && sample(accelerationSampleRate()) != lastRead[0];
}
int LSM9DS1Class::gyroscopeAvailable() {
  host_advance_us(kPollUs);
  return begun && host_columns() >= 6 && sample(gyroscopeSampleRate()) != lastRead[1];
}
int LSM9DS1Class::magneticFieldAvailable() {
  host_advance_us(kPollUs);
  return begun && host_columns() >= 9 && sample(magneticFieldSampleRate()) != lastRead[2];
}

float LSM9DS1Class::accelerationSampleRate() { return 119.0F; }
float LSM9DS1Class::gyroscopeSampleRate() { return 119.0F; }
float LSM9DS1Class::magneticFieldSampleRate() { return 20.0F; }

#ifdef ARDUINO_ARDUINO_NANO33BLE
LSM9DS1Class IMU_LSM9DS1(Wire1);
#else
LSM9DS1Class IMU_LSM9DS1(Wire);
#endif
