// Correction 4: pad pull-ups and pull-downs.
//
// Corrects rp2040js 1.4.1 `GPIOPin` (src/gpio-pin.ts, dist gpio-pin.js): the pad's PUE/PDE
// bits are stored and reported through `GPIOPin.value` (InputPullUp / InputPullDown), but
// the input level the chip reads (`rawInputValue`, hence SIO GPIO_IN, edge IRQs and PIO
// `wait pin`) is only what `setInputValue()` was last given, false by default: an
// undriven input with its pull-up enabled reads 0. A button wired to GND with the
// internal pull-up reads "pressed" while released (focusrig then safe-boots).
//
// What we do: each pin's level is resolved from (in this order) the pin's own output
// driver when its output is enabled, an external driver (a pressed button, a sensor),
// the pad's pull (up -> 1, down -> 0), else the last level (bus keeper / a floating pin
// keeps its charge). It is re-resolved on every change of output enable, output value,
// pad pulls and external drive (GPIOPin listeners fire on all of these).
//
// `drive(gpio, level)` drives a pin from outside; `release(gpio)` leaves it undriven.

export function installPadPulls(rp2040, enabled = true) {
  const ext = new Array(rp2040.gpio.length).fill(undefined);

  function resolve(pin) {
    let level;
    if (pin.outputEnable) {
      level = pin.outputValue;
    } else if (ext[pin.index] !== undefined) {
      level = ext[pin.index];
    } else if (!enabled) {
      level = pin.rawInputValue; // rp2040js as shipped: whatever was set last
    } else if (pin.pullupEnabled && !pin.pulldownEnabled) {
      level = true;
    } else if (pin.pulldownEnabled && !pin.pullupEnabled) {
      level = false;
    } else {
      level = pin.rawInputValue;
    }
    if (level !== pin.rawInputValue) {
      pin.setInputValue(level);
    }
  }

  if (enabled) {
    for (const pin of rp2040.gpio) {
      pin.addListener(() => resolve(pin));
      resolve(pin);
    }
  }
  return {
    drive(gpio, level) {
      ext[gpio] = !!level;
      const pin = rp2040.gpio[gpio];
      if (enabled) resolve(pin);
      else pin.setInputValue(!!level);
    },
    release(gpio) {
      ext[gpio] = undefined;
      const pin = rp2040.gpio[gpio];
      if (enabled) resolve(pin);
      else pin.setInputValue(false); // as shipped: nothing pulls an open contact up
    },
  };
}
