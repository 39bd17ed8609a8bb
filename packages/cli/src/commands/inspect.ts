import fs from 'node:fs';

import { loadModel } from '@kiln/onnx';
import { Runtime } from '@kiln/runtime';

import { UsageError } from '../usage';

/** Prints an engine's IO, profiles and layers, or an ONNX model's IO and op counts. */
export function inspect(file: string | undefined, log: (line: string) => void): void {
  if (!file) throw new UsageError('inspect needs a file: kiln inspect model.kiln');
  if (!fs.existsSync(file)) throw new UsageError(`inspect: no such file '${file}'`);
  if (file.endsWith('.onnx')) {
    const model = loadModel(file);
    const g = model.graph;
    log(
      `ONNX model ${file} (opset ${model.opset('') ?? '?'}, producer ${model.proto.producerName ?? '?'})`,
    );
    for (const v of g.inputs.filter((v) => !g.initializers.has(v.name)))
      log(`  input  ${v.name}: ${v.elemType} [${(v.shape ?? []).map((d) => d ?? '?').join(', ')}]`);
    for (const v of g.outputs)
      log(`  output ${v.name}: ${v.elemType} [${(v.shape ?? []).map((d) => d ?? '?').join(', ')}]`);
    const ops = new Map<string, number>();
    for (const n of g.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
    log(
      `  ${g.nodes.length} nodes: ${[...ops.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([op, n]) => `${op} ${n}`)
        .join(', ')}`,
    );
    return;
  }
  const engine = new Runtime().deserializeEngine(fs.readFileSync(file));
  log(
    `kiln engine ${file} (core ${engine.coreVersion}), memory ${engine.deviceMemorySize} bytes (activations and kernel scratch)`,
  );
  for (const t of engine.ioTensors)
    log(`  ${t.mode.padEnd(6)} ${t.name}: ${t.dtype} [${t.shape.join(', ')}]`);
  engine.profiles.forEach((p, i) => {
    for (const r of p)
      log(`  profile ${i} ${r.name}: min [${r.min}] opt [${r.opt}] max [${r.max}]`);
  });
  for (const l of engine.layers()) {
    const act = l.attrs.activation ? ` +${String(l.attrs.activation)}` : '';
    const tactic = l.tactic ? ` [${l.tactic} from ${l.tacticSource ?? 'kiln'}]` : '';
    log(
      `  layer ${l.name}: ${l.op}${act} ${l.precision}${tactic} (${l.inputs.filter(Boolean).join(', ')}) -> (${l.outputs.join(', ')})`,
    );
  }
}
