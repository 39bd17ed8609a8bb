import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKilnError, Tensor } from '@kiln/core';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from './codec';
import { loadModel } from './load';
import type { ModelProto } from './proto-types';
import { saveModel, serializeModel } from './save';
import { WireWriter, WireType } from './wire';
import { f32, tinyModel } from '../test-support/build';
import { ElemType } from '../ir/elem-type';
import { Initializer } from '../ir/initializer';
import { modelToProto } from '../ir/convert';

const dir = mkdtempSync(join(tmpdir(), 'kiln-onnx-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function addModel() {
  return tinyModel({
    inputs: [['x', ElemType.FLOAT, ['batch', 4]]],
    outputs: [['y', ElemType.FLOAT, ['batch', 4]]],
    nodes: [{ opType: 'Add', name: 'add', inputs: ['x', 'w'], outputs: ['y'] }],
    initializers: [['w', f32([1, 2, 3, 4])]],
  });
}

function expectKiln(f: () => unknown, code: string, ...parts: string[]) {
  try {
    f();
  } catch (error) {
    expect(isKilnError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    for (const p of parts) expect((error as Error).message).toContain(p);
    return;
  }
  throw new Error('expected a KilnError');
}

// Appends raw field bytes (tag + value) to an encoded message.
function withField(bytes: Uint8Array, field: number, payload: Uint8Array): Uint8Array {
  const w = new WireWriter();
  w.raw(bytes);
  w.tag(field, WireType.Bytes);
  w.uint(payload.length);
  w.raw(payload);
  return w.finish().slice();
}

describe('protobuf codec', () => {
  it('round-trips unknown fields at model, graph, node and tensor level', () => {
    const base = serializeModel(addModel());
    const extra = new TextEncoder().encode('future');
    const withModelField = withField(base, 99, extra);
    const proto = decodeMessage<ModelProto>('ModelProto', withModelField, 'm');
    expect(proto.$unknown?.length).toBe(1);
    // Nest unknown fields deeper by editing the decoded proto.
    proto.graph!.$unknown = [withField(new Uint8Array(0), 77, extra)];
    proto.graph!.node[0]!.$unknown = [withField(new Uint8Array(0), 55, extra)];
    proto.graph!.initializer[0]!.$unknown = [withField(new Uint8Array(0), 66, extra)];
    const bytes = encodeMessage('ModelProto', proto);
    const model = loadModel(bytes);
    const again = decodeMessage<ModelProto>('ModelProto', serializeModel(model), 'again');
    expect(again.$unknown?.[0]).toEqual(withField(new Uint8Array(0), 99, extra));
    expect(again.graph!.$unknown?.[0]).toEqual(withField(new Uint8Array(0), 77, extra));
    expect(again.graph!.node[0]!.$unknown?.[0]).toEqual(withField(new Uint8Array(0), 55, extra));
    expect(again.graph!.initializer[0]!.$unknown?.[0]).toEqual(
      withField(new Uint8Array(0), 66, extra),
    );
  });

  it('keeps int64 values beyond 2^53 exact (Slice ends of INT64_MAX)', () => {
    const proto = modelToProto(addModel());
    proto.graph!.node[0]!.attribute.push({
      name: 'big',
      type: 7,
      ints: [9223372036854775807n, -1, -9223372036854775808n],
      floats: [],
      strings: [],
      tensors: [],
      graphs: [],
      typeProtos: [],
      sparseTensors: [],
    });
    const back = decodeMessage<ModelProto>('ModelProto', encodeMessage('ModelProto', proto), 'x');
    expect(back.graph!.node[0]!.attribute[0]!.ints).toEqual([
      9223372036854775807n,
      -1,
      -9223372036854775808n,
    ]);
  });

  it('round-trips metadata, doc strings, and every kind of dtype', () => {
    const m = addModel();
    m.proto.metadataProps.push({ key: 'author', value: 'kiln' });
    m.proto.docString = 'a doc';
    m.graph.proto.docString = 'graph doc';
    const dtypes: [number, number][] = [
      [ElemType.DOUBLE, 8],
      [ElemType.UINT16, 2],
      [ElemType.FLOAT16, 2],
      [ElemType.BFLOAT16, 2],
      [ElemType.UINT64, 8],
      [ElemType.FLOAT8E4M3FN, 1],
      [ElemType.INT4, 1],
      [ElemType.COMPLEX64, 8],
    ];
    for (const [t, size] of dtypes) {
      const init = Initializer.fromBytes(
        `c${t}`,
        t,
        [2],
        Uint8Array.from({ length: t === ElemType.INT4 ? 1 : 2 * size }, (_, i) => i + 1),
      );
      m.graph.initializers.set(init.name, init);
    }
    const back = loadModel(serializeModel(m));
    expect(back.metadata().get('author')).toBe('kiln');
    expect(back.proto.docString).toBe('a doc');
    expect(back.graph.proto.docString).toBe('graph doc');
    for (const [t] of dtypes) {
      const a = m.graph.initializers.get(`c${t}`)!;
      const b = back.graph.initializers.get(`c${t}`)!;
      expect(b.elemType).toBe(t);
      expect(b.bytes()).toEqual(a.bytes());
    }
  });

  it('gives tensors as @kiln/core Tensors lazily, and refuses types Tensor cannot hold', () => {
    const back = loadModel(serializeModel(addModel()));
    const w = back.graph.initializers.get('w')!;
    expect(w.tensor().data).toEqual(Float32Array.from([1, 2, 3, 4]));
    const d = Initializer.fromBytes('d', ElemType.DOUBLE, [1], new Uint8Array(8));
    expectKiln(() => d.tensor(), 'UNSUPPORTED', "'d'", 'double');
  });
});

describe('external data', () => {
  it('writes tensors over the threshold to a side file and reads them back lazily', () => {
    const m = addModel();
    m.graph.initializers.set(
      'big',
      Initializer.fromTensor(
        'big',
        new Tensor(
          'float32',
          [1000],
          Float32Array.from({ length: 1000 }, (_, i) => i),
        ),
      ),
    );
    const sub = join(dir, 'ext');
    mkdirSync(sub, { recursive: true });
    saveModel(m, join(sub, 'm.onnx'), { externalData: { threshold: 100 } });
    const proto = decodeMessage<ModelProto>('ModelProto', readFileSync(join(sub, 'm.onnx')), 'm');
    const big = proto.graph!.initializer.find((t) => t.name === 'big')!;
    expect(big.dataLocation).toBe(1);
    expect(big.externalData.find((e) => e.key === 'location')?.value).toBe('m.onnx.data');
    expect(proto.graph!.initializer.find((t) => t.name === 'w')!.rawData).toBeDefined();
    const back = loadModel(join(sub, 'm.onnx'));
    const b = back.graph.initializers.get('big')!;
    expect(b.isExternal).toBe(true);
    expect((b.tensor().data as Float32Array)[999]).toBe(999);
    // Saving over the same file must not pull the lazy data from under the model.
    const again = loadModel(join(sub, 'm.onnx'));
    saveModel(again, join(sub, 'm.onnx'), { externalData: { threshold: 100 } });
    expect(
      (
        loadModel(join(sub, 'm.onnx')).graph.initializers.get('big')!.tensor().data as Float32Array
      )[500],
    ).toBe(500);
  });

  it('switches to external data automatically past the inline limit', () => {
    const m = addModel();
    m.graph.initializers.set('big', Initializer.fromTensor('big', new Tensor('float32', [4096])));
    const path = join(dir, 'auto.onnx');
    saveModel(m, path, { inlineLimit: 8192 });
    const proto = decodeMessage<ModelProto>('ModelProto', readFileSync(path), 'auto');
    expect(proto.graph!.initializer.find((t) => t.name === 'big')!.dataLocation).toBe(1);
  });

  function modelWithLocation(location: string): Uint8Array {
    const proto = modelToProto(addModel());
    const w = proto.graph!.initializer[0]!;
    delete w.rawData;
    w.dataLocation = 1;
    w.externalData = [{ key: 'location', value: location }];
    return encodeMessage('ModelProto', proto);
  }

  it.each([
    ['/etc/passwd', 'absolute'],
    ['../secret.bin', "'..'"],
    ['a/../../secret.bin', "'..'"],
    ['C:\\x.bin', 'absolute'],
  ])('refuses location %s', (location, why) => {
    const sub = join(dir, 'esc');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'm.onnx'), modelWithLocation(location));
    expectKiln(() => loadModel(join(sub, 'm.onnx')), 'INVALID_MODEL', 'm.onnx', why, "'w'");
  });

  it('refuses a symlink that leads out of the model folder', () => {
    const sub = join(dir, 'sym');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(dir, 'outside.bin'), new Uint8Array(16));
    symlinkSync(join(dir, 'outside.bin'), join(sub, 'w.bin'));
    writeFileSync(join(sub, 'm.onnx'), modelWithLocation('w.bin'));
    expectKiln(() => loadModel(join(sub, 'm.onnx')), 'INVALID_MODEL', 'outside the model', 'w.bin');
  });

  it('refuses data beyond the end of the file, and says when the file is missing', () => {
    const sub = join(dir, 'short');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'w.bin'), new Uint8Array(8));
    writeFileSync(join(sub, 'm.onnx'), modelWithLocation('w.bin'));
    expectKiln(() => loadModel(join(sub, 'm.onnx')), 'INVALID_MODEL', '16 bytes expected');
    writeFileSync(join(sub, 'n.onnx'), modelWithLocation('nothere.bin'));
    expectKiln(() => loadModel(join(sub, 'n.onnx')), 'NOT_FOUND', 'nothere.bin');
    expectKiln(() => loadModel(modelWithLocation('w.bin')), 'INVALID_ARGUMENT', 'baseDir');
  });
});

