// A child process of the pool: runs the tests its parent sends, one at a time, and answers each.
// Its own process, so that a native crash or a hang costs one test and not the run.
import { runTest } from './run-test.mjs';

process.on('message', async (msg) => {
  if (msg?.type !== 'run') return;
  const result = await runTest(msg.dir);
  process.send({ type: 'result', id: msg.id, result });
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
