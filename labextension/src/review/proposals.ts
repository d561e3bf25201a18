// Stream the server's `edit` / `fix` routes as whole-cell proposals for openReview.
import { UUID } from '@lumino/coreutils';

import { cancelRequest, streamText } from '../shared/api';
import type { FinishReason, IEditRequest, IFixRequest } from '../shared/types';

/**
 * The rewritten cell with the original's trailing-newline convention, as the
 * server's `done` text has it (tasks/edit.py `new_source`), so the diff does
 * not flicker on the last line while streaming.
 */
export function likeOriginal(text: string, original: string): string {
  const body = text.replace(/\n+$/, '');
  return original.endsWith('\n') ? body + '\n' : body;
}

export interface IProposalStream {
  requestId: string;
  proposals: AsyncIterable<string>;
  /** Stop the generation (aborts the request; the server cancels it). */
  cancel: () => void;
  /** How the stream ended, once it has (`length`: cut off by its token limit). */
  ending?: { finishReason?: FinishReason };
}

type Route =
  { route: 'edit'; body: Omit<IEditRequest, 'request_id'> } | { route: 'fix'; body: Omit<IFixRequest, 'request_id'> };

/** Start nothing yet: the request is sent when the review reads `proposals`. */
export function streamProposals(request: Route, original: string): IProposalStream {
  const requestId = UUID.uuid4();
  const controller = new AbortController();
  const body = { ...request.body, request_id: requestId };
  const ending: { finishReason?: FinishReason } = {};
  async function* proposals(): AsyncGenerator<string, void, undefined> {
    for await (const progress of streamText(request.route, body, controller.signal)) {
      if (progress.done) {
        ending.finishReason = progress.finishReason;
      }
      // The done event's text is the server's final cell source (cut off: with the
      // lines it did not reach kept).
      yield progress.done ? progress.text : likeOriginal(progress.text, original);
    }
  }
  return {
    requestId,
    ending,
    proposals: proposals(),
    cancel: () => {
      if (!controller.signal.aborted) {
        controller.abort();
        cancelRequest(requestId); // also stops it if it is still queued
      }
    }
  };
}
