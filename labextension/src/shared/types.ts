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

/** A kernel variable as the kernel summarises it (shape, columns, dtypes...). */
export interface IVariable {
  name: string;
  type?: string;
  summary?: string;
}

/** Notebook context shared by the streaming routes. */
export interface INotebookContext {
  cells?: INotebookCell[];
  cell_index?: number | null;
  variables?: IVariable[];
  /** 0..2; omitted: the task's default (greedy). */
  temperature?: number;
  /** Sampling seed (with temperature > 0); omitted: a fresh one. */
  seed?: number;
}

/** Body of `POST complete`. */
export interface ICompleteRequest extends INotebookContext {
  request_id: string;
  prefix: string;
  suffix: string;
  language?: string;
  max_tokens?: number;
  /** Start decoding this long after arrival (the prompt is prefilled meanwhile). */
  delay_ms?: number;
}

/** Body of `POST chat`. */
export interface IChatRequest extends INotebookContext {
  request_id: string;
  messages: IChatMessage[];
  /** Context chips the user kept or added (fenced as data in the prompt). */
  attachments?: IAttachment[];
  /** false: the user removed the active cell's chip; `cell_index`'s cell is left out. */
  include_active_cell?: boolean;
  /** The reply's length limit (settings page); the server clips it to chat_max_tokens. */
  max_tokens?: number;
}

export type AttachmentKind = 'cell' | 'selection' | 'error' | 'file' | 'variable';

/** One context chip as sent: `label` <= 300 characters, `text` <= 64,000. */
export interface IAttachment {
  kind: AttachmentKind;
  label: string;
  text: string;
}

/** Body of `POST generate` (used by `%%assist`; listed for completeness). */
export interface IGenerateRequest extends INotebookContext {
  request_id: string;
  instruction: string;
  code?: string;
  max_tokens?: number;
}

/** Body of `POST edit`: rewrite `source` (the cell) following `instruction`. */
export interface IEditRequest extends INotebookContext {
  request_id: string;
  instruction: string;
  source: string;
  max_tokens?: number;
}

/** Body of `POST fix`: the cell at `cell_index` with its error output. */
export interface IFixRequest extends INotebookContext {
  request_id: string;
  cells: INotebookCell[];
  cell_index: number;
  max_tokens?: number;
}

/** Body of `POST warm`: cell focus, or an edit instruction being typed. */
export interface IWarmRequest extends INotebookContext {
  request_id?: string;
  task?: 'complete' | 'edit';
  prefix?: string;
  suffix?: string;
}

/** One changed region of an edit: 0-based, end-exclusive line ranges. */
export interface IHunk {
  old_start: number;
  old_end: number;
  new_start: number;
  new_end: number;
  old: string[];
  new: string[];
}

/** Reply of `POST prompt?task=...` (the prompt inspector). */
export interface IPromptReply {
  task: string;
  prompt: string;
  prompt_tokens: number;
  max_tokens: number;
  stop: string[];
  map: Record<string, unknown>[];
}

/** Body of `POST telemetry` (only recorded when the user opted in). */
export interface ITelemetryEvent {
  event: 'shown' | 'accepted' | 'rejected' | 'survived';
  request_id: string;
  task: 'complete' | 'edit' | 'chat' | 'fix' | 'generate' | 'next-edit' | 'agent';
  latency_ms?: number;
  chars?: number;
  survived?: boolean;
  similarity?: number;
}

export type FinishReason = 'stop' | 'length' | 'eos' | 'cancelled' | 'loop';

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
  /** Request arrival to the first event (time to first token). */
  first_ms: number;
  /** Only sent by `generate`. */
  code?: string;
  /** Only sent by `edit` and `fix`. */
  hunks?: IHunk[];
}

export interface IErrorEvent {
  type: 'error';
  message: string;
}

/** One NDJSON line of a streaming route. */
export type StreamEvent = IDeltaEvent | IDoneEvent | IErrorEvent;

