// Finds the code blocks of a README that docs-check runs.
//
// Runnable: ```js blocks, and ```sh blocks whose commands all start with `kiln `. A block that
// cannot run is marked on the line before its fence with `<!-- docs-check: skip (reason) -->`.
// Other code languages (ts, jsx, ...) are returned too, as `unrunnable`, so that a snippet can
// not escape the check by its fence label: the test fails on them until they are js or skipped.

const FENCE = /^```(\S*)\s*$/;
const SKIP = /^<!--\s*docs-check:\s*skip\s*\((.+)\)\s*-->$/;
/** Fence labels of code that is not shown to be run: text, layouts, diffs. */
const TEXT = new Set(['', 'text', 'txt', 'diff', 'json', 'yaml', 'console']);

/**
 * @param {string} text the README
 * @returns {{ line: number, lang: string, code: string, kind: 'js' | 'kiln' | 'unrunnable', skip?: string }[]}
 *   line: the 1-based line of the opening fence
 */
export function codeBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README line ${i + 1}: the code block is never closed`);
    const lang = open[1];
    const code = lines.slice(i + 1, end).join('\n') + '\n';
    const skip = SKIP.exec(lines[i - 1]?.trim() ?? '')?.[1];
    const kind = blockKind(lang, code);
    if (kind !== undefined) blocks.push({ line: i + 1, lang, code, kind, skip });
    i = end;
  }
  return blocks;
}

function blockKind(lang, code) {
  if (lang === 'js' || lang === 'javascript' || lang === 'mjs') return 'js';
  if (lang === 'sh' || lang === 'bash' || lang === 'shell') {
    const commands = shellCommands(code);
    return commands.length > 0 && commands.every((c) => c.startsWith('kiln ')) ? 'kiln' : undefined;
  }
  return TEXT.has(lang) ? undefined : 'unrunnable';
}

/** The commands of a shell block: continuation lines joined, blank and comment lines dropped. */
export function shellCommands(code) {
  return code
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
