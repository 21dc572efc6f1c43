"""The firmware's `gc` module on the virtual Pico: the heap as the firmware's alone.

The board model runs in the same MicroPython heap as the firmware and allocates about
100 KB/s of its own (on a Pico that work is silicon). Through the built-in `gc` the
firmware would see the board's garbage grow `mem_alloc()` and collect far more often
than on a Pico. This module takes the built-in's place in `sys.modules` (imports look
there first: py/builtinimport.c, mp_module_get_loaded_or_builtin) and answers from the
CPU model's accounting of the firmware's own heap (vphook `fw_heap`: its live bytes after
the last collection plus what it allocated since, as py/gc.c counts them on a Pico):

- `mem_alloc()`: that sum; `mem_free()`: a Pico's free heap (gc.mem_free() at a bare
  REPL of the official v1.28.0 RPI_PICO firmware, 241,696 B) less it;
- `collect()`: a real collection, charged to the firmware's CPU time (the time a Pico
  takes to mark the firmware's live heap: _vp_cpu.GC_PER_KB);
- `mem_alloc()` and `mem_free()` are charged a scan of the whole heap (py/gc.c gc_info():
  _vp_cpu.GC_INFO, about 9 ms on an RP2040);
- everything else (`enable`, `disable`, `isenabled`, `threshold`) is the built-in's.
"""

import gc as _gc

import _vp_cpu

try:
    import _vphook
except ImportError:             # a stock interpreter: the built-in's figures
    _vphook = None

PICO_FREE = 241696


def collect():
    _gc.collect()
    if _vphook is not None:
        _vphook.firmware_collected()


def _used():
    live, since = _vphook.fw_heap()
    return live + since


def mem_alloc():
    if _vphook is None:
        return _gc.mem_alloc()
    _vphook.charge(_vp_cpu.GC_INFO)     # a scan of the whole heap on a Pico
    return _used()


def mem_free():
    if _vphook is None:
        return _gc.mem_free()
    _vphook.charge(_vp_cpu.GC_INFO)
    free = PICO_FREE - _used()
    return free if free > 0 else 0


enable = _gc.enable
disable = _gc.disable
isenabled = _gc.isenabled
threshold = getattr(_gc, "threshold", None)
