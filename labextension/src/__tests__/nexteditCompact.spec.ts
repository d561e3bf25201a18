import { compactChange } from '../nextedit/nexteditCompact';

function shown(old: string, insert: string): [string, string] {
  const c = compactChange(old, insert);
  expect(old.slice(0, c.from) + c.insert + old.slice(c.to)).toBe(insert);
  return [old.slice(c.from, c.to), c.insert];
}

describe('compactChange', () => {
  it('shows the renamed word, whole', () => {
    expect(shown('total = sum(prices)', 'total = sum(costs)')).toEqual(['prices', 'costs']);
    expect(shown('data = load("a.txt")', 'data = read_text("a.txt")')).toEqual(['load', 'read_text']);
  });

  it('never cuts a surrogate pair', () => {
    const theta = '\u{1D703}';
    const phi = '\u{1D711}';
    expect(shown(`print(${theta} * 2)`, `print(${phi} * 2)`)).toEqual([theta, phi]);
    expect(shown('a\u{1F600}', 'a\u{1F601}')).toEqual(['\u{1F600}', '\u{1F601}']); // not letters: 'a' stays
  });

  it('insertions and deletions show only what is added or taken away', () => {
    expect(shown('f(a)', 'f(a, b)')).toEqual(['', ', b']);
    expect(shown('x = 1\ny = 2\n', 'x = 1\n')).toEqual(['y = 2\n', '']);
    expect(shown('same', 'same')).toEqual(['', '']);
  });
});
