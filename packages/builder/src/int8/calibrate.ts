import { KilnError, type Logger } from '@kiln/core';
import type { Calibrator } from '@kiln/calibrator';

import type { Builder } from '../builder';
import { Layer, NetworkDefinition, NetworkTensor } from '../network';
import { isNonNegative } from './insert-qdq';

/** A copy of a network sharing constant bytes: the calibration build runs its passes on it. */
export function cloneNetwork(network: NetworkDefinition): NetworkDefinition {
  const copy = new NetworkDefinition();
  const map = new Map<NetworkTensor, NetworkTensor>();
  const tensor = (t: NetworkTensor): NetworkTensor => {
    let c = map.get(t);
    if (!c) {
      c = new NetworkTensor(copy.uniqueName(t.name), t.dtype, [...t.shape], t.constant);
      map.set(t, c);
    }
    return c;
  };
  for (const t of network.inputs) copy.inputs.push(tensor(t));
  copy.layers = network.layers.map((l) => {
    const c = new Layer(
      copy.uniqueLayerName(l.name),
      l.op,
      l.inputs.map((t) => (t ? tensor(t) : null)),
      l.outputs.map(tensor),
      new Map(l.attrs),
    );
    c.guards = l.guards.map((g) => ({ tensor: tensor(g.tensor), value: g.value }));
    c.precision = l.precision;
    return c;
  });
  for (const t of network.outputs) copy.outputs.push(tensor(t));
  return copy;
}

/** A fingerprint of the network's structure (ops, tensor names, shapes), for the cache header. */
function structureOf(network: NetworkDefinition): string {
  return network.layers
    .map(
      (l) =>
        `${l.op}(${l.inputs.map((t) => (t ? `${t.name}[${t.shape}]` : '')).join(',')})->${l.outputs.map((t) => t.name).join(',')}`,
    )
    .join(';');
}

/**
 * The INT8 scale (amax / 127) of each tensor in `tensors`: from the calibrator's cache when it
 * has one for this network and algorithm (no calibration runs), otherwise by running the FP32
 * network over the calibrator's batches with those tensors exposed, after which the cache is
 * written. Scales are float32 either way, so a cache rebuilds the same engine.
 */
export async function calibrate(
  builder: Builder,
  network: NetworkDefinition,
  tensors: readonly NetworkTensor[],
  calibrator: Calibrator,
  logger: Logger,
): Promise<Map<string, number>> {
  const cal = await import('@kiln/calibrator');
  const names = tensors.map((t) => t.name);
  const expected = {
    calibrator: cal.CALIBRATOR_NAMES[calibrator.algorithm],
    fingerprint: cal.networkFingerprint(structureOf(network)),
  };
  const cached = await calibrator.readCalibrationCache();
  if (cached) {
    const cache = cal.readCalibrationCache(cached, expected);
    const missing = names.filter((n) => !cache.scales.has(n));
    if (missing.length > 0) {
      throw new KilnError(
        'INVALID_STATE',
        `the calibration cache has no scale for ${missing.length} tensor(s) this build quantizes (${missing.slice(0, 5).join(', ')}); recalibrate or delete the cache`,
      );
    }
    logger.log(
      'info',
      `int8: ${names.length} scales read from the calibration cache; calibration skipped`,
    );
    return new Map(names.map((n) => [n, cache.scales.get(n)!]));
  }

  const probe = cloneNetwork(network);
  const exposed = new Set(names);
  // Inputs are read from the batches themselves; everything else is exposed as an output.
  for (const t of probe.layers.flatMap((l) => l.outputs))
    if (exposed.has(t.name)) probe.markOutput(t);
  const config = builder.createBuilderConfig();
  const profile = builder.createOptimizationProfile();
  const inputNames = probe.inputs.map((t) => t.name);
  // The calibration engine is built at the shape of the first batch (dynamic H/W included).
  let batch = await calibrator.getBatch(inputNames);
  if (batch) {
    for (const t of probe.inputs) {
      const shape = [...batch[t.name]!.shape];
      profile.setDimensions(t.name, { min: shape, opt: shape, max: shape });
    }
    config.addOptimizationProfile(profile);
  }
  const context = batch
    ? new (await import('@kiln/runtime')).Runtime()
        .deserializeEngine(await builder.buildSerializedNetwork(probe, config))
        .createExecutionContext()
    : undefined;
  const ranges = new cal.ActivationRanges(calibrator.algorithm, calibrator.percentile);
  // Network inputs keep their whole range whatever the algorithm: preprocessing already set it,
  // and what clipping an input loses no later layer recovers (Fashion-MNIST's background spike
  // at -0.81 drives the entropy threshold of |x| right to it, clipping every bright pixel).
  const inputRanges = new cal.ActivationRanges('minmax');
  let batches = 0;
  for (; batch && context; batch = await calibrator.getBatch(inputNames)) {
    const outputs = await context.infer(batch);
    for (const n of names) {
      if (outputs[n]) ranges.update(n, outputs[n].data as Float32Array);
      else inputRanges.update(n, batch[n]!.data as Float32Array);
    }
    batches++;
  }
  if (batches === 0)
    throw new KilnError(
      'INVALID_STATE',
      'the calibrator gave no batches: int8 calibration needs data',
    );
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const computed = ranges.scales(
    new Set(tensors.filter((t) => isNonNegative(t, producers)).map((t) => t.name)),
  );
  const scales = new Map(names.map((n) => [n, computed.get(n) ?? inputRanges.scales().get(n)!]));
  const text = cal.writeCalibrationCache({
    calibrator: expected.calibrator,
    scales,
    fingerprint: expected.fingerprint,
  });
  await calibrator.writeCalibrationCache(new TextEncoder().encode(text));
  logger.log(
    'info',
    `int8: calibrated ${names.length} tensors over ${batches} batches (${calibrator.algorithm})`,
  );
  return new Map(names.map((n) => [n, scales.get(n)!]));
}
