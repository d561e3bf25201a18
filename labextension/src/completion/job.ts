// One inline completion request, from `fetch` until it ends or is replaced: debouncing
// (not sent), streaming (the POST went out), done (the answer ended or failed), or
// cancelled. Reads fold the server's progress into `text`; a read left pending by
// `fetch` is resumed by `stream`, never issued twice.
import { cancelRequest } from '../shared/api';
import type { ITextProgress } from '../shared/api';
import { SuggestionOutcome } from '../shared/outcome';
import type { ISourceHolder } from '../shared/telemetry';
import type { ICompleteRequest } from '../shared/types';

export type JobState = 'debouncing' | 'streaming' | 'done' | 'cancelled';

/** Resolve after `ms`, or early with `false` when `signal` aborts. */
export function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise(resolve => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class CompletionJob {
  /**
   * @param started `performance.now()` at the key press (or fetch), for the delay and latency.
   * @param holder The cell being completed (survival check after an accept).
   */
  constructor(
    readonly body: ICompleteRequest,
    readonly started: number,
    readonly holder: ISourceHolder | null
  ) {
    this.outcome = new SuggestionOutcome(body.request_id, 'complete');
  }

  /** Telemetry of this suggestion: shown, then accepted or rejected. */
  readonly outcome: SuggestionOutcome;
  readonly controller = new AbortController();
  /** Completion text so far. */
  text = '';
  /** Whether the answer ended (or failed): no more reads. */
  done = false;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the POST went out (only then is a server-side cancel needed). */
  get sent(): boolean {
    return this._progress !== null;
  }

  get state(): JobState {
    if (this.signal.aborted) {
      return 'cancelled';
    }
    if (this.done) {
      return 'done';
    }
    return this.sent ? 'streaming' : 'debouncing';
  }

  /** The POST went out: `progress` is the server's answer, folded into text. */
  send(progress: AsyncGenerator<ITextProgress, void, undefined>): void {
    this._sentAt = performance.now();
    this._progress = progress;
  }

  /** Read the next progress event into `text` / `done` (the pending read, if one is). */
  readNext(): Promise<void> {
    if (!this._pending) {
      const progress = this._progress!;
      this._pending = progress.next().then(
        result => {
          this._pending = null;
          if (result.done) {
            this.done = true;
          } else {
            this._firstAt ||= performance.now();
            this.text = result.value.text;
            this.done = result.value.done;
            this._serverFirstMs = result.value.firstMs ?? this._serverFirstMs;
          }
        },
        error => {
          this._pending = null;
          this.done = true;
          throw error;
        }
      );
    }
    return this._pending;
  }

  /**
   * Read until there is visible text, the answer ends, or `deadline` (a `Date.now()`
   * time) passes; a read in flight then stays pending for `stream`. Throws what a read throws.
   */
  async waitForText(deadline: number): Promise<void> {
    while (!this.done && !this.text.trim()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        break;
      }
      const timer = new AbortController();
      const read = this.readNext();
      await Promise.race([read, wait(left, timer.signal)]);
      timer.abort();
    }
  }

  /** Abort the request and, if it was sent, tell the server to stop it. */
  cancel(): void {
    this.controller.abort();
    if (this.sent) {
      cancelRequest(this.body.request_id);
    }
  }

  /**
   * The HTTP round trip, once per request: the first event reached us this long after
   * the POST, minus the server's own arrival -> first event time (its hold and any
   * model work, from its `done` event). Null when not known (yet).
   */
  takeTransportSample(): number | null {
    if (!this._sentAt || !this._firstAt || this._serverFirstMs < 0) {
      return null;
    }
    const sample = this._firstAt - this._sentAt - this._serverFirstMs;
    this._serverFirstMs = -1; // learn from each request once
    return sample;
  }

  private _progress: AsyncGenerator<ITextProgress, void, undefined> | null = null;
  private _pending: Promise<void> | null = null;
  /** `performance.now()` when the POST went out, and when its first event came. */
  private _sentAt = 0;
  private _firstAt = 0;
  /** The server's arrival -> first event time, from its `done` event. */
  private _serverFirstMs = -1;
}
