// The part of a next-edit proposal that changes, for showing it compactly inline. Pure.

/** A span to replace with `insert` (offsets into the old text, UTF-16 units). */
export interface IChange {
  from: number;
  to: number;
  insert: string;
}

const WORD = /^[\p{L}\p{N}\p{M}_]$/u;

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Whether the code point starting at `i` is a word character (letters: astral too). */
function wordAt(text: string, i: number): boolean {
  const cp = text.codePointAt(i);
  return cp !== undefined && WORD.test(String.fromCodePoint(cp));
}

/** Whether the code point ending just before `i` is a word character. */
function wordBefore(text: string, i: number): boolean {
  if (i <= 0) {
    return false;
  }
  const start = i >= 2 && isLow(text.charCodeAt(i - 1)) && isHigh(text.charCodeAt(i - 2)) ? i - 2 : i - 1;
  return wordAt(text, start);
}

/** One code point back from `i` (over a surrogate pair as one). */
function back(text: string, i: number): number {
  return i >= 2 && isLow(text.charCodeAt(i - 1)) && isHigh(text.charCodeAt(i - 2)) ? i - 2 : i - 1;
}

/**
 * `old` -> `insert` with the common prefix and suffix taken off, widened to whole words
 * (`prices` -> `costs` shows as that, not `price` -> `cost`) and never cutting a
 * surrogate pair (𝜃 -> 𝜑 share their first UTF-16 unit).
 */
export function compactChange(old: string, insert: string): IChange {
  const limit = Math.min(old.length, insert.length);
  let p = 0;
  while (p < limit && old.charCodeAt(p) === insert.charCodeAt(p)) {
    p++;
  }
  if (p > 0 && isHigh(old.charCodeAt(p - 1))) {
    p--; // the pairs differ in their second half
  }
  while (p > 0 && wordBefore(old, p) && (wordAt(old, p) || wordAt(insert, p))) {
    p = back(old, p);
  }
  let s = 0;
  while (s < limit - p && old.charCodeAt(old.length - 1 - s) === insert.charCodeAt(insert.length - 1 - s)) {
    s++;
  }
  if (s > 0 && isLow(old.charCodeAt(old.length - s))) {
    s--; // the pairs differ in their first half
  }
  while (
    s > 0 &&
    wordAt(old, old.length - s) &&
    (wordBefore(old, old.length - s) || wordBefore(insert, insert.length - s))
  ) {
    // one code point forward out of the suffix
    s -= isHigh(old.charCodeAt(old.length - s)) ? 2 : 1;
  }
  return { from: p, to: old.length - s, insert: insert.slice(p, insert.length - s) };
}
