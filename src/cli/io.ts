/**
 * The CLI's window on the outside world. Commands never touch `process` directly so tests can run them
 * in-process with captured output, a scripted stdin and a private environment.
 */
import { homedir } from "node:os";

export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdoutIsTty: boolean;
  stdinIsTty: boolean;
  /** All of stdin as text (for `-` arguments). */
  readStdin: () => Promise<string>;
  /** One line from stdin, echo off when stdin is a terminal (unseal keys, tokens). */
  readSecretLine: (prompt: string) => Promise<string>;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads one line without echo from a TTY: raw mode, so the secret never reaches the screen. */
function readHiddenLine(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = "";
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003" || ch === "\u0004") return done(new Error("interrupted"));
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/** Reads the first line of a piped stdin. */
async function readFirstLine(): Promise<string> {
  const text = await readAll(process.stdin);
  return text.split(/\r?\n/, 1)[0] ?? "";
}

export function processIo(): CliIo {
  return {
    env: process.env,
    homeDir: homedir(),
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    stdoutIsTty: process.stdout.isTTY === true,
    stdinIsTty: process.stdin.isTTY === true,
    readStdin: () => readAll(process.stdin),
    readSecretLine: (prompt) => (process.stdin.isTTY ? readHiddenLine(prompt) : readFirstLine()),
  };
}
