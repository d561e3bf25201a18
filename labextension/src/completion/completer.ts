// Inline (ghost text) completion provider: `POST jupyter-assist/complete`.
import type {
  CompletionHandler,
  IInlineCompletionContext,
  IInlineCompletionItem,
  IInlineCompletionList,
  IInlineCompletionProvider
} from '@jupyterlab/completer';
import { Text } from '@jupyterlab/coreutils';
import { NotebookPanel } from '@jupyterlab/notebook';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { UUID } from '@lumino/coreutils';
import type { JSONValue } from '@lumino/coreutils';

import type { CommandRegistry } from '@lumino/commands';

import { cancelRequest, streamText } from '../shared/api';
import type { ITextProgress } from '../shared/api';
import { collectNotebook, languageFromMime, notebookLanguage } from '../shared/context';
import { assistIcon } from '../shared/icon';
import { assistSettings } from '../shared/settings';
import { ghostTextHealth } from '../status/status';
import { completionLatency, report, watchSurvival } from '../shared/telemetry';
import { typedAlong } from './typeAlong';
import type { ISourceHolder } from '../shared/telemetry';
import type { ICompleteRequest } from '../shared/types';

/**
 * How long before the request delay ends the POST goes out: enough for the
 * server to build the prompt and prefill the few tokens the keystroke added.
 */
const PREPARE_MS = 100;

/**
 * At most this much of the request delay is taken off for the HTTP round trip
 * (see `_transport`), so a slow link cannot shorten the debounce much.
 */
const MAX_TRANSPORT_MS = 30;

/** JupyterLab's command behind Tab on ghost text. */
const ACCEPT_COMMAND = 'inline-completer:accept';

/** One completion request, from `fetch` until it ends or is replaced. */
interface IJob {
  body: ICompleteRequest;
  controller: AbortController;
  /** Whether the POST went out (only then is a server-side cancel needed). */
  sent: boolean;
  /** The server's answer, folded into text; created once the POST goes out. */
  progress: AsyncGenerator<ITextProgress, void, undefined> | null;
  /** A read in flight when `fetch` stopped waiting; `stream` resumes it. */
  pending: Promise<void> | null;
  /** Completion text so far. */
  text: string;
  done: boolean;
  /** `performance.now()` at the key press (or fetch), for the delay and latency. */
  started: number;
  /** `performance.now()` when the POST went out, and when its first event came. */
  sentAt: number;
  firstAt: number;
  /** The server's arrival -> first event time, from its `done` event. */
  serverFirstMs: number;
  /** The cell being completed (survival check after an accept). */
  holder: ISourceHolder | null;
  /** Whether the suggestion reached the screen (telemetry `shown`). */
  shown: boolean;
}

/** The suggestion on screen: a job, minus what the user typed along. */
interface IOnScreen {
  job: IJob;
  /** Characters of `job.text` the user has typed themselves. */
  offset: number;
}

type StreamReply = { response: IInlineCompletionItem };

const NO_ITEMS: IInlineCompletionList = { items: [] };

/** Resolve after `ms`, or early with `false` when `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
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

/** The cell text before and after the cursor. */
function splitAtCursor(request: CompletionHandler.IRequest): [string, string] {
  // `request.offset` counts Unicode code points, not UTF-16 units.
  const cursor = Text.charIndexToJsIndex(request.offset, request.text);
  return [request.text.slice(0, cursor), request.text.slice(cursor)];
}

/** Read the job's next progress event into `job.text` / `job.done`. */
function readNext(job: IJob): Promise<void> {
  if (!job.pending) {
    const progress = job.progress!;
    job.pending = progress.next().then(
      result => {
        job.pending = null;
        if (result.done) {
          job.done = true;
        } else {
          job.firstAt ||= performance.now();
          job.text = result.value.text;
          job.done = result.value.done;
          job.serverFirstMs = result.value.firstMs ?? job.serverFirstMs;
        }
      },
      error => {
        job.pending = null;
        job.done = true;
        throw error;
      }
    );
  }
  return job.pending;
}

export class AssistInlineProvider implements IInlineCompletionProvider {
  readonly identifier = '@jupyter-assist/inline-completer';
  readonly name = 'Jupyter Assist';
  readonly icon = assistIcon;

