// HTTP helpers for the jupyter-assist server routes (see docs/api.md).
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { FinishReason, ICancelReply, StreamEvent } from './types';

const NAMESPACE = 'jupyter-assist';

function routeUrl(settings: ServerConnection.ISettings, endPoint: string) {
  return URLExt.join(settings.baseUrl, NAMESPACE, endPoint);
}

/** A non-2xx reply, carrying the server's `{"error": ...}` text. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

// Errors before a stream starts come back as `{"error": "..."}`; fall
// back to the status line for any other body (proxy page, empty body).
async function toAPIError(response: Response): Promise<APIError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const data = await response.json();
    if (data && typeof data.error === 'string') {
      message = data.error;
    } else if (data && typeof data.message === 'string') {
      message = data.message;
    }
  } catch {
    // keep the status line
  }
  return new APIError(response.status, message);
}

/**
 * Call a JSON route. Goes through ServerConnection so the token/XSRF headers
 * that jupyter_server requires are added for us.
 */
export async function requestAPI<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(routeUrl(settings, endPoint), init, settings);
  if (!response.ok) {
    throw await toAPIError(response);
  }
  return (await response.json()) as T;
}

/** Parse one NDJSON line; blank or malformed lines are skipped, not fatal. */
function parseLine(line: string): StreamEvent | null {
  const trimmed = line.trim();
  if (!trimmed) {
    return null;
  }
  try {
    return JSON.parse(trimmed) as StreamEvent;
  } catch {
    console.warn('jupyter-assist: skipping malformed stream line', trimmed);
    return null;
  }
}

/**
 * POST `body` to a streaming route and yield its NDJSON events as they arrive.
 *
 * Aborting `signal` ends the generator quietly (no throw): callers stop on
 * purpose and only care that no more events come. Other failures throw.
 */
export async function* streamAPI(
  endPoint: string,
  body: unknown,
  signal?: AbortSignal
): AsyncGenerator<StreamEvent, void, undefined> {
  const settings = ServerConnection.makeSettings();
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      routeUrl(settings, endPoint),
      {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { Accept: 'application/x-ndjson' },
        // The server sees the closed connection and stops generating.
        signal
      },
      settings
    );
  } catch (error) {
    // makeRequest wraps AbortError into a NetworkError, so test the signal.
    if (signal?.aborted) {
      return;
    }
    throw error;
  }
  if (!response.ok) {
    throw await toAPIError(response);
  }

  if (!response.body) {
    // No streaming support: parse the whole body at once.
    const text = await response.text();
    for (const line of text.split('\n')) {
      const event = parseLine(line);
      if (event) {
        yield event;
      }
    }
    return;
  }

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      // `stream: true` keeps multi-byte characters split across chunks intact.
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const event = parseLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (event) {
          yield event;
        }
        newline = buffer.indexOf('\n');
      }
    }
    buffer += decoder.decode();
    const last = parseLine(buffer);
    if (last) {
      yield last;
    }
  } catch (error) {
    if (signal?.aborted) {
      return;
    }
    throw error;
  } finally {
    if (!finished) {
      // The consumer stopped early (break/return/abort): close the connection
      // so the server cancels the generation.
      reader.cancel().catch(() => undefined);
    }
  }
}

/** Progress of a streamed generation: the full text so far. */
export interface ITextProgress {
  text: string;
  done: boolean;
  /** With `done`: the server's time from the request's arrival to its first event. */
  firstMs?: number;
  /** With `done`: why the answer ended (`length`: it hit its token cap, cut off). */
  finishReason?: FinishReason;
}

/**
 * Fold a streaming route's events into the accumulated text.
 *
 * Yields after each delta and once more with `done: true` (the `done` event's
 * text is authoritative). A server `error` event is thrown as an Error.
 */
export async function* streamText(
  endPoint: string,
  body: unknown,
  signal?: AbortSignal
): AsyncGenerator<ITextProgress, void, undefined> {
  let text = '';
  for await (const event of streamAPI(endPoint, body, signal)) {
    switch (event.type) {
      case 'delta':
        text += event.text;
        yield { text, done: false };
        break;
      case 'done':
        yield {
          text: event.text ?? text,
          done: true,
          firstMs: event.first_ms,
          finishReason: event.finish_reason
        };
        return;
      case 'error':
        throw new Error(event.message);
      default:
        // Unknown event types are ignored so the server may add new ones.
        break;
    }
  }
}

/**
 * Ask the server to stop a generation. Fire-and-forget: the request may have
 * finished already, and aborting the fetch also cancels it server-side.
 */
export function cancelRequest(requestId: string): void {
  requestAPI<ICancelReply>('cancel', {
    method: 'POST',
    body: JSON.stringify({ request_id: requestId })
  }).catch(error => console.warn('jupyter-assist: cancel failed', requestId, error));
}
