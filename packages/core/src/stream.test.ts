import { describe, expect, it } from 'vitest';

import { DeviceBuffer, HostBuffer } from './buffers';
import { KilnError } from './errors';
import { Event, Stream } from './stream';
import { injectFault } from './testing';

describe('DeviceBuffer and HostBuffer', () => {
  it('allocate, report size and refuse use after dispose', () => {
    const d = new DeviceBuffer(1000);
    expect(d.byteLength).toBe(1000);
    expect(d.device).toBe('cpu');
    d.dispose();
    expect(d.disposed).toBe(true);
    expect(() => d.byteLength).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => d.dispose()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    const s = new Stream();
    expect(() => s.memset(d, 0)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('HostBuffer memory is writable from JS and detached on dispose', () => {
    const h = new HostBuffer(64);
    const view = new Uint8Array(h.arrayBuffer);
    view.fill(9);
    expect(new Uint8Array(h.arrayBuffer)[63]).toBe(9);
    h.dispose();
    expect(view.length).toBe(0); // detached: JS can no longer reach freed memory
    expect(() => h.arrayBuffer).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('rejects bad sizes and devices before reaching the core', () => {
    expect(() => new DeviceBuffer(-1)).toThrow(/Expected an integer >= 0 for byteLength/);
    expect(() => new DeviceBuffer(1.5)).toThrow(KilnError);
    expect(() => new DeviceBuffer(8, { device: 'tpu' as never })).toThrow(/for device/);
  });

  it('reports a failed allocation as OUT_OF_MEMORY', () => {
    injectFault('device.allocate', 1);
    expect(() => new DeviceBuffer(16)).toThrow(expect.objectContaining({ code: 'OUT_OF_MEMORY' }));
    expect(new DeviceBuffer(16).byteLength).toBe(16);
    // A request no machine can satisfy fails cleanly too (not a crash).
    expect(() => new DeviceBuffer(2 ** 52)).toThrow(
      expect.objectContaining({ code: 'OUT_OF_MEMORY' }),
    );
  });
});

describe('Stream', () => {
  it('copies host -> device -> host with offsets, in order', async () => {
    const s = new Stream();
    const d = new DeviceBuffer(16);
    s.memset(d, 0xff);
    s.copyHostToDevice(d, new Uint8Array([1, 2, 3, 4]), { dstOffset: 4 });
    const back = new Uint8Array(16);
    s.copyDeviceToHost(back, d);
    await s.synchronize();
    expect(Array.from(back)).toEqual([
      255, 255, 255, 255, 1, 2, 3, 4, 255, 255, 255, 255, 255, 255, 255, 255,
    ]);

    const d2 = new DeviceBuffer(8);
    s.copyDeviceToDevice(d2, d, { srcOffset: 2, byteLength: 8 });
    const h = new HostBuffer(8);
    s.copyDeviceToHost(h, d2);
    await s.synchronize();
    expect(Array.from(new Uint8Array(h.arrayBuffer))).toEqual([255, 255, 1, 2, 3, 4, 255, 255]);
  });

  it('validates ranges and argument kinds with clear messages', () => {
    const s = new Stream();
    const d = new DeviceBuffer(8);
    expect(() => s.copyHostToDevice(d, new Uint8Array(16))).toThrow(
      /16 bytes at offset 0 do not fit in the 8-byte destination/,
    );
    expect(() => s.copyDeviceToHost(new Uint8Array(8), d, { srcOffset: 4, byteLength: 8 })).toThrow(
      /run past the 8-byte source/,
    );
    expect(() => s.copyHostToDevice(new Uint8Array(8) as never, d as never)).toThrow(
      /Expected a DeviceBuffer for dst/,
    );
    expect(() => s.memset(d, 256)).toThrow(/between 0 and 255/);
  });

  it('a 256 MiB copy returns at once and the event loop runs until it completes', async () => {
    const bytes = 256 * 1024 * 1024;
    const src = new HostBuffer(bytes);
    new Uint8Array(src.arrayBuffer).fill(7);
    const dst = new DeviceBuffer(bytes);
    const s = new Stream();
    const done = new Event();
    const t0 = performance.now();
    s.copyHostToDevice(dst, src);
    done.record(s);
    const enqueueMs = performance.now() - t0;
    expect(done.query()).toBe(false); // the copy is still running: enqueue did not wait for it
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await s.synchronize();
    const totalMs = performance.now() - t0;
    clearInterval(timer);
    expect(done.query()).toBe(true);
    expect(ticks).toBeGreaterThan(0);
    // Enqueueing is a small fraction of the copy itself.
    expect(enqueueMs).toBeLessThan(totalMs / 5);
    const check = new Uint8Array(4096);
    s.copyDeviceToHost(check, dst, { srcOffset: bytes - 4096 });
    await s.synchronize();
    expect(check.every((v) => v === 7)).toBe(true);
    src.dispose();
    dst.dispose();
    // A cold 256 MiB copy maps fresh pages; on a loaded machine that alone can take seconds.
  }, 60_000);

  it('rejects synchronize with the error of queued work, then recovers', async () => {
    const s = new Stream();
    const d = new DeviceBuffer(4);
    const out = new Uint8Array(4);
    injectFault('stream.task', 1);
    s.memset(d, 1); // fails
    s.copyDeviceToHost(out, d); // skipped: it depends on the failed work
    await expect(s.synchronize()).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/injected fault/),
    });
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
    s.memset(d, 2);
    s.copyDeviceToHost(out, d);
    await s.synchronize();
    expect(Array.from(out)).toEqual([2, 2, 2, 2]);
  });

  it('keeps device memory alive for queued work after dispose', async () => {
    const s = new Stream();
    const d = new DeviceBuffer(1 << 20);
    s.memset(d, 3);
    const out = new Uint8Array(1 << 20);
    s.copyDeviceToHost(out, d);
    d.dispose();
    await s.synchronize();
    expect(out[(1 << 20) - 1]).toBe(3);
  });

  it('refuses work after the stream is disposed', () => {
    const s = new Stream();
    s.dispose();
    expect(() => s.memset(new DeviceBuffer(1), 0)).toThrow(
      expect.objectContaining({ code: 'DISPOSED' }),
    );
  });
});

describe('Event', () => {
  it('times work between two events', async () => {
    const s = new Stream();
    const start = new Event();
    const end = new Event();
    expect(() => Event.elapsedTime(start, end)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
    const d = new DeviceBuffer(64 << 20);
    start.record(s);
    s.memset(d, 1);
    end.record(s);
    await end.synchronize();
    expect(start.query() && end.query()).toBe(true);
    const ms = Event.elapsedTime(start, end);
    expect(ms).toBeGreaterThan(0);
    expect(Event.elapsedTime(end, start)).toBeCloseTo(-ms, 6);
  });
});
