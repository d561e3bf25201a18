import { changedVariables, MAX_CHANGED } from '../agent/agentVariables';

const df = { name: 'df', type: 'DataFrame', summary: '3 rows x 2 columns' };
const x = { name: 'x', type: 'int', summary: '1' };

describe('changedVariables', () => {
  it('keeps the new and changed variables, in the kernel order after the run', () => {
    const after = [{ ...df, summary: '5 rows x 2 columns' }, x, { name: 'y', type: 'str', summary: "'a'" }];
    expect(changedVariables([df, x], after)).toEqual([after[0], after[2]]);
  });

  it('a change of type alone counts, and a deleted variable is reported as deleted', () => {
    expect(changedVariables([df, x], [{ ...x, type: 'float' }])).toEqual([
      { ...x, type: 'float' },
      { name: 'df', type: '', summary: 'deleted' }
    ]);
  });

  it('nothing changed: none; an unknown side (no probe): none, not all as new', () => {
    expect(changedVariables([df, x], [df, x])).toEqual([]);
    expect(changedVariables(undefined, [df, x])).toEqual([]);
    expect(changedVariables([df], undefined)).toEqual([]);
    expect(changedVariables([], [x])).toEqual([x]);
  });

  it('at most the server bound', () => {
    const many = Array.from({ length: MAX_CHANGED + 5 }, (_, i) => ({ name: `v${i}`, summary: String(i) }));
    expect(changedVariables([], many)).toHaveLength(MAX_CHANGED);
  });
});