describe('errors', () => {
  const good = serializeModel(addModel());

  it('names the file on a truncated model', () => {
    const path = join(dir, 'trunc.onnx');
    writeFileSync(path, good.subarray(0, good.length - 7));
    expectKiln(() => loadModel(path), 'INVALID_MODEL', 'trunc.onnx', 'truncated');
  });

  it('names the field that has the wrong wire type', () => {
    const w = new WireWriter();
    w.tag(7, WireType.Varint); // graph as a varint
    w.uint(3);
    expectKiln(() => loadModel(w.finish()), 'INVALID_MODEL', 'ModelProto.graph', 'wrong wire type');
  });

  it('names the node with a dangling input', () => {
    const m = addModel();
    m.graph.nodes[0]!.inputs[1] = 'nowhere';
    expectKiln(() => loadModel(serializeModel(m)), 'INVALID_MODEL', "'add'", "'nowhere'");
  });

  it('names the nodes of a cycle', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [1]]],
      outputs: [['b', ElemType.FLOAT, [1]]],
      nodes: [
        { opType: 'Add', name: 'first', inputs: ['x', 'b'], outputs: ['a'] },
        { opType: 'Relu', name: 'second', inputs: ['a'], outputs: ['b'] },
      ],
    });
    expectKiln(() => loadModel(serializeModel(m)), 'INVALID_MODEL', 'cycle', "'first'", "'second'");
  });

  it('names an initializer of an unsupported data type', () => {
    const proto = modelToProto(addModel());
    proto.graph!.initializer[0]!.dataType = 99;
    expectKiln(
      () => loadModel(encodeMessage('ModelProto', proto)),
      'UNSUPPORTED',
      "'w'",
      'data_type 99',
    );
  });

  it('reports a missing file, a folder, an empty file and a wrong argument', () => {
    expectKiln(() => loadModel(join(dir, 'none.onnx')), 'NOT_FOUND', 'none.onnx');
    expectKiln(() => loadModel(dir), 'INVALID_ARGUMENT', 'folder');
    expectKiln(() => loadModel(new Uint8Array(0)), 'INVALID_MODEL', 'empty');
    expectKiln(() => loadModel(42 as unknown as string), 'INVALID_ARGUMENT');
  });

  it('rejects values of the wrong JS type when saving, naming the field', () => {
    const m = addModel();
    (m.graph.nodes[0]!.inputs as unknown[])[0] = 5;
    expectKiln(() => serializeModel(m), 'INVALID_MODEL', 'input');
  });
});
