import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { KilnError } from '@kiln/core';

/**
 * Resolves `rel` inside the model folder `root`, refusing absolute paths, '..' segments and
 * symlinks that lead outside it: a model file must never make us read elsewhere.
 */
export function resolveInside(root: string, rel: string, what: string): string {
  if (typeof rel !== 'string' || rel === '' || rel.includes('\0')) {
    throw new KilnError('INVALID_MODEL', `${what}: '${String(rel)}' is not a valid relative path`);
  }
  if (isAbsolute(rel) || /^[a-zA-Z]:/.test(rel) || rel.startsWith('\\')) {
    throw new KilnError(
      'INVALID_MODEL',
      `${what}: '${rel}' is an absolute path; model files must stay inside the model folder`,
    );
  }
  if (rel.split(/[\\/]/).includes('..')) {
    throw new KilnError(
      'INVALID_MODEL',
      `${what}: '${rel}' leaves the model folder ('..' is not allowed)`,
    );
  }
  const base = resolve(root);
  const full = join(base, rel);
  if (!existsSync(full))
    throw new KilnError('NOT_FOUND', `${what}: '${rel}' does not exist in ${base}`);
  const realBase = realpathSync(base);
  const real = realpathSync(full);
  const back = relative(realBase, real);
  if (back === '' || back.startsWith('..' + sep) || back === '..' || isAbsolute(back)) {
    throw new KilnError(
      'INVALID_MODEL',
      `${what}: '${rel}' resolves to ${real}, outside the model folder ${realBase}`,
    );
  }
  return real;
}

/** Reads a whole file inside the model folder (see resolveInside); IO failures become KilnError('IO_ERROR'). */
export function readInside(root: string, rel: string, what: string): Uint8Array {
  const path = resolveInside(root, rel, what);
  return readFile(path, what);
}

/** Reads a file, turning IO failures into KilnError. */
export function readFile(path: string, what: string): Uint8Array {
  try {
    if (!statSync(path).isFile())
      throw new KilnError('INVALID_ARGUMENT', `${what}: ${path} is not a file`);
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    if (e instanceof KilnError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new KilnError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR',
      `${what}: cannot read ${path}: ${(e as Error).message}`,
    );
  }
}
