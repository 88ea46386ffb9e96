/** A path segment percent-decoded, or as sent when its escapes are malformed (`%ZZ`): never throws. */
export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