export type ModelState = 'idle' | 'loading' | 'ready' | 'error';

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
  load_seconds?: number | null;
  served?: number;
  cancelled?: number;
  /** While a switch loads: the model it replaces. */
  switching_from?: string | null;
  /** The last failed request's cause (`error` is the load's). */
  last_error?: string | null;
  stats?: Record<string, unknown>;
}

/** One model of `GET models`: `name` is what `POST models` takes. */
export interface IModelChoice {
  name: string;
  display: string;
  current: boolean;
}

/** Reply of `GET models`. */
export interface IModelsReply {
  models: IModelChoice[];
  /** False on the openai backend (it serves its server's model). */
  switchable: boolean;
}

/** Body of `POST models`. */
export interface ISwitchModelRequest {
  model: string;
}

/** Reply of `POST cancel`. */
export interface ICancelReply {
  cancelled: boolean;
}

/** A cell's source before and after a burst of typing (`POST next-edit`). */
export interface ICellEdit {
  cell_index: number;
  before: string;
  after: string;
}

/** Body of `POST next-edit`: recent edits (oldest first, 1..8). */
export interface INextEditRequest extends INotebookContext {
  request_id: string;
  cells: INotebookCell[];
  edits: ICellEdit[];
  max_tokens?: number;
}

/** Replace lines [start_line, end_line) (0-based, of the cell's current source). */
export interface INextEditProposal {
  cell_index: number;
  start_line: number;
  end_line: number;
  old: string[];
  new: string[];
  reason: string;
}

/** First event of `next-edit`: the proposals known without the model (renames). */
export interface INextEditProposalsEvent {
  type: 'proposals';
  source: string;
  proposals: INextEditProposal[];
}

/** Last event of `next-edit`: every proposal. */
export interface INextEditDoneEvent extends IDoneEvent {
  proposals: INextEditProposal[];
}

/** One NDJSON line of `next-edit`. */
export type NextEditStreamEvent = INextEditProposalsEvent | INextEditDoneEvent | IDeltaEvent | IErrorEvent;

/** What one agent step is (wire `AgentActionKind`). */
export type AgentActionKind = 'code' | 'edit' | 'markdown' | 'ask' | 'done' | 'error';

/** One step the agent took, with what became of it (wire `AgentStep`). */
export interface IAgentStep {
  kind: AgentActionKind;
  /** code / edit: the cell's source as it ran (the user's edits included); markdown: the note; error: the answer that fit no action. */
  source?: string;
  /** The cell it wrote or edited, where it is now; null: deleted. */
  cell_index?: number | null;
  /** The model's prose: its plan, question, summary or parse error. */
  text?: string;
  /** code / edit: the cell was run (else the user declined it). */
  ran?: boolean;
  /** The user changed the cell before running it. */
  edited?: boolean;
  /** nbformat outputs of the run. */
  outputs?: Record<string, unknown>[];
  /** Variables the run changed. */
  variables?: IVariable[];
  /** The user's answer to `ask`, or why a cell did not run. */
  reply?: string;
}

/** Body of `POST agent`: goal + notebook + the steps so far -> the next action. */
export interface IAgentRequest extends INotebookContext {
  request_id: string;
  goal: string;
  steps: IAgentStep[];
  /** 1..100, default 10. */
  max_steps?: number;
  max_tokens?: number;
}

/** The next action, read from the model's answer (never missing: `error` when it fits none). */
export interface IAgentAction {
  kind: AgentActionKind;
  /** code / edit: the cell's new source; markdown: the note. */
  source: string;
  /** edit: 0-based index of the cell to replace. */
  cell_index: number | null;
  /** What it is about to do, the question, the summary, or the error. */
  text: string;
  /** What the parser repaired or dropped. */
  notes: string[];
  /** edit: the diff against the cell as sent. */
  hunks?: IHunk[];
}

/** The `done` event of `POST agent`. */
export interface IAgentDoneEvent extends IDoneEvent {
  action: IAgentAction;
}
