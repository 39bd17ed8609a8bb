import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '@kiln/core';

/** The shapes one input of an engine accepts: every dim of min <= shape <= max. */
export interface InputRange {
  min: number[];
  opt: number[];
  max: number[];
}

/** Input ranges by input name, as an EngineCache asks its build function for them. */
export type InputRanges = Record<string, InputRange>;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function canonical(ranges: InputRanges): string {
  return JSON.stringify(
    Object.keys(ranges)
      .sort()
      .map((name) => [name, ranges[name]!.min, ranges[name]!.opt, ranges[name]!.max]),
  );
}

function isRanges(value: unknown): value is InputRanges {
  if (value === null || typeof value !== 'object') return false;
  const dims = (d: unknown) => Array.isArray(d) && d.every((v) => Number.isSafeInteger(v));
  return Object.values(value).every((r) => dims(r?.min) && dims(r?.opt) && dims(r?.max));
}

/**
 * Engine files in a folder: a subfolder per build key (model and config) and native core
 * version, holding one `.kiln` plan per input ranges with a `.json` naming the ranges. A restart
 * finds its engines again; a changed model, config or core never matches an old file.
 */
export class EngineStore {
  /** The subfolder of this key and core version. */
  readonly dir: string;

  constructor(root: string, key: string, coreVersion: string) {
    this.dir = path.join(root, sha256(`${key}\n${coreVersion}`).slice(0, 32));
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (cause) {
      throw new KilnError('IO_ERROR', `cannot create the engine cache folder ${this.dir}`, {
        cause,
      });
    }
  }

  /** The file that holds the engine for `ranges`. */
  fileFor(ranges: InputRanges): string {
    return path.join(this.dir, `${sha256(canonical(ranges)).slice(0, 32)}.kiln`);
  }

  /** The ranges of every engine stored for this key (unreadable entries are skipped). */
  list(): InputRanges[] {
    const found: InputRanges[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const ranges: unknown = JSON.parse(fs.readFileSync(path.join(this.dir, name), 'utf8'));
        if (isRanges(ranges) && fs.existsSync(this.fileFor(ranges))) found.push(ranges);
      } catch {
        // A half-written or foreign file: the engine is rebuilt instead.
      }
    }
    return found;
  }

  /** The stored plan bytes for `ranges`, or undefined when none was stored. */
  read(ranges: InputRanges): Uint8Array | undefined {
    const file = this.fileFor(ranges);
    try {
      return new Uint8Array(fs.readFileSync(file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new KilnError('IO_ERROR', `cannot read the cached engine ${file}`, { cause: error });
    }
  }

  /** Stores plan bytes, then the ranges that list() reports; each file appears whole or not at all. */
  write(ranges: InputRanges, plan: Uint8Array): void {
    const file = this.fileFor(ranges);
    writeAtomically(file, plan);
    writeAtomically(file.replace(/\.kiln$/, '.json'), JSON.stringify(ranges));
  }
}

function writeAtomically(file: string, data: Uint8Array | string): void {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(temporary, data);
    fs.renameSync(temporary, file);
  } catch (cause) {
    fs.rmSync(temporary, { force: true });
    throw new KilnError('IO_ERROR', `cannot write the cached engine file ${file}`, { cause });
  }
}
