"""The virtual Pico's CPU model: what a bytecode of the firmware costs on an RP2040.

The project's interpreter counts every bytecode the firmware executes (C hook in
virtual_pico/cmod/vphook, patched into py/vm.c's dispatch: tools/build_micropython.py)
and adds its cost, in RP2040 clock cycles at 125 MHz, from the table built here. Code of
the board model itself (kernel, PIO engine, devices, our machine/rp2/time modules) is not
charged: on a Pico it is C or silicon. The kernel turns charged cycles into virtual time
(_vp_kernel.catch_up) and uses the counter's alarm to run due IRQs between bytecodes.

Every cost is a measurement on the `rp2040` target (the official v1.28.0 UF2 on an
emulated RP2040, Cortex-M0+ cycle-counted), mostly from tools/bench_cpu_ops.py (a
statement timed in a loop on both targets), each with its derivation beside it: by
opcode (the table), by what the bytecode works on (an attribute's object, a binary op's
operands, a container, a name: vphook.c looks at the value stack), a Python function's
frame, a C built-in's body (BODIES), the heap, qstr searches, a raise, interrupts and
asyncio's wait for I/O. SCALE multiplies them all (a test may run a slower CPU). How
whole scenarios then agree: docs/virtual_pico.md "The CPU model".
"""

# What a bytecode costs, in RP2040 cycles at 125 MHz: fitted to `tools/bench_cpu_ops.py`
# on the rp2040 target (the official v1.28.0 UF2, December 2026; us x 125), one bytecode
# sequence per benchmark line (dumped with `micropython -v -v`). A load/store of a local
# is taken as 20 cycles (the dispatch); the rest follows:
#   local int add       LOAD_FAST LOAD_CONST BINARY_OP STORE_FAST            180 cycles
#   int compare         LOAD_FAST LOAD_CONST BINARY_OP POP_TOP               165
#   loop iteration      DUP STORE LOAD_CONST BINARY_OP DUP LOAD_CONST BINARY_OP
#                       POP_JUMP_IF_TRUE                                     404
#   global name load    LOAD_GLOBAL POP_TOP                                  168
#   bytearray/dict item LOAD_FAST LOAD_CONST LOAD_SUBSCR POP_TOP             258 / 243
#   bytearray store     LOAD_CONST LOAD_FAST LOAD_CONST STORE_SUBSCR         365
#   built-in call       LOAD_FAST CALL_FUNCTION POP_TOP (time.ticks_us)      186
#   Python call         LOAD_GLOBAL CALL_FUNCTION POP_TOP + the callee's
#                       frame, LOAD_CONST_NONE RETURN_VALUE                  902 (2 args: 995)
#   method call         LOAD_FAST LOAD_METHOD CALL_METHOD POP_TOP + callee   1416 (1 arg: 1501)
FAST = 20           # load/store local, constants, stack shuffles
JUMP = 80           # jumps, for-iteration (the VM checks for pending exceptions there)
NAME = 148          # global / builtin / name lookup (a dict probe)
DEREF = 40          # a closure cell
SUBSCR = 190        # x[i] load, any other container (by the container: below)
STORE_SUBSCR = 305  # x[i] = v
UNOP = 60
CALL = 90           # a call of anything: arguments on the stack, dispatch to its type
RETURN = 100
BUILD = 50          # tuple/list/map construction, unpacking (an allocation: ALLOC_FIX)
MAKE_FN = 200
YIELD = 300         # generator / coroutine switch (asyncio)
IMPORT = 400
OTHER = 60

# what the opcode alone does not tell: vphook.c looks at the object or the operands
ATTR_HIT = 151      # o.x, x in the instance's own members (one map probe)      191 - 2 FAST
ATTR_CLASS = 551    # o.K from the class, or Class.K        881 - 2 FAST - 2 MAP_HASHED
METHOD_PY = 471     # o.m() of a Python class: the class chain
                    #                         1416 - the call's rest - MAP_HASHED
