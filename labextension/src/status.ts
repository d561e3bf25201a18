// Status bar item polling `GET jupyter-assist/status`.
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { completionLatency } from './telemetry';
import type { IStatusReply } from './types';

/** Poll fast while the model loads (progress moves), slowly otherwise. */
const LOADING_INTERVAL_MS = 2000;
const IDLE_INTERVAL_MS = 15000;
/**
 * Median keystroke-to-ghost-text latency above which completions stop being
 * useful (people type on before they appear): say so in the status bar.
 */
export const SLOW_COMPLETION_MS = 1500;

/** The slow-completion note, or '' while completions are fast enough. */
export function slowNote(medianMs: number | null): string {
  if (medianMs === null || medianMs <= SLOW_COMPLETION_MS) {
    return '';
  }
  return (
    `Completions are slow: ${(medianMs / 1000).toFixed(1)} s to the first text ` +
    '(median of recent ones). A GPU, a smaller model or a lower ' +
    'completion_max_tokens / completion_context_tokens helps.'
  );
}

/** Text shown for a status reply. */
export function describeStatus(status: IStatusReply): string {
  switch (status.state) {
    case 'loading': {
      const progress = status.progress;
      if (!progress) {
        return 'Assist: loading';
      }
      const percent =
        progress.fraction === null || progress.fraction === undefined
          ? ''
          : `, ${Math.round(progress.fraction * 100)}%`;
      return `Assist: loading (${progress.stage}${percent})`;
    }
    case 'ready': {
      const runtime = [status.device, status.dtype].filter(Boolean).join(' ');
      return runtime
        ? `Assist: ${status.model} · ${runtime}`
        : `Assist: ${status.model}`;
    }
    default:
      return 'Assist: error';
  }
}

/** Tooltip for a status reply: the error, or details not in the label. */
function describeTooltip(status: IStatusReply): string {
  if (status.state === 'error') {
    return status.error ?? 'Unknown error';
  }
  const lines = [`Model: ${status.model}`];
  if (status.quantization) {
    lines.push(`Quantization: ${status.quantization}`);
  }
  lines.push(`Queued requests: ${status.queue}`);
  return lines.join('\n');
}

export class StatusWidget extends Widget {
  constructor() {
    super({ node: document.createElement('div') });
    this.addClass('jp-assist-status');
    this.addClass('jp-StatusBar-TextItem');
    this.node.textContent = 'Assist: …';
    this.node.dataset.state = 'unknown';
    completionLatency.changed.connect(this._update, this);
    void this._poll();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearTimeout(this._timer);
    completionLatency.changed.disconnect(this._update, this);
    super.dispose();
  }

  /** Fetch the status once, render it and schedule the next poll. */
  private async _poll(): Promise<void> {
    let state = 'error';
    try {
      const status = await requestAPI<IStatusReply>('status');
      state = status.state;
      this._render(state, describeStatus(status), describeTooltip(status));
    } catch (error) {
      // The server extension may be missing or restarting: keep polling.
      const message = error instanceof Error ? error.message : String(error);
      this._render('error', 'Assist: error', message);
    }
    if (!this.isDisposed) {
      this._timer = window.setTimeout(
        () => void this._poll(),
        state === 'loading' ? LOADING_INTERVAL_MS : IDLE_INTERVAL_MS
      );
    }
  }

  private _render(state: string, label: string, tooltip: string): void {
    this._last = { state, label, tooltip };
    this._update();
  }

  /** Draw the last status, with the slow note when it applies. */
  private _update(): void {
    if (this.isDisposed) {
      return;
    }
    const { state, label, tooltip } = this._last;
    const slow = state === 'ready' ? slowNote(completionLatency.median()) : '';
    this.node.dataset.state = state;
    this.node.dataset.slow = slow ? 'true' : 'false';
    this.node.textContent = slow ? `${label} · slow` : label;
    this.node.title = slow ? `${slow}\n${tooltip}` : tooltip;
  }

  private _last = { state: 'unknown', label: 'Assist: …', tooltip: '' };
  private _timer = 0;
}
