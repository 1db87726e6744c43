// Runs the WASM HCL parser (@cdktf/hcl2json) in a worker thread that can be thrown away.
//
// Why a worker: the parser is Go compiled to WASM. A parse blocks whichever thread runs it for its whole
// duration (~0.1 ms per policy line), and some inputs kill the Go runtime ("fatal error: malloc
// deadlock" after a stack overflow) so that the next call hangs forever and later ones fail with "Go
// program has already exited". On the main thread either would stall or break every tenant's policy
// handling. Here a parse that fails that way, or runs over its time budget, costs one request a 4xx and
// the worker a restart (~30 ms spawn plus WASM start, off the main thread).
//
// Jobs run one at a time (the Go runtime is single-threaded anyway) in arrival order; a bounded queue
// waits behind them and a full queue is refused at once instead of growing.
//
// The worker's code is the string below, an ES module loaded from a data: URL: it needs nothing but the parser module
// (its absolute path is resolved here and passed in), so the same code works when the server runs from
// dist/ and when tests run the TypeScript sources, with no worker file to build or locate.

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
import { parentPort, workerData } from "node:worker_threads";
import { createRequire } from "node:module";
import fs from "node:fs";
// The Go runtime writes its crash dump (goroutine stacks) to fd 2 with fs.writeSync and its exit code
// with console.warn: noise in the server's log, not news. This worker's fs module is its own.
const writeSync = fs.writeSync;
fs.writeSync = (fd, buf, ...rest) => (fd === 1 || fd === 2 ? buf.length : writeSync(fd, buf, ...rest));
console.warn = () => {};
const { parse } = createRequire(workerData.parserPath)(workerData.parserPath);
parentPort.on("message", (job) => {
  parse(workerData.filename, job.text).then(
    // As JSON text: JSON.parse on the main thread is cheaper than structured-clone deserialisation.
    (value) => parentPort.postMessage({ id: job.id, ok: true, json: JSON.stringify(value) }),
    (err) => {
      const message = err instanceof Error ? err.message : String(err);
      // Only an HCL diagnostic (it names the file) leaves the Go runtime in a known state; anything else
      // (a JS stack overflow inside the WASM, "Go program has already exited") means this parser is done.
      const healthy = message.includes(workerData.filename + ":");
      parentPort.postMessage({ id: job.id, ok: false, message, healthy });
      if (!healthy) process.exit(1);
    },
  );
});
// Ready once the WASM has started (the first parse waits for it), so a job's time budget is its own.
parse(workerData.filename, "").then(() => parentPort.postMessage({ ready: true }), () => process.exit(1));
`;

const WORKER_URL = new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`);

// Allowance for a fresh worker to start the WASM (gunzip, instantiate, Go runtime) before its first job.
const STARTUP_ALLOWANCE_MS = 15_000;

/** The parser failed for a reason other than a syntax error in the text: it died or ran out of time. */
export class HclParserFailure extends Error {
  override readonly name = "HclParserFailure";
}

/** Too many parses are already waiting; the caller should retry later. */
export class HclParserBusy extends Error {
  override readonly name = "HclParserBusy";
}

/** A syntax error reported by the parser; `message` is the parser's raw diagnostic. */
export class HclParserDiagnostic extends Error {
  override readonly name = "HclParserDiagnostic";
}

export interface HclWorkerOptions {
  /** The filename given to the parser; diagnostics are `<filename>:line,col-…: …`. */
  filename: string;
  /** A parse still running after this long is abandoned and its worker terminated. */
  timeoutMs: number;
  /** Parses allowed to wait behind the running one. */
  maxQueued: number;
}

interface Job {
  id: number;
  text: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

type WorkerMessage =
  | { ready: true }
  | { id: number; ok: true; json: string }
  | { id: number; ok: false; message: string; healthy: boolean };

export class HclWorker {
  private worker: Worker | undefined;
  private ready = false;
  private readonly queue: Job[] = [];
  private running: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly parserPath: string;
  /** Workers started so far (the first one included); tests read it to see restarts. */
  started = 0;

  constructor(private readonly opts: HclWorkerOptions) {
    this.parserPath = createRequire(import.meta.url).resolve("@cdktf/hcl2json");
  }

  /** Parse `text`; resolves to hcl2json's output tree. */
  parse(text: string): Promise<unknown> {
    if (this.queue.length >= this.opts.maxQueued) {
      return Promise.reject(new HclParserBusy("too many HCL documents are being parsed; try again"));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, text, resolve, reject });
      this.pump();
    });
  }

  /** Start the worker (and its WASM) ahead of the first parse. */
  warmUp(): Promise<void> {
    return this.parse("warm_up = true\n").then(() => undefined);
  }

  /** Stop the worker; waiting parses fail. */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) job.reject(new HclParserFailure("HCL parser stopped"));
    this.finish(new HclParserFailure("HCL parser stopped"));
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    const job = this.queue.shift() as Job;
    this.running = job;
    const worker = this.ensureWorker();
    worker.ref();
    this.timer = setTimeout(
      () => {
        this.discardWorker();
        this.finish(new HclParserFailure(`parsing took longer than ${this.opts.timeoutMs} ms`));
      },
      this.opts.timeoutMs + (this.ready ? 0 : STARTUP_ALLOWANCE_MS),
    );
    worker.postMessage({ id: job.id, text: job.text });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // An ES module from a data: URL, not `eval: true`: eval'd code is CommonJS or ESM depending on how the
    // process was started (--input-type), and this must work however that was.
    const worker = new Worker(WORKER_URL, {
      workerData: { parserPath: this.parserPath, filename: this.opts.filename },
    });
    worker.on("message", (msg: WorkerMessage) => this.onMessage(worker, msg));
    worker.on("error", () => this.onExit(worker));
    worker.on("exit", () => this.onExit(worker));
    this.worker = worker;
    this.ready = false;
    this.started++;
    return worker;
  }

  private onMessage(worker: Worker, msg: WorkerMessage): void {
    if (worker !== this.worker) return;
    this.ready = true; // any answer means the WASM has started
    if ("ready" in msg) return;
    const job = this.running;
    if (!job || job.id !== msg.id) return;
    if (msg.ok) this.finish(undefined, JSON.parse(msg.json));
    else if (msg.healthy) this.finish(new HclParserDiagnostic(msg.message));
    else {
      this.discardWorker();
      this.finish(new HclParserFailure("the HCL parser failed on this input"));
    }
  }

  private onExit(worker: Worker): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    this.finish(new HclParserFailure("the HCL parser failed on this input"));
  }

  private discardWorker(): void {
    const w = this.worker;
    this.worker = undefined;
    if (w) void w.terminate();
  }

  /** Settle the running job (if any), then start the next one. */
  private finish(err: Error | undefined, value?: unknown): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const job = this.running;
    this.running = undefined;
    if (job) {
      if (err) job.reject(err);
      else job.resolve(value);
    }
    // An idle worker must not keep a CLI process (or a test run) alive.
    if (this.queue.length === 0) this.worker?.unref();
    this.pump();
  }
}
