// Correction 5: the USB CDC host holds the OUT poll until it has data.
//
// Corrects rp2040js 1.4.1 `USBCDC` (src/usb/cdc.ts, dist usb/cdc.js): its
// `usb.onEndpointRead` handler answers every OUT buffer the device arms with
// min(size, bytes queued) bytes at once, i.e. a zero-length packet when the host has
// nothing to send. TinyUSB re-arms the endpoint on each completion, so an idle
// MicroPython takes a USB interrupt every ~10 us of emulated time (rp2040js's read
// delay): idle firmware runs ~8.5x slower than on a board, where the host simply NAKs
// until it has data.
//
// What we do: an OUT read with nothing queued is parked; it completes (with up to the
// armed size) as soon as the host side queues bytes. With data queued it completes as
// before. `send(bytes)` queues host-to-device bytes (any amount: the host side's own
// queue, not rp2040js's 512-byte FIFO, which drops what does not fit).

export function installCdcHold(cdc, enabled = true) {
  const usb = cdc.usb;
  const queue = [];
  let head = 0;
  let parked = null; // [endpoint, size]

  function complete(endpoint, size) {
    const n = Math.min(size, queue.length - head);
    const buffer = Uint8Array.from(queue.slice(head, head + n));
    head += n;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
    usb.endpointReadDone(endpoint, buffer);
  }

  if (enabled) {
    usb.onEndpointRead = (endpoint, size) => {
      if (endpoint !== cdc.outEndpoint) return;
      if (head === queue.length) parked = [endpoint, size];
      else complete(endpoint, size);
    };
  }
  return {
    send(bytes) {
      if (!enabled) {
        for (const b of bytes) cdc.sendSerialByte(b);
        return;
      }
      for (const b of bytes) queue.push(b);
      if (parked && head < queue.length) {
        const [ep, size] = parked;
        parked = null;
        complete(ep, size);
      }
    },
    get pending() {
      return enabled ? queue.length - head : cdc.txFIFO.itemCount;
    },
  };
}
