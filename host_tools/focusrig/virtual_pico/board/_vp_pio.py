"""PIO for the virtual Pico: an assembler for MicroPython's ``@rp2.asm_pio`` DSL and a
cycle-exact engine for one PIO state machine.

Owns:
- the DSL (``jmp``, ``out``, ``.side()``, ``[delay]`` ...) and its translation into standard
  RP2040 16-bit opcodes (RP2040 datasheet, PIO instruction set), plus the program's
  configuration (wrap, side-set, shift, FIFO join) in a `PIOProgram`;
- `Engine`: one state machine executing opcodes cycle by cycle against virtual time:
  t_ns = epoch_ns + cycle * 1e9 // freq. Delay loops (``jmp x--``/``jmp y--`` to themselves)
  run in one go; a stalled state machine sleeps until the next kernel call.

Does not own: the ``rp2`` API (rp2.py builds PIO blocks and StateMachine objects on top of
`Engine`), virtual time, events and GPIO levels (_vp_kernel.py, passed in as ``kernel``).

Written in the common subset of MicroPython and CPython: host tests import it on CPython.
Programs run as if loaded at offset 0 of instruction memory (each engine has its own copy).
"""

MASK32 = 0xFFFFFFFF
SYS_FREQ = 125000000

# rp2.PIO constants (MicroPython values)
IN_LOW = 0
IN_HIGH = 1
OUT_LOW = 2
OUT_HIGH = 3
SHIFT_LEFT = 0
SHIFT_RIGHT = 1
JOIN_NONE = 0
JOIN_TX = 1
JOIN_RX = 2


class PIOASMError(Exception):
    """A PIO program or instruction that cannot be assembled."""


class PIOEngineError(Exception):
    """A PIO feature the virtual Pico does not simulate."""


# ---------------------------------------------------------------------------------------
# Assembler
# ---------------------------------------------------------------------------------------

# major opcodes, bits 15..13
OP_JMP = 0x0000
OP_WAIT = 0x2000
OP_IN = 0x4000
OP_OUT = 0x6000
OP_PUSH = 0x8000
OP_PULL = 0x8080
OP_MOV = 0xA000
OP_IRQ = 0xC000
OP_SET = 0xE000
NOP = 0xA042  # mov y, y

# operand codes per instruction field (datasheet encoding tables)
_JMP_COND = {"not_x": 1, "x_dec": 2, "not_y": 3, "y_dec": 4, "x_not_y": 5, "pin": 6,
             "not_osre": 7}
_WAIT_SRC = {"gpio": 0, "pin": 1}
_IN_SRC = {"pins": 0, "x": 1, "y": 2, "null": 3, "isr": 6, "osr": 7}
_OUT_DST = {"pins": 0, "x": 1, "y": 2, "null": 3, "pindirs": 4, "pc": 5, "isr": 6, "exec": 7}
_MOV_DST = {"pins": 0, "x": 1, "y": 2, "exec": 4, "pc": 5, "isr": 6, "osr": 7}
_MOV_SRC = {"pins": 0, "x": 1, "y": 2, "null": 3, "status": 5, "isr": 6, "osr": 7}
_SET_DST = {"pins": 0, "x": 1, "y": 2, "pindirs": 4}

_SYMBOL_NAMES = ("pins", "x", "y", "null", "pindirs", "pc", "isr", "osr", "exec", "status",
                 "block", "noblock", "iffull", "ifempty", "clear", "not_x", "x_dec", "not_y",
                 "y_dec", "x_not_y", "pin", "not_osre", "gpio")


class _Sym:
    """A DSL operand name (x, pins, block, ...). ``op`` is the mov operation: 1 invert,
    2 bit-reverse."""

    def __init__(self, name, op=0):
        self.name = name
        self.op = op

    def __invert__(self):
        return _Sym(self.name, 1)

    def __repr__(self):
        return self.name


def invert(sym):
    return _Sym(_sym_name(sym), 1)


def reverse(sym):
    return _Sym(_sym_name(sym), 2)


def rel(index):
    """IRQ index relative to the state machine number (bit 4 of the index field)."""
    return 0x10 | _check_range(index, 0, 7, "irq index")


def _sym_name(sym):
    if not isinstance(sym, _Sym):
        raise PIOASMError("expected an operand name, got " + repr(sym))
    return sym.name


def _lookup(table, sym, what):
    name = _sym_name(sym)
    if name not in table:
        raise PIOASMError(name + " is not a valid " + what)
    return table[name]


def _check_range(v, lo, hi, what):
    if not isinstance(v, int) or v < lo or v > hi:
        raise PIOASMError("%s must be %d..%d, got %r" % (what, lo, hi, v))
    return v


