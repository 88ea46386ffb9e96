import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../docs/benchmarks.md");

/**
 * Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in docs/benchmarks.md; with
 * BENCH_WRITE_DOCS=off (figures from a busy machine) only prints it.
 */
export function writeSection(name: string, text: string): void {
  if (process.env.BENCH_WRITE_DOCS === "off") {
    console.log(text);
    return;
  }
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const page = readFileSync(docs, "utf8");
  const at = page.indexOf(begin);
  const until = page.indexOf(end);
  if (at === -1 || until === -1) throw new Error(`${docs} lacks the ${begin} … ${end} markers`);
  writeFileSync(docs, `${page.slice(0, at + begin.length)}\n${text}\n${page.slice(until)}`);
  console.log(`${name}: written to ${docs}`);
}
