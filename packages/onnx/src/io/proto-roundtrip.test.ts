import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelToProto } from '../ir/convert';
import { ElemType } from '../ir/elem-type';
import { f32, tinyModel } from '../test-support/build';
import { absent, ALL_MODELS } from '../test-support/models';
import { decodeMessage, encodeMessage } from './codec';
import { loadModel } from './load';
import type { GraphProto, ModelProto } from './proto-types';
import { serializeModel } from './save';

const attr = (name: string, extra: object) => ({
  name,
  floats: [],
  ints: [],
  strings: [],
  tensors: [],
  graphs: [],
  typeProtos: [],
  sparseTensors: [],
  ...extra,
});
const emptyTensor = {
  dims: [],
  floatData: [],
  int32Data: [],
  stringData: [],
  int64Data: [],
  doubleData: [],
  uint64Data: [],
  externalData: [],
  metadataProps: [],
};

// A model with a bit of everything the IR does not model itself: functions, sparse initializers,
// training info, node metadata, an If with subgraph initializers, typed (non-raw) tensor data.
function everything(): ModelProto {
  const base = modelToProto(
    tinyModel({
      inputs: [
        ['x', ElemType.FLOAT, ['n', 2]],
        ['c', ElemType.BOOL, []],
      ],
      outputs: [['y', ElemType.FLOAT, ['n', 2]]],
      nodes: [{ opType: 'If', name: 'branch', inputs: ['c'], outputs: ['y'] }],
    }),
  );
  const branch = (op: string): GraphProto => ({
    ...modelToProto(
      tinyModel({
        inputs: [],
        outputs: [['o', ElemType.FLOAT, ['n', 2]]],
        nodes: [{ opType: op, name: op, inputs: ['x', 'k'], outputs: ['o'] }],
        initializers: [['k', f32([1, 2])]],
      }),
    ).graph!,
    input: [],
  });
  const g = base.graph!;
  g.node[0]!.attribute = [
    attr('then_branch', { type: 5, g: branch('Add') }),
    attr('else_branch', { type: 5, g: branch('Mul') }),
  ];
  g.node[0]!.metadataProps = [{ key: 'origin', value: 'test' }];
  g.node[0]!.docString = 'picks a branch';
  g.sparseInitializer = [
    {
      values: { ...emptyTensor, name: 'sp', dataType: 1, dims: [2], floatData: [1.5, -2] },
      indices: { ...emptyTensor, dataType: 7, dims: [2], int64Data: [0, 3] },
      dims: [4],
    },
  ];
  g.initializer.push({
    ...emptyTensor,
    name: 'typed16',
    dataType: ElemType.FLOAT16,
    dims: [2],
    int32Data: [0x3c00, 0xc000],
  });
  g.initializer.push({
    ...emptyTensor,
    name: 'strs',
    dataType: ElemType.STRING,
    dims: [2],
    stringData: [new TextEncoder().encode('a'), new TextEncoder().encode('bc')],
  });
  base.functions = [
    {
      name: 'Twice',
      domain: 'kiln.test',
      input: ['a'],
      output: ['b'],
      attribute: [],
      attributeProto: [],
      node: [{ input: ['a', 'a'], output: ['b'], opType: 'Add', attribute: [], metadataProps: [] }],
      opsetImport: [{ domain: '', version: 17 }],
      valueInfo: [],
      metadataProps: [],
    },
  ];
  base.trainingInfo = [{ initializationBinding: [{ key: 'k', value: 'v' }], updateBinding: [] }];
  base.metadataProps = [{ key: 'license', value: 'Apache-2.0' }];
  return base;
}

describe('proto-level round trip', () => {
  it('keeps functions, sparse initializers, training info, metadata, subgraphs and typed data', () => {
    const bytes = encodeMessage('ModelProto', everything());
    const original = decodeMessage<ModelProto>('ModelProto', bytes, 'everything');
    const again = decodeMessage<ModelProto>(
      'ModelProto',
      serializeModel(loadModel(bytes)),
      'again',
    );
    expect(again).toEqual(original);
  });

  // The real files, decoded before and after load -> save, must be the same messages.
  describe.each(ALL_MODELS)('on $name', (spec) => {
    it.skipIf(absent(spec) !== undefined)('is lossless', () => {
      const bytes = new Uint8Array(readFileSync(spec.path));
      const original = decodeMessage<ModelProto>('ModelProto', bytes, spec.name);
      const again = decodeMessage<ModelProto>(
        'ModelProto',
        serializeModel(loadModel(bytes)),
        spec.name,
      );
      // Old exporters leave AttributeProto.type unset; the IR writes the type it inferred.
      stripAttrTypes(original);
      stripAttrTypes(again);
      // Deep equality via the (deterministic) encoder: as strict as toEqual, and fast on big models.
      const a = Buffer.from(encodeMessage('ModelProto', original));
      const b = Buffer.from(encodeMessage('ModelProto', again));
      expect(a.length).toBe(b.length);
      expect(a.equals(b)).toBe(true);
    });
  });
});

function stripAttrTypes(o: unknown): void {
  if (Array.isArray(o)) o.forEach(stripAttrTypes);
  else if (o && typeof o === 'object' && !(o instanceof Uint8Array)) {
    const rec = o as Record<string, unknown>;
    if ('refAttrName' in rec || ('name' in rec && 'ints' in rec && 'floats' in rec))
      delete rec.type;
    for (const v of Object.values(rec)) stripAttrTypes(v);
  }
}