class _Instr:
    """One instruction being assembled; ``.side(v)`` and ``[delay]`` chain on it."""

    def __init__(self, base, label=None):
        self.base = base
        self.label = label
        self.side_v = None
        self.delay = 0

    def side(self, value):
        if self.side_v is not None:
            raise PIOASMError("side() given twice")
        self.side_v = _check_range(value, 0, 31, "side-set value")
        return self

    def __getitem__(self, delay):
        self.delay = _check_range(delay, 0, 31, "delay")
        return self


class _Assembler:
    """Collects the instructions, labels and wrap points of one DSL function run."""

    def __init__(self):
        self.instrs = []
        self.labels = {}
        self.wrap_target_at = -1
        self.wrap_at = -1
        self.irq_fn = self.irq      # the object `irq` is in the namespace (wait source)

    def namespace(self):
        ns = {}
        for n in _SYMBOL_NAMES:
            ns[n] = _Sym(n)
        ns["invert"] = invert
        ns["reverse"] = reverse
        ns["rel"] = rel
        for n in ("wrap_target", "wrap", "label", "word", "jmp", "wait", "in_", "out",
                  "push", "pull", "mov", "set", "nop"):
            ns[n] = getattr(self, n)
        ns["irq"] = self.irq_fn
        return ns

    def _emit(self, base, label=None):
        ins = _Instr(base, label)
        self.instrs.append(ins)
        return ins

    # ---- directives -------------------------------------------------------------------
    def wrap_target(self):
        self.wrap_target_at = len(self.instrs)

    def wrap(self):
        if not self.instrs:
            raise PIOASMError("wrap() before any instruction")
        self.wrap_at = len(self.instrs) - 1

    def label(self, name):
        if name in self.labels:
            raise PIOASMError("duplicate label " + repr(name))
        self.labels[name] = len(self.instrs)

    def word(self, instr, label=None):
        return self._emit(_check_range(instr, 0, 0xFFFF, "word"), label)

    # ---- instructions -----------------------------------------------------------------
    def nop(self):
        return self._emit(NOP)

    def jmp(self, cond, target=None):
        if target is None:
            cond, target = None, cond
        c = 0 if cond is None else _lookup(_JMP_COND, cond, "jmp condition")
        if isinstance(target, int):
            return self._emit(OP_JMP | c << 5 | _check_range(target, 0, 31, "jmp address"))
        return self._emit(OP_JMP | c << 5, target)

    def wait(self, polarity, src, index):
        _check_range(polarity, 0, 1, "wait polarity")
        s = 2 if src is self.irq_fn else _lookup(_WAIT_SRC, src, "wait source")
        _check_range(index, 0, 31, "wait index")
        return self._emit(OP_WAIT | polarity << 7 | s << 5 | index)

    def in_(self, src, count):
        s = _lookup(_IN_SRC, src, "in source")
        return self._emit(OP_IN | s << 5 | (_check_range(count, 1, 32, "bit count") & 31))

    def out(self, dst, count):
        d = _lookup(_OUT_DST, dst, "out destination")
        return self._emit(OP_OUT | d << 5 | (_check_range(count, 1, 32, "bit count") & 31))

    def push(self, *mods):
        return self._emit(OP_PUSH | _fifo_mods(mods, "iffull"))

    def pull(self, *mods):
        return self._emit(OP_PULL | _fifo_mods(mods, "ifempty"))

    def mov(self, dst, src):
        d = _lookup(_MOV_DST, dst, "mov destination")
        s = _lookup(_MOV_SRC, src, "mov source")
        return self._emit(OP_MOV | d << 5 | src.op << 3 | s)

    def irq(self, mod, index=None):
        if index is None:
            mod, index = None, mod
        bits = 0
        if mod is not None:
            name = _sym_name(mod)
            if name == "clear":
                bits = 0x40
            elif name == "block":
                bits = 0x20
            else:
                raise PIOASMError(name + " is not a valid irq mode")
        return self._emit(OP_IRQ | bits | _check_range(index, 0, 31, "irq index"))

    def set(self, dst, data):
        d = _lookup(_SET_DST, dst, "set destination")
        return self._emit(OP_SET | d << 5 | _check_range(data, 0, 31, "set value"))


def _fifo_mods(mods, if_name):
    """push/pull modifiers -> bit 6 (iffull/ifempty) | bit 5 (block, the default)."""
    bits = 0x20
    for m in mods:
        name = _sym_name(m)
        if name == if_name:
            bits |= 0x40
        elif name == "noblock":
            bits &= ~0x20
        elif name != "block":
            raise PIOASMError(name + " is not a valid modifier here")
    return bits


def _field_layout(sideset_count, sideset_opt):
    """Bits left for the delay in the 5-bit delay/side-set field."""
    bits = 5 - sideset_count - (1 if sideset_opt else 0)
    if bits < 0:
        raise PIOASMError("too many side-set pins")
    return bits


