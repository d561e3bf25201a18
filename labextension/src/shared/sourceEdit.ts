// The one way the extension rewrites a cell's source: replace only the span
// that differs, in one transaction and one undo step. Pure (no JupyterLab
// imports) so it is unit-tested against a real shared model.
//
// JS strings index UTF-16 code units; a character outside the BMP (emoji, 𝔘)
// is two of them. A prefix/suffix diff by unit can cut such a pair, and Yjs
// then stores U+FFFD plus a lone surrogate, which no undo restores and no save
// accepts. So the span's ends are moved off any pair they would cut.

/** Replace `removeLength` units at `from` by `insert` (UTF-16 offsets). */
export interface ISourceReplacement {
  from: number;
  removeLength: number;
  insert: string;
}

/** What of a shared cell model (@jupyter/ydoc's YCell) the writer uses. */
export interface ISourceModel {
  getSource(): string;
  /** Replace [start, end) by value, in one transaction (YCell does). */
  updateSource(start: number, end: number, value?: string): void;
  /** Present on YCell; typed loosely since the public cell interface omits it. */
  readonly undoManager?: { stopCapturing(): void } | null;
}

const isHigh = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

/** True when offset `at` of `s` falls between the two halves of a pair. */
function splitsPair(s: string, at: number): boolean {
  return at > 0 && at < s.length && isHigh(s.charCodeAt(at - 1)) && isLow(s.charCodeAt(at));
}

/**
 * The smallest single replacement turning `old` into `next` whose ends never
 * fall inside a surrogate pair of either string. Common prefix and suffix
 * never overlap, so applying it to `old` gives exactly `next`.
 */
export function sourceReplacement(old: string, next: string): ISourceReplacement {
  const limit = Math.min(old.length, next.length);
  let prefix = 0;
  while (prefix < limit && old.charCodeAt(prefix) === next.charCodeAt(prefix)) {
    prefix++;
  }
  // Both strings agree before `prefix`, so backing off one unit (a high
  // surrogate) leaves a boundary that cuts neither.
  if (splitsPair(old, prefix) || splitsPair(next, prefix)) {
    prefix--;
  }
  let suffix = 0;
  while (
    suffix < limit - prefix &&
    old.charCodeAt(old.length - 1 - suffix) === next.charCodeAt(next.length - 1 - suffix)
  ) {
    suffix++;
  }
  if (splitsPair(old, old.length - suffix) || splitsPair(next, next.length - suffix)) {
    suffix--; // the suffix then starts after the shared low surrogate: no cut
  }
  return {
    from: prefix,
    removeLength: old.length - suffix - prefix,
    insert: next.slice(prefix, next.length - suffix)
  };
}

/**
 * Make `model` hold `next`, changing only the differing span, as one undo
 * step of its own (not merged with typing just before or after: Yjs groups
 * edits by time). The diff is taken against the model's current source, so a
 * caller cannot pass a stale original. Returns false when nothing changed.
 */
export function replaceSource(model: ISourceModel, next: string): boolean {
  const old = model.getSource();
  if (old === next) {
    return false;
  }
  const { from, removeLength, insert } = sourceReplacement(old, next);
  model.undoManager?.stopCapturing();
  model.updateSource(from, from + removeLength, insert);
  model.undoManager?.stopCapturing();
  return true;
}
