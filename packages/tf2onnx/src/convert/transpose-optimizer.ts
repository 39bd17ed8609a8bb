import {
  cancelTransposePairs,
  type Graph,
  Initializer,
  initializerFromNumbers,
  intAttr,
  intsAttr,
  Node,
} from '@kiln/onnx';

// TF graphs are NHWC and every converted conv sits between Transpose(NHWC->NCHW) and back. Pushing
// each Transpose down through ops that do not care about layout (element-wise ops, Concat) lets it
// meet the next conv's inverse Transpose, and the pair cancels.

const UNARY = new Set([
  'Relu',
  'Sigmoid',
  'Tanh',
  'Elu',
  'LeakyRelu',
  'Selu',
  'Abs',
  'Neg',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Identity',
  'Cast',
  'Softplus',
  'Erf',
  'Clip',
]);
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow', 'PRelu']);
const REDUCE = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd']);
const MAX_ROUNDS = 10_000;

/**
 * Pushes Transposes through layout-agnostic ops and cancels inverse pairs, in place, in `g` and
 * in its If branches (whose constants live in the main graph, so there only pairs cancel and
 * Transposes pass through ops without constant operands).
 */
export function optimizeTransposes(g: Graph): void {
  optimizeGraph(g);
  for (const n of g.nodes) for (const s of n.subgraphs()) optimizeTransposes(s);
}

function optimizeGraph(g: Graph): void {
  cancelTransposePairs(g);
  let fresh = 0;
  const newName = (base: string): string => `${base}__t${fresh++}`;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const producers = g.producers();
    const outputs = new Set(g.outputs.map((v) => v.name));
    const permOf = (name: string): number[] | undefined => {
      const p = producers.get(name);
      return p?.is('Transpose') ? p.ints('perm') : undefined;
    };
    let changed = false;
    for (const c of g.nodes) {
      if (c.outputs.length !== 1 || outputs.has(c.inputs[0] ?? '')) continue;
      let perm: number[] | undefined;
      let newInputs: string[] | undefined;
      if (UNARY.has(c.opType) && c.domain === '') {
        perm = permOf(c.inputs[0]!);
        // Clip's bounds must be scalars to stay valid in the other layout.
        if (perm && c.inputs.slice(1).every((i) => i === '' || g.initializers.get(i)?.size === 1)) {
          newInputs = [producers.get(c.inputs[0]!)!.inputs[0]!, ...c.inputs.slice(1)];
        }
      } else if (BINARY.has(c.opType) && c.domain === '' && c.inputs.length === 2) {
        const [pa, pb] = [permOf(c.inputs[0]!), permOf(c.inputs[1]!)];
        perm = pa ?? pb;
        if (perm) {
          const moved = c.inputs.map((name, i) => {
            const p = i === 0 ? pa : pb;
            if (p && same(p, perm!)) return producers.get(name)!.inputs[0]!;
            const init = g.initializers.get(name);
            return init ? untransposeConstant(g, init, perm!, newName(name)) : undefined;
          });
          if (moved.every((m) => m !== undefined)) newInputs = moved as string[];
        }
      } else if (c.is('Concat')) {
        const perms = c.inputs.map(permOf);
        const first = perms[0];
        if (first && perms.every((p) => p && same(p, first))) {
          perm = first;
          newInputs = c.inputs.map((i) => producers.get(i)!.inputs[0]!);
          const axis = c.int('axis', 0);
          c.setAttr(intAttr('axis', first[axis < 0 ? axis + first.length : axis]!));
        }
      } else if (
        c.is('Pad') &&
        ((c.inputs[2] ?? '') === '' || g.initializers.get(c.inputs[2]!)?.size === 1)
      ) {
        const p = permOf(c.inputs[0]!);
        const pads = g.initializers.get(c.inputs[1] ?? '');
        if (p && pads && pads.size === 2 * p.length && (c.inputs[3] ?? '') === '') {
          // Pads of output axis i move to input axis perm[i].
          const v = pads.toNumbers();
          const n = p.length;
          const moved = new Array<number>(2 * n);
          p.forEach((src, i) => {
            moved[src] = v[i]!;
            moved[src + n] = v[i + n]!;
          });
          const name = newName(pads.name);
          g.initializers.set(name, initializerFromNumbers(name, pads.elemType, [2 * n], moved));
          perm = p;
          newInputs = [producers.get(c.inputs[0]!)!.inputs[0]!, name, ...c.inputs.slice(2)];
        }
      } else if (
        REDUCE.has(c.opType) &&
        c.domain === '' &&
        c.inputs.length === 1 &&
        c.int('keepdims', 1) === 0
      ) {
        const p = permOf(c.inputs[0]!);
        const axes = c.ints('axes');
        if (p && axes) {
          const n = p.length;
          const norm = axes.map((a) => (a < 0 ? a + n : a));
          const kept = p.filter((_, i) => !norm.includes(i));
          // Without keepdims the result needs no Transpose when the kept axes stay in order.
          if (kept.every((v, k) => k === 0 || v > kept[k - 1]!)) {
            c.setAttr(
              intsAttr(
                'axes',
                norm.map((a) => p[a]!),
              ),
            );
            c.inputs = [producers.get(c.inputs[0]!)!.inputs[0]!];
            g.topologicalSort();
            cancelTransposePairs(g);
            changed = true;
            break;
          }
        }
      }
      if (!perm || !newInputs) continue;
      const out = c.outputs[0]!;
      const inner = newName(out);
      c.inputs = newInputs;
      c.outputs = [inner];
      g.nodes.push(
        new Node({
          opType: 'Transpose',
          name: newName(`${c.name}/Transpose`),
          inputs: [inner],
          outputs: [out],
          attributes: [intsAttr('perm', perm)],
        }),
      );
      g.topologicalSort();
      cancelTransposePairs(g);
      changed = true;
      break;
    }
    if (!changed) break;
  }
  cancelTransposePairs(g);
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// A constant that broadcast against Transpose(x, perm) rewritten to broadcast against x itself.
function untransposeConstant(
  g: Graph,
  init: Initializer,
  perm: number[],
  name: string,
): string | undefined {
  const n = perm.length;
  if (init.dims.length > n) return undefined;
  if (init.size === 1) return init.name;
  const padded = [...Array<number>(n - init.dims.length).fill(1), ...init.dims];
  const inv = new Array<number>(n);
  perm.forEach((p, i) => (inv[p] = i));
  const dims = inv.map((i) => padded[i]!);
  // Moving axes of size 1 only needs a reshape; general constants need their bytes reordered.
  const nonOne = padded
    .map((d, i) => [d, i] as const)
    .filter(([d]) => d !== 1)
    .map(([, i]) => i);
  const order = nonOne.map((i) => perm[i]!);
  if (!order.every((v, k) => k === 0 || v > order[k - 1]!)) return undefined;
  g.initializers.set(name, Initializer.fromBytes(name, init.elemType, dims, init.bytes()));
  return name;
}