def _encode(ins, sideset_count, sideset_opt, labels):
    """Final 16-bit opcode of one `_Instr`."""
    op = ins.base
    if ins.label is not None:
        if ins.label not in labels:
            raise PIOASMError("unknown label " + repr(ins.label))
        op |= labels[ins.label]
    dbits = _field_layout(sideset_count, sideset_opt)
    if ins.delay >= (1 << dbits):
        raise PIOASMError("delay %d too large (max %d)" % (ins.delay, (1 << dbits) - 1))
    field = ins.delay
    if ins.side_v is not None:
        if sideset_count == 0:
            raise PIOASMError("side() used but no side-set pins configured")
        if ins.side_v >= (1 << sideset_count):
            raise PIOASMError("side-set value %d too large" % ins.side_v)
        field |= ins.side_v << dbits
        if sideset_opt:
            field |= 0x10
    return op | field << 8


class PIOProgram:
    """An assembled program: ``opcodes`` plus what the state machine config needs."""

    def __init__(self, name, opcodes, labels, wrap_target, wrap, sideset_count, sideset_opt,
                 cfg):
        self.name = name
        self.opcodes = opcodes
        self.labels = labels
        self.wrap_target = wrap_target
        self.wrap = wrap
        self.sideset_count = sideset_count     # side-set data bits (without the opt bit)
        self.sideset_opt = sideset_opt
        self.side_pindir = cfg["side_pindir"]
        self.out_init = cfg["out_init"]        # tuples of IN_/OUT_ constants
        self.set_init = cfg["set_init"]
        self.sideset_init = cfg["sideset_init"]
        self.in_shiftdir = cfg["in_shiftdir"]
        self.out_shiftdir = cfg["out_shiftdir"]
        self.autopush = cfg["autopush"]
        self.autopull = cfg["autopull"]
        self.push_thresh = cfg["push_thresh"]
        self.pull_thresh = cfg["pull_thresh"]
        self.fifo_join = cfg["fifo_join"]

    def __len__(self):
        return len(self.opcodes)

    def __repr__(self):
        return "<PIOProgram %s, %d instructions>" % (self.name, len(self.opcodes))


def _as_tuple(v):
    if v is None:
        return ()
    if isinstance(v, int):
        return (v,)
    return tuple(v)


def _run_dsl(fn, ns):
    """Call fn with the DSL names in its globals, restoring the module's names after."""
    g = fn.__globals__
    saved = {}
    added = []
    for k in ns:
        if k in g:
            saved[k] = g[k]
        else:
            added.append(k)
        g[k] = ns[k]
    try:
        fn()
    finally:
        for k in added:
            del g[k]
        for k in saved:
            g[k] = saved[k]


def asm_pio(out_init=None, set_init=None, sideset_init=None, side_pindir=False,
            in_shiftdir=SHIFT_LEFT, out_shiftdir=SHIFT_LEFT, autopush=False, autopull=False,
            push_thresh=32, pull_thresh=32, fifo_join=JOIN_NONE):
    """Decorator: run the DSL function once and return its `PIOProgram`."""
    cfg = {"out_init": _as_tuple(out_init), "set_init": _as_tuple(set_init),
           "sideset_init": _as_tuple(sideset_init), "side_pindir": bool(side_pindir),
           "in_shiftdir": in_shiftdir, "out_shiftdir": out_shiftdir,
           "autopush": bool(autopush), "autopull": bool(autopull),
           "push_thresh": _check_range(push_thresh, 1, 32, "push_thresh"),
           "pull_thresh": _check_range(pull_thresh, 1, 32, "pull_thresh"),
           "fifo_join": fifo_join}
    if len(cfg["set_init"]) > 5 or len(cfg["sideset_init"]) > 5:
        raise PIOASMError("at most 5 set / side-set pins")

    def assemble(fn):
        asm = _Assembler()
        _run_dsl(fn, asm.namespace())
        return _finish(asm, fn.__name__, cfg)

    return assemble


def _finish(asm, name, cfg):
    n = len(asm.instrs)
    if n == 0 or n > 32:
        raise PIOASMError("a program has 1..32 instructions, got %d" % n)
    side_count = len(cfg["sideset_init"])
    with_side = 0
    for ins in asm.instrs:
        if ins.side_v is not None:
            with_side += 1
    # side-set is optional (costs the enable bit) unless every instruction side-sets
    side_opt = side_count > 0 and with_side != n
    opcodes = [_encode(ins, side_count, side_opt, asm.labels) for ins in asm.instrs]
    wrap_target = asm.wrap_target_at if asm.wrap_target_at >= 0 else 0
    wrap = asm.wrap_at if asm.wrap_at >= 0 else n - 1
    return PIOProgram(name, opcodes, dict(asm.labels), wrap_target, wrap, side_count,
                      side_opt, cfg)


