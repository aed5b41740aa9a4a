// autopilot host run: the runtime's interface for stand-ins and observers (simulated clock,
// the scene of presented dataset rows, the observation log).
#ifndef AUTOPILOT_HOST_RUNTIME_H
#define AUTOPILOT_HOST_RUNTIME_H
#include <stdint.h>
// Simulated time in microseconds since start.
uint64_t host_now_us();
// Advances the simulated clock; ends the run once the whole dataset has been presented.
void host_advance_us(uint64_t us);
// The dataset row in front of the sensor now, or -1 in a gap.
int host_object();
// The proximity reading now: the scene's near value with an object, its far value in a gap.
int host_proximity();
// How many values each row has (the scene file's columns).
int host_columns();
// The row's values (as the scene file gives them), or nullptr in a gap.
const float* host_object_values();
// Appends one line to the observation log: `kind<TAB>text`.
void host_log(const char* kind, const char* format, ...) __attribute__((format(printf, 2, 3)));
#endif
