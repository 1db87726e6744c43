// Files other programs read while the agent replaces them (certificates nginx reloads, the token a sidecar
// uses): written beside the target and renamed over it, so a reader sees the old file or the new one, never a
// half-written one. The temporary name is unique per write, so two writers never share it.
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";

export async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    // The umask may have narrowed `mode` at creation; readers (nginx workers, other users) need it exact.
    await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

