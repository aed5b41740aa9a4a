// autopilot host run: avr/pgmspace.h as the ARM/ESP32 cores provide it (flash is plain memory).
#ifndef AUTOPILOT_HOST_PGMSPACE_H
#define AUTOPILOT_HOST_PGMSPACE_H
#include <string.h>
#define PROGMEM
#define PGM_P const char*
#define PSTR(s) (s)
#define pgm_read_byte(addr) (*(const unsigned char*)(addr))
#define pgm_read_word(addr) (*(const unsigned short*)(addr))
#define pgm_read_dword(addr) (*(const unsigned long*)(addr))
#define pgm_read_float(addr) (*(const float*)(addr))
#define pgm_read_ptr(addr) (*(void* const*)(addr))
#define memcpy_P memcpy
#define strcpy_P strcpy
#define strlen_P strlen
#endif
