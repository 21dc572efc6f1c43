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
ATTR_CLASS = 841    # o.K from the class, or Class.K                            881 - 2 FAST
METHOD_PY = 616     # o.m() of a Python class: the class chain      1416 - the call's rest
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
BUILTIN_NAME = 1200 # a built-in's name (len, int): missed in the module's globals first,
                    # which hashes the qstr (py/qstr.c walks the pools); bench: 1,342
NATIVE_BODY = 180   # a C built-in's body when not in BODIES (list append + pop: 2 x 177)
STR_FORMAT = 300    # str % args (py/objstr.c str_modulo_format; its result's qstr search apart)
QSTR_FIND = 200     # a str made from data (decode, split, slicing, iterating a str) looks
QSTR_ENTRY = 16     # for an equal qstr first (py/objstr.c mp_obj_new_str, py/qstr.c
                    # qstr_find_strn): past every qstr the firmware added at run time, one
                    # by one (a hit: up to it; vphook.c keeps a Pico's pool layout), then
                    # the ROM pools by bisection (QSTR_FIND). bytes.decode() of 10 bytes no
                    # qstr holds, the product loaded: 16,175 cycles on the rp2040 target,
                    # where micropython.qstr_info() counts 915 RAM qstrs. The virtual Pico
                    # counts 1,498 as the firmware's (_vphook.fw_qstrs(); why more is not
                    # known), so a miss costs it ~1.6x a Pico's: docs/virtual_pico.md
RAISE = 1700        # raise (nlr, py/objexcept.c; its traceback entry allocates: ALLOC_FIX)

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
    ("builtins", "max", 250, 0, 0),          # max(a, 0): 1,565
    ("builtins", "min", 250, 0, 0),
    ("builtins", "any", 600, 250, 250),      # any(bytearray(4)): 2,936 (an iterator, 4 steps)
    ("builtins", "int", 700, 110, 0),        # int('1200'): 2,467 (the parse)
    ("builtins", "str.split", 0, 0, 0),      # 'move 1200'.split(): 10,085, all but the bytecodes
                                             # its qstr searches and allocations here
    ("json", "loads", 4000, 1065, 0),        # a 30-byte move command: 68,270-73,231 (through a
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
# round trip (bench_cpu_ops: `await sleep_ms(0)`, 199 us on the rp2040 target, and 218
# with stdin registered) less what the model charges for the rest of it
WAIT_IO = 5600
WAIT_IO_STREAM = 1870
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


def install(board_modules, scale=SCALE, board_bytes=0, pico_free=241696):
    """Load the cost table and exclude the board's own modules; False without the hook
    (a stock interpreter: then firmware bytecodes take no virtual time)."""
    try:
        import _vphook
    except ImportError:
        return False
    global scale_in_use
    scale_in_use = scale
    _vphook.set_weights(weights(scale))
    _vphook.set_heap_costs(int(ALLOC_FIX * scale), int(ALLOC_BLOCK * scale), GC_FIX, GC_PER_KB,
                           board_bytes, pico_free)
    for m in board_modules:
        _vphook.board_module(m)
    _vphook.set_costs([int(c * scale + 0.5) for c in (
        ATTR_HIT, ATTR_CLASS, METHOD_PY, ATTR_MOD, ATTR_NATIVE, STORE_ATTR, BINOP_INT,
        BINOP_FLOAT, BINOP_OBJ, ENTER, ENTER_ARG, BODY, BUILTIN_NAME, NATIVE_BODY,
        STR_FORMAT, RAISE, BINOP_MUL, SUBSCR_LIST, SUBSCR_BYTES, SUBSCR_ARRAY, SUBSCR_DICT,
        STORE_LIST, STORE_BYTES, STORE_ARRAY, STORE_DICT, FREE, QSTR_FIND, QSTR_ENTRY)])
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
