// Simulated devices around the emulated RP2040 for a scenario run: an event scheduler on
// the emulated clock, the subject distance, and a Benewake TF-Luna on a UART's RX line
// (the same model as the virtual Pico's TFLuna in virtual_pico/board/_vp_devices.py).

export class Scheduler {
  // timed callbacks on the emulated clock (absolute ns), one rp2040js alarm re-armed to
  // the earliest; callbacks at the same time run in the order they were added
  constructor(clock) {
    this.clock = clock;
    this.items = [];
    this.seq = 0;
    this.alarm = clock.createAlarm(() => this.fire());
  }
  at(tNs, fn) {
    this.items.push([Math.max(tNs, this.clock.nanos), this.seq++, fn]);
    this.items.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.arm();
  }
  arm() {
    if (this.items.length) this.alarm.schedule(Math.max(0, this.items[0][0] - this.clock.nanos));
  }
  fire() {
    const now = this.clock.nanos;
    while (this.items.length && this.items[0][0] <= now) this.items.shift()[2]();
    this.arm();
  }
}

export function subjectAt(points, tNs) {
  // piecewise linear over [[t_ms, mm], ...]; 0 = no return (never interpolated)
  const p = points.map(([t, d]) => [t * 1e6, d]);
  if (tNs <= p[0][0]) return p[0][1];
  for (let i = 1; i < p.length; i++) {
    const [t1, d1] = p[i];
    if (tNs <= t1) {
      const [t0, d0] = p[i - 1];
      if (d0 === 0 || d1 === 0 || t1 === t0) return tNs < t1 ? d0 : d1;
      return d0 + ((d1 - d0) * (tNs - t0)) / (t1 - t0);
    }
  }
  return p[p.length - 1][1];
}

export class TFLuna {
  // A 9-byte frame every 1/rate s: 59 59 DistL DistH AmpL AmpH TempL TempH sum. Starts
  // in cm; the output-format command 5A 05 05 06 cs switches to mm and is answered
  // 5A 05 05 fmt cs before the next frame. Bytes reach the UART one per 10 bit times.
  constructor(sched, uart, origin, opts, seed) {
    this.sched = sched;
    this.uart = uart;
    this.origin = origin;
    this.points = opts.subject;
    this.periodNs = Math.round(1e9 / (opts.rate_hz || 100));
    this.noise = opts.noise_cm || 0;
    this.amp = opts.amp ?? 1200;
    this.cmOnly = !!opts.cm_only;
    this.unitMm = false;
    this.reply = null;
    this.rx = [];
    this.frames = 0;
    this.rng = (seed >>> 0) || 1;
    this.byteNs = Math.round(10e9 / 115200);
    sched.at(origin + (opts.first_ms ?? 3) * 1e6, () => this.tick());
  }
  rand(n) {
    // xorshift32, seeded by the scenario: deterministic noise
    let x = this.rng;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.rng = x;
    return x % n;
  }
  receive(b) {
    this.rx.push(b);
    while (this.rx.length >= 4) {
      if (this.rx[0] !== 0x5a) { this.rx.shift(); continue; }
      const n = this.rx[1];
      if (n < 4 || n > 32) { this.rx.shift(); continue; }
      if (this.rx.length < n) return;
      const cmd = this.rx.splice(0, n);
      if (cmd[2] === 0x05 && n === 5 && !this.cmOnly) {
        if (cmd[3] === 0x01 || cmd[3] === 0x06) this.unitMm = cmd[3] === 0x06;
        const fmt = this.unitMm ? 0x06 : 0x01;
        this.reply = [0x5a, 5, 5, fmt, (0x5a + 5 + 5 + fmt) & 0xff];
      }
    }
  }
  tick() {
    const now = this.sched.clock.nanos;
    this.sched.at(now + this.periodNs, () => this.tick());
    const mm = subjectAt(this.points, now - this.origin - this.periodNs / 2);
    let dist = 0, amp = 0;
    if (mm > 0) {
      if (this.unitMm) {
        dist = Math.floor(mm + 0.5);
        if (this.noise) dist += this.rand(20 * this.noise + 1) - 10 * this.noise;
      } else {
        dist = Math.floor(mm / 10 + 0.5);
        if (this.noise) dist += this.rand(2 * this.noise + 1) - this.noise;
      }
      amp = this.amp;
    }
    const temp = 40 * 8 + 256 * 8;
    const out = this.reply || [];
    this.reply = null;
    const frame = [0x59, 0x59, dist & 0xff, (dist >> 8) & 0xff, amp & 0xff, (amp >> 8) & 0xff,
      temp & 0xff, (temp >> 8) & 0xff];
    frame.push(frame.reduce((a, b) => a + b, 0) & 0xff);
    out.push(...frame);
    this.frames++;
    out.forEach((b, i) => this.sched.at(now + (i + 1) * this.byteNs, () => this.deliver(b)));
  }
  deliver(b) {
    // a byte on a disabled UART is lost, as on the chip
    if (this.uart.enabled && this.uart.rxEnabled) this.uart.feedByte(b);
  }
}
