// Test-only helpers (not exported by the package): synthetic images with exact pixel values,
// a temporary folder, and a logger that records warnings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, type Severity, setLogger } from '@kiln/core';
import sharp from 'sharp';

/** Encodes raw pixels (row-major, `channels` bytes per pixel) losslessly as PNG. */
export function png(
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  pixels: number[] | Uint8Array,
): Promise<Buffer> {
  const raw = Buffer.from(pixels as Uint8Array);
  if (raw.length !== width * height * channels) throw new Error('pixel count mismatch');
  return sharp(raw, { raw: { width, height, channels } }).png().toBuffer();
}

/** A PNG of one solid RGB colour. */
export function solidPng(
  width: number,
  height: number,
  rgb: [number, number, number],
): Promise<Buffer> {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set(rgb, i * 3);
  return png(width, height, 3, pixels);
}

/** A fresh temporary folder and a function that removes it. */
export function tempFolder(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-calibrator-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Installs a logger that records messages; call restore() afterwards. */
export function recordLogs(): { messages: [Severity, string][]; restore: () => void } {
  const messages: [Severity, string][] = [];
  const logger: Logger = { log: (severity, message) => void messages.push([severity, message]) };
  const previous = setLogger(logger);
  return { messages, restore: () => void setLogger(previous) };
}
