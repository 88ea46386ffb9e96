import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { lockDataDir } from "./lock-data-dir.js";

/** An embedded PostgreSQL (PGlite) answering the PostgreSQL wire protocol on a loopback port. */
export interface PgliteServer {
  host: string;
  port: number;
  /** Stops listening, then shuts PGlite down cleanly so the data directory is consistent. */
  close(): Promise<void>;
}

/**
 * Opens (or creates) the PGlite database in `dataDir` and serves it on a free port of 127.0.0.1, so
 * Prisma reaches it through `@prisma/adapter-pg` exactly as it reaches PostgreSQL. PGlite is one
 * session: the server takes one connection at a time, and clients must use a pool of one. One
 * process at a time may open a directory (see {@link lockDataDir}).
 */
export async function startPgliteServer(options: { dataDir: string }): Promise<PgliteServer> {
  await mkdir(options.dataDir, { recursive: true });
  const unlock = await lockDataDir(options.dataDir);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer;
  try {
    db = await PGlite.create(options.dataDir);
    server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
    await server.start();
  } catch (error) {
    await db?.close();
    await unlock();
    throw error;
  }
  const port = Number(server.getServerConn().split(":").at(-1));
  let closed: Promise<void> | undefined;
  return {
    host: "127.0.0.1",
    port,
    close() {
      closed ??= (async () => {
        await server.stop();
        await db.close();
        await unlock();
      })();
      return closed;
    },
  };
}