ATTR_MOD = 262      # module.name (time.ticks_us() 576 = NAME + this + CALL + POP + body)
ATTR_NATIVE = 250   # a native object's method (Pin, StateMachine: its ROM table)
STORE_ATTR = 232    # o.x = v                                                   272 - 2 FAST
BINOP_INT = 112     # both operands small ints (add 120, compare 105, shift 116)
BINOP_MUL = 178     # small ints: *, //, % (an overflow check, the divider)       238 - 3 FAST
BINOP_FLOAT = 290   # a float operand: soft float (float compare 343 - 3 FAST; a result's box: ALLOC)
BINOP_OBJ = 300     # anything else (str compare or +, tuple, bytes)
SUBSCR_LIST = 154   # x[i] of a list or tuple                                   214 - 3 FAST
SUBSCR_BYTES = 198  # of a bytearray or bytes                                   258 - 3 FAST
SUBSCR_ARRAY = 331  # of an array('i') (a 32-bit value to an int)               391 - 3 FAST
SUBSCR_DICT = 183   # d[key]                                                    243 - 3 FAST
STORE_LIST = 260    # x[i] = v of a list (not measured: between the two below)
STORE_BYTES = 305   # of a bytearray                                            365 - 3 FAST
STORE_ARRAY = 428   # of an array('i')                                          488 - 3 FAST
STORE_DICT = 400    # d[key] = v, an existing key (not measured: a probe and a store)
ENTER = 524         # a Python function's frame set-up (902 - the call's rest - RETURN)
ENTER_ARG = 26      # each argument bound                                (995 - 902) / 2
BODY = 100          # a board function standing for a built-in, when not in BODIES
BUILTIN_NAME = 284  # a built-in's name (len, int) past the module's globals, where it
                    # missed (that miss: MAP_HASHED + its probes): LOAD_GLOBAL POP_TOP
                    # 1,637 with 27 probes = 20 + this + 145 + 27 x 44
NATIVE_BODY = 180   # a C built-in's body when not in BODIES (list append + pop: 2 x 177)
STR_FORMAT = 985    # str % args (py/objstr.c str_modulo_format; its result's qstr search
                    # apart): '%d' % 1200 2,358 in all
# A map lookup (py/map.c mp_map_lookup) that misses rp2's lookup cache hashes its key
# and divides (hash % size); each further slot it probes divides again. A map grows only
# when full (an instance of 59 attributes has 59 slots), so a miss there probes every
# slot: each method call and class constant through `self` of a big object. vphook.c
# counts the probes the firmware's lookups make (the interpreter is built with rp2's
# 1-byte qstr hashes, so slots and chains are a Pico's) and charges them at the next
# bytecode. Fitted on the rp2040 target: o.m() and o.K on instances of 6 to 61 attributes
# (6 to 118 probes) cost 43-46 cycles a probe more than on one of 1; a hit that misses the
# cache (two instances' same attribute in turn) 141-157 cycles more than a cached one.
# The rows the costs above come from had 1 (METHOD_PY) or 2 (ATTR_CLASS) hashed lookups.
MAP_HASHED = 145
MAP_PROBE = 44
# A str made from data (decode, split, slicing, iterating a str, json's strings) looks for
# an equal qstr first (py/objstr.c mp_obj_new_str, py/qstr.c qstr_find_strn): the RAM
# pools newest first, entry by entry (a hit: the newer pools and its own up to it), then a
# Pico's three ROM pools (their names and bounds read from the UF2: tools/pico_qstrs.py):
# the frozen modules' (235) and the main one (762) by bisection, the static one (217)
# entry by entry. vphook.c numbers the firmware's qstrs as a Pico does (the same 916 with
# the product loaded as micropython.qstr_info() lists, in the same order). Fitted on the
# rp2040 target (bench rows `x.decode()`, against the same with 800 more RAM qstrs): a RAM
# entry 15.2 cycles; past the RAM, a hit in the frozen pool 940 more, in the main pool
# 1,660; in the static pool 1,730 at its 17th entry and 3,625 at its 162nd (13 a entry);
# a miss ~4,200, and 21 more a byte of the string (2 to 20 bytes: 48.5 to 51.6 us; its
# hash and UTF-8 check; the ROM figures are for 5 to 12 bytes, less 10 x 21).
QSTR_FIND = 200     # the call
QSTR_BYTE = 21      # each byte of the string: its hash, its UTF-8 check
QSTR_ENTRY = 15     # each RAM qstr passed
QSTR_FROZEN = 830   # the frozen modules' pool (bisection)
QSTR_CONST = 720    # the main ROM pool (bisection)
QSTR_STATIC = 12    # each static qstr passed
RAISE = 575         # raise (nlr, py/objexcept.c; its traceback entry allocates: ALLOC_FIX):
                    # the bench's raise + except 2,494 in all, with `except ValueError`'s
                    # built-in name (a miss in the globals: 20 to 30 us as they filled)

