import { open, readFile, unlink } from "node:fs/promises";

/**
 * Takes `<dataDir>.lock` (holding this process's pid) so that only one process opens a PGlite data
 * directory: PGlite itself does not check, and two writers corrupt it. A lock whose process is gone
 * is taken over. Returns the release function.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockPath = `${dataDir}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(lockPath).catch(() => {});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
    }
    const owner = Number((await readFile(lockPath, "utf8").catch(() => "")).trim());
    if (Number.isSafeInteger(owner) && owner > 0 && isRunning(owner)) {
      throw new Error(
        `the embedded database in ${dataDir} is in use by process ${owner}; stop it, or delete ${lockPath} if it is not NOA`,
      );
    }
    await unlink(lockPath).catch(() => {});
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
