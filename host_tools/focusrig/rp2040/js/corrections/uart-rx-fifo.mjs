// Correction 7: the UART receive interrupts.
//
// Corrects rp2040js 1.4.1 `RPUART.feedByte()` and the UARTDR read (src/peripherals/uart.ts,
// dist peripherals/uart.js: "TODO check if the FIFO has reached the threshold level"),
// which raise UARTRXINTR for every byte received and drop it only when the FIFO is empty.
// A PL011 (RP2040 datasheet 4.2.6 and UARTIFLS, 4.2.8) raises RXINTR once the receive
// FIFO holds its trigger level (UARTIFLS.RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8 of 32 bytes)
// and RTINTR (the receive timeout) when it holds data and no more has come for 32 bit
// periods. MicroPython's rp2 UART (ports/rp2/machine_uart.c:204-210, v1.28.0) enables both
// (pico-sdk's uart_set_irq_enables sets RXIFLSEL to 1/8: 4 bytes) and each interrupt
// takes 3 bytes (UART_FIFO_TRIGGER_LEVEL_RX - 1), leaving the rest for the timeout: a
// TF-Luna frame of 9 bytes makes 3 interrupts on a Pico, 9 here without this; each wakes
// the CPU from its idle wait and costs tens of microseconds of the event loop's polling
// (the idle firmware's CPU load read 0.114 instead of about 0.07).
//
// What we do: RXINTR is raised when the FIFO reaches the trigger level and cleared when
// a read leaves it below; RTINTR is raised 32 bit times (at the programmed baud rate)
// after the last byte arrived if the FIFO is not empty, and cleared when a read empties
// it (UARTICR clears either, as before). UARTIFLS is kept (reset value 0x12: 1/2).

const UARTDR = 0x0;
const UARTIFLS = 0x34;
const UARTRXINTR = 1 << 4;
const UARTRTINTR = 1 << 6;
const RX_LEVELS = [4, 8, 16, 24, 28];     // RXIFLSEL 0..4, of a 32-byte FIFO

export function fixUartRxFifo(rp2040, clock) {
  for (const uart of rp2040.uart) {
    let ifls = 0x12;
    const level = () => RX_LEVELS[(ifls >> 3) & 7] || 16;
    const timeout = clock.createAlarm(() => {
      if (!uart.rxFIFO.empty) {
        uart.interruptStatus |= UARTRTINTR;
        uart.checkInterrupts();
      }
    });
    uart.feedByte = function (value) {
      this.rxFIFO.push(value);
      if (this.rxFIFO.itemCount >= level()) this.interruptStatus |= UARTRXINTR;
      const baud = this.baudRate > 0 && isFinite(this.baudRate) ? this.baudRate : 115200;
      timeout.schedule(Math.round(32e9 / baud));
      this.checkInterrupts();
    };
    const read = uart.readUint32.bind(uart);
    uart.readUint32 = function (offset) {
      if (offset === UARTIFLS) return ifls;
      if (offset !== UARTDR) return read(offset);
      const value = this.rxFIFO.pull();
      if (this.rxFIFO.itemCount < level()) this.interruptStatus &= ~UARTRXINTR;
      if (this.rxFIFO.empty) this.interruptStatus &= ~UARTRTINTR;
      this.checkInterrupts();
      return value;
    };
    const write = uart.writeUint32.bind(uart);
    uart.writeUint32 = function (offset, value) {
      if (offset === UARTIFLS) {
        ifls = value & 0x3f;
        return;
      }
      write(offset, value);
    };
  }
}
