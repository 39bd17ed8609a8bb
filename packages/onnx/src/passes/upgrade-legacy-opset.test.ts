import { describe, expect, it } from 'vitest';
import { intAttr } from '../ir/attribute';
import { ElemType } from '../ir/elem-type';
import { f32, tinyModel } from '../test-support/build';
import { inferShapes } from '../infer/infer';
import { upgradeLegacyOpset } from './upgrade-legacy-opset';

const F = ElemType.FLOAT;

describe('upgradeLegacyOpset', () => {
  it('aligns a legacy axis broadcast with trailing 1s and drops the legacy attributes', () => {
    const m = tinyModel({
      opset: 6,
      inputs: [['x', F, [2, 3, 4, 5]]],
      outputs: [['y', F]],
      nodes: [
        {
          opType: 'Add',
          inputs: ['x', 'b'],
          outputs: ['y'],
          attributes: [intAttr('broadcast', 1), intAttr('axis', 1)],
        },
      ],
      initializers: [['b', f32([1, 2, 3])]],
    });
    upgradeLegacyOpset(m);
    expect(m.opset('')).toBe(7);
    const [unsqueeze, add] = m.graph.nodes;
    expect(unsqueeze!.opType).toBe('Unsqueeze');
    expect(unsqueeze!.ints('axes')).toEqual([1, 2]);
    expect(add!.inputs[1]).toBe(unsqueeze!.outputs[0]);
    expect([...add!.attributes.keys()]).toEqual([]);
    inferShapes(m);
    expect(m.graph.value('y')?.shape).toEqual([2, 3, 4, 5]);
  });

  it('keeps suffix broadcasts (numpy already agrees) and models at opset >= 7 as they are', () => {
    const legacy = tinyModel({
      opset: 6,
      inputs: [['x', F, [2, 3]]],
      outputs: [['y', F]],
      nodes: [
        {
          opType: 'Mul',
          inputs: ['x', 'b'],
          outputs: ['y'],
          attributes: [intAttr('broadcast', 1)],
        },
      ],
      initializers: [['b', f32([1, 2, 3])]],
    });
    upgradeLegacyOpset(legacy);
    expect(legacy.graph.nodes.map((n) => n.opType)).toEqual(['Mul']);
    const modern = tinyModel({
      opset: 13,
      inputs: [['x', F, [2, 3]]],
      outputs: [['y', F]],
      nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    upgradeLegacyOpset(modern);
    expect(modern.opset('')).toBe(13);
  });

  it('gives PRelu-6 slopes one value per channel', () => {
    const m = tinyModel({
      opset: 6,
      inputs: [['x', F, [2, 3, 4]]],
      outputs: [['y', F]],
      nodes: [{ opType: 'PRelu', inputs: ['x', 's'], outputs: ['y'] }],
      initializers: [['s', f32([0.1, 0.2, 0.3])]],
    });
    upgradeLegacyOpset(m);
    expect(m.graph.nodes[0]!.opType).toBe('Unsqueeze');
    expect(m.graph.nodes[0]!.ints('axes')).toEqual([1]);
  });
});
