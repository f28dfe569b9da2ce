/** Control characters (line breaks among them) and the Unicode line and paragraph separators. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * `text` on one line, its control characters written as `\uXXXX` escapes: a message that quotes a
 * trace's own strings (a region type, a log category) stays one line of stderr whatever they hold.
 */
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
