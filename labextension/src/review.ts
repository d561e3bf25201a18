// Diff review inside a cell (@codemirror/merge): the one way generated code
// reaches a cell. Stub: the implementation lands with the edit-cell feature.
import type { Cell } from '@jupyterlab/cells';

export type ReviewTask = 'edit' | 'fix' | 'chat' | 'next-edit' | 'kernel';
export type ReviewOutcome = 'accepted' | 'rejected' | 'conflict' | 'failed';

export interface IReviewRequest {
  /** Target cell; its source when the review opens is the original. */
  cell: Cell;
  /** Short header text, e.g. "Edit: add a docstring". */
  label: string;
  task: ReviewTask;
  /** Each item is the whole proposed cell text so far (streaming). */
  proposals: AsyncIterable<string>;
  /** Server request id (telemetry, cancel). */
  requestId?: string;
  /** Called when the user rejects / closes while streaming: stop the request. */
  cancel?: () => void;
}

/** Open a review in the cell; resolves when the user accepts or rejects. */
export async function openReview(_request: IReviewRequest): Promise<ReviewOutcome> {
  throw new Error('diff review is not implemented yet');
}

/** A proposal that is already complete (chat "apply to cell"). */
export async function* once(text: string): AsyncIterable<string> {
  yield text;
}
