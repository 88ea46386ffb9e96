import { createWriteStream } from "node:fs";
import { stat, truncate } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";
import { fetchOrExplain } from "./fetch-or-explain.js";

/** Progress of a download: bytes on disk (including those kept from an earlier run) of the total. */
export interface DownloadProgress {
  downloaded: number;
  total: number;
  /** Bytes kept from an earlier, interrupted run. */
  resumedFrom: number;
}

/**
 * Downloads `url` into `partialPath`, continuing a partial file left by an earlier run with an HTTP
 * Range request (a server that ignores it restarts the file). Resolves when the file is complete;
 * aborting `signal` keeps what was written for the next run.
 */
export async function downloadResumable(options: {
  url: string;
  origin: string;
  partialPath: string;
  signal: AbortSignal;
  onStart?: (progress: DownloadProgress) => void;
  onProgress?: (progress: DownloadProgress) => void;
}): Promise<DownloadProgress> {
  const { url, origin, partialPath, signal } = options;
  const kept = await stat(partialPath).then(
    (file) => file.size,
    () => 0,
  );
  const response = await fetchOrExplain(url, origin, signal, {
    headers: kept > 0 ? { range: `bytes=${kept}-` } : {},
  });
  if (response.status === 416 && kept > 0) {
    // The partial file is as long as the whole: it was complete; the verification decides.
    await response.body?.cancel();
    return { downloaded: kept, total: kept, resumedFrom: kept };
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new CliError(
      `${url} answered ${response.status} ${response.statusText}`,
      response.status === 404 ? ExitCode.notFound : ExitCode.server,
    );
  }
  const resumed = response.status === 206 && kept > 0;
  const rangeStart = Number(/bytes (\d+)-/.exec(response.headers.get("content-range") ?? "")?.[1] ?? 0);
  if (resumed && rangeStart !== kept) {
    await response.body.cancel();
    throw new CliError(`${origin} answered a range from byte ${rangeStart}, not ${kept}`, ExitCode.server);
  }
  if (!resumed && kept > 0) await truncate(partialPath, 0);
  const resumedFrom = resumed ? kept : 0;
  const length = Number(response.headers.get("content-length") ?? Number.NaN);
  const progress: DownloadProgress = {
    downloaded: resumedFrom,
    total: Number.isFinite(length) ? resumedFrom + length : 0,
    resumedFrom,
  };
  options.onStart?.(progress);
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => {
    progress.downloaded += chunk.length;
    options.onProgress?.(progress);
  });
  await pipeline(body, createWriteStream(partialPath, { flags: resumed ? "a" : "w" }), { signal });
  if (progress.total && progress.downloaded !== progress.total) {
    throw new CliError(
      `the connection ended after ${progress.downloaded} of ${progress.total} bytes; run the same command again to resume`,
      ExitCode.server,
    );
  }
  progress.total = progress.downloaded;
  return progress;
}
