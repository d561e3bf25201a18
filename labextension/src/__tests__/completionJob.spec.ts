import { CompletionJob, wait } from '../completion/job';
import { RequestTiming, MAX_TRANSPORT_MS, PREPARE_MS } from '../completion/timing';
import type { ITextProgress } from '../shared/api';

const mockCancelRequest = jest.fn();
jest.mock('../shared/api', () => ({ cancelRequest: (id: string) => mockCancelRequest(id) }));
jest.mock('../shared/settings', () => ({
  assistSettings: { current: { ghostText: { requestDelay: 300 } } }
}));

/** A server answer the test releases event by event (`push`, `end`, `fail`). */
function answer() {
  type Read = { resolve: (r: IteratorResult<ITextProgress, void>) => void; reject: (e: unknown) => void };
  const reads: Read[] = [];
  const progress = {
    next: () => new Promise<IteratorResult<ITextProgress, void>>((resolve, reject) => reads.push({ resolve, reject }))
  } as unknown as AsyncGenerator<ITextProgress, void, undefined>;
  let answered = 0;
  const read = () => reads[answered++];
  return {
    progress,
    get reads() {
      return reads.length;
    },
    push: (value: ITextProgress) => read().resolve({ value, done: false }),
    end: () => read().resolve({ value: undefined, done: true }),
    fail: (error: unknown) => read().reject(error)
  };
}

const body = { request_id: 'req-1', prefix: 'x = ', suffix: '' };

/** A job already sent to a server answer the test releases. */
function sent() {
  const job = new CompletionJob({ ...body }, 0, null);
  const server = answer();
  job.send(server.progress);
  return { job, server };
}

const tick = () => new Promise(resolve => setTimeout(resolve, 0));

describe('CompletionJob', () => {
  beforeEach(() => mockCancelRequest.mockClear());

  it('debouncing -> streaming -> done, folding progress into text', async () => {
    const job = new CompletionJob({ ...body }, 0, null);
    expect(job.state).toBe('debouncing');
    const server = answer();
    job.send(server.progress);
    expect(job.state).toBe('streaming');
    const read = job.readNext();
    server.push({ text: '4', done: false });
    await read;
    expect([job.text, job.state]).toEqual(['4', 'streaming']);
    const last = job.readNext();
    server.push({ text: '42', done: true, firstMs: 5 });
    await last;
    expect([job.text, job.state]).toEqual(['42', 'done']);
  });

  it('a read in flight is shared, never issued twice', async () => {
    const { job, server } = sent();
    const first = job.readNext();
    expect(job.readNext()).toBe(first);
    expect(server.reads).toBe(1);
    server.end();
    await first;
    expect(job.state).toBe('done');
  });

  it('a failed read ends the job and throws', async () => {
    const { job, server } = sent();
    const read = job.readNext();
    server.fail(new Error('model loading'));
    await expect(read).rejects.toThrow('model loading');
    expect(job.state).toBe('done');
  });

  it('cancel: aborted, and the server told only once the POST went out', () => {
    const quiet = new CompletionJob({ ...body, request_id: 'never-sent' }, 0, null);
    quiet.cancel();
    expect(quiet.state).toBe('cancelled');
    expect(mockCancelRequest).not.toHaveBeenCalled();
    const sent = new CompletionJob({ ...body }, 0, null);
    sent.send(answer().progress);
    sent.cancel();
    expect(sent.state).toBe('cancelled');
    expect(sent.signal.aborted).toBe(true);
    expect(mockCancelRequest).toHaveBeenCalledWith('req-1');
  });

  it('waitForText: returns at the first visible text, leaving no read behind', async () => {
    const { job, server } = sent();
    const waiting = job.waitForText(Date.now() + 10_000);
    await tick();
    server.push({ text: '  ', done: false }); // whitespace: keep waiting
    await tick();
    server.push({ text: '  4', done: false });
    await waiting;
    expect([job.text, server.reads]).toEqual(['  4', 2]);
  });

  it('waitForText: past the deadline the read stays pending for stream', async () => {
    const { job, server } = sent();
    await job.waitForText(Date.now() + 20);
    expect([job.text, job.state, server.reads]).toEqual(['', 'streaming', 1]);
    const resumed = job.readNext(); // the same read, not a second one
    server.push({ text: '4', done: false });
    await resumed;
    expect([job.text, server.reads]).toEqual(['4', 1]);
  });

  it('one transport sample per request, once the server said its first-event time', async () => {
    const { job, server } = sent();
    const read = job.readNext();
    server.push({ text: '4', done: true, firstMs: 0 });
    await read;
    const sample = job.takeTransportSample();
    expect(sample).not.toBeNull();
    expect(sample!).toBeGreaterThanOrEqual(0);
    expect(job.takeTransportSample()).toBeNull();
    expect(new CompletionJob({ ...body }, 0, null).takeTransportSample()).toBeNull();
  });
});

describe('wait', () => {
  it('resolves true after the delay, false at once when aborted', async () => {
    const controller = new AbortController();
    const late = wait(10_000, controller.signal);
    controller.abort();
    expect(await late).toBe(false);
    expect(await wait(1, new AbortController().signal)).toBe(true);
  });
});

describe('RequestTiming', () => {
  it('sends PREPARE_MS before the delay ends and learns a capped, smoothed round trip', () => {
    const timing = new RequestTiming();
    const now = performance.now();
    expect(timing.sendIn(now)).toBeGreaterThan(300 - PREPARE_MS - 50);
    expect(timing.sendIn(now)).toBeLessThanOrEqual(300 - PREPARE_MS);
    timing.learn(20);
    expect(timing.transport).toBeCloseTo(6);
    timing.learn(null);
    expect(timing.transport).toBeCloseTo(6);
    for (let i = 0; i < 20; i++) {
      timing.learn(1000);
    }
    expect(timing.transport).toBe(MAX_TRANSPORT_MS);
  });

  it('uses the larger of the request delay and the debouncer; budget below the timeout', () => {
    const timing = new RequestTiming();
    timing.configure({ timeout: 4000, debouncerDelay: 500 });
    expect(timing.requestDelay).toBe(500);
    expect(timing.firstTextBudget()).toBe(2500);
    timing.configure({ timeout: 'x', debouncerDelay: -1 });
    expect([timing.requestDelay, timing.firstTextBudget()]).toEqual([300, 3700]);
  });

  it('a request counts from a recent key press, else from now', () => {
    const timing = new RequestTiming();
    const now = performance.now();
    timing.keyPressed(now - 100);
    expect(timing.keyPressedAt()).toBe(now - 100);
    timing.keyPressed(now - 1000); // longer ago than the delay: another request's key
    expect(timing.keyPressedAt()).toBeGreaterThanOrEqual(now);
  });
});
