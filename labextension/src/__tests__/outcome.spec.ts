import { SuggestionOutcome } from '../shared/outcome';
import type { ISourceHolder } from '../shared/telemetry';
import type { ITelemetryEvent } from '../shared/types';

// The POSTs report() sends (when the page is idle: a timer in jsdom), as the server reads them.
const mockRequestAPI = jest.fn((..._args: unknown[]) => Promise.resolve({}));
jest.mock('../shared/api', () => ({ requestAPI: (...args: unknown[]) => mockRequestAPI(...args) }));

function sent(): ITelemetryEvent[] {
  jest.runOnlyPendingTimers();
  return mockRequestAPI.mock.calls.map(([route, init]) => {
    expect(route).toBe('telemetry');
    return JSON.parse((init as RequestInit).body as string);
  });
}

function cell(source: string): ISourceHolder & { source: string } {
  return {
    source,
    isDisposed: false,
    getSource() {
      return this.source;
    }
  };
}

describe('SuggestionOutcome', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    mockRequestAPI.mockClear();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('reports shown once, with its measures', () => {
    const outcome = new SuggestionOutcome('r1', 'complete');
    expect(outcome.shown({ latency_ms: 120, chars: 12 })).toBe(true);
    expect(outcome.shown({ latency_ms: 300, chars: 20 })).toBe(false);
    expect(outcome.isShown).toBe(true);
    expect(sent()).toEqual([{ event: 'shown', request_id: 'r1', task: 'complete', latency_ms: 120, chars: 12 }]);
  });

  it('reports exactly one outcome: the first', () => {
    const outcome = new SuggestionOutcome('r2', 'edit');
    outcome.shown({ latency_ms: 5, chars: 3 });
    expect(outcome.rejected({ latency_ms: 9, chars: 3 })).toBe(true);
    expect(outcome.accepted({ chars: 3 })).toBe(false);
    expect(outcome.rejected()).toBe(false);
    expect(outcome.decided).toBe('rejected');
    expect(sent().map(e => e.event)).toEqual(['shown', 'rejected']);
  });

  it('never reports shown after the outcome (rejected while still streaming)', () => {
    const outcome = new SuggestionOutcome('r3', 'fix');
    outcome.rejected({ latency_ms: 1, chars: 0 });
    expect(outcome.shown({ chars: 4 })).toBe(false);
    expect(sent()).toEqual([{ event: 'rejected', request_id: 'r3', task: 'fix', latency_ms: 1, chars: 0 }]);
  });

  it('an accept with a survival check reports survived after the delay', () => {
    const holder = cell('x = 1\n');
    const outcome = new SuggestionOutcome('r4', 'complete');
    outcome.shown({ chars: 9 });
    outcome.accepted({ chars: 9 }, { holder, text: 'print(x)\n', delayMs: 2000 });
    holder.source = 'x = 1\nprint(x)\n';
    expect(sent().map(e => e.event)).toEqual(['shown', 'accepted']);
    jest.advanceTimersByTime(2000); // the check, then its report when idle
    expect(sent().slice(2)).toEqual([
      { event: 'survived', request_id: 'r4', task: 'complete', survived: true, similarity: 1 }
    ]);
  });

  it('a later edit that removed the accepted text: not survived; no check without one', () => {
    const holder = cell('');
    const kept = new SuggestionOutcome('r5', 'complete');
    kept.accepted({ chars: 6 }, { holder, text: 'y = 2\n', delayMs: 1000 });
    new SuggestionOutcome('r6', 'next-edit').accepted({ latency_ms: 40, chars: 6 });
    jest.advanceTimersByTime(1000);
    const events = sent();
    expect(events.filter(e => e.event === 'survived')).toEqual([
      { event: 'survived', request_id: 'r5', task: 'complete', survived: false, similarity: 0 }
    ]);
    expect(events).toContainEqual({ event: 'accepted', request_id: 'r6', task: 'next-edit', latency_ms: 40, chars: 6 });
  });

  it('measures the time since shown', () => {
    const outcome = new SuggestionOutcome('r7', 'next-edit');
    expect(outcome.sinceShown()).toBe(0);
    outcome.shown();
    jest.advanceTimersByTime(250);
    expect(outcome.sinceShown()).toBeGreaterThanOrEqual(250);
  });
});
