// Correction 1: the UART transmit interrupt.
//
// Corrects rp2040js 1.4.1 `RPUART.checkInterrupts()` (src/peripherals/uart.ts, dist
// peripherals/uart.js), which sets UARTTXINTR in the raw interrupt status on *every*
// check ("TODO We should actually implement a proper FIFO for TX"), including right after
// the firmware clears it through UARTICR. MicroPython's rp2 UART keeps TXIM enabled, so
// the UART0 IRQ is pending forever and the CPU never leaves the handler once `UART()` is
// created: no boot.
//
// What we do: checkInterrupts() only reflects the raw status under the mask; TXINTR is
// raised when a written byte has left the transmitter (10 bit times at the programmed
// baud rate after the write to UARTDR, 8N1), which is what a PL011 with an empty FIFO
// does (the TX interrupt is an event, cleared by UARTICR or by writing more data).

const UARTDR = 0x0;
const UARTTXINTR = 1 << 5;

export function fixUartTxIrq(rp2040, clock) {
  for (const uart of rp2040.uart) {
    uart.checkInterrupts = function () {
      this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
    };
    const alarm = clock.createAlarm(() => {
      uart.interruptStatus |= UARTTXINTR;
      uart.checkInterrupts();
    });
    const write = uart.writeUint32.bind(uart);
    uart.writeUint32 = function (offset, value) {
      write(offset, value);
      if (offset === UARTDR) {
        this.interruptStatus &= ~UARTTXINTR; // FIFO above the trigger level again
        this.checkInterrupts();
        const baud = this.baudRate > 0 && isFinite(this.baudRate) ? this.baudRate : 115200;
        alarm.schedule(Math.round(10e9 / baud));
      }
    };
  }
}