  /**
   * Merged by the completer extension into the `providers` setting of
   * `@jupyterlab/completer-extension:inline-completer`. Its `default` is
   * spread over the built-in defaults (enabled: true, timeout: 5000, ...);
   * `enabled: true` is restated so we stay on even if that default changes.
   * The rest (on/off, the one request delay, limits) is on the Jupyter Assist
   * settings page (schema/settings.json): JupyterLab's own `debouncerDelay`
   * stays 0, since this provider debounces itself (see `fetch`); a non-zero
   * one counts toward the request delay, never on top of it.
   */
  readonly schema: ISettingRegistry.IProperty = {
    default: { enabled: true, debouncerDelay: 0 },
    properties: {}
  };

  constructor(commands?: CommandRegistry) {
    commands?.commandExecuted.connect((_, args) => {
      if (args.id === ACCEPT_COMMAND) {
        this._accepted();
      }
    });
    // The request delay counts from the key press; JupyterLab calls `fetch`
    // some ms later, after the editor and the notebook model have updated.
    document.addEventListener(
      'keydown',
      event => {
        this._lastKey = event.timeStamp;
      },
      { capture: true, passive: true }
    );
  }

  configure(settings: { [property: string]: JSONValue }): void {
    const timeout = Number(settings?.timeout);
    this._timeout = Number.isFinite(timeout) && timeout > 0 ? timeout : 5000;
    const debouncer = Number(settings?.debouncerDelay);
    this._debouncer = Number.isFinite(debouncer) && debouncer > 0 ? debouncer : 0;
  }

  /** The one delay from the key press (JupyterLab's debouncer, if set, is part of it). */
  private get _requestDelay(): number {
    return Math.max(assistSettings.current.ghostText.requestDelay, this._debouncer);
  }

  /**
   * Wait (at most until shortly before the completer's `timeout`) for the
   * first visible text, then answer with it; the rest comes from `stream`.
   *
   * Why not answer at once with an empty incomplete item: the completer
   * marks the editor "inline completion active" as soon as an item exists,
   * even an empty one, and Tab then accepts that empty item instead of
   * indenting or opening the kernel completer. Answering only with real text
   * (or no items when the model has nothing to add) keeps Tab working. If
   * the model is too slow for the budget, fall back to the empty streamed
   * item so the ghost text still appears when tokens come.
   */
  async fetch(request: CompletionHandler.IRequest, context: IInlineCompletionContext): Promise<IInlineCompletionList> {
    this._seq++;
    const reused = this._typedAlong(request);
    if (reused) {
      return reused;
    }
    // Accepting inserts the text, and that edit asks for a new completion
    // before the accept command's `commandExecuted` fires: count it here.
    if (this._completedBy(request)) {
      this._accepted();
    }
    // Any new request (key press, explicit invoke) makes the last one stale.
    this.cancel();
    let job: IJob;
    try {
      job = {
        body: this._makeBody(request, context),
        controller: new AbortController(),
        sent: false,
        progress: null,
        pending: null,
        text: '',
        done: false,
        started: this._keyPressedAt(),
        sentAt: 0,
        firstAt: 0,
        serverFirstMs: -1,
        holder: this._holder(context),
        shown: false
      };
    } catch (error) {
      this._warn(error);
      return NO_ITEMS;
    }
    const ghost = assistSettings.current.ghostText;
    const language = (job.body.language ?? '').toLowerCase();
    if (!ghost.enabled || ghost.disabledLanguages.some(l => l.toLowerCase() === language)) {
      return NO_ITEMS; // the user turned ghost text off (for this language)
    }
    this._job = job;
    const signal = job.controller.signal;
    const deadline = Date.now() + this._firstTextBudget();

    // Debounce here rather than with the completer's `debouncerDelay`: a
    // stale stream still running during that delay would overwrite the
    // completer's own trimming of the ghost text as the user types. A
    // request replaced early in the delay is never sent; one sent in its last
    // PREPARE_MS waits out the rest on the server, which builds and prefills
    // the prompt meanwhile (replaced then, it is cancelled before decoding).
    const lead = Math.min(PREPARE_MS, this._requestDelay);
    const waited = performance.now() - job.started;
    if (!(await wait(this._requestDelay - lead - waited, signal))) {
      return NO_ITEMS;
    }
    // The server holds the request for `delay_ms` from its arrival; the round
    // trip is taken off so that the answer arrives as the delay ends.
    const rest = Math.round(this._requestDelay - (performance.now() - job.started) - this._transport);
    if (rest > 0) {
      job.body.delay_ms = rest;
    }
    job.sent = true;
    job.sentAt = performance.now();
    job.progress = streamText('complete', job.body, signal);
    try {
      while (!job.done && !job.text.trim()) {
        const left = deadline - Date.now();
        if (left <= 0) {
          break;
        }
        const timer = new AbortController();
        const read = readNext(job);
        // The read stays pending on timeout; `stream` picks it up.
        await Promise.race([read, wait(left, timer.signal)]);
        timer.abort();
      }
    } catch (error) {
      if (!signal.aborted) {
        this._warn(error);
      }
      this._release(job);
      return NO_ITEMS;
    }
    if (signal.aborted) {
      return NO_ITEMS;
    }
    if (job.done) {
      this._release(job);
      ghostTextHealth.succeeded();
      // Whitespace alone is not worth a ghost (nor a swallowed Tab).
      if (!job.text.trim()) {
        return NO_ITEMS;
      }
      this._show(job, 0);
      return { items: [{ insertText: job.text }] };
    }
    this._lastWarning = '';
    ghostTextHealth.succeeded();
    this._show(job, 0);
    return {
      items: [{ insertText: job.text, isIncomplete: true, token: this._token(0) }]
    };
  }

