// focusrig virtual Pico: the hooks the build patches into MicroPython v1.28.0's unix port
// (see tools/build_micropython.py PATCHES). Implemented in vphook.c.
#ifndef FOCUSRIG_VPHOOK_H
#define FOCUSRIG_VPHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// py/vm.c: called before every bytecode (the CPU model) with its ip, the value stack's
// top (sp: an attribute's object, a binary op's operands) and the mp_code_state_t
void focusrig_vm_tick(const unsigned char *ip, void **sp, const void *code_state);

// py/gc.c: an allocation of n_blocks (16 bytes each) is asked for, and the end of a
// collection; the CPU model charges the allocation (alloc_done, once it is made) when the
// firmware (not the board model) is running.
void focusrig_alloc_tick(size_t n_blocks);
void focusrig_gc_done(void);
// py/gc.c: a collection starts (the lookups its sweep makes, finalisers', are no one's)
void focusrig_gc_start(void);
// py/gc.c: ptr, n bytes, given back at once (m_del: a large call frame after the call)
void focusrig_free_tick(void *ptr, size_t n);
// py/gc.c: the allocation alloc_tick announced is at ptr (the net profile's sites)
void focusrig_alloc_done(void *ptr);
// py/objfun.c: bytecode function fun of these globals is being called with n_args
// arguments (positional + keyword); its frame is allocated next: the firmware's (charged:
// a frame's set-up), or the board model's (a built-in's C body when the firmware calls it)
void focusrig_enter_fun(void *globals, const void *fun, size_t n_args);
// py/qstr.c: qstr_find_strn() of len bytes found q (MP_QSTRnull: none): a str made from data (str
// iteration, decode, split) looks for an equal qstr first
void focusrig_qstr_find(size_t q, size_t len);
// py/qstr.c: qstr q was added to the RAM pools (by the firmware, or by the board model:
// a Pico has none of the latter, so a search does not pass them)
void focusrig_qstr_added(size_t q);
// py/qstr.c: qstr_from_strn() found q already there (interning a name it had)
void focusrig_qstr_interned(size_t q);
// py/objstr.c: a str made from data takes the qstr q of the same text (MP_QSTRnull: none)
// only if a Pico has q (in ROM, or one the firmware added); else it is a str of its own
size_t focusrig_str_qstr(size_t q);
// py/map.c: the lookup cache's entry for a key: the firmware's cache slotted by the key's
// qstr number on a Pico, or the board model's own
uint8_t *focusrig_map_cache_entry(uintptr_t index);
// py/persistentcode.c: a .mpy file's qstr is being loaded (an import of the firmware's)
void focusrig_qstr_loading(void);
// py/map.c: mp_map_lookup took its hash path (a miss of rp2's lookup cache: the key's hash
// and a division), and probed one more slot (another division); the CPU model charges
// the firmware's at its next bytecode
extern uint32_t focusrig_map_hashed, focusrig_map_probes;
// py/modgc.c: gc.collect() was called (the next collection is an explicit one)
void focusrig_gc_explicit(void);

// extmod/vfs_posix_file.c and ports/unix/unix_mphal.c: the board's USB CDC model owns
// fds 0..2 while it is installed (stdio_active). Same contracts as the stream protocol.
extern bool focusrig_stdio_active;
uintptr_t focusrig_stdio_read(void *buf, uintptr_t size, int *errcode);
uintptr_t focusrig_stdio_write(const void *buf, uintptr_t size, int *errcode);
uintptr_t focusrig_stdio_poll(uintptr_t flags);
bool focusrig_stdout_hook(const char *str, size_t len);

// extmod/modasyncio.c: the ms clock asyncio's C half keys tasks by (the board's, once set)
uintptr_t focusrig_asyncio_ticks_ms(void);
// ports/unix/main.c: the GC heap, mapped where a Pico's SRAM is when the address is free
char *focusrig_heap_alloc(size_t n);
void focusrig_heap_free(char *heap, size_t n);

#endif
