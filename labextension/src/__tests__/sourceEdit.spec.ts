// The cell source writer: exact result, no cut surrogate pair, one undo step
// restoring the original, checked against @jupyter/ydoc's real shared cells.
import { YCodeCell, YNotebook } from '@jupyter/ydoc';
import fc from 'fast-check';

import { replaceSource, sourceReplacement } from '../shared/sourceEdit';
import type { ISourceModel, ISourceReplacement } from '../shared/sourceEdit';

// Pieces that make the hard cases likely: astral characters sharing a high
// surrogate (😀 😁: D83D) or a low one (😀 🈀: DE00), combining marks, CRLF and
// a lone CR, next to plain ASCII.
const PIECES = [
  'a',
  'b',
  'x',
  ' ',
  '=',
  '\n',
  '\r\n',
  '\r',
  '\t',
  '😀',
  '😁',
  '🈀',
  '𝔘',
  '𝔙',
  '👍🏽',
  '👨‍👩‍👧',
  'e\u0301',
  '\u0301',
  '\u0308',
  'é',
  'ñ',
  '中'
];
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PIECES) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 2 }) }
);
const text = fc.array(piece, { maxLength: 24 });

/** An original and an edit of it: long shared prefix and suffix, like a real Accept. */
const edit = text.chain(old =>
  fc
    .tuple(fc.nat({ max: old.length }), fc.nat({ max: old.length }), fc.array(piece, { maxLength: 4 }))
    .map(([i, j, inserted]) => {
      const [lo, hi] = i <= j ? [i, j] : [j, i];
      const next = [...old.slice(0, lo), ...inserted, ...old.slice(hi)];
      return { old: old.join(''), next: next.join('') };
    })
);
// Independent strings too: short or no common ends.
const pair = fc.oneof(edit, fc.record({ old: text.map(a => a.join('')), next: text.map(a => a.join('')) }));

const isHigh = (u: number): boolean => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number): boolean => u >= 0xdc00 && u <= 0xdfff;
const cutsPair = (s: string, at: number): boolean =>
  at > 0 && at < s.length && isHigh(s.charCodeAt(at - 1)) && isLow(s.charCodeAt(at));

function applyTo(old: string, r: ISourceReplacement): string {
  return old.slice(0, r.from) + r.insert + old.slice(r.from + r.removeLength);
}

function commonEnds(a: string, b: string): [number, number] {
  const limit = Math.min(a.length, b.length);
  let p = 0;
  while (p < limit && a[p] === b[p]) {
    p++;
  }
  let s = 0;
  while (s < limit - p && a[a.length - 1 - s] === b[b.length - 1 - s]) {
    s++;
  }
  return [p, s];
}

const RUNS = { numRuns: 2000 };

describe('sourceReplacement', () => {
  it.each([
    ['😀', '😁'],
    ['𝔘', '𝔙'],
    ['x = "😀"\n', 'x = "😁"\n'],
    ['😀', '🈀'], // shared low surrogate: the suffix would cut
    ['a𝔘b', 'a𝔙b'],
    ['\r\n😀\r', '\r\n😁\r']
  ])('%j -> %j keeps pairs whole', (old, next) => {
    const r = sourceReplacement(old, next);
    expect(applyTo(old, r)).toBe(next);
    expect(cutsPair(old, r.from) || cutsPair(next, r.from)).toBe(false);
    expect(cutsPair(old, r.from + r.removeLength)).toBe(false);
    expect(cutsPair(next, r.from + r.insert.length)).toBe(false);
  });

  it('applied to the original gives exactly the new text', () => {
    fc.assert(
      fc.property(pair, ({ old, next }) => {
        expect(applyTo(old, sourceReplacement(old, next))).toBe(next);
      }),
      RUNS
    );
  });

  it('never puts a boundary inside a surrogate pair of either text', () => {
    fc.assert(
      fc.property(pair, ({ old, next }) => {
        const r = sourceReplacement(old, next);
        expect(r.from).toBeGreaterThanOrEqual(0);
        expect(r.removeLength).toBeGreaterThanOrEqual(0);
        expect(cutsPair(old, r.from)).toBe(false);
        expect(cutsPair(next, r.from)).toBe(false);
        expect(cutsPair(old, r.from + r.removeLength)).toBe(false);
        expect(cutsPair(next, r.from + r.insert.length)).toBe(false);
      }),
      RUNS
    );
  });

  it('is minimal: each end gives up at most the one unit of a cut pair', () => {
    fc.assert(
      fc.property(pair, ({ old, next }) => {
        const r = sourceReplacement(old, next);
        const [prefix, suffix] = commonEnds(old, next);
        const kept = old.length - r.from - r.removeLength;
        expect(r.from).toBeGreaterThanOrEqual(prefix - 1);
        expect(kept).toBeGreaterThanOrEqual(suffix - 1);
        expect(r.from).toBeLessThanOrEqual(prefix);
        expect(kept).toBeLessThanOrEqual(suffix + 1);
      }),
      RUNS
    );
  });
});

/**
 * Run `make` without ydoc's two construction-time warnings (it reads the text
 * and builds the undo manager before the cell joins its document; JupyterLab
 * logs the same): thousands of them would bury a real failure.
 */
function quietly<T>(make: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const text = String(args[0]);
    if (!text.startsWith('Invalid access: Add Yjs type') && !text.startsWith('[yjs#509]')) {
      warn(...args);
    }
  };
  try {
    return make();
  } finally {
    console.warn = warn;
  }
}

/** Shared cells as JupyterLab has them: standalone, per-cell and notebook-wide undo. */
const models: [string, (source: string) => YCodeCell][] = [
  [
    'standalone YCodeCell',
    source =>
      quietly(() => {
        const cell = YCodeCell.create();
        cell.setSource(source);
        return cell;
      })
  ],
  ...[true, false].map((perCell): [string, (source: string) => YCodeCell] => [
    `YNotebook cell (${perCell ? 'per-cell' : 'notebook-wide'} undo)`,
    source =>
      quietly(() => {
        const notebook = YNotebook.create({ disableDocumentWideUndoRedo: perCell });
        return notebook.insertCell(0, { cell_type: 'code', source }) as YCodeCell;
      })
  ])
];

describe.each(models)('replaceSource on a %s', (_name, make) => {
  const check = (old: string, next: string): void => {
    const cell = make(old);
    const model: ISourceModel = cell;
    const undo = cell.undoManager!;
    expect(undo).toBeTruthy();
    const steps = undo.undoStack.length;
    expect(replaceSource(model, next)).toBe(old !== next);
    expect(cell.getSource()).toBe(next);
    if (old === next) {
      expect(undo.undoStack.length).toBe(steps);
      return;
    }
    // One transaction, one undo step, and undoing it restores the original.
    expect(undo.undoStack.length).toBe(steps + 1);
    cell.undo();
    expect(cell.getSource()).toBe(old);
    cell.redo();
    expect(cell.getSource()).toBe(next);
  };

  it.each([
    ['😀', '😁'],
    ['𝔘', '𝔙'],
    ['😀', '🈀'],
    ['print("😀")\r\n', 'print("😁")\r\n']
  ])('%j -> %j', check);

  it('holds the accepted text and one undo restores the original', () => {
    fc.assert(
      fc.property(pair, ({ old, next }) => check(old, next)),
      { numRuns: 500 }
    );
  });
});
