"""The virtual Pico's CPU model: what a bytecode of the firmware costs on an RP2040.

The project's interpreter counts every bytecode the firmware executes (C hook in
virtual_pico/cmod/vphook, patched into py/vm.c's dispatch: tools/build_micropython.py)
and adds its cost, in RP2040 clock cycles at 125 MHz, from the table built here. Code of
the board model itself (kernel, PIO engine, devices, our machine/rp2/time modules) is not
charged: on a Pico it is C or silicon. The kernel turns charged cycles into virtual time
(_vp_kernel.catch_up) and uses the counter's alarm to run due IRQs between bytecodes.

The costs are classes of opcodes (py/bc0.h of v1.28.0 numbers them) times SCALE, which
is calibrated against the `rp2040` target (the official v1.28.0 UF2 on an emulated
RP2040, Cortex-M0+ cycle-counted): see docs/virtual_pico.md "CPU model" for the runs
and the figures they must agree on (press-to-shutter, move time, busy fraction).
"""

# cycles per bytecode class before SCALE (a Cortex-M0+ running MicroPython's VM)
FAST = 14           # load/store local, small-int/None/True constant, stack shuffles
JUMP = 16           # jumps, for-iteration over a range
NAME = 70           # global / builtin / name lookup (a dict probe)
ATTR = 140          # attribute / method lookup (instance map, then the class chain)
SUBSCR = 90         # x[i] load/store
BINOP = 90          # binary op (small ints are quick, floats allocate a box)
UNOP = 50
CALL = 420          # a call: arguments, frame set-up (plus the callee's bytecodes)
RETURN = 80
BUILD = 180         # tuple/list/map/slice construction (allocates)
MAKE_FN = 200
YIELD = 160         # generator / coroutine switch (asyncio)
IMPORT = 400
OTHER = 60

SCALE = 2.5         # calibrated against the rp2040 target: docs/virtual_pico.md "CPU model"

# the heap's C work, in RP2040 cycles, not scaled (py/gc.c, hooked by the build): each
# allocation (gc_alloc's block search; a float, tuple, dict or string of the firmware) and
# each 16-byte block of it (zeroing), and a collection per KB of the firmware's live heap
# (marking it; the rp2040 target: 16.3-16.6 ms with ~95 KB live: `status` gc_us)
ALLOC_FIX = 0       # not charged: at SCALE 2.5, 300 + 30 per block moved idle CPU by 0.01
ALLOC_BLOCK = 0     # and made the host link worse than the rp2040 target's (docs)
GC_FIX = 0
GC_PER_KB = 21600
# gc.mem_alloc() / gc.mem_free(): py/gc.c gc_info() walks the whole allocation table,
# whatever is in use: 8.7-9.0 ms each on the rp2040 target (measured with 6 to 58 KB in
# use; docs/virtual_pico.md). Free on the virtual Pico until December 2026: the firmware
# called one in every pass of its idle loop, 86 % of an RP2040's time.
GC_INFO = 1100000


def _classes():
    c = [OTHER] * 256
    for op in range(0x70, 0xB0):        # LOAD_CONST_SMALL_INT_MULTI
        c[op] = FAST
    for op in range(0xB0, 0xD0):        # LOAD_FAST_MULTI, STORE_FAST_MULTI
        c[op] = FAST
    for op in range(0xD0, 0xD7):        # UNARY_OP_MULTI
        c[op] = UNOP
    for op in range(0xD7, 0x100):       # BINARY_OP_MULTI
        c[op] = BINOP
    for op in (0x50, 0x51, 0x52, 0x53, 0x57, 0x58, 0x59, 0x5A, 0x5B,    # consts, stack ops
               0x22, 0x24, 0x26, 0x10):                                 # int/fast/str consts
        c[op] = FAST
    for op in (0x11, 0x12, 0x16, 0x17, 0x25, 0x27):                    # name/global/deref
        c[op] = NAME
    for op in (0x13, 0x14, 0x15, 0x18):                                # attr/method
        c[op] = ATTR
    for op in (0x55, 0x56):                                            # subscr
        c[op] = SUBSCR
    for op in range(0x40, 0x4C):                                       # jumps, setup, for
        c[op] = JUMP
    for op in (0x34, 0x35, 0x36, 0x37):                                # calls
        c[op] = CALL
    c[0x63] = RETURN
    for op in (0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x62, 0x30, 0x31):   # build, unpack
        c[op] = BUILD
    for op in (0x20, 0x21, 0x32, 0x33):                                # make function/closure
        c[op] = MAKE_FN
    for op in (0x67, 0x68):                                            # yield
        c[op] = YIELD
    for op in (0x1B, 0x1C, 0x69):                                      # import
        c[op] = IMPORT
    return c


def weights(scale=SCALE):
    """The 256 opcode costs (cycles) as the C hook takes them: uint16, little-endian."""
    out = bytearray(512)
    for op, cyc in enumerate(_classes()):
        v = int(cyc * scale + 0.5)
        if v > 65535:
            v = 65535
        out[2 * op] = v & 0xFF
        out[2 * op + 1] = v >> 8
    return out


def install(board_modules, scale=SCALE, board_bytes=0, pico_free=241696):
    """Load the cost table and exclude the board's own modules; False without the hook
    (a stock interpreter: then firmware bytecodes take no virtual time)."""
    try:
        import _vphook
    except ImportError:
        return False
    _vphook.set_weights(weights(scale))
    if hasattr(_vphook, "set_heap_costs"):
        _vphook.set_heap_costs(ALLOC_FIX, ALLOC_BLOCK, GC_FIX, GC_PER_KB, board_bytes, pico_free)
    for m in board_modules:
        _vphook.board_module(m)
    return True
