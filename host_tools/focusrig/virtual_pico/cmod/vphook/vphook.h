// focusrig virtual Pico: the hooks the build patches into MicroPython v1.28.0's unix port
// (see tools/build_micropython.py PATCHES). Implemented in vphook.c.
#ifndef FOCUSRIG_VPHOOK_H
#define FOCUSRIG_VPHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// py/vm.c: called before every bytecode with the opcode about to run (the CPU model).
void focusrig_vm_tick(unsigned char opcode);

// extmod/vfs_posix_file.c and ports/unix/unix_mphal.c: the board's USB CDC model owns
// fds 0..2 while it is installed (stdio_active). Same contracts as the stream protocol.
extern bool focusrig_stdio_active;
uintptr_t focusrig_stdio_read(void *buf, uintptr_t size, int *errcode);
uintptr_t focusrig_stdio_write(const void *buf, uintptr_t size, int *errcode);
uintptr_t focusrig_stdio_poll(uintptr_t flags);
bool focusrig_stdout_hook(const char *str, size_t len);

#endif