def asm_pio_encode(instr, sideset_count, sideset_opt=False):
    """Assemble one instruction given as DSL text, e.g. ``"pull()"`` or ``"set(x, 3)"``."""
    asm = _Assembler()
    eval(instr, asm.namespace())
    if len(asm.instrs) != 1:
        raise PIOASMError("expected exactly one instruction in " + repr(instr))
    return _encode(asm.instrs[0], sideset_count, sideset_opt, asm.labels)


# ---------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------

# decoded instruction kinds
K_JMP = 0
K_WAIT = 1
K_IN = 2
K_OUT = 3
K_PUSH = 4
K_PULL = 5
K_MOV = 6
K_IRQ = 7
K_SET = 8
K_LOOPX = 9      # jmp x-- to itself: a delay loop
K_LOOPY = 10     # jmp y-- to itself
K_MOVR = 11      # mov x/y <- x/y/isr/osr, no operation (the engine's inline fast path)

# decoded tuple slots: (kind, a, b, c, delay, side, next_pc)
#   jmp: a=cond b=target   wait: a=pol b=src c=index   in/out: a=src/dst b=bit count
#   push/pull: a=if-flag b=block   mov: a=dst b=op c=src   irq: a=clear b=wait c=index
#   set: a=dst b=data      side = -1 when the instruction does not side-set
#   next_pc = None for an EXEC'd instruction (the PC does not advance)


def decode(opcode, sideset_count, sideset_opt, addr=-1, next_pc=None):
    """Turn a 16-bit opcode into the tuple the engine executes."""
    dbits = _field_layout(sideset_count, sideset_opt)
    field = (opcode >> 8) & 31
    delay = field & ((1 << dbits) - 1)
    side = -1
    if sideset_count:
        if not sideset_opt:
            side = field >> dbits
        elif field & 0x10:
            side = (field >> dbits) & ((1 << sideset_count) - 1)
    major = opcode >> 13
    lo = opcode & 0xFF
    f75 = (lo >> 5) & 7
    f40 = lo & 31
    if major == 0:
        kind = K_JMP
        if f40 == addr and f75 == 2:
            kind = K_LOOPX
        elif f40 == addr and f75 == 4:
            kind = K_LOOPY
        return (kind, f75, f40, 0, delay, side, next_pc)
    if major == 1:
        return (K_WAIT, lo >> 7, (lo >> 5) & 3, f40, delay, side, next_pc)
    if major == 2:
        return (K_IN, f75, f40 or 32, 0, delay, side, next_pc)
    if major == 3:
        return (K_OUT, f75, f40 or 32, 0, delay, side, next_pc)
    if major == 4:
        kind = K_PULL if lo & 0x80 else K_PUSH
        return (kind, (lo >> 6) & 1, (lo >> 5) & 1, 0, delay, side, next_pc)
    if major == 5:
        kind = K_MOV
        if f75 in (1, 2) and (lo & 0x18) == 0 and (lo & 7) in (1, 2, 6, 7):
            kind = K_MOVR
        return (kind, f75, (lo >> 3) & 3, lo & 7, delay, side, next_pc)
    if major == 6:
        return (K_IRQ, (lo >> 6) & 1, (lo >> 5) & 1, f40, delay, side, next_pc)
    return (K_SET, f75, f40, 0, delay, side, next_pc)


def _bit_reverse(v):
    r = 0
    for _ in range(32):
        r = (r << 1) | (v & 1)
        v >>= 1
    return r


