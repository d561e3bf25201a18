// When an inline completion request goes out: one request delay from the key press
// (this provider debounces itself), the POST sent PREPARE_MS early so the server
// prefills meanwhile, and the learned HTTP round trip taken off the server's hold.
import type { JSONValue } from '@lumino/coreutils';

import { assistSettings } from '../shared/settings';

/**
 * How long before the request delay ends the POST goes out: enough for the
 * server to build the prompt and prefill the few tokens the keystroke added.
 */
export const PREPARE_MS = 100;

/**
 * At most this much of the request delay is taken off for the HTTP round trip
 * (see `learn`), so a slow link cannot shorten the debounce much.
 */
export const MAX_TRANSPORT_MS = 30;

export class RequestTiming {
  /** The completer's provider settings (its `timeout` and `debouncerDelay`). */
  configure(settings: { [property: string]: JSONValue }): void {
    const timeout = Number(settings?.timeout);
    this._timeout = Number.isFinite(timeout) && timeout > 0 ? timeout : 5000;
    const debouncer = Number(settings?.debouncerDelay);
    this._debouncer = Number.isFinite(debouncer) && debouncer > 0 ? debouncer : 0;
  }

  /** The one delay from the key press (JupyterLab's debouncer, if set, is part of it). */
  get requestDelay(): number {
    return Math.max(assistSettings.current.ghostText.requestDelay, this._debouncer);
  }

  /** Smoothed HTTP round trip (ms) of completion requests. */
  get transport(): number {
    return this._transport;
  }

  /** A key press anywhere on the page, at `performance.now()` time `timeStamp`. */
  keyPressed(timeStamp: number): void {
    this._lastKey = timeStamp;
  }

  /** When the key press behind a request made now happened (now, if none did). */
  keyPressedAt(): number {
    const now = performance.now();
    const since = now - this._lastKey;
    return since >= 0 && since < this.requestDelay ? this._lastKey : now;
  }

  /** How long to wait, from `started`, before sending (the rest is held by the server). */
  sendIn(started: number): number {
    const lead = Math.min(PREPARE_MS, this.requestDelay);
    return this.requestDelay - lead - (performance.now() - started);
  }

  /**
   * The server's hold (`delay_ms`) for a request sent now: the rest of the delay from
   * `started`, less the round trip, so that the answer arrives as the delay ends.
   */
  serverHold(started: number): number {
    return Math.round(this.requestDelay - (performance.now() - started) - this._transport);
  }

  /**
   * How long `fetch` may wait for text: the completer drops a provider's
   * answer after its `timeout`, so stay a safe margin below it.
   */
  firstTextBudget(): number {
    return Math.max(0, this._timeout - this.requestDelay - 1000);
  }

  /** A finished request's round trip (ms; null: none known): smoothed, capped. */
  learn(sample: number | null): void {
    if (sample === null) {
      return;
    }
    const smoothed = this._transport * 0.7 + Math.max(0, sample) * 0.3;
    this._transport = Math.min(MAX_TRANSPORT_MS, smoothed);
  }

  /** JupyterLab's per-provider debouncer delay (ms), normally 0. */
  private _debouncer = 0;
  /** `performance.now()` time of the last key press anywhere on the page. */
  private _lastKey = -Infinity;
  /** The completer's per-provider timeout (ms), from its settings. */
  private _timeout = 5000;
  private _transport = 0;
}