  /**
   * Stream the rest of the completion for `token`, yielding the whole text
   * so far each time (the completer diffs it against what it shows). The
   * last reply has `isIncomplete: false`. Never throws: errors are logged
   * and end the stream.
   */
  async *stream(token: string): AsyncGenerator<StreamReply, void, undefined> {
    const job = this._job;
    const [seq, offset] = token.split(':').map(Number);
    if (!job || seq !== this._seq || !job.progress) {
      return;
    }
    const signal = job.controller.signal;
    // A newer fetch (key press) owns the ghost now, even if it reuses this job.
    const stale = () => signal.aborted || seq !== this._seq;
    try {
      while (!job.done) {
        const before = job.text;
        await readNext(job);
        if (stale()) {
          return;
        }
        if (!job.done && job.text !== before) {
          this._show(job, offset);
          yield {
            response: { insertText: job.text.slice(offset), isIncomplete: true }
          };
        }
      }
    } catch (error) {
      if (!signal.aborted) {
        this._warn(error);
      }
    } finally {
      this._release(job);
    }
    if (stale()) {
      return;
    }
    // Final state. An empty text leaves an empty, invisible ghost.
    this._show(job, offset);
    yield {
      response: { insertText: job.text.slice(offset), isIncomplete: false }
    };
  }

  /** Abort the running request, if any, and tell the server to stop it. */
  cancel(): void {
    const job = this._job;
    this._job = null;
    this._dismissed();
    if (!job) {
      return;
    }
    job.controller.abort();
    if (job.sent) {
      cancelRequest(job.body.request_id);
    }
  }

  dispose(): void {
    this.cancel();
  }

  /** Forget a finished job without cancelling it (it stays reusable). */
  private _release(job: IJob): void {
    if (this._job === job) {
      this._job = null;
    }
    this._learnTransport(job);
  }

  /**
   * The HTTP round trip of a finished request: its first event reached us
   * this long after the POST, minus the server's own arrival -> first event
   * time (which includes its hold and any model work). Smoothed, capped.
   */
  private _learnTransport(job: IJob): void {
    if (!job.sentAt || !job.firstAt || job.serverFirstMs < 0) {
      return;
    }
    const sample = job.firstAt - job.sentAt - job.serverFirstMs;
    job.serverFirstMs = -1; // learn from each request once
    const smoothed = this._transport * 0.7 + Math.max(0, sample) * 0.3;
    this._transport = Math.min(MAX_TRANSPORT_MS, smoothed);
  }

  /** When the key press behind this request happened (now, if none did). */
  private _keyPressedAt(): number {
    const now = performance.now();
    const since = now - this._lastKey;
    return since >= 0 && since < this._requestDelay ? this._lastKey : now;
  }

  /** Stream token: which fetch asked, and how much of the text was typed. */
  private _token(offset: number): string {
    return `${this._seq}:${offset}`;
  }

  /**
   * The user typed the next characters of the suggestion on screen: keep
   * showing its rest instead of asking the server again (the completer
   * would otherwise replace a good suggestion with a new request's).
   */
  private _typedAlong(request: CompletionHandler.IRequest): IInlineCompletionList | null {
    const screen = this._onScreen;
    if (!screen) {
      return null;
    }
    const { job } = screen;
    const [prefix, suffix] = splitAtCursor(request);
    const along = typedAlong(prefix, suffix, {
      prefix: job.body.prefix,
      suffix: job.body.suffix,
      text: job.text,
      done: job.done
    });
    if (!along) {
      return null;
    }
    const { offset, rest } = along;
    screen.offset = offset;
    if (job.done || this._job !== job) {
      return rest.trim() ? { items: [{ insertText: rest }] } : null;
    }
    return {
      items: [{ insertText: rest, isIncomplete: true, token: this._token(offset) }]
    };
  }

