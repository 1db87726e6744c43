/**
 * sys/host-info (root namespace only, as in OpenBao): the host's CPUs, CPU times, memory, the root file
 * system, and host facts, in the field names of gopsutil that OpenBao answers with. What
 * Node cannot see (CPU flags, cache size, boot-time process count…) is reported empty or zero rather than
 * guessed; a part that fails to load becomes a warning, as in OpenBao, not an error.
 */
import { readFile, statfs } from "node:fs/promises";
import * as os from "node:os";
import { definePath, type PathSpec } from "../framework/path.js";

function cpuInfo(): Array<Record<string, unknown>> {
  return os.cpus().map((c, i) => ({
    cpu: i,
    vendorId: "",
    family: "",
    model: "",
    stepping: 0,
    physicalId: "",
    coreId: String(i),
    cores: 1,
    modelName: c.model,
    mhz: c.speed,
    cacheSize: 0,
    flags: [],
    microcode: "",
  }));
}

function cpuTimes(): Array<Record<string, unknown>> {
  // Node reports milliseconds; gopsutil seconds.
  return os.cpus().map((c, i) => ({
    cpu: `cpu${i}`,
    user: c.times.user / 1000,
    system: c.times.sys / 1000,
    idle: c.times.idle / 1000,
    nice: c.times.nice / 1000,
    iowait: 0,
    irq: c.times.irq / 1000,
    softirq: 0,
    steal: 0,
    guest: 0,
    guestNice: 0,
  }));
}

function memory(): Record<string, unknown> {
  const total = os.totalmem();
  const free = os.freemem();
  const used = total - free;
  return { total, available: free, used, usedPercent: total > 0 ? (used / total) * 100 : 0, free };
}

async function disk(path: string): Promise<Record<string, unknown>> {
  const s = await statfs(path);
  const total = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  const used = total - s.bfree * s.bsize;
  const inodesUsed = s.files - s.ffree;
  return {
    path,
    fstype: "",
    total,
    free,
    used,
    usedPercent: total > 0 ? (used / (used + free)) * 100 : 0,
    inodesTotal: s.files,
    inodesUsed,
    inodesFree: s.ffree,
    inodesUsedPercent: s.files > 0 ? (inodesUsed / s.files) * 100 : 0,
  };
}

async function hostId(): Promise<string> {
  try {
    return (await readFile("/etc/machine-id", "utf8")).trim();
  } catch {
    return "";
  }
}

async function host(): Promise<Record<string, unknown>> {
  const uptime = Math.floor(os.uptime());
  return {
    hostname: os.hostname(),
    uptime,
    bootTime: Math.floor(Date.now() / 1000) - uptime,
    procs: 0,
    os: os.platform(),
    platform: "",
    platformFamily: "",
    platformVersion: "",
    kernelVersion: os.release(),
    kernelArch: os.machine(),
    virtualizationSystem: "",
    virtualizationRole: "",
    hostId: await hostId(),
  };
}

export function hostInfoPaths(): PathSpec[] {
  return [
    definePath({
      pattern: "host-info",
      synopsis: "Information about the host the server runs on: CPU, memory, disk and host facts.",
      operations: {
        read: async () => {
          const warnings: string[] = [];
          const data: Record<string, unknown> = { timestamp: new Date().toISOString(), cpu: cpuInfo(), cpu_times: cpuTimes(), memory: memory(), host: await host() };
          try {
            data.disk = [await disk("/")];
          } catch (e) {
            warnings.push(`error collecting disk information: ${(e as Error).message}`);
          }
          return { data, ...(warnings.length ? { warnings } : {}) };
        },
      },
    }),
  ];
}