# The C body of a built-in: (module, name, cycles, per byte, per item). Per byte or item
# of its subject (the first argument, or self: a str's bytes, a dict's items), for a C
# built-in; a board function standing for one costs its cycles. From bench_cpu_ops like
# the rest (the whole line's cycles less the bytecodes around the call and the allocations,
# which are charged apart: ALLOC_FIX), or by the C it runs.
BODIES = (
    ("time", "ticks_us", 56, 0, 0),          # ports/rp2/mphalport.h: a timer register read
    ("time", "ticks_ms", 56, 0, 0),
    ("time", "ticks_diff", 67, 0, 0),        # extmod/modtime.c: small-int arithmetic
    ("time", "ticks_add", 67, 0, 0),
    ("time", "sleep_ms", 2250, 0, 0),        # mp_hal_delay_ms: its wait loop's event hook
    ("time", "sleep_us", 2250, 0, 0),        # (USB task, pending callbacks): 24.8 us a call
                                             # in a 5 ms loop against 7.6 charged
    ("machine", "Pin.value", 174, 0, 0),     # ports/rp2/machine_pin.c: gpio_get, args parsed
    ("machine", "UART.any", 412, 0, 0),      # ports/rp2/machine_uart.c: drains the FIFO first
    ("machine", "UART.read", 500, 0, 0),     # the same, then a copy into a new bytes (its
    ("machine", "UART.readinto", 450, 0, 0), # allocation is the board's here: not charged)
    ("machine", "disable_irq", 111, 0, 0),   # ports/rp2/modmachine.c: save_and_disable_interrupts
    ("machine", "enable_irq", 111, 0, 0),
    ("rp2", "StateMachine.put", 162, 0, 0),  # ports/rp2/rp2_pio.c: FIFO-full check, pio_sm_put
    ("builtins", "len", 130, 0, 0),          # len(bytearray): 1,599 in all
    ("builtins", "isinstance", 150, 0, 0),   # isinstance(a, int): 2,635 (two built-in names)
    ("builtins", "max", 340, 0, 0),          # max(a, 0): 916 (its name's miss charged apart)
    ("builtins", "min", 340, 0, 0),
    ("builtins", "any", 190, 250, 250),      # any(bytearray(4)): 3,861 (an iterator, 4 steps)
    ("builtins", "int", 400, 110, 0),        # int('1200'): 3,380 (the parse)
    ("builtins", "str.split", 1370, 0, 0),   # 'move 1200'.split(): 10,056, all but the bytecodes
                                             # its qstr searches and allocations here
    ("json", "loads", 17650, 1065, 0),       # a 30-byte move command: 68,270-73,231 (through a
                                             # stream; its strs' qstr searches apart)
    ("json", "dump", 1400, 488, 3910),       # int 2,624, a 12-byte str 8,475, a 2-item dict
                                             # 10,444, each with a bound seek(0)
    ("io", "BytesIO.seek", 515, 0, 0),       # bound, sk(0): 665 (py/objstringio.c)
    ("io", "BytesIO.write", 515, 0, 0),
    ("io", "BytesIO.tell", 515, 0, 0),
    ("io", "BytesIO.readinto", 515, 0, 0),
)

SCALE = 1.0         # every cost above times this (a test may run a slower CPU)

