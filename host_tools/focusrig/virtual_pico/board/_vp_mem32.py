"""machine.mem32 on the virtual Pico: the RP2040 registers the firmware touches, and no
others (on the host an address is not a Pico's: anything else raises ValueError).

- Watchdog (RP2040 datasheet 4.7.6): CTRL 0x40058000 (bit 30 ENABLE, bit 31 TRIGGER),
  REASON 0x40058008. The firmware stops the watchdog through CTRL at Ctrl-C
  (firmware/watchdog.py); the behaviour lives in `_vp_wdt`.
- PIO (datasheet 3.7, PIO0 0x50200000, PIO1 0x50300000): FDEBUG at +0x008, read, and
  written 1-to-clear. Bits 24..27 TXSTALL: the state machine waited on an empty TX FIFO
  (a blocking PULL, or an OUT with autopull) since the flag was last cleared; the step
  generator reads it to count FIFO underruns (firmware/stepgen.py `stalled`). The other
  FDEBUG bits (TXOVER, RXUNDER, RXSTALL) read 0: nothing here makes them.
"""

from _vp_kernel import K
import _vp_wdt

PIO_BASES = (0x50200000, 0x50300000)
FDEBUG = 0x008
TXSTALL_SHIFT = 24


def _pio_fdebug(addr):
    """The PIO block index whose FDEBUG is at addr, or -1."""
    for i, base in enumerate(PIO_BASES):
        if addr == base + FDEBUG:
            return i
    return -1


class _Mem32:
    """Register reads and writes are C on a Pico: no heap, even in a hard handler (the
    board's own Python runs with the handler's heap lock lifted: K.hw())."""

    def __getitem__(self, addr):
        w = K.hw()
        try:
            return self._get(addr)
        finally:
            K.hw_done(w)

    def __setitem__(self, addr, value):
        w = K.hw()
        try:
            self._set(addr, value)
        finally:
            K.hw_done(w)

    def _get(self, addr):
        b = _pio_fdebug(addr)
        if b >= 0:
            import rp2      # the board's rp2 (imported late: it imports the kernel too)
            K.sync()
            v = 0
            for i, eng in enumerate(rp2._BLOCKS[b].engines):
                if eng.txstall(K.now):
                    v |= 1 << (TXSTALL_SHIFT + i)
            return v
        return _vp_wdt.mem32_get(addr)

    def _set(self, addr, value):
        b = _pio_fdebug(addr)
        if b >= 0:
            import rp2
            K.sync()
            for i, eng in enumerate(rp2._BLOCKS[b].engines):
                if value & (1 << (TXSTALL_SHIFT + i)):
                    eng.clear_txstall(K.now)
            return
        _vp_wdt.mem32_set(addr, value)


MEM32 = _Mem32()
