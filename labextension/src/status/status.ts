// The model status: one poller of `GET jupyter-assist/status` (StatusModel), the
// status bar item that shows it (click: the status panel, statusPanel.ts), and
// the last ghost-text failure, which otherwise only the console would see.
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { requestAPI } from '../shared/api';
import { describeError } from '../shared/errorNotice';
import { completionLatency } from '../shared/telemetry';
import type { IStatusReply } from '../shared/types';

/** Poll fast while the model loads (progress moves) or the panel is open, slowly otherwise. */
const FAST_INTERVAL_MS = 1000;
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

/** "stage, 40%" for a loading status, or the stage alone. */
export function progressText(status: IStatusReply): string {
  const progress = status.progress;
  if (!progress) {
    return 'starting';
  }
  const percent =
    progress.fraction === null || progress.fraction === undefined ? '' : `, ${Math.round(progress.fraction * 100)}%`;
  return `${progress.stage}${percent}`;
}

/** Text shown for a status reply. */
export function describeStatus(status: IStatusReply): string {
  switch (status.state) {
    case 'loading':
      return status.switching_from
        ? `Assist: switching to ${status.model} (${progressText(status)})`
        : `Assist: loading ${status.model} (${progressText(status)})`;
    case 'ready':
      return `Assist: ready · ${status.model}`;
    case 'idle':
      return 'Assist: not loaded';
    default:
      return 'Assist: error';
  }
}

/** Tooltip for a status reply: the error, or details not in the label. */
function describeTooltip(status: IStatusReply): string {
  if (status.state === 'error') {
    return `${status.error ?? 'Unknown error'}\nClick for details and the model picker.`;
  }
  const runtime = [status.device, status.dtype, status.quantization].filter(Boolean).join(' · ');
  const lines = [`Model: ${status.model}${runtime ? ` (${runtime})` : ''}`];
  lines.push(`Queued requests: ${status.queue}`);
  lines.push('Click for details and the model picker.');
  return lines.join('\n');
}

function bytes(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return '';
  }
  if (value >= 1e9) {
    return `${(value / 1e9).toFixed(2)} GB`;
  }
  return `${(value / 1e6).toFixed(1)} MB`;
}

function percent(value: unknown): string {
  return typeof value === 'number' ? `${Math.round(value * 100)}%` : '';
}

/** The facts shown for a status, as [label, value] rows (empty values left out). */
export function statusFacts(status: IStatusReply): [string, string][] {
  const stats = status.stats ?? {};
  const memory = [
    stats.process_rss_bytes !== undefined ? `process ${bytes(stats.process_rss_bytes)}` : '',
    stats.cuda_allocated_bytes !== undefined ? `GPU ${bytes(stats.cuda_allocated_bytes)}` : '',
    stats.kv_cache_bytes !== undefined
      ? `KV cache ${bytes(stats.kv_cache_bytes)} (${stats.kv_cache_entries ?? 0} entries)`
      : ''
  ].filter(Boolean);
  const cache =
    stats.kv_hit_rate !== undefined
      ? `hit rate ${percent(stats.kv_hit_rate)}, token reuse ${percent(stats.kv_token_reuse)}`
      : '';
  const rows: [string, string][] = [
    ['State', status.state],
    ['Model', status.model],
    ['Device', status.device ?? ''],
    ['Dtype', status.dtype ?? ''],
    ['Quantization', status.quantization ?? (status.state === 'ready' ? 'none' : '')],
    ['Memory', memory.join(', ')],
    ['Queue', `${status.queue} waiting${typeof stats.running === 'number' ? `, ${stats.running} running` : ''}`],
    ['Cache', cache],
    ['Load time', typeof status.load_seconds === 'number' ? `${status.load_seconds} s` : ''],
    ['Requests', `${status.served ?? 0} served, ${status.cancelled ?? 0} cancelled`]
  ];
  return rows.filter(([, value]) => value !== '');
}

/** The last failed ghost-text request, until one succeeds again. */
class GhostTextHealth {
  get failure(): string {
    return this._failure;
  }

  get changed(): Signal<this, string> {
    return this._changed;
  }

