// autopilot host run: the runtime linked with every sketch — simulated clock, serial capture,
// the scene (dataset rows presented one after another) and the setup()/loop() driver.
#include <Arduino.h>
#include <Wire.h>
#include <unistd.h>
#include <vector>
#include "HostRuntime.h"

namespace {
FILE* g_log = nullptr;
uint64_t g_now_us = 0;
bool g_in_setup = true;
uint64_t g_dwell_us = 1500000, g_gap_us = 1000000;
int g_proximity_near = 0, g_proximity_far = 255;
int g_columns = 0;
std::vector<std::vector<float>> g_rows;
std::vector<char> g_line;
unsigned long g_random = 1;

[[noreturn]] void finish(const char* reason) {
  if (!g_line.empty()) {
    g_line.push_back(0);
    host_log("serial", "%llu\t%d\t%s", (unsigned long long)g_now_us, host_object(), g_line.data());
  }
  host_log("end", "%s\t%llu\t%d", reason, (unsigned long long)g_now_us, g_in_setup ? 1 : 0);
  fflush(stdout);
  if (g_log) fflush(g_log);
  _exit(0);
}

void load_scene(const char* path) {
  FILE* f = path ? fopen(path, "r") : nullptr;
  if (!f) {
    fprintf(stderr, "autopilot host run: cannot open scene file %s\n", path ? path : "(unset)");
    _exit(70);
  }
  unsigned long long dwell_us = 1500000, gap_us = 1000000;
  unsigned columns = 0;
  if (fscanf(f, "%llu %llu %u %d %d", &dwell_us, &gap_us, &columns, &g_proximity_near,
             &g_proximity_far) != 5 || dwell_us == 0)
    _exit(70);
  g_dwell_us = dwell_us;
  g_gap_us = gap_us;
  g_columns = (int)columns;
  for (;;) {
    std::vector<float> row(columns);
    unsigned i = 0;
    for (; i < columns; i++)
      if (fscanf(f, "%f", &row[i]) != 1) break;
    if (i < columns) break;
    g_rows.push_back(row);
  }
  fclose(f);
}
}  // namespace

uint64_t host_now_us() { return g_now_us; }

void host_advance_us(uint64_t us) {
  g_now_us += us;
  // The scene: gap, row 0, gap, row 1, …, gap; then the run is over.
  if (g_now_us >= (uint64_t)g_rows.size() * (g_dwell_us + g_gap_us) + g_gap_us)
    finish("dataset_presented");
}

int host_object() {
  uint64_t period = g_dwell_us + g_gap_us;
  uint64_t i = g_now_us / period;
  if (i >= g_rows.size() || g_now_us % period < g_gap_us) return -1;
  return (int)i;
}

int host_columns() { return g_columns; }

int host_proximity() { return host_object() >= 0 ? g_proximity_near : g_proximity_far; }

const float* host_object_values() {
  int i = host_object();
  return i < 0 ? nullptr : g_rows[(size_t)i].data();
}

void host_log(const char* kind, const char* format, ...) {
  if (!g_log) return;
  fputs(kind, g_log);
  fputc('\t', g_log);
  va_list args;
  va_start(args, format);
  vfprintf(g_log, format, args);
  va_end(args);
  fputc('\n', g_log);
}

// TFLM's debug output (error reporter, MicroPrintf) goes to the log, not to Serial.
extern "C" void DebugLog(const char* s) {
  static std::vector<char> line;
  for (; *s; s++) {
    if (*s == '\n') {
      line.push_back(0);
      host_log("log", "%llu\t%s", (unsigned long long)g_now_us, line.data());
      line.clear();
    } else if (*s != '\r') {
      line.push_back(*s);
    }
  }
}

unsigned long millis() { host_advance_us(1); return (unsigned long)(g_now_us / 1000); }
unsigned long micros() { host_advance_us(1); return (unsigned long)g_now_us; }
void delay(unsigned long ms) { host_advance_us((uint64_t)ms * 1000); }
void delayMicroseconds(unsigned int us) { host_advance_us(us); }
void yield() { host_advance_us(10); }
void pinMode(int, int) {}
void digitalWrite(int, int) {}
int digitalRead(int) { return LOW; }
int analogRead(int) { return 0; }
void analogWrite(int, int) {}
void analogReadResolution(int) {}
long random(long howbig) { return howbig <= 0 ? 0 : (long)((g_random = g_random * 1103515245 + 12345) >> 8) % howbig; }
long random(long howsmall, long howbig) { return howsmall >= howbig ? howsmall : howsmall + random(howbig - howsmall); }
void randomSeed(unsigned long seed) { g_random = seed ? seed : 1; }
long map(long x, long in_min, long in_max, long out_min, long out_max) {
  return in_max == in_min ? out_min : (x - in_min) * (out_max - out_min) / (in_max - in_min) + out_min;
}

