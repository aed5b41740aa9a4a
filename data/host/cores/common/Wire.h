// autopilot host run: Wire.h stand-in (I2C). TwoWire is not copyable, as in the real cores.
#ifndef TwoWire_h
#define TwoWire_h
#include <Arduino.h>
#ifdef HOST_ARDUINO_NAMESPACE
namespace HOST_ARDUINO_NAMESPACE {
#endif
class TwoWire : public Stream {
 public:
  TwoWire() {}
  TwoWire(const TwoWire&) = delete;
  TwoWire& operator=(const TwoWire&) = delete;
  void begin() {}
  void end() {}
  void setClock(uint32_t) {}
  void beginTransmission(uint8_t) {}
  uint8_t endTransmission(bool stop = true) { (void)stop; return 0; }
  uint8_t requestFrom(uint8_t, size_t len, bool stop = true) { (void)stop; return (uint8_t)len; }
  size_t write(uint8_t) override { return 1; }
  using Print::write;
};
#ifdef HOST_ARDUINO_NAMESPACE
}  // namespace HOST_ARDUINO_NAMESPACE
#endif
extern TwoWire Wire;
extern TwoWire Wire1;
#endif