  failed(error: unknown): void {
    const advice = describeError(error);
    this._set(`Ghost text failed: ${advice.message} ${advice.hint}`);
  }

  succeeded(): void {
    this._set('');
  }

  private _set(failure: string): void {
    if (failure !== this._failure) {
      this._failure = failure;
      this._changed.emit(failure);
    }
  }

  private _failure = '';
  private _changed = new Signal<this, string>(this);
}

export const ghostTextHealth = new GhostTextHealth();

/** The last status reply (or fetch failure), polled while anyone listens. */
export class StatusModel {
  get status(): IStatusReply | null {
    return this._status;
  }

  /** Why the last poll failed (the server gone, a 403...), or ''. */
  get fetchError(): unknown {
    return this._fetchError;
  }

  get changed(): Signal<this, void> {
    return this._changed;
  }

  /** While > 0 (the panel is open) poll every second. */
  holdFast(): () => void {
    this._fast++;
    void this.refresh();
    return () => {
      this._fast--;
    };
  }

  /** Fetch now (e.g. after a switch), then keep polling. */
  async refresh(): Promise<void> {
    window.clearTimeout(this._timer);
    try {
      this._status = await requestAPI<IStatusReply>('status');
      this._fetchError = null;
    } catch (error) {
      // The server extension may be missing or restarting: keep polling.
      this._fetchError = error;
    }
    this._changed.emit();
    if (this._disposed) {
      return;
    }
    const fast = this._fast > 0 || this._status?.state === 'loading' || this._fetchError !== null;
    this._timer = window.setTimeout(() => void this.refresh(), fast ? FAST_INTERVAL_MS : IDLE_INTERVAL_MS);
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._timer);
  }

  private _status: IStatusReply | null = null;
  private _fetchError: unknown = null;
  private _changed = new Signal<this, void>(this);
  private _fast = 0;
  private _timer = 0;
  private _disposed = false;
}

/** The status bar item: a button (click, Enter or Space opens the status panel). */
export class StatusWidget extends Widget {
  constructor(
    private readonly _model: StatusModel,
    onOpen: () => void
  ) {
    super({ node: document.createElement('div') });
    this.addClass('jp-assist-status');
    this.addClass('jp-StatusBar-TextItem');
    this.node.textContent = 'Assist: …';
    this.node.dataset.state = 'unknown';
    this.node.dataset.ghost = 'ok';
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this.node.addEventListener('click', onOpen);
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onOpen();
      }
    });
    completionLatency.changed.connect(this._update, this);
    ghostTextHealth.changed.connect(this._update, this);
    _model.changed.connect(this._update, this);
    this._update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    completionLatency.changed.disconnect(this._update, this);
    ghostTextHealth.changed.disconnect(this._update, this);
    this._model.changed.disconnect(this._update, this);
    super.dispose();
  }

  /** Draw the last status, with the slow and ghost-text notes when they apply. */
  private _update(): void {
    if (this.isDisposed) {
      return;
    }
    const status = this._model.status;
    const fetchError = this._model.fetchError;
    let state = 'unknown';
    let label = 'Assist: …';
    let tooltip = '';
    if (fetchError !== null) {
      const advice = describeError(fetchError);
      [state, label, tooltip] = ['error', 'Assist: error', `${advice.message}\n${advice.hint}`];
    } else if (status) {
      [state, label, tooltip] = [status.state, describeStatus(status), describeTooltip(status)];
    }
    const slow = state === 'ready' ? slowNote(completionLatency.median()) : '';
    const ghost = ghostTextHealth.failure;
    const notes = [ghost ? 'ghost text failed' : '', slow ? 'slow' : ''].filter(Boolean);
    this.node.dataset.state = state;
    this.node.dataset.slow = slow ? 'true' : 'false';
    this.node.dataset.ghost = ghost ? 'failed' : 'ok';
    this.node.textContent = [label, ...notes].join(' · ');
    this.node.title = [ghost, slow, tooltip].filter(Boolean).join('\n');
    this.node.setAttribute('aria-label', `${this.node.textContent}. Open the assistant status panel.`);
  }
}
