// TypeScript mirror of docs/api.md (the wire contract with the server).
// Field names stay snake_case on purpose: they are sent and read verbatim.

export type CellType = 'code' | 'markdown' | 'raw';

/** One notebook cell as the server expects it. */
export interface INotebookCell {
  cell_type: CellType;
  source: string;
  /** nbformat output dicts (code cells only). */
  outputs?: Record<string, unknown>[];
  execution_count?: number | null;
}

export type ChatRole = 'user' | 'assistant';

export interface IChatMessage {
  role: ChatRole;
  content: string;
}

/** Notebook context shared by the streaming routes. */
export interface INotebookContext {
  cells?: INotebookCell[];
  cell_index?: number | null;
}

/** Body of `POST complete`. */
export interface ICompleteRequest extends INotebookContext {
  request_id: string;
  prefix: string;
  suffix: string;
  language?: string;
  max_tokens?: number;
}

/** Body of `POST chat`. */
export interface IChatRequest extends INotebookContext {
  request_id: string;
  messages: IChatMessage[];
}

/** Body of `POST generate` (used by `%%assist`; listed for completeness). */
export interface IGenerateRequest {
  request_id: string;
  instruction: string;
  code?: string;
  cells?: INotebookCell[];
}

export type FinishReason = 'stop' | 'length' | 'eos' | 'cancelled';

export interface IDeltaEvent {
  type: 'delta';
  text: string;
}

export interface IDoneEvent {
  type: 'done';
  text: string;
  finish_reason: FinishReason;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number;
  /** Only sent by `generate`. */
  code?: string;
}

export interface IErrorEvent {
  type: 'error';
  message: string;
}

/** One NDJSON line of a streaming route. */
export type StreamEvent = IDeltaEvent | IDoneEvent | IErrorEvent;

export type ModelState = 'loading' | 'ready' | 'error';

/** Reply of `GET status`. */
export interface IStatusReply {
  state: ModelState;
  model: string;
  device: string | null;
  dtype: string | null;
  quantization: string | null;
  progress: { stage: string; fraction: number | null } | null;
  error: string | null;
  queue: number;
}

/** Reply of `POST cancel`. */
export interface ICancelReply {
  cancelled: boolean;
}