# the heap's C work, in RP2040 cycles (py/gc.c, hooked by the build): each allocation of
# the firmware (gc_alloc's block search, a float, tuple, dict or string) and each 16-byte
# block of it (zeroing), and a collection per KB of the firmware's live heap (marking it;
# the rp2040 target: 16.3-16.6 ms with ~95 KB live: `status` gc_us)
ALLOC_FIX = 420     # float add 802 - float compare 343 (the same but for the box), less
ALLOC_BLOCK = 8     # a block's zeroing; small tuple build 536 - 3 FAST - alloc: BUILD
FREE = 495          # gc_free of what is given back at once: a call whose frame is too big
                    # for the C stack (py/objfun.c VM_MAX_STATE_ON_STACK, 44 bytes) has it
                    # allocated and freed (bench: such a call 2,049 against 995 for a small
                    # frame, ALLOC_FIX and ALLOC_BLOCK apart)
GC_FIX = 0
GC_PER_KB = 21600
# gc.mem_alloc() / gc.mem_free(): py/gc.c gc_info() walks the whole allocation table,
# whatever is in use: 8.7-9.0 ms each on the rp2040 target (measured with 6 to 58 KB in
# use; docs/virtual_pico.md). Free on the virtual Pico until December 2026: the firmware
# called one in every pass of its idle loop, 86 % of an RP2040's time.
GC_INFO = 1100000
# an interrupt's C around the handler's Python. A soft timer's (machine.Timer, hard):
# the alarm IRQ, PendSV, soft_timer_handler re-queueing it, mp_irq_dispatch's nlr and
# locks (ports/rp2/mphalport.c:241-254, shared/runtime/softtimer.c, mpirq.c): an empty
# callback at 1 kHz takes 1.65 % of the rp2040 target's CPU, 2,065 cycles each, of which
# the Python call is ~700. Any other hard IRQ (GPIO, PIO: gpio_irq -> mp_irq_dispatch)
# has fewer layers: an estimate, not measured (a PIO-driven pin does not raise a Pin IRQ
# on the virtual Pico, so the same experiment cannot run on both).
IRQ_ENTRY_TIMER = 1370
IRQ_ENTRY = 700
# asyncio's wait for I/O, which the board replaces (_vp_boot: virtual time): on a Pico
# core.py's IOQueue.wait_io_event (Python) and select's ipoll (C: each registered stream's
# ioctl, and rp2's event hook running the USB stack, mp_usbd_task). From the asyncio
# round trip (bench_cpu_ops: `await sleep_ms(0)`, 196 us on the rp2040 target, and 209
# with stdin registered) less what the model charges for the rest of it, which includes
# asyncio.core's map lookups: its globals are a full table of 29 slots, so each `max`
# (two a round trip: run_until_complete and sleep_ms) misses them all (29 probes: 17.9 us
# on the rp2040 target for `'max' in core.__dict__` against 6.6 for a global it has).
WAIT_IO = 3660
WAIT_IO_STREAM = 775
# A UART's receive interrupts (C only: ports/rp2/machine_uart.c, at the FIFO's trigger
# level and its receive timeout: a 9-byte TF-Luna frame is 3) and the CPU's wake from
# its wait that each brings. A firmware that sleeps in 5 ms steps and polls any() costs
# the rp2040 target 13.1-13.9 ms/s more with the LiDAR at 100 Hz than without. Without
# this figure the model put 3.8 ms/s on it; the other ~10 over 300 interrupts a second is
# 4,200 cycles each; with it the model reads 11.5 (`python tools/bench_c_work.py`)
UART_RX_IRQ = 4200
# rp2's USB stack for a write to the USB serial (shared/tinyusb/mp_usbd_cdc.c: the FIFO,
# a flush, the endpoint's transfer and its completion interrupt), per 64-byte packet: a
# 64-byte line every 10 ms costs the rp2040 target 5.6 ms/s over its loop, the model
# charged 1.2 (`tools/bench_c_work.py`)
USB_TX_PACKET = 5500

scale_in_use = SCALE    # what install() was given (the board's C-work charges use it)