  /** Whether the text now holds the whole suggestion on screen. */
  private _completedBy(request: CompletionHandler.IRequest): boolean {
    const job = this._onScreen?.job;
    if (!job) {
      return false;
    }
    const [prefix, suffix] = splitAtCursor(request);
    return suffix === job.body.suffix && prefix === job.body.prefix + job.text;
  }

  /** The cell's shared model in a notebook (for the survival check). */
  private _holder(context: IInlineCompletionContext): ISourceHolder | null {
    const widget = context.widget;
    if (widget instanceof NotebookPanel) {
      return widget.content.activeCell?.model.sharedModel ?? null;
    }
    return null;
  }

  /** The job's text reached the screen: telemetry `shown` once, latency. */
  private _show(job: IJob, offset: number): void {
    if (job.shown || !job.text.trim()) {
      return;
    }
    job.shown = true;
    this._onScreen = { job, offset };
    const latency = performance.now() - job.started;
    completionLatency.add(latency);
    report({
      event: 'shown',
      request_id: job.body.request_id,
      task: 'complete',
      latency_ms: Math.round(latency),
      chars: job.text.length
    });
  }

  /** Tab took the suggestion on screen. */
  private _accepted(): void {
    const screen = this._onScreen;
    this._onScreen = null;
    if (!screen) {
      return;
    }
    const { job, offset } = screen;
    const text = job.text.slice(offset);
    const base = { request_id: job.body.request_id, task: 'complete' as const };
    report({ ...base, event: 'accepted', chars: text.length });
    if (job.holder && text.trim()) {
      const survivalMs = assistSettings.current.ghostText.survivalDelay * 1000;
      watchSurvival(job.holder, text, base, survivalMs);
    }
  }

  /** The suggestion on screen was replaced without being accepted. */
  private _dismissed(): void {
    const screen = this._onScreen;
    this._onScreen = null;
    if (screen) {
      report({
        event: 'rejected',
        request_id: screen.job.body.request_id,
        task: 'complete'
      });
    }
  }

  /**
   * How long `fetch` may wait for text: the completer drops a provider's
   * answer after its `timeout`, so stay a safe margin below it.
   */
  private _firstTextBudget(): number {
    return Math.max(0, this._timeout - this._requestDelay - 1000);
  }

  private _makeBody(request: CompletionHandler.IRequest, context: IInlineCompletionContext): ICompleteRequest {
    const [prefix, suffix] = splitAtCursor(request);
    const mimeLanguage = languageFromMime(request.mimeType);
    const body: ICompleteRequest = {
      request_id: UUID.uuid4(),
      prefix,
      suffix,
      language: mimeLanguage
    };
    const widget = context.widget;
    if (widget instanceof NotebookPanel) {
      Object.assign(body, collectNotebook(widget));
      // Code cells speak the kernel's language; markdown cells stay markdown.
      if (mimeLanguage !== 'markdown') {
        body.language = notebookLanguage(widget) ?? mimeLanguage;
      }
    }
    const maxTokens = assistSettings.current.ghostText.maxTokens;
    if (maxTokens > 0) {
      body.max_tokens = maxTokens;
    }
    return body;
  }

  /** Log a failure once per distinct message (e.g. while the model loads). */
  private _warn(error: unknown): void {
    ghostTextHealth.failed(error); // shown in the status item, not only the console
    const message = error instanceof Error ? error.message : String(error);
    if (message !== this._lastWarning) {
      this._lastWarning = message;
      console.warn('jupyter-assist: inline completion failed:', message);
    }
  }

  private _job: IJob | null = null;
  private _onScreen: IOnScreen | null = null;
  /** Bumped by every fetch: streams of older fetches stop. */
  private _seq = 0;
  private _lastWarning = '';
  /** JupyterLab's per-provider debouncer delay (ms), normally 0. */
  private _debouncer = 0;
  /** `performance.now()` time of the last key press anywhere on the page. */
  private _lastKey = -Infinity;
  /** The completer's per-provider timeout (ms), from its settings. */
  private _timeout = 5000;
  /** Smoothed HTTP round trip (ms) of completion requests; see `_learnTransport`. */
  private _transport = 0;
}
