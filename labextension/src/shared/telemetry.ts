// Suggestion events for the local, opt-in telemetry (`POST telemetry`), and
// the completion latencies the status bar watches for a slow-model warning.
// The server drops events unless the user enabled telemetry; nothing here
// ever leaves the Jupyter server.
import { Signal } from '@lumino/signaling';
import type { ISignal } from '@lumino/signaling';

import { requestAPI } from './api';
import type { ITelemetryEvent } from './types';

/** Later than the frame that shows a suggestion: a POST costs the page ms. */
function later(task: () => void): void {
  if (typeof window.requestIdleCallback === 'function') {
    window.requestIdleCallback(task, { timeout: 1000 });
  } else {
    window.setTimeout(task, 200);
  }
}

/**
 * Fire and forget, when the page is idle: telemetry must never disturb the
 * user (sending it in the same task as a ghost text delayed the ghost).
 */
export function report(event: ITelemetryEvent): void {
  later(() => {
    requestAPI('telemetry', {
      method: 'POST',
      body: JSON.stringify(event)
    }).catch(() => undefined);
  });
}

/** What the cell holds after an accepted suggestion (a cell's shared model). */
export interface ISourceHolder {
  getSource(): string;
  readonly isDisposed: boolean;
}

/**
 * How much of `accepted` is still in `current`, in [0, 1]: 1 when it is
 * there verbatim, else the share of its non-blank lines (trimmed) still
 * present, so re-indenting or editing one line of five counts as 0.8.
 */
export function similarity(accepted: string, current: string): number {
  if (!accepted.trim() || current.includes(accepted)) {
    return 1;
  }
  const lines = accepted
    .split('\n')
    .map(line => line.trim())
    .filter(Boolean);
  const have = new Set(current.split('\n').map(line => line.trim()));
  const kept = lines.filter(line => have.has(line)).length;
  // A single partial line that no longer appears verbatim: compare as text.
  if (lines.length === 1 && kept === 0) {
    return current.includes(lines[0]) ? 1 : 0;
  }
  return lines.length ? kept / lines.length : 1;
}

/** Share of the suggestion that must remain for it to count as survived. */
const SURVIVED_AT = 0.8;

/**
 * After `delayMs`, report whether the accepted text is still in the cell.
 * A cell deleted in the meantime counts as not survived.
 */
export function watchSurvival(
  holder: ISourceHolder,
  accepted: string,
  base: Pick<ITelemetryEvent, 'request_id' | 'task'>,
  delayMs: number
): void {
  window.setTimeout(() => {
    const share = holder.isDisposed ? 0 : similarity(accepted, holder.getSource());
    report({
      ...base,
      event: 'survived',
      survived: share >= SURVIVED_AT,
      similarity: Math.round(share * 1000) / 1000
    });
  }, delayMs);
}

/**
 * Recent keystroke-to-first-text latencies of inline completions, so the
 * status bar can warn when the model is too slow to be useful.
 */
class LatencyLog {
  get changed(): ISignal<this, number> {
    return this._changed;
  }

  add(ms: number): void {
    this._recent.push(ms);
    if (this._recent.length > LatencyLog.KEEP) {
      this._recent.shift();
    }
    later(() => this._changed.emit(ms)); // the status bar redraws: not before the ghost
  }

  /** Median of the recent latencies, or null before any. */
  median(): number | null {
    if (!this._recent.length) {
      return null;
    }
    const sorted = [...this._recent].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  }

  static readonly KEEP = 7;
  private _recent: number[] = [];
  private _changed = new Signal<this, number>(this);
}

export const completionLatency = new LatencyLog();