def _classes():
    c = [OTHER] * 256
    for op in range(0x70, 0xB0):        # LOAD_CONST_SMALL_INT_MULTI
        c[op] = FAST
    for op in range(0xB0, 0xD0):        # LOAD_FAST_MULTI, STORE_FAST_MULTI
        c[op] = FAST
    for op in range(0xD0, 0xD7):        # UNARY_OP_MULTI
        c[op] = UNOP
    for op in range(0xD7, 0x100):       # BINARY_OP_MULTI
        c[op] = BINOP_INT                                              # (refined in C)
    for op in (0x50, 0x51, 0x52, 0x53, 0x57, 0x58, 0x59, 0x5A, 0x5B,    # consts, stack ops
               0x22, 0x24, 0x26, 0x10):                                 # int/fast/str consts
        c[op] = FAST
    for op in (0x11, 0x12, 0x16, 0x17):                                # name/global
        c[op] = NAME
    for op in (0x25, 0x27):                                            # deref
        c[op] = DEREF
    for op in (0x13, 0x14, 0x15, 0x18):                                # attr/method
        c[op] = ATTR_NATIVE                                            # (refined in C)
    c[0x55] = SUBSCR
    c[0x56] = STORE_SUBSCR
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


def _pico_qstrs(hook):
    """The official firmware's ROM qstrs in its numbering (tools/pico_qstrs.py read them
    from the UF2): rp2's map lookup cache slots a key by its qstr number, and a name a
    Pico has in ROM is not one the firmware adds."""
    import json
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/pico_rom_qstrs.json") as f:
        rom = json.load(f)
    hook.pico_qstrs(rom["qstrs"], rom["pool_starts"][1], rom["pool_starts"][2])
    # the board imports asyncio before the firmware (_vp_boot: its virtual-time hook); a
    # Pico makes this name at the firmware's first `import asyncio` (`from .core import *`)
    hook.import_qstrs("asyncio", ["asyncio.core"])


def install(board_modules, scale=SCALE, board_bytes=0, pico_free=241696):
    """Load the cost table and exclude the board's own modules; False without the hook
    (a stock interpreter: then firmware bytecodes take no virtual time)."""
    try:
        import _vphook
    except ImportError:
        return False
    global scale_in_use
    scale_in_use = scale
    _pico_qstrs(_vphook)
    _vphook.set_weights(weights(scale))
    _vphook.set_heap_costs(int(ALLOC_FIX * scale), int(ALLOC_BLOCK * scale), GC_FIX, GC_PER_KB,
                           board_bytes, pico_free)
    for m in board_modules:
        _vphook.board_module(m)
    _vphook.set_costs([int(c * scale + 0.5) for c in (
        ATTR_HIT, ATTR_CLASS, METHOD_PY, ATTR_MOD, ATTR_NATIVE, STORE_ATTR, BINOP_INT,
        BINOP_FLOAT, BINOP_OBJ, ENTER, ENTER_ARG, BODY, BUILTIN_NAME, NATIVE_BODY,
        STR_FORMAT, RAISE, BINOP_MUL, SUBSCR_LIST, SUBSCR_BYTES, SUBSCR_ARRAY, SUBSCR_DICT,
        STORE_LIST, STORE_BYTES, STORE_ARRAY, STORE_DICT, FREE, QSTR_FIND, QSTR_ENTRY, MAP_HASHED, MAP_PROBE,
        QSTR_FROZEN, QSTR_CONST, QSTR_STATIC, QSTR_BYTE)])
    import sys
    import builtins
    for mod, name, cyc, per_byte, per_item in BODIES:
        obj = builtins if mod == "builtins" else sys.modules.get(mod)
        if obj is None:
            obj = __import__(mod)       # json, io: the firmware imports them anyway
        parts = name.split(".")
        for part in parts[:-1]:
            obj = getattr(obj, part, None)
        if isinstance(obj, type):       # a class's method: its locals dict's entry (a
            obj = (obj, parts[-1])      # native type's attribute is made afresh each time)
        else:
            obj = getattr(obj, parts[-1], None)
        if obj is not None:
            _vphook.c_cost(obj, int(cyc * scale + 0.5), int(per_byte * scale + 0.5),
                           int(per_item * scale + 0.5))
    return True
