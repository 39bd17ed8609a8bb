import { main } from '../main';

/** Runs the CLI in-process; returns its exit code and what it printed. */
export async function kiln(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}
