// The ghost text on screen: which job's suggestion it is, how much of it the user
// typed along, and its outcome (shown once, then accepted or rejected).
import { assistSettings } from '../shared/settings';
import { completionLatency } from '../shared/telemetry';
import type { CompletionJob } from './job';
import { typedAlong } from './typeAlong';

/** The suggestion reused after typing along: its job, the typed length, what is left. */
export interface IReused {
  job: CompletionJob;
  offset: number;
  rest: string;
}

export class SuggestionOnScreen {
  /** The job's text reached the screen: telemetry `shown` and latency, once per job. */
  show(job: CompletionJob, offset: number): void {
    if (job.outcome.isShown || !job.text.trim()) {
      return;
    }
    this._screen = { job, offset };
    const latency = performance.now() - job.started;
    completionLatency.add(latency);
    job.outcome.shown({ latency_ms: Math.round(latency), chars: job.text.length });
  }

  /**
   * The user, now between `prefix` and `suffix`, typed the next characters of the
   * suggestion on screen: keep showing its rest instead of asking the server again (the
   * completer would otherwise replace a good suggestion with a new request's).
   */
  typedAlong(prefix: string, suffix: string): IReused | null {
    const screen = this._screen;
    if (!screen) {
      return null;
    }
    const { job } = screen;
    const along = typedAlong(prefix, suffix, {
      prefix: job.body.prefix,
      suffix: job.body.suffix,
      text: job.text,
      done: job.done
    });
    if (!along) {
      return null;
    }
    screen.offset = along.offset;
    return { job, ...along };
  }

  /** Whether the text around the cursor now holds the whole suggestion on screen. */
  completedBy(prefix: string, suffix: string): boolean {
    const job = this._screen?.job;
    return !!job && suffix === job.body.suffix && prefix === job.body.prefix + job.text;
  }

  /** Tab took the suggestion on screen (what the user had not typed of it). */
  accepted(): void {
    const screen = this._screen;
    this._screen = null;
    if (!screen) {
      return;
    }
    const { job, offset } = screen;
    const text = job.text.slice(offset);
    const survivalMs = assistSettings.current.ghostText.survivalDelay * 1000;
    const survival = job.holder && text.trim() ? { holder: job.holder, text, delayMs: survivalMs } : undefined;
    job.outcome.accepted({ chars: text.length }, survival);
  }

  /** The suggestion on screen was replaced without being accepted. */
  dismissed(): void {
    const screen = this._screen;
    this._screen = null;
    screen?.job.outcome.rejected();
  }

  private _screen: { job: CompletionJob; offset: number } | null = null;
}
