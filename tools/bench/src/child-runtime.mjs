// The parent's handle on one runtime's child process (child.mjs): start it, ask it to run a
// round, close it. Replies come back in order, one per request.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const childScript = join(dirname(fileURLToPath(import.meta.url)), 'child.mjs');

export class ChildRuntime {
  /** @type {import('node:child_process').ChildProcess} */
  #process;
  /** @type {{ resolve: (m: any) => void, reject: (e: Error) => void } | undefined} */
  #pending;
  /** Last lines the child wrote, shown when it fails. */
  #output = '';
  #exited = false;

  /**
   * Forks the child with kiln's thread count in its environment.
   * @param {'kiln' | 'ort'} runtime
   * @param {number} threads
   */
  constructor(runtime, threads) {
    this.runtime = runtime;
    this.#process = fork(childScript, [], {
      env: { ...process.env, KILN_NUM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (/** @type {Buffer} */ chunk) => {
      this.#output = (this.#output + chunk.toString()).slice(-2000);
    };
    this.#process.stdout?.on('data', keep);
    this.#process.stderr?.on('data', keep);
    this.#process.on('message', (message) => {
      const pending = this.#pending;
      this.#pending = undefined;
      const msg = /** @type {{ type: string, message?: string }} */ (message);
      if (!pending) return;
      if (msg.type === 'error') pending.reject(new Error(msg.message));
      else pending.resolve(msg);
    });
    this.#process.on('exit', (code, signal) => {
      this.#exited = true;
      const pending = this.#pending;
      this.#pending = undefined;
      const tail = this.#output.trim().split('\n').slice(-5).join(' | ');
      pending?.reject(
        new Error(
          `the ${runtime} process exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`,
        ),
      );
    });
  }

  /**
   * Sends one request and resolves with the child's reply.
   * @param {object} message
   * @returns {Promise<any>}
   */
  request(message) {
    if (this.#exited) return Promise.reject(new Error(`the ${this.runtime} process has exited`));
    if (this.#pending) return Promise.reject(new Error('one request at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#process.send(message);
    });
  }

  /** Asks the child to exit, and kills it if it has not after a grace period. */
  async close() {
    if (this.#exited) return;
    const exited = new Promise((resolve) => this.#process.once('exit', resolve));
    this.#process.send({ type: 'exit' });
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
