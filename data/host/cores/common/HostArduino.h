// autopilot host run: the Arduino API shared by the core stand-ins (written for autopilot from
// the Arduino language reference; no Arduino core source). Each core's Arduino.h sets
// HOST_SERIAL_CLASS (and HOST_SERIAL_HAS_PRINTF) before including this file.
#ifndef AUTOPILOT_HOST_ARDUINO_H
#define AUTOPILOT_HOST_ARDUINO_H

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "avr/pgmspace.h"

typedef uint8_t byte;
typedef bool boolean;
typedef unsigned int word;

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x0
#define OUTPUT 0x1
#define INPUT_PULLUP 0x2
#define INPUT_PULLDOWN 0x3
#define PI 3.1415926535897932384626433832795
#define HALF_PI 1.5707963267948966192313216916398
#define TWO_PI 6.283185307179586476925286766559
#define DEG_TO_RAD 0.017453292519943295769236907684886
#define RAD_TO_DEG 57.295779513082320876798154814105
#define DEC 10
#define HEX 16
#define OCT 8
#define BIN 2
#define F(s) (s)
#define bitRead(value, bit) (((value) >> (bit)) & 0x01)
#define bitSet(value, bit) ((value) |= (1UL << (bit)))
#define bitClear(value, bit) ((value) &= ~(1UL << (bit)))
#define lowByte(w) ((uint8_t)((w) & 0xff))
#define highByte(w) ((uint8_t)((w) >> 8))

template <class T, class L>
auto min(const T& a, const L& b) -> decltype((b < a) ? b : a) { return (b < a) ? b : a; }
template <class T, class L>
auto max(const T& a, const L& b) -> decltype((b < a) ? b : a) { return (a < b) ? b : a; }
template <class T, class L, class H>
T constrain(const T& x, const L& lo, const H& hi) { return x < lo ? lo : (x > hi ? hi : x); }
#define sq(x) ((x) * (x))

// Time: a simulated clock owned by the host runtime (delay() advances it, costs no wall time).
unsigned long millis();
unsigned long micros();
void delay(unsigned long ms);
void delayMicroseconds(unsigned int us);
void yield();

void pinMode(int pin, int mode);
void digitalWrite(int pin, int value);
int digitalRead(int pin);
int analogRead(int pin);
void analogWrite(int pin, int value);
void analogReadResolution(int bits);
long random(long howbig);
long random(long howsmall, long howbig);
void randomSeed(unsigned long seed);
long map(long x, long in_min, long in_max, long out_min, long out_max);

#ifdef HOST_ARDUINO_NAMESPACE
namespace HOST_ARDUINO_NAMESPACE {
#endif

class String {
 public:
  String(const char* s = "") { assign(s ? s : ""); }
  String(const String& o) { assign(o.buf_); }
  String(char c) { char t[2] = {c, 0}; assign(t); }
  String(int v, unsigned char base = 10);
  String(unsigned int v, unsigned char base = 10);
  String(long v, unsigned char base = 10);
  String(unsigned long v, unsigned char base = 10);
  String(float v, unsigned char decimals = 2);
  String(double v, unsigned char decimals = 2);
  ~String() { free(buf_); }
  String& operator=(const String& o) { if (this != &o) { free(buf_); assign(o.buf_); } return *this; }
  String& operator+=(const String& o) { concat(o.buf_); return *this; }
  String& operator+=(const char* s) { concat(s); return *this; }
  String& operator+=(char c) { char t[2] = {c, 0}; concat(t); return *this; }
  friend String operator+(const String& a, const String& b) { String r(a); r += b; return r; }
  friend String operator+(const String& a, const char* b) { String r(a); r += b; return r; }
  friend String operator+(const char* a, const String& b) { String r(a); r += b; return r; }
  bool operator==(const String& o) const { return strcmp(buf_, o.buf_) == 0; }
  bool operator==(const char* s) const { return strcmp(buf_, s) == 0; }
  bool operator!=(const String& o) const { return !(*this == o); }
  char operator[](unsigned int i) const { return i < len_ ? buf_[i] : 0; }
  const char* c_str() const { return buf_; }
  unsigned int length() const { return len_; }
  int toInt() const { return atoi(buf_); }
  float toFloat() const { return (float)atof(buf_); }
  bool equals(const String& o) const { return *this == o; }
  int indexOf(char c) const { const char* p = strchr(buf_, c); return p ? (int)(p - buf_) : -1; }
  String substring(unsigned int from) const { return substring(from, len_); }
  String substring(unsigned int from, unsigned int to) const;
  void trim();

 private:
  void assign(const char* s) { len_ = strlen(s); buf_ = (char*)malloc(len_ + 1); memcpy(buf_, s, len_ + 1); }
  void concat(const char* s);
  char* buf_ = nullptr;
  unsigned int len_ = 0;
};

class Print {
 public:
  virtual ~Print() {}
  virtual size_t write(uint8_t c) = 0;
  size_t write(const char* s) { return write((const uint8_t*)s, strlen(s)); }
  virtual size_t write(const uint8_t* buffer, size_t size);
  size_t print(const char* s) { return write(s); }
  size_t print(const String& s) { return write(s.c_str()); }
  size_t print(char c) { return write((uint8_t)c); }
  size_t print(unsigned char v, int base = DEC) { return print((unsigned long)v, base); }
  size_t print(int v, int base = DEC) { return print((long)v, base); }
  size_t print(unsigned int v, int base = DEC) { return print((unsigned long)v, base); }
  size_t print(long v, int base = DEC);
  size_t print(unsigned long v, int base = DEC);
  size_t print(long long v, int base = DEC) { return print((long)v, base); }
  size_t print(unsigned long long v, int base = DEC) { return print((unsigned long)v, base); }
  size_t print(double v, int digits = 2);
  size_t println() { return write("\r\n"); }
  template <class T> size_t println(const T& v) { size_t n = print(v); return n + println(); }
  template <class T> size_t println(const T& v, int f) { size_t n = print(v, f); return n + println(); }
  void flush() {}
};

class Stream : public Print {
 public:
  virtual int available() { return 0; }
  virtual int read() { return -1; }
  virtual int peek() { return -1; }
  void setTimeout(unsigned long) {}
};

// The serial port: what the sketch prints goes to the host run's observation log.
class HOST_SERIAL_CLASS : public Stream {
 public:
  void begin(unsigned long baud) { (void)baud; }
  void begin(unsigned long baud, uint16_t config) { (void)baud; (void)config; }
  void end() {}
  explicit operator bool() { return true; }
  using Print::write;
  size_t write(uint8_t c) override;
  size_t write(const uint8_t* buffer, size_t size) override;
#ifdef HOST_SERIAL_HAS_PRINTF
  size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
#endif
};

#ifdef HOST_ARDUINO_NAMESPACE
}  // namespace HOST_ARDUINO_NAMESPACE
using namespace HOST_ARDUINO_NAMESPACE;
#endif

extern HOST_SERIAL_CLASS Serial;

void setup();
void loop();

#endif
