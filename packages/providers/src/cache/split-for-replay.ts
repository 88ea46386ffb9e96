/**
 * Cuts a cached answer into stream chunks of about `size` characters, before a space where there is
 * one (as tokens begin), never inside a surrogate pair, so a replayed stream reads like a live one.
 */
export function splitForReplay(text: string, size = 24): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length) {
      const space = text.lastIndexOf(" ", end);
      if (space > start) end = space;
      else if (isHighSurrogate(text.charCodeAt(end - 1))) end++;
    }
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
