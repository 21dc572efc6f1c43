"""rp2 for the virtual Pico: the module the firmware imports as ``rp2``.

Owns the MicroPython-facing API: ``asm_pio``/``asm_pio_encode``, ``PIO`` (two blocks, IRQ
flags, instruction-memory accounting) and ``StateMachine`` (eight, one `_vp_pio.Engine`
each). Active engines are registered in ``K.sms`` so the kernel runs them up to every
event; every call that looks at or changes state machine state first brings them up to
``K.now``. ``put()`` on a full TX FIFO and ``get()`` on an empty RX FIFO block like on the
board: virtual time advances (events and IRQs run) until the state machine frees or fills
a slot, and the call returns at exactly that cycle.
"""

from _vp_kernel import K
import _vp_pio
from _vp_pio import PIOASMError, asm_pio, asm_pio_encode  # noqa: F401  (re-exported)

MASK32 = 0xFFFFFFFF
_BLOCK_SLICE_NS = 1000000000   # a blocked put()/get() re-checks at least this often


def _gpio_of(pin):
    """GPIO number of an int or a machine.Pin-like object."""
    if pin is None or isinstance(pin, int):
        return pin
    for name in ("gpio", "_gpio", "id", "_id"):
        v = getattr(pin, name, None)
        if isinstance(v, int):
            return v
        if callable(v):
            v = v()
            if isinstance(v, int):
                return v
    return int(pin)


class _Block:
    """State shared by the four state machines of one PIO block."""

    def __init__(self, index):
        self.index = index
        self.irq_flags = [0] * 8
        self.engines = [_vp_pio.Engine(K, i, self.irq_flags) for i in range(4)]
        self.programs = []          # programs loaded into instruction memory
        self.used = 0               # instruction words in use (32 available)
        self.irq_handler = None
        self.irq_trigger = 0
        self.irq_hard = False
        self.pio = None             # PIO object passed to the IRQ handler
        for e in self.engines:
            e.on_irq = self._sm_irq

    def add(self, program):
        for p in self.programs:
            if p is program:
                return
        if self.used + len(program.opcodes) > 32:
            raise OSError(12, "ENOMEM: PIO instruction memory full")
        self.programs.append(program)
        self.used += len(program.opcodes)

    def remove(self, program=None):
        if program is None:
            self.programs = []
            self.used = 0
            return
        for i in range(len(self.programs)):
            if self.programs[i] is program:
                self.used -= len(program.opcodes)
                self.programs.pop(i)
                return

    def _sm_irq(self, flag, t_ns):
        # PIO IRQ flags 0..3 reach the CPU (IRQ_SM0 = 0x100 << flag)
        if self.irq_handler is not None and self.irq_trigger & (0x100 << flag):
            K.at(t_ns, self._dispatch, None)

    def _dispatch(self, _):
        K.run_handler(self.irq_handler, self.pio, self.irq_hard)


_BLOCKS = [_Block(0), _Block(1)]


class _PIOIrq:
    """The object PIO.irq() returns (minimal: flags() and trigger())."""

    def __init__(self, block):
        self._block = block

    def flags(self):
        f = 0
        for i in range(4):
            if self._block.irq_flags[i]:
                f |= 0x100 << i
        return f

    def trigger(self):
        return self._block.irq_trigger


class PIO:
    IN_LOW = _vp_pio.IN_LOW
    IN_HIGH = _vp_pio.IN_HIGH
    OUT_LOW = _vp_pio.OUT_LOW
    OUT_HIGH = _vp_pio.OUT_HIGH
    SHIFT_LEFT = _vp_pio.SHIFT_LEFT
    SHIFT_RIGHT = _vp_pio.SHIFT_RIGHT
    JOIN_NONE = _vp_pio.JOIN_NONE
    JOIN_TX = _vp_pio.JOIN_TX
    JOIN_RX = _vp_pio.JOIN_RX
    IRQ_SM0 = 0x100
    IRQ_SM1 = 0x200
    IRQ_SM2 = 0x400
    IRQ_SM3 = 0x800

    def __init__(self, id):
        if id not in (0, 1):
            raise ValueError("invalid PIO " + repr(id))
        self._block = _BLOCKS[id]
        self._block.pio = self

    def state_machine(self, id, program=None, *args, **kw):
        if not 0 <= id <= 3:
            raise ValueError("invalid StateMachine " + repr(id))
        return StateMachine(self._block.index * 4 + id, program, *args, **kw)

    def add_program(self, program):
        self._block.add(program)

    def remove_program(self, program=None):
        self._block.remove(program)

    def irq(self, handler=None, trigger=0xF00, hard=False):
        b = self._block
        b.irq_handler = handler
        b.irq_trigger = trigger
        b.irq_hard = hard
        return _PIOIrq(b)


