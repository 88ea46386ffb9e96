import { readdir, readFile, readlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

const mib = 1024 * 1024;

/**
 * The pid of the process listening on a loopback TCP `port`, found the way `ss -ltnp` finds it: the
 * listening socket's inode in /proc/net/tcp{,6}, then the process holding a descriptor on that inode
 * (spawnNoaServer does not expose the pid of the server it starts). Linux only.
 */
export async function findListeningPid(port: number): Promise<number> {
  const inodes = new Set<string>();
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, state 0A is LISTEN, the inode is the tenth field.
      if (fields[1]?.endsWith(`:${portHex}`) && fields[3] === "0A" && fields[9]) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) throw new Error(`nothing listens on port ${port}`);
  const targets = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const descriptors = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of descriptors) {
      const link = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => "");
      if (targets.has(link)) return Number(entry);
    }
  }
  throw new Error(`no process holds the socket listening on port ${port}`);
}

/** The resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status). */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS line: has the process exited?`);
  return Number(match[1]) * 1024;
}

/** Bytes as MiB with one decimal, for summaries. */
export function toMiB(bytes: number): number {
  return Math.round((bytes / mib) * 10) / 10;
}

/** RSS samples of one process taken every `intervalMs` until stop(). */
export interface RssSampler {
  /** Every sample so far, oldest first: milliseconds since start and bytes. */
  samples: Array<{ atMs: number; bytes: number }>;
  /** Takes one more sample now and stops sampling. */
  stop(): Promise<void>;
}

/** Samples the RSS of `pid` every `intervalMs` (the first sample at once). */
export async function startRssSampler(pid: number, intervalMs = 1_000): Promise<RssSampler> {
  const started = performance.now();
  const samples: RssSampler["samples"] = [];
  const take = async () => {
    const bytes = await readRssBytes(pid).catch(() => undefined);
    if (bytes !== undefined) samples.push({ atMs: Math.round(performance.now() - started), bytes });
  };
  await take();
  const timer = setInterval(() => void take(), intervalMs);
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await take();
    },
  };
}

/**
 * NODE_OPTIONS for a spawned server on which SIGUSR2 runs a full garbage collection and does nothing
 * else. V8 defers major collections for as long as it likes (none at all in a 40 s load run, the heap
 * growing by ~100 MiB of garbage meanwhile), which makes RSS track the allocation rate rather than
 * what the process keeps; collecting on demand makes RSS comparable from one moment to another.
 */
export const gcOnSignalNodeOptions =
  "--expose-gc --import=data:text/javascript,process.on(%22SIGUSR2%22,()=>globalThis.gc())";

/** Asks a process started with {@link gcOnSignalNodeOptions} for a full collection and waits for it to settle. */
export async function collectGarbage(pid: number, settleMs = 500): Promise<void> {
  process.kill(pid, "SIGUSR2");
  await sleep(settleMs);
}
