// autopilot host run: a stand-in for Arduino_LSM9DS1 1.1.1 with its public API (written from the
// library's documented interface), fed from the scene: every dataset row is one IMU sample —
// acceleration x y z in g, gyroscope x y z in degrees/s, magnetic field x y z in uT, as the
// app's [host] columns map them — presented at 119 Hz of simulated time (the rate the library
// configures and reports). A group the mapping leaves out is never available.
#ifndef AUTOPILOT_HOST_LSM9DS1_H
#define AUTOPILOT_HOST_LSM9DS1_H
#include <Arduino.h>
#include <Wire.h>

class LSM9DS1Class {
 public:
  LSM9DS1Class(TwoWire& wire);
  virtual ~LSM9DS1Class();

  int begin();
  void end();

  void setContinuousMode();
  void setOneShotMode();

  virtual int readAcceleration(float& x, float& y, float& z);
  virtual int accelerationAvailable();
  virtual float accelerationSampleRate();

  virtual int readGyroscope(float& x, float& y, float& z);
  virtual int gyroscopeAvailable();
  virtual float gyroscopeSampleRate();

  virtual int readMagneticField(float& x, float& y, float& z);
  virtual int magneticFieldAvailable();
  virtual float magneticFieldSampleRate();

 private:
  int read(int group, long sample, float& x, float& y, float& z);
  long sample(float rate) const;
  bool continuousMode;
  bool begun;
  long lastRead[3];
  TwoWire* _wire;
};

extern LSM9DS1Class IMU_LSM9DS1;
#undef IMU
#define IMU IMU_LSM9DS1
#endif
