import { typedAlong } from '../completion/typeAlong';
import type { ITypeAlongJob } from '../completion/typeAlong';

// Asked for after `def add(a, b):\n    ` with `\nprint(add(1, 2))` below the cursor.
const job: ITypeAlongJob = {
  prefix: 'def add(a, b):\n    ',
  suffix: '\nprint(add(1, 2))',
  text: 'return a + b',
  done: true
};

describe('typedAlong', () => {
  it('typed the first characters of the suggestion: the rest is shown', () => {
    expect(typedAlong(job.prefix + 'ret', job.suffix, job)).toEqual({ offset: 3, rest: 'urn a + b' });
  });

  it('nothing typed yet: null (the suggestion is shown as it is, not reused)', () => {
    expect(typedAlong(job.prefix, job.suffix, job)).toBeNull();
  });

  it('typed something else: null', () => {
    expect(typedAlong(job.prefix + 'rex', job.suffix, job)).toBeNull();
    expect(typedAlong(job.prefix + 'return a - b', job.suffix, job)).toBeNull();
  });

  it('the text after the cursor changed: null', () => {
    expect(typedAlong(job.prefix + 'ret', job.suffix + ' ', job)).toBeNull();
    expect(typedAlong(job.prefix + 'ret', '', job)).toBeNull();
    expect(typedAlong(job.prefix + 'ret', '\nprint(add(1, 3))', job)).toBeNull(); // same length
  });

  it('the text before the suggestion changed (deleted or moved): null', () => {
    expect(typedAlong('def add(a, b):\n   ret', job.suffix, job)).toBeNull();
    expect(typedAlong('x = 1\n' + job.prefix + 'ret', job.suffix, job)).toBeNull();
  });

  it('typed all of a finished suggestion, or all but whitespace: null', () => {
    expect(typedAlong(job.prefix + job.text, job.suffix, job)).toBeNull();
    const trailing = { ...job, text: 'return a + b\n  ' };
    expect(typedAlong(job.prefix + 'return a + b', job.suffix, trailing)).toBeNull();
  });

  it('a suggestion still streaming keeps going even when typed to its end so far', () => {
    const streaming = { ...job, text: 'return a', done: false };
    expect(typedAlong(job.prefix + 'return a', job.suffix, streaming)).toEqual({ offset: 8, rest: '' });
  });

  it('keeps whitespace and multi-line rests exactly', () => {
    const lines = { ...job, text: 'total = a + b\n    return total' };
    expect(typedAlong(job.prefix + 'total =', job.suffix, lines)).toEqual({
      offset: 7,
      rest: ' a + b\n    return total'
    });
  });
});