#ifdef HOST_ARDUINO_NAMESPACE
namespace HOST_ARDUINO_NAMESPACE {
#endif
static void format_unsigned(char* out, unsigned long v, int base) {
  char tmp[66];
  int n = 0;
  if (base < 2 || base > 16) base = 10;
  do { tmp[n++] = "0123456789ABCDEF"[v % (unsigned)base]; v /= (unsigned)base; } while (v);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = 0;
}
String::String(int v, unsigned char base) : String((long)v, base) {}
String::String(unsigned int v, unsigned char base) : String((unsigned long)v, base) {}
String::String(long v, unsigned char base) {
  char t[70];
  if (v < 0 && base == 10) { t[0] = '-'; format_unsigned(t + 1, (unsigned long)(-v), base); }
  else format_unsigned(t, (unsigned long)v, base);
  assign(t);
}
String::String(unsigned long v, unsigned char base) { char t[70]; format_unsigned(t, v, base); assign(t); }
String::String(float v, unsigned char d) : String((double)v, d) {}
String::String(double v, unsigned char d) { char t[64]; snprintf(t, sizeof t, "%.*f", d, v); assign(t); }
String String::substring(unsigned int from, unsigned int to) const {
  if (to > len_) to = len_;
  if (from > to) from = to;
  String r;
  free(r.buf_);
  r.len_ = to - from;
  r.buf_ = (char*)malloc(r.len_ + 1);
  memcpy(r.buf_, buf_ + from, r.len_);
  r.buf_[r.len_] = 0;
  return r;
}
void String::concat(const char* s) {
  size_t n = strlen(s);
  buf_ = (char*)realloc(buf_, len_ + n + 1);
  memcpy(buf_ + len_, s, n + 1);
  len_ += (unsigned)n;
}
void String::trim() {
  unsigned b = 0, e = len_;
  while (b < e && (buf_[b] == ' ' || buf_[b] == '\t' || buf_[b] == '\r' || buf_[b] == '\n')) b++;
  while (e > b && (buf_[e - 1] == ' ' || buf_[e - 1] == '\t' || buf_[e - 1] == '\r' || buf_[e - 1] == '\n')) e--;
  *this = substring(b, e);
}
size_t Print::write(const uint8_t* buffer, size_t size) {
  size_t n = 0;
  while (size--) n += write(*buffer++);
  return n;
}
size_t Print::print(long v, int base) {
  char t[70];
  if (v < 0 && base == 10) { t[0] = '-'; format_unsigned(t + 1, (unsigned long)(-v), base); }
  else format_unsigned(t, (unsigned long)v, base);
  return write(t);
}
size_t Print::print(unsigned long v, int base) { char t[70]; format_unsigned(t, v, base); return write(t); }
size_t Print::print(double v, int digits) { char t[64]; snprintf(t, sizeof t, "%.*f", digits, v); return write(t); }

size_t HOST_SERIAL_CLASS::write(uint8_t c) {
  fputc(c, stdout);
  if (c == '\n') {
    g_line.push_back(0);
    host_log("serial", "%llu\t%d\t%s", (unsigned long long)g_now_us, host_object(), g_line.data());
    g_line.clear();
  } else if (c != '\r') {
    g_line.push_back((char)c);
  }
  return 1;
}
size_t HOST_SERIAL_CLASS::write(const uint8_t* buffer, size_t size) {
  for (size_t i = 0; i < size; i++) write(buffer[i]);
  return size;
}
#ifdef HOST_SERIAL_HAS_PRINTF
size_t HOST_SERIAL_CLASS::printf(const char* format, ...) {
  char t[512];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(t, sizeof t, format, args);
  va_end(args);
  return n > 0 ? write((const uint8_t*)t, strlen(t)) : 0;
}
#endif
#ifdef HOST_ARDUINO_NAMESPACE
}  // namespace HOST_ARDUINO_NAMESPACE
#endif
HOST_SERIAL_CLASS Serial;
TwoWire Wire;
TwoWire Wire1;

int main() {
  const char* log_path = getenv("AUTOPILOT_HOST_LOG");
  g_log = log_path ? fopen(log_path, "w") : nullptr;
  if (!g_log) {
    fprintf(stderr, "autopilot host run: cannot open the log (AUTOPILOT_HOST_LOG)\n");
    return 70;
  }
  // Line-buffered: a crash or a timeout leaves every finished line in the log.
  setvbuf(g_log, nullptr, _IOLBF, 1 << 16);
  load_scene(getenv("AUTOPILOT_HOST_SCENE"));
  host_log("start", "%zu\t%llu\t%llu", g_rows.size(), (unsigned long long)g_dwell_us, (unsigned long long)g_gap_us);
  setup();
  g_in_setup = false;
  host_log("setup_done", "%llu", (unsigned long long)g_now_us);
  for (;;) {
    loop();
    // Every pass of loop() costs a little simulated time, so a loop that polls nothing ends.
    host_advance_us(100);
  }
}
