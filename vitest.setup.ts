import { vi } from "vitest";

// `vi.waitFor` waits for behaviour (a generation stopped, a record written), not for a deadline: its
// default 1 s is a timing assumption that fails on a loaded 2-core CI machine while a model loads.
// Calls that pass their own timeout keep it.
const waitFor = vi.waitFor.bind(vi);
vi.waitFor = ((callback, options) =>
  waitFor(
    callback,
    typeof options === "number" ? options : { timeout: 20_000, interval: 20, ...options },
  )) as typeof vi.waitFor;
