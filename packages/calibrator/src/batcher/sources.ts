import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { KilnError } from '@kiln/core';

function codePointOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The image files of a folder, sorted by path in code-point order (the same on every machine and
 * locale), filtered by extension (case-insensitive); sub-folders too when `recursive`.
 */
export async function listImages(
  folder: string,
  extensions: readonly string[],
  recursive: boolean,
): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true, recursive });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KilnError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR',
      `cannot list the image folder ${folder}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const wanted = new Set(extensions.map((e) => '.' + e));
  const files = entries
    .filter((e) => e.isFile() && wanted.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath ?? folder, e.name))
    .sort(codePointOrder);
  if (files.length === 0) {
    throw new KilnError(
      'NOT_FOUND',
      `no images (${extensions.map((e) => '.' + e).join(', ')}) in ${folder}${recursive ? ' or its sub-folders' : ''}`,
    );
  }
  return files;
}

/** The candidate image paths of an input: a folder's images, a single file, or the given list. */
export async function resolveInputFiles(
  input: string | readonly string[],
  extensions: readonly string[],
  recursive: boolean,
): Promise<string[]> {
  if (typeof input !== 'string') return [...input];
  let info;
  try {
    info = await stat(input);
  } catch (error) {
    throw new KilnError('NOT_FOUND', `image input ${input} does not exist`, { cause: error });
  }
  return info.isDirectory() ? listImages(input, extensions, recursive) : [input];
}
