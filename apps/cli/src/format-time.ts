import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

/** A protobuf timestamp as `YYYY-MM-DD HH:MM:SS` UTC, or `-` when unset. */
export function formatTime(timestamp: Timestamp | undefined): string {
  if (!timestamp) return "-";
  return timestampDate(timestamp).toISOString().replace("T", " ").slice(0, 19);
}
