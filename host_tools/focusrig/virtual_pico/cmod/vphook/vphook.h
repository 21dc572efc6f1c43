// focusrig virtual Pico: the hooks the build patches into MicroPython v1.28.0's unix port
// (see tools/build_micropython.py PATCHES). Implemented in vphook.c.
#ifndef FOCUSRIG_VPHOOK_H
#define FOCUSRIG_VPHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// py/vm.c: called before every bytecode with the opcode about to run (the CPU model).
void focusrig_vm_tick(unsigned char opcode);

// py/gc.c: an allocation of n_blocks (16 bytes each) is asked for, and the end of a
// collection; the CPU model charges the allocation (alloc_done, once it is made) when the
// firmware (not the board model) is running.
void focusrig_alloc_tick(size_t n_blocks);
void focusrig_gc_done(void);
// py/gc.c: ptr, n bytes, given back at once (m_del: a large call frame after the call)
void focusrig_free_tick(void *ptr, size_t n);
// py/gc.c: the allocation alloc_tick announced is at ptr (the net profile's sites)
void focusrig_alloc_done(void *ptr);
// py/objfun.c: a bytecode function of these globals is being called (its frame is
// allocated next: the firmware's, or the board model's, which is not charged)
void focusrig_enter_fun(void *globals);
// py/modgc.c: gc.collect() was called (the next collection is an explicit one)
void focusrig_gc_explicit(void);

// extmod/vfs_posix_file.c and ports/unix/unix_mphal.c: the board's USB CDC model owns
// fds 0..2 while it is installed (stdio_active). Same contracts as the stream protocol.
extern bool focusrig_stdio_active;
uintptr_t focusrig_stdio_read(void *buf, uintptr_t size, int *errcode);
uintptr_t focusrig_stdio_write(const void *buf, uintptr_t size, int *errcode);
uintptr_t focusrig_stdio_poll(uintptr_t flags);
bool focusrig_stdout_hook(const char *str, size_t len);

#endif
