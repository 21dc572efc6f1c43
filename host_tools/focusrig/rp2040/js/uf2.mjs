// UF2 loader: copies each 476-byte payload block of a .uf2 file to its flash address.

const MAGIC0 = 0x0a324655;
const MAGIC1 = 0x9e5d5157;
const FLASH = 0x10000000;

export function loadUf2(rp2040, data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let blocks = 0;
  for (let off = 0; off + 512 <= data.length; off += 512) {
    if (view.getUint32(off, true) !== MAGIC0 || view.getUint32(off + 4, true) !== MAGIC1) {
      throw new Error(`not a UF2 block at offset ${off}`);
    }
    const addr = view.getUint32(off + 12, true);
    const size = view.getUint32(off + 16, true);
    rp2040.flash.set(data.subarray(off + 32, off + 32 + size), addr - FLASH);
    blocks++;
  }
  return blocks;
}
