import { ServerConnection } from '@jupyterlab/services';

import { streamAPI, streamText } from '../shared/api';
import type { StreamEvent } from '../shared/types';

// The server's bytes as chunks: a reader over them, and whether the client cancelled it.
function chunkedResponse(chunks: (string | Uint8Array)[]) {
  const encoder = new TextEncoder();
  const queue = chunks.map(c => (typeof c === 'string' ? encoder.encode(c) : c));
  const state = { cancelled: false };
  const reader = {
    read: async () => (queue.length ? { value: queue.shift(), done: false } : { value: undefined, done: true }),
    cancel: async () => {
      state.cancelled = true;
    }
  };
  const response = { ok: true, body: { getReader: () => reader } } as unknown as Response;
  return { response, state };
}

function serve(response: Response): void {
  jest.spyOn(ServerConnection, 'makeRequest').mockResolvedValue(response);
}

async function collect<T>(gen: AsyncGenerator<T, void, undefined>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of gen) {
    out.push(item);
  }
  return out;
}

const delta = (text: string): StreamEvent => ({ type: 'delta', text }) as StreamEvent;

describe('streamAPI (NDJSON)', () => {
  beforeEach(() => {
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('joins lines split across chunks, and a character split across chunks', async () => {
    const bytes = new TextEncoder().encode('{"type":"delta","text":"é"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of é
    const { response } = chunkedResponse([
      '{"type":"delta",',
      '"text":"a"}\n{"type":"del',
      'ta","text":"b"}\n',
      bytes.slice(0, cut),
      bytes.slice(cut)
    ]);
    serve(response);
    expect(await collect(streamAPI('complete', {}))).toEqual([delta('a'), delta('b'), delta('é')]);
  });

  it('yields a last line without a newline', async () => {
    const { response } = chunkedResponse(['{"type":"delta","text":"a"}\n{"type":"done","text":"a"}']);
    serve(response);
    expect(await collect(streamAPI('complete', {}))).toEqual([delta('a'), { type: 'done', text: 'a' }]);
  });

  it('skips blank and malformed lines (with a warning), keeps the rest', async () => {
    const { response } = chunkedResponse([
      '\n{"type":"delta","text":"a"}\r\n\n{not json\n  \n{"type":"delta","text":"b"}\n'
    ]);
    serve(response);
    expect(await collect(streamAPI('complete', {}))).toEqual([delta('a'), delta('b')]);
    expect(console.warn).toHaveBeenCalledTimes(1);
  });

  it('parses a whole body at once when the response cannot stream', async () => {
    const response = {
      ok: true,
      body: null,
      text: async () => '{"type":"delta","text":"a"}\n\n{"type":"delta","text":"b"}'
    } as unknown as Response;
    serve(response);
    expect(await collect(streamAPI('complete', {}))).toEqual([delta('a'), delta('b')]);
  });

  it('a consumer that stops early cancels the reader (the server stops generating)', async () => {
    const { response, state } = chunkedResponse(['{"type":"delta","text":"a"}\n', '{"type":"delta","text":"b"}\n']);
    serve(response);
    for await (const event of streamAPI('complete', {})) {
      expect(event).toEqual(delta('a'));
      break;
    }
    expect(state.cancelled).toBe(true);
  });

  it('a stream read to its end is not cancelled', async () => {
    const { response, state } = chunkedResponse(['{"type":"delta","text":"a"}\n']);
    serve(response);
    await collect(streamAPI('complete', {}));
    expect(state.cancelled).toBe(false);
  });

  it('a non-2xx reply throws the server error text', async () => {
    const response = { ok: false, status: 503, statusText: 'x', json: async () => ({ error: 'loading' }) };
    serve(response as unknown as Response);
    await expect(collect(streamAPI('complete', {}))).rejects.toMatchObject({ status: 503, message: 'loading' });
  });
});

describe('streamText', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('folds deltas, the done text is authoritative, and stops at done', async () => {
    const { response } = chunkedResponse([
      '{"type":"delta","text":"re"}\n{"type":"other"}\n{"type":"delta","text":"turn"}\n',
      '{"type":"done","text":"return x","first_ms":12,"finish_reason":"length"}\n{"type":"delta","text":"late"}\n'
    ]);
    serve(response);
    expect(await collect(streamText('complete', {}))).toEqual([
      { text: 're', done: false },
      { text: 'return', done: false },
      { text: 'return x', done: true, firstMs: 12, finishReason: 'length' }
    ]);
  });

  it('a server error event throws its message', async () => {
    const { response } = chunkedResponse(['{"type":"delta","text":"a"}\n{"type":"error","message":"out of memory"}\n']);
    serve(response);
    await expect(collect(streamText('complete', {}))).rejects.toThrow('out of memory');
  });
});
