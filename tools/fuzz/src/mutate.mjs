// Seeded randomness and byte-level mutations in the spirit of libFuzzer's: a failure names a
// seed and a case number that replay it exactly.

/** A seeded generator of floats in [0, 1) (mulberry32-like). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// Values that break length fields and varints: zero, sign bits, all-ones, varint runs.
const INTERESTING = [
  [0x00],
  [0xff],
  [0x7f],
  [0x80],
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  [0x2d, 0x31],
  [0x2e, 0x2e, 0x2f],
];

/**
 * One to four stacked mutations of `src`: truncation, byte and bit flips, interesting values
 * overwritten or inserted, slices deleted or duplicated, and splices with `other`.
 */
export function mutate(src, other, random) {
  const pick = (n) => Math.floor(random() * n);
  let b = Uint8Array.from(src);
  for (let round = 0, rounds = 1 + pick(4); round < rounds; round++) {
    const at = pick(b.length + 1);
    switch (pick(8)) {
      case 0:
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 1:
        for (let k = 0, n = 1 + pick(8); k < n && b.length; k++) b[pick(b.length)] = pick(256);
        break;
      case 2:
        if (b.length) b[pick(b.length)] ^= 1 << pick(8);
        break;
      case 3: {
        const v = INTERESTING[pick(INTERESTING.length)];
        b = pick(2) ? concat(b.subarray(0, at), Uint8Array.from(v), b.subarray(at)) : b;
        if (b.length >= v.length) b.set(v, Math.min(at, b.length - v.length));
        break;
      }
      case 4:
        b = concat(b.subarray(0, at), b.subarray(at + 1 + pick(32)));
        break;
      case 5: {
        const len = 1 + pick(64);
        b = concat(b.subarray(0, at), b.subarray(at, at + len), b.subarray(at));
        break;
      }
      case 6: {
        const from = pick(other.length + 1);
        b = concat(b.subarray(0, at), other.subarray(from, from + 1 + pick(256)));
        break;
      }
      default:
        if (b.length) b[pick(b.length)] = (b[pick(b.length)] + 1 + pick(3)) & 0xff;
    }
  }
  return b;
}
