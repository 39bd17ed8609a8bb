// Runs one backend test through OnnxParser -> Builder -> Runtime and classifies it:
// pass, fail (wrong output, or an error), or unsupported (the parser or core says UNSUPPORTED,
// or an input/output has a type kiln's Tensor cannot hold).
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Builder, OnnxParser } from '@kiln/builder';
import { isKilnError } from '@kiln/core';
import { Initializer, decodeMessage, elemTypeName, kilnDataType, loadModel } from '@kiln/onnx';
import { Runtime } from '@kiln/runtime';

import { compareTensors } from './compare.mjs';
import { listDataSets } from './suites.mjs';

/** Thrown for a test kiln does not claim to run; its message says why. */
class Unsupported extends Error {}

function typeProblem(value, role) {
  if (!value.isTensor) return `${role} '${value.name}' is not a tensor (sequence/map/optional)`;
  if (value.elemType !== undefined && kilnDataType(value.elemType) === undefined)
    return `${role} '${value.name}' is ${elemTypeName(value.elemType)}`;
  return undefined;
}

function readTensor(file) {
  const bytes = readFileSync(file);
  const where = path.basename(path.dirname(file)) + '/' + path.basename(file);
  const proto = decodeMessage('TensorProto', bytes, where);
  const init = new Initializer(proto, where);
  if (kilnDataType(init.elemType) === undefined)
    throw new Unsupported(`${where} is ${elemTypeName(init.elemType)}`);
  return { name: proto.name ?? '', tensor: init.tensor() };
}

// What ExecutionContext.infer passes as input values: int32/int64/bool inputs of <= 64 elements.
const SHAPE_VALUE_TYPES = new Set(['int32', 'int64', 'bool']);
function shapeValues(tensor) {
  if (!SHAPE_VALUE_TYPES.has(tensor.dtype) || tensor.size > 64) return undefined;
  return Array.from(tensor.data, Number);
}

function firstLine(message) {
  const lines = String(message).split('\n');
  const head = lines[0].length > 300 ? lines[0].slice(0, 300) + '...' : lines[0];
  return lines.length > 1 ? `${head} (+${lines.length - 1} lines)` : head;
}

/** "op: reason" pairs from an UNSUPPORTED parse error, so reports can count missing ops. */
function unsupportedOps(message) {
  const ops = new Set();
  for (const m of String(message).matchAll(/^ {2}.* \(([A-Za-z0-9_]+)\): (.*)$/gm))
    ops.add(m[2].startsWith('the native core has no implementation') ? m[1] : `${m[1]} (${m[2]})`);
  return [...ops];
}

/**
 * Runs the test in `dir`. Resolves with { status, message?, ops?, ms }, never rejects: every
 * error becomes a fail (or unsupported) with its message.
 */
export async function runTest(dir) {
  const start = performance.now();
  const done = (status, message, extra = {}) => ({
    status,
    ...(message !== undefined ? { message: firstLine(message) } : {}),
    ...extra,
    ms: Math.round(performance.now() - start),
  });
  let stage = 'load';
  try {
    const model = loadModel(path.join(dir, 'model.onnx'));
    const g = model.graph;
    const inputs = g.inputs.filter((v) => !g.initializers.has(v.name));
    for (const [values, role] of [
      [inputs, 'input'],
      [g.outputs, 'output'],
    ]) {
      for (const v of values) {
        const problem = typeProblem(v, role);
        if (problem) throw new Unsupported(problem);
      }
    }
    const sets = listDataSets(dir).map((set) => ({
      name: set.name,
      inputs: set.inputs.map(readTensor),
      outputs: set.outputs.map(readTensor),
    }));
    if (sets.length === 0) return done('fail', 'no test_data_set_* folders');

    // A feed names its graph input, or goes by position among the non-initializer inputs.
    const feedsOf = (set) => {
      const feeds = {};
      set.inputs.forEach((t, k) => {
        const name = inputs.some((v) => v.name === t.name) ? t.name : inputs[k]?.name;
        if (name !== undefined) feeds[name] = t.tensor;
      });
      return feeds;
    };

    stage = 'parse';
    const builder = new Builder();
    const network = builder.createNetwork();
    new OnnxParser(network).parse(model);

    stage = 'build';
    const config = builder.createBuilderConfig();
    // One profile spanning every data set: the shapes of dynamic inputs, and the values of
    // small integer inputs (shape tensors in TensorRT's terms: a Reshape's target shape, Slice
    // bounds...), which the core needs while it computes shapes.
    const profile = builder.createOptimizationProfile();
    let profiled = false;
    for (const t of network.inputs) {
      const data = sets.map((s) => feedsOf(s)[t.name]).filter(Boolean);
      if (t.shape.some((d) => d < 0)) {
        if (data.length === 0) return done('fail', `no data for dynamic input '${t.name}'`);
        const shapes = data.map((d) => d.shape);
        const min = shapes[0].map((_, i) => Math.min(...shapes.map((s) => s[i])));
        const max = shapes[0].map((_, i) => Math.max(...shapes.map((s) => s[i])));
        profile.setDimensions(t.name, { min, opt: max, max });
        profiled = true;
      }
      const values = data.map(shapeValues);
      if (values.length > 0 && values.every((v) => v && v.length === values[0].length)) {
        const min = values[0].map((_, i) => Math.min(...values.map((v) => v[i])));
        const max = values[0].map((_, i) => Math.max(...values.map((v) => v[i])));
        profile.setShapeValues(t.name, { min, opt: max, max });
        profiled = true;
      }
    }
    if (profiled) config.addOptimizationProfile(profile);
    const plan = await builder.buildSerializedNetwork(network, config);

    stage = 'run';
    const engine = new Runtime().deserializeEngine(plan);
    const ctx = engine.createExecutionContext();
    const outputNames = g.outputs.map((v) => v.name);
    for (const set of sets) {
      const all = feedsOf(set);
      const feeds = {};
      for (const name of engine.inputNames) {
        if (!all[name]) return done('fail', `${set.name}: no data for input '${name}'`);
        feeds[name] = all[name];
      }
      const got = await ctx.infer(feeds);
      for (let k = 0; k < set.outputs.length; k++) {
        const expected = set.outputs[k];
        const name = outputNames.includes(expected.name) ? expected.name : outputNames[k];
        const actual = got[name];
        if (!actual) return done('fail', `${set.name}: the engine has no output '${name}'`);
        const diff = compareTensors(actual, expected.tensor);
        if (diff) return done('fail', `${set.name}: output '${name}': ${diff}`);
      }
    }
    return done('pass');
  } catch (e) {
    if (e instanceof Unsupported) return done('unsupported', e.message, { stage });
    const text = String(e?.message ?? e).replaceAll(path.join(dir, 'model.onnx') + ': ', '');
    if (isKilnError(e) && e.code === 'UNSUPPORTED') {
      const ops = stage === 'parse' ? unsupportedOps(text) : [];
      const message =
        ops.length > 0 ? `parse: cannot build ${ops.join(', ')}` : `${stage}: ${text}`;
      return done('unsupported', message, {
        stage,
        ...(ops.length > 0 ? { ops } : {}),
      });
    }
    const code = isKilnError(e) ? `${e.code} ` : '';
    return done('fail', `${stage}: ${code}${text}`, { stage });
  }
}
