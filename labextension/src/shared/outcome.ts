// One suggestion's telemetry (completion, review, next edit): `shown` once, then at most
// one outcome, `accepted` (with an optional survival check) or `rejected`. The events are
// those of `POST telemetry` (ITelemetryEvent); report() sends them when the page is idle.
import { report, watchSurvival } from './telemetry';
import type { ISourceHolder } from './telemetry';
import type { ITelemetryEvent } from './types';

/** The measures an event may carry beside its kind, id and task. */
export type OutcomeFields = Pick<ITelemetryEvent, 'latency_ms' | 'chars'>;

/** After an accept: whether `text` is still in `holder` after `delayMs` (`survived`). */
export interface ISurvivalCheck {
  holder: ISourceHolder;
  text: string;
  delayMs: number;
}

export class SuggestionOutcome {
  constructor(
    readonly requestId: string,
    readonly task: ITelemetryEvent['task']
  ) {}

  /** Whether `shown` was reported. */
  get isShown(): boolean {
    return this._shownAt !== null;
  }

  /** The outcome reported, or null while undecided. */
  get decided(): 'accepted' | 'rejected' | null {
    return this._decided;
  }

  /** Milliseconds since `shown` was reported (0 before). */
  sinceShown(): number {
    return this._shownAt === null ? 0 : performance.now() - this._shownAt;
  }

  /** The suggestion reached the screen: reported the first time only, never after an outcome. */
  shown(fields: OutcomeFields = {}): boolean {
    if (this._shownAt !== null || this._decided) {
      return false;
    }
    this._shownAt = performance.now();
    this._send('shown', fields);
    return true;
  }

  /** The user took it; with `survival`, `survived` follows after its delay. */
  accepted(fields: OutcomeFields = {}, survival?: ISurvivalCheck): boolean {
    if (!this._decide('accepted', fields)) {
      return false;
    }
    if (survival) {
      watchSurvival(survival.holder, survival.text, this._base(), survival.delayMs);
    }
    return true;
  }

  /** The user dismissed it, or it was replaced without being taken. */
  rejected(fields: OutcomeFields = {}): boolean {
    return this._decide('rejected', fields);
  }

  private _decide(event: 'accepted' | 'rejected', fields: OutcomeFields): boolean {
    if (this._decided) {
      return false; // one outcome per suggestion
    }
    this._decided = event;
    this._send(event, fields);
    return true;
  }

  private _base(): Pick<ITelemetryEvent, 'request_id' | 'task'> {
    return { request_id: this.requestId, task: this.task };
  }

  private _send(event: ITelemetryEvent['event'], fields: OutcomeFields): void {
    report({ event, ...this._base(), ...fields });
  }

  private _shownAt: number | null = null;
  private _decided: 'accepted' | 'rejected' | null = null;
}
