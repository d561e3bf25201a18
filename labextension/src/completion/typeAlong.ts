// The completer's type-along rule, kept pure so it can be tested without a completer:
// the user typed the next characters of the suggestion on screen, so its rest is shown
// instead of a new request's answer.

/** Where the suggestion on screen was asked for, and what it says so far. */
export interface ITypeAlongJob {
  /** The text before the cursor when the suggestion was asked for. */
  prefix: string;
  /** The text after the cursor then. */
  suffix: string;
  /** The suggestion so far (all of it once `done`). */
  text: string;
  /** Whether the suggestion finished streaming. */
  done: boolean;
}

/** How far the user typed into the suggestion, and the part still to show. */
export interface ITypedAlong {
  offset: number;
  rest: string;
}

/**
 * With the cursor now between `prefix` and `suffix`: whether the user typed along the
 * suggestion `job` (same text after the cursor, the typed characters its start), and
 * what is left of it. Null when nothing was typed, the user left the suggestion, or a
 * finished suggestion has nothing but whitespace left.
 */
export function typedAlong(prefix: string, suffix: string, job: ITypeAlongJob): ITypedAlong | null {
  if (suffix !== job.suffix || !prefix.startsWith(job.prefix)) {
    return null;
  }
  const typed = prefix.slice(job.prefix.length);
  const offset = typed.length;
  const rest = job.text.slice(offset);
  if (offset === 0 || !job.text.startsWith(typed) || (!rest.trim() && job.done)) {
    return null;
  }
  return { offset, rest };
}
