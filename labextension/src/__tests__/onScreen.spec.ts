import { CompletionJob } from '../completion/job';
import { SuggestionOnScreen } from '../completion/onScreen';
import { completionLatency } from '../shared/telemetry';
import type { ITelemetryEvent } from '../shared/types';

const mockRequestAPI = jest.fn((..._args: unknown[]) => Promise.resolve({}));
jest.mock('../shared/api', () => ({
  requestAPI: (...args: unknown[]) => mockRequestAPI(...args),
  cancelRequest: () => undefined
}));
jest.mock('../shared/settings', () => ({
  assistSettings: { current: { ghostText: { survivalDelay: 2 } } }
}));

function sent(): ITelemetryEvent[] {
  jest.runOnlyPendingTimers();
  return mockRequestAPI.mock.calls.map(([, init]) => JSON.parse((init as RequestInit).body as string));
}

const PREFIX = 'def add(a, b):\n    ';
const SUFFIX = '\nprint(add(1, 2))';

function job(id: string, text: string, source = ''): CompletionJob {
  const holder = { isDisposed: false, getSource: () => source };
  const j = new CompletionJob({ request_id: id, prefix: PREFIX, suffix: SUFFIX }, performance.now(), holder);
  j.text = text;
  j.done = true;
  return j;
}

describe('SuggestionOnScreen', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    mockRequestAPI.mockClear();
  });
  afterEach(() => jest.useRealTimers());

  it('shows a job once (latency logged once); whitespace is never shown', () => {
    const screen = new SuggestionOnScreen();
    const latency = jest.spyOn(completionLatency, 'add');
    screen.show(job('w', '  \n'), 0);
    expect(latency).not.toHaveBeenCalled();
    const j = job('a', 'return a + b');
    screen.show(j, 0);
    screen.show(j, 3); // a later reply of the same job: still shown from its start
    expect(latency).toHaveBeenCalledTimes(1);
    screen.accepted();
    const events = sent();
    expect(events.map(e => [e.event, e.request_id, e.task, e.chars])).toEqual([
      ['shown', 'a', 'complete', 12],
      ['accepted', 'a', 'complete', 12]
    ]);
    latency.mockRestore();
  });

  it('typing along: the rest, and accepting reports what was left (then survival)', () => {
    const screen = new SuggestionOnScreen();
    const j = job('b', 'return a + b', PREFIX + 'return a + b' + SUFFIX);
    screen.show(j, 0);
    expect(screen.typedAlong(PREFIX + 'ret', SUFFIX)).toEqual({ job: j, offset: 3, rest: 'urn a + b' });
    expect(screen.completedBy(PREFIX + 'return a + b', SUFFIX)).toBe(true);
    screen.accepted();
    screen.accepted(); // nothing on screen any more
    screen.dismissed();
    jest.advanceTimersByTime(2000);
    expect(sent().map(e => [e.event, e.chars ?? e.survived])).toEqual([
      ['shown', 12],
      ['accepted', 9],
      ['survived', true]
    ]);
  });

  it('dismissed: rejected once; nothing on screen: no event', () => {
    const screen = new SuggestionOnScreen();
    screen.dismissed();
    screen.show(job('c', 'return a'), 0);
    expect(screen.typedAlong(PREFIX + 'x', SUFFIX)).toBeNull(); // left the suggestion
    screen.dismissed();
    screen.dismissed();
    screen.accepted();
    expect(sent().map(e => e.event)).toEqual(['shown', 'rejected']);
    expect(screen.completedBy(PREFIX + 'return a', SUFFIX)).toBe(false);
  });
});
