import type { Dim } from '../ir/shape';

// Symbolic dim arithmetic. A symbolic dim is a product of symbols and an integer coefficient,
// written 'batch', '196*batch' or 'batch*seq'; enough to carry a batch through the reshapes of
// real models (flatten the batch into rows and back). Sums become fresh unknowns.

interface Monomial {
  coef: number;
  syms: string[];
}

function parse(d: Dim): Monomial | undefined {
  if (d === null) return undefined;
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) coef *= Number(part);
    else syms.push(part);
  }
  return { coef, syms: syms.sort() };
}

function format(m: Monomial): Dim {
  if (m.syms.length === 0) return m.coef;
  if (m.coef === 0) return 0;
  const s = m.syms.join('*');
  return m.coef === 1 ? s : `${m.coef}*${s}`;
}

/** a * b, symbolic where needed; null when either is unknown. */
export function mulDim(a: Dim, b: Dim): Dim {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  return format({ coef: x.coef * y.coef, syms: [...x.syms, ...y.syms].sort() });
}

/** The product of dims (1 for none). */
export function productDims(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) p = mulDim(p, d);
  return p;
}

/** a / b when it divides exactly (symbols cancel), else null. */
export function divDim(a: Dim, b: Dim): Dim {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y || y.coef === 0 || x.coef % y.coef !== 0) return null;
  const syms = [...x.syms];
  for (const s of y.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return null;
    syms.splice(i, 1);
  }
  return format({ coef: x.coef / y.coef, syms });
}

/** a + b for numbers, null otherwise (sums of symbols are not tracked). */
export function addDim(a: Dim, b: Dim): Dim {
  return typeof a === 'number' && typeof b === 'number' ? a + b : null;
}

/** Broadcasts two dims (numpy rules); null where the result is not known. */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') return null;
  // A symbol against a number other than 1 must equal that number for the model to be valid.
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a ?? b;
}

/** Broadcasts shapes numpy-style. */
export function broadcastShapes(shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k >= 0) d = broadcastDim(d, s[k]!);
    }
    out.push(d);
  }
  return out;
}