class StateMachine:
    """One of the eight state machines; several objects with the same id share it."""

    def __init__(self, id, program=None, *args, **kw):
        if not 0 <= id <= 7:
            raise ValueError("invalid StateMachine " + repr(id))
        self.id = id
        self._block = _BLOCKS[id // 4]
        self._eng = self._block.engines[id % 4]
        if program is not None:
            self.init(program, *args, **kw)

    def init(self, program, freq=-1, in_base=None, out_base=None, set_base=None,
             jmp_pin=None, sideset_base=None, in_shiftdir=None, out_shiftdir=None,
             push_thresh=None, pull_thresh=None):
        """Configure and stop the state machine; pins with *_init values are set up."""
        self._deactivate()
        self._block.add(program)
        eng = self._eng
        eng.configure_clock(_vp_pio.SYS_FREQ if freq is None or freq < 0 else freq)
        in_base = _gpio_of(in_base)
        out_base = _gpio_of(out_base)
        set_base = _gpio_of(set_base)
        sideset_base = _gpio_of(sideset_base)
        jmp_pin = _gpio_of(jmp_pin)
        eng.load(program, in_base=in_base or 0, out_base=out_base or 0,
                 set_base=set_base or 0, jmp_pin=jmp_pin or 0,
                 sideset_base=sideset_base or 0, in_shiftdir=in_shiftdir,
                 out_shiftdir=out_shiftdir, push_thresh=push_thresh, pull_thresh=pull_thresh)
        _init_pins(out_base, program.out_init)
        _init_pins(set_base, program.set_init)
        _init_pins(sideset_base, program.sideset_init)

    def active(self, value=None):
        if value is None:
            return 1 if self._eng.active else 0
        if value:
            if not self._eng.active:
                K.sync()
                self._eng.start(K.now)
                K.sms.append(self._eng)
        else:
            self._deactivate()
        return None

    def _deactivate(self):
        eng = self._eng
        if eng.active:
            K.sync()
            eng.active = False
            if eng in K.sms:
                K.sms.remove(eng)

    def restart(self):
        """SM_RESTART, then jump to the beginning of the program (MicroPython's
        restart() does both; the register alone leaves the PC where it was)."""
        K.sync()
        self._eng.restart()
        self._eng.pc = 0

    def exec(self, instr):
        K.sync()
        eng = self._eng
        if isinstance(instr, str):
            p = eng.program
            n = p.sideset_count if p is not None else 0
            opt = p.sideset_opt if p is not None else False
            instr = asm_pio_encode(instr, n, opt)
        eng.exec_now(instr, K.now)

    def put(self, value, shift=0):
        if isinstance(value, int):
            self._put_word(value << shift)
            return
        for v in value:
            self._put_word(v << shift)

    def _put_word(self, word):
        K.sync()
        eng = self._eng
        if not eng.tx_room():
            self._block_until(eng.tx_room, "put() on a full TX FIFO")
        eng.put(word & MASK32, K.now)

    def get(self, buf=None, shift=0):
        if buf is None:
            return self._get_word() >> shift
        for i in range(len(buf)):
            buf[i] = self._get_word() >> shift
        return None

    def _get_word(self):
        K.sync()
        eng = self._eng
        if not eng.rx:
            self._block_until(self._rx_ready, "get() on an empty RX FIFO")
        return eng.get(K.now)

    def _rx_ready(self):
        return len(self._eng.rx) > 0

    def _block_until(self, ready, what):
        """Let virtual time pass until ready(); the engine stops and wakes the kernel at
        the exact cycle it frees/fills a FIFO slot, so the call returns at that time."""
        eng = self._eng
        if not eng.active or not eng.code:
            raise RuntimeError("virtual-pico: " + what + " of an inactive state machine "
                               "would block forever")
        eng.wake_on_fifo = True
        try:
            while not ready():
                K.advance_to(K.now + _BLOCK_SLICE_NS)
        finally:
            eng.wake_on_fifo = False

    def rx_fifo(self):
        K.sync()
        return len(self._eng.rx)

    def tx_fifo(self):
        K.sync()
        return len(self._eng.tx)

    def irq(self, handler=None, trigger=0, hard=False):
        """Minimal: SM IRQs are routed through PIO.irq (flag = this SM's number)."""
        b = self._block
        if handler is not None:
            sm_bit = 0x100 << (self.id % 4)
            b.irq_handler = _SmIrqAdapter(handler, self)
            b.irq_trigger |= sm_bit
            b.irq_hard = hard
        return _PIOIrq(b)


class _SmIrqAdapter:
    """Calls a StateMachine.irq handler with the StateMachine as argument."""

    def __init__(self, handler, sm):
        self.handler = handler
        self.sm = sm

    def __call__(self, _pio):
        self.handler(self.sm)


def _init_pins(base, inits):
    """Apply IN_/OUT_ LOW/HIGH initial states to consecutive pins from base."""
    if base is None:
        return
    for i in range(len(inits)):
        g = (base + i) & 31
        v = inits[i]
        K.gpio_is_out[g] = bool(v & 2)
        K.drive_output(g, v & 1)


def _in_hw(name, arity):
    """Wrap a StateMachine method as board code: on a Pico it is C and allocates nothing
    even in a hard IRQ handler; here its Python runs with the handler's heap lock lifted
    (Kernel.hw). Fixed arity: *args would allocate before the lock is lifted."""
    f = getattr(StateMachine, name)
    if arity == 0:
        def w(self):
            h = K.hw()
            try:
                return f(self)
            finally:
                K.hw_done(h)
    elif arity == 1:
        def w(self, a=None):
            h = K.hw()
            try:
                return f(self) if a is None and name != "exec" else f(self, a)
            finally:
                K.hw_done(h)
    else:
        def w(self, a=None, b=0):
            h = K.hw()
            try:
                return f(self, a, b)
            finally:
                K.hw_done(h)
    setattr(StateMachine, name, w)


for _n, _a in (("active", 1), ("restart", 0), ("exec", 1), ("put", 2), ("get", 2),
               ("rx_fifo", 0), ("tx_fifo", 0)):
    _in_hw(_n, _a)