class Engine:
    """One PIO state machine. The kernel calls `run_until`; rp2.py calls the rest.

    Registers: pc, x, y, isr (+ isr_n bits shifted in), osr (+ osr_n bits shifted out;
    32 = empty). ``cyc`` is the next cycle to execute, counted from ``epoch_ns``.
    """

    def __init__(self, kernel, index=0, irq_flags=None):
        self.k = kernel
        self.index = index                  # state machine number within its PIO block
        self.irq_flags = irq_flags if irq_flags is not None else [0] * 8
        self.on_irq = None                  # fn(flag index, t_ns) when the SM sets flag 0..3
        self.program = None
        self.code = []
        self.active = False
        self.wake_on_fifo = False           # stop + kernel wake when a FIFO slot frees/fills
        self.inline = True                  # False: every instruction through _step (tests)
        self.configure_clock(SYS_FREQ)
        self.tx_depth = 4
        self.rx_depth = 4
        self.status_sel = 0                 # 0: TX level < status_n, 1: RX level < status_n
        self.status_n = 0
        self.stop_t = -1
        self.cyc_now = 0
        self.txstall_t = -1                 # ns FDEBUG.TXSTALL was set, -1: clear (a PIO
                                            # block register: an SM init leaves it alone)
        self.reset()

    # ---- configuration ----------------------------------------------------------------
    def configure_clock(self, freq):
        if freq <= 0 or freq > SYS_FREQ * 2:
            raise ValueError("bad state machine frequency %r" % freq)
        self.freq = freq
        # integer ns per cycle when exact (125 MHz: 8 ns), else the general formula
        self.npc = 1000000000 // freq if 1000000000 % freq == 0 else 0
        self.epoch_ns = 0
        self.cyc = 0

    def load(self, program, in_base=0, out_base=0, set_base=0, jmp_pin=0, sideset_base=0,
             in_shiftdir=None, out_shiftdir=None, push_thresh=None, pull_thresh=None):
        """Configure for `program` (a PIOProgram); pin bases are GPIO numbers."""
        p = program
        self.program = p
        self.in_base = in_base
        self.out_base = out_base
        self.out_count = len(p.out_init)
        self.set_base = set_base
        self.set_count = len(p.set_init)
        self.side_base = sideset_base
        self.side_count = p.sideset_count
        self.side_opt = p.sideset_opt
        self.side_pindir = p.side_pindir
        self.jmp_pin = jmp_pin
        self.in_right = (p.in_shiftdir if in_shiftdir is None else in_shiftdir) == SHIFT_RIGHT
        self.out_right = (p.out_shiftdir if out_shiftdir is None else out_shiftdir) == SHIFT_RIGHT
        self.autopush = p.autopush
        self.autopull = p.autopull
        self.push_thresh = p.push_thresh if push_thresh is None else push_thresh
        self.pull_thresh = p.pull_thresh if pull_thresh is None else pull_thresh
        self.tx_depth = 8 if p.fifo_join == JOIN_TX else (0 if p.fifo_join == JOIN_RX else 4)
        self.rx_depth = 8 if p.fifo_join == JOIN_RX else (0 if p.fifo_join == JOIN_TX else 4)
        n = len(p.opcodes)
        code = []
        for a in range(n):
            nxt = p.wrap_target if a == p.wrap else (a + 1) % 32
            code.append(decode(p.opcodes[a], self.side_count, self.side_opt, a, nxt))
        self.code = code
        self.reset()

    def reset(self):
        """Registers, FIFOs and stall state as after StateMachine.init()."""
        self.pc = 0
        self.x = 0
        self.y = 0
        self.restart()
        self.tx = []
        self.rx = []

    def restart(self):
        """SM_RESTART: clear shift counters, ISR, delay and any latched EXEC instruction."""
        self.isr = 0
        self.isr_n = 0
        self.osr = 0
        self.osr_n = 32
        self.exec_next = None
        self.side_cur = -1
        self.fifo_stall = False

    def start(self, t_ns):
        """The state machine (re)starts counting cycles at t_ns."""
        self.epoch_ns = t_ns
        self.cyc = 0
        self.active = True

    # ---- time -------------------------------------------------------------------------
    def time_of(self, c):
        if self.npc:
            return self.epoch_ns + c * self.npc
        return self.epoch_ns + c * 1000000000 // self.freq

    def cycle_at(self, t_ns):
        """The last cycle starting at or before t_ns (-1 if none)."""
        d = t_ns - self.epoch_ns
        if d < 0:
            return -1
        if self.npc:
            return d // self.npc
        return ((d + 1) * self.freq - 1) // 1000000000

    def first_cycle_from(self, t_ns):
        """The first cycle starting at or after t_ns."""
        return self.cycle_at(t_ns - 1) + 1

    # ---- FIFOs (CPU side) -------------------------------------------------------------
    def txstall(self, t_ns):
        """FDEBUG.TXSTALL of this state machine as the CPU reads it at t_ns: set from the
        first cycle a pull found the TX FIFO empty (RP2040 datasheet 3.7, FDEBUG)."""
        return 0 <= self.txstall_t <= t_ns

    def clear_txstall(self, t_ns):
        """Write 1 to clear; a machine still stalled on the empty FIFO sets it again at
        once (rp2040js peripherals/pio.js FDEBUG write does the same)."""
        if self.fifo_stall and self.active and not self.tx and self.txstall_t <= t_ns:
            self.txstall_t = t_ns
        else:
            self.txstall_t = -1

    def tx_room(self):
        return len(self.tx) < self.tx_depth

    def put(self, word, t_ns):
        """CPU writes the TX FIFO at t_ns (caller has checked there is room and synced)."""
        self.tx.append(word & MASK32)
        self._resume_from(t_ns)

    def get(self, t_ns):
        """CPU reads the RX FIFO at t_ns (caller has checked it is not empty and synced)."""
        w = self.rx.pop(0)
        self._resume_from(t_ns)
        return w

    def _resume_from(self, t_ns):
        # a state machine stalled on a FIFO resumes at the first cycle at or after t_ns
        if self.fifo_stall and self.active:
            c = self.first_cycle_from(t_ns)
            if c < self.cyc:
                self.cyc = c

    # ---- run --------------------------------------------------------------------------
    def run_until(self, t_ns):
        """Execute every instruction whose start time is <= t_ns. Returns t_ns, or the time
        of a pin write / FIFO event someone asked to stop on (then stops after that cycle).

        The hot path keeps pc/x/y in locals and handles, inline, what the step program
        runs per step: side-set on one pin, delay loops, jmp on x/y, mov between x/y/isr/osr.
        Everything else goes through `_step` (the reference implementation of every
        instruction) with the registers spilled to the object and reloaded after."""
        cmax = self.cycle_at(t_ns)
        cyc = self.cyc
        if cyc > cmax:
            return t_ns
        self.stop_t = -1
        stop = -1
        code = self.code
        fast = self.inline and not self.autopull   # autopull: OSR may refill any cycle
        side_one = self.side_count == 1 and not self.side_pindir and self.npc
        side_pin = self.side_base
        npc = self.npc
        epoch = self.epoch_ns
        drive = self.k.drive_output
        side_cur = self.side_cur
        pc = self.pc
        x = self.x
        y = self.y
        ex = self.exec_next
        while cyc <= cmax:
            if ex is None:
                ins = code[pc]
            else:
                ins = ex
                ex = None
            s = ins[5]
            if s >= 0 and s != side_cur:
                side_cur = s
                if side_one:
                    t = epoch + cyc * npc
                    if drive(side_pin, s, t):
                        stop = t
                else:
                    self._side_set(s, cyc)
                    stop = self.stop_t
            kind = ins[0]
            if ins[6] is not None and fast:
                if kind == K_MOVR:
                    src = ins[3]
                    if src == 1:
                        v = x
                    elif src == 2:
                        v = y
                    elif src == 6:
                        v = self.isr
                    else:
                        v = self.osr
                    if ins[1] == 1:
                        x = v
                    else:
                        y = v
                    pc = ins[6]
                    cyc += 1 + ins[4]
                    if stop >= 0:
                        break
                    continue
                if (kind == K_LOOPX or kind == K_LOOPY) and stop < 0:
                    # delay loop: reg + 1 iterations of 1 + delay cycles at once, split
                    # when cmax falls inside (the register then holds the partial count)
                    per = 1 + ins[4]
                    reg = x if kind == K_LOOPX else y
                    starts = (cmax - cyc) // per + 1   # iterations starting by cmax
                    if starts <= reg:
                        reg -= starts
                        cyc += starts * per
                    else:
                        cyc += (reg + 1) * per
                        reg = MASK32
                        pc = ins[6]
                    if kind == K_LOOPX:
                        x = reg
                    else:
                        y = reg
                    continue
                if kind == K_JMP and ins[1] <= 5:
                    c = ins[1]
                    if c == 0:
                        take = True
                    elif c == 2:
                        take = x != 0
                        x = (x - 1) & MASK32
                    elif c == 4:
                        take = y != 0
                        y = (y - 1) & MASK32
                    elif c == 1:
                        take = x == 0
                    elif c == 3:
                        take = y == 0
                    else:
                        take = x != y
                    pc = ins[2] if take else ins[6]
                    cyc += 1 + ins[4]
                    if stop >= 0:
                        break
                    continue
            # general path
            self.pc = pc
            self.x = x
            self.y = y
            n = self._step(ins, cyc)
            pc = self.pc
            x = self.x
            y = self.y
            ex = self.exec_next
            self.exec_next = None
            if self.stop_t >= 0:
                stop = self.stop_t
            if n == 0:
                # stalled: nothing it waits on changes before the kernel's next call
                if ins[6] is None:
                    ex = ins
                cyc = cyc + 1 if stop >= 0 else cmax + 1
                break
            cyc += n
            if self.fifo_stall:
                self.fifo_stall = False
            if stop >= 0:
                break
        self.cyc = cyc
        self.pc = pc
        self.x = x
        self.y = y
        self.side_cur = side_cur
        self.exec_next = ex
        if stop >= 0:
            return stop
        return t_ns

    def exec_now(self, opcode, t_ns):
        """StateMachine.exec(): an active SM runs it on its next cycle; an inactive one at
        once (a stalling instruction stays latched until the SM runs, as on the chip)."""
        ins = decode(opcode, self.side_count, self.side_opt)
        if self.active:
            self.exec_next = ins
            return
        self.epoch_ns = t_ns
        self.cyc = 0
        if ins[5] >= 0:
            self._side_set(ins[5], 0)
        if self._step(ins, 0) == 0:
            self.exec_next = ins

    # ---- one instruction --------------------------------------------------------------
    def _step(self, ins, cyc):
        """Execute one instruction at cycle cyc. Returns the cycles it took (1 + delay),
        or 0 when it stalls (the PC is unchanged and it is retried)."""
        kind = ins[0]
        self.cyc_now = cyc
        if kind == K_OUT:
            return self._out(ins, cyc)
        if self.autopull and self.osr_n >= self.pull_thresh and self.tx:
            self._refill_osr()
        if kind == K_JMP or kind == K_LOOPX or kind == K_LOOPY:
            return self._jmp(ins)
        if kind == K_MOV or kind == K_MOVR:
            return self._mov(ins, cyc)
        if kind == K_PULL:
            return self._pull(ins, cyc)
        if kind == K_PUSH:
            return self._push(ins, cyc)
        if kind == K_SET:
            return self._set(ins, cyc)
        if kind == K_IN:
            return self._in(ins)
        if kind == K_WAIT:
            return self._wait(ins)
        return self._irq(ins, cyc)

    def _advance(self, ins):
        """PC after a non-jumping instruction (EXEC'd ones leave it alone)."""
        if ins[6] is not None:
            self.pc = ins[6]
        return 1 + ins[4]

    def _jmp(self, ins):
        cond = ins[1]
        if cond == 0:
            take = True
        elif cond == 1:
            take = self.x == 0
        elif cond == 2:
            take = self.x != 0
            self.x = (self.x - 1) & MASK32
        elif cond == 3:
            take = self.y == 0
        elif cond == 4:
            take = self.y != 0
            self.y = (self.y - 1) & MASK32
        elif cond == 5:
            take = self.x != self.y
        elif cond == 6:
            take = self.k.level(self.jmp_pin) == 1
        else:
            take = self.osr_n < self.pull_thresh
        if take:
            self.pc = ins[2]
            return 1 + ins[4]
        return self._advance(ins)

    def _wait(self, ins):
        pol, src, idx = ins[1], ins[2], ins[3]
        if src == 2:
            raise PIOEngineError("wait irq is not simulated by the virtual Pico")
        gpio = idx if src == 0 else (self.in_base + idx) & 31
        if self.k.level(gpio) != pol:
            return 0
        return self._advance(ins)

    def _read_pins(self, count):
        v = 0
        lvl = self.k.level
        for i in range(count):
            v |= lvl((self.in_base + i) & 31) << i
        return v

    def _source(self, code, count):
        """Value of an in/mov source (code from the in/mov tables)."""
        if code == 1:
            return self.x
        if code == 2:
            return self.y
        if code == 6:
            return self.isr
        if code == 7:
            return self.osr
        if code == 0:
            return self._read_pins(count)
        if code == 5:
            level = len(self.tx) if self.status_sel == 0 else len(self.rx)
            return MASK32 if level < self.status_n else 0
        return 0

    def _in(self, ins):
        n = ins[2]
        data = self._source(ins[1], n)
        if n < 32:
            data &= (1 << n) - 1
            if self.in_right:
                isr = (self.isr >> n) | (data << (32 - n))
            else:
                isr = ((self.isr << n) | data) & MASK32
        else:
            isr = data
        cnt = self.isr_n + n
        if cnt > 32:
            cnt = 32
        if self.autopush and cnt >= self.push_thresh:
            if len(self.rx) >= self.rx_depth:
                return 0                       # autopush into a full RX FIFO stalls
            self.rx.append(isr)
            self._fifo_event()
            isr = 0
            cnt = 0
        self.isr = isr
        self.isr_n = cnt
        return self._advance(ins)

    def _shift_out(self, n):
        """Shift n bits out of the OSR; returns them."""
        osr = self.osr
        if n == 32:
            data = osr
            osr = 0
        elif self.out_right:
            data = osr & ((1 << n) - 1)
            osr >>= n
        else:
            data = osr >> (32 - n)
            osr = (osr << n) & MASK32
        self.osr = osr
        cnt = self.osr_n + n
        self.osr_n = cnt if cnt < 32 else 32
        return data

    def _out(self, ins, cyc):
        # autopull (datasheet pseudocode): an OUT on an empty OSR refills and stalls
        if self.autopull and self.osr_n >= self.pull_thresh:
            if not self.tx:
                if self.txstall_t < 0:
                    self.txstall_t = self.time_of(cyc)     # FDEBUG.TXSTALL (sticky)
                self.fifo_stall = True
                return 0
            # refill now, OUT on the next cycle: one stall cycle, PC unchanged
            self._refill_osr()
            if ins[6] is None:
                self.exec_next = ins
            return 1
        n = ins[2]
        data = self._shift_out(n)
        dst = ins[1]
        ret = -1
        if dst == 1:
            self.x = data
        elif dst == 2:
            self.y = data
        elif dst == 0:
            self._write_pins(self.out_base, self.out_count, data, cyc)
        elif dst == 4:
            self._write_dirs(self.out_base, self.out_count, data)
        elif dst == 5:
            self.pc = data & 31
            ret = 1 + ins[4]
        elif dst == 6:
            self.isr = data
            self.isr_n = n
        elif dst == 7:
            self.exec_next = decode(data & 0xFFFF, self.side_count, self.side_opt)
            ret = 1                              # the OUT's own delay is ignored
            if ins[6] is not None:
                self.pc = ins[6]
        if self.autopull and self.osr_n >= self.pull_thresh and self.tx:
            self._refill_osr()
        if ret > 0:
            return ret
        return self._advance(ins)

    def _refill_osr(self):
        self.osr = self.tx.pop(0)
        self.osr_n = 0
        self._fifo_event()

    def _fifo_event(self):
        """A FIFO slot was freed (TX) or filled (RX) by the SM: wake a blocked CPU."""
        if self.wake_on_fifo:
            self.k.wake = True
            self.stop_t = self.time_of(self.cyc_now)

    def _pull(self, ins, cyc):
        if (self.autopull or ins[1]) and self.osr_n < self.pull_thresh:
            return self._advance(ins)              # OSR not empty: no-op
        if self.tx:
            self._refill_osr()
        elif ins[2]:
            if self.txstall_t < 0:
                self.txstall_t = self.time_of(cyc)     # FDEBUG.TXSTALL (sticky)
            self.fifo_stall = True
            return 0
        else:
            self.osr = self.x                      # noblock on an empty FIFO: OSR <- X
            self.osr_n = 0
        return self._advance(ins)

    def _push(self, ins, cyc):
        if ins[1] and self.isr_n < self.push_thresh:
            return self._advance(ins)
        if len(self.rx) >= self.rx_depth:
            if ins[2]:
                self.fifo_stall = True
                return 0
        else:
            self.rx.append(self.isr)
            self._fifo_event()
        self.isr = 0
        self.isr_n = 0
        return self._advance(ins)

    def _mov(self, ins, cyc):
        v = self._source(ins[3], 32)
        op = ins[2]
        if op == 1:
            v = ~v & MASK32
        elif op == 2:
            v = _bit_reverse(v)
        dst = ins[1]
        if dst == 1:
            self.x = v
        elif dst == 2:
            self.y = v
        elif dst == 6:
            self.isr = v
            self.isr_n = 0
        elif dst == 7:
            self.osr = v
            self.osr_n = 0
        elif dst == 0:
            self._write_pins(self.out_base, self.out_count, v, cyc)
        elif dst == 5:
            self.pc = v & 31
            return 1 + ins[4]
        elif dst == 4:
            self.exec_next = decode(v & 0xFFFF, self.side_count, self.side_opt)
            if ins[6] is not None:
                self.pc = ins[6]
            return 1                               # the MOV's own delay is ignored
        return self._advance(ins)

    def _set(self, ins, cyc):
        dst, v = ins[1], ins[2]
        if dst == 1:
            self.x = v
        elif dst == 2:
            self.y = v
        elif dst == 0:
            self._write_pins(self.set_base, self.set_count, v, cyc)
        elif dst == 4:
            self._write_dirs(self.set_base, self.set_count, v)
        return self._advance(ins)

    def _irq(self, ins, cyc):
        if ins[2] and not ins[1]:
            raise PIOEngineError("irq wait is not simulated by the virtual Pico")
        idx = ins[3]
        if idx & 0x10:
            idx = (idx & 4) | ((idx + self.index) & 3)
        idx &= 7
        if ins[1]:
            self.irq_flags[idx] = 0
        else:
            self.irq_flags[idx] = 1
            if idx < 4 and self.on_irq is not None:
                self.on_irq(idx, self.time_of(cyc))
        return self._advance(ins)

    # ---- pins -------------------------------------------------------------------------
    def _side_set(self, value, cyc):
        self.side_cur = value
        if self.side_pindir:
            self._write_dirs(self.side_base, self.side_count, value)
        else:
            self._write_pins(self.side_base, self.side_count, value, cyc)

    def _write_pins(self, base, count, value, cyc):
        t = self.time_of(cyc)
        drive = self.k.drive_output
        for i in range(count):
            if drive((base + i) & 31, (value >> i) & 1, t):
                self.stop_t = t

    def _write_dirs(self, base, count, value):
        dirs = self.k.gpio_is_out
        for i in range(count):
            dirs[(base + i) & 31] = bool((value >> i) & 1)
