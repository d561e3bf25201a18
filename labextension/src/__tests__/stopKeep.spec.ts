import { keepUnreached } from '../review/stopKeep';

const ORIGINAL = Array.from({ length: 30 }, (_, i) => `x${i} = ${i}`).join('\n') + '\n';
const lines = ORIGINAL.slice(0, -1).split('\n');

describe('keepUnreached', () => {
  it('keeps the 30-line cell a stopped rewrite had reached 3 lines into', () => {
    // The rewrite so far: two changed lines, and a third cut mid-way.
    const partial = 'x0 = 0  # zero\nx1 = 1  # one\nx2 = ';
    const kept = keepUnreached(partial, ORIGINAL);
    expect(kept).toBe(['x0 = 0  # zero', 'x1 = 1  # one', ...lines.slice(2)].join('\n') + '\n');
    // Byte for byte: every line the rewrite did not reach.
    expect(kept.endsWith(lines.slice(2).join('\n') + '\n')).toBe(true);
  });

  it('aligns on copied lines: an inserted line does not eat an original one', () => {
    const partial = 'import math\nx0 = 0\nx1 = 1\nx2';
    expect(keepUnreached(partial, ORIGINAL)).toBe('import math\n' + ORIGINAL);
  });

  it('a deleted line before the last copied one stays deleted', () => {
    const partial = 'x0 = 0\nx2 = 2\nx3 = 3\n';
    const want = ['x0 = 0', 'x2 = 2', ...lines.slice(3)].join('\n') + '\n';
    expect(keepUnreached(partial, ORIGINAL)).toBe(want);
  });

  it('nothing generated yet: the original', () => {
    expect(keepUnreached('', ORIGINAL)).toBe(ORIGINAL);
    expect(keepUnreached('x0 = 0  # cut sh', ORIGINAL)).toBe(ORIGINAL);
  });

  it('keeps a cell without a trailing newline that way', () => {
    expect(keepUnreached('a = 2\nb', 'a = 1\nb = 1\nc = 1')).toBe('a = 2\nb = 1\nc = 1');
  });

  it('big cells align greedily', () => {
    const big = Array.from({ length: 5000 }, (_, i) => `y${i}`);
    const gen = [...big.slice(0, 1000), 'new', 'cut']; // 5,000 x 1,002 pairs
    expect(keepUnreached(gen.join('\n'), big.join('\n'))).toBe(
      [...big.slice(0, 1000), 'new', ...big.slice(1001)].join('\n')
    );
  });
});
