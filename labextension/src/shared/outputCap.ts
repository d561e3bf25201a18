// The cells' outputs as a request carries them: only what the server's prompt can use,
// capped the way the server caps them (jupyter_assist/notebook/outputs.py), so one huge
// output can never push a request over the body limit (max_body_bytes) nor cost megabytes
// a keystroke. The server still caps what it gets: its input is untrusted.
// Pure (no JupyterLab imports): tests run it under node against the server's code.
import type { INotebookCell } from './types';

export const OUTPUT_LIMITS = {
  /** outputs.py RAW_CAP: code points kept from each end of a longer text. */
  rawCap: 10_000,
  /** Client only: JSON characters of traceback entries per error output (head and tail). */
  traceback: 60_000,
  /** Client only: JSON characters of all outputs in one request, nearest cells first. */
  total: 400_000
} as const;

/** outputs.py `_capped`'s marker between head and tail. */
const MARK = '\n...\n';

type Output = Record<string, unknown>;

const isHigh = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

/** UTF-16 offset just past the first `n` code points of `s` (its length if fewer). */
function afterCodePoints(s: string, n: number): number {
  let at = 0;
  for (let k = 0; k < n && at < s.length; k++) {
    at += isHigh(s.charCodeAt(at)) && isLow(s.charCodeAt(at + 1)) ? 2 : 1;
  }
  return at;
}

/** UTF-16 offset where the last `n` code points of `s` start (0 if fewer). */
function beforeCodePoints(s: string, n: number): number {
  let at = s.length;
  for (let k = 0; k < n && at > 0; k++) {
    at -= isLow(s.charCodeAt(at - 1)) && isHigh(s.charCodeAt(at - 2)) ? 2 : 1;
  }
  return at;
}

/**
 * outputs.py `_capped`: a text of more than 2 * RAW_CAP code points becomes its first and
 * last RAW_CAP code points around a marker. The server's cap of the result gives the same
 * text again, so its prompt is what it would have built from the whole text; the cuts
 * fall between code points, never inside a surrogate pair. Bounded work at any length.
 */
export function capText(text: string): string {
  const cap = OUTPUT_LIMITS.rawCap;
  if (text.length <= 2 * cap) {
    return text; // never more code points than UTF-16 units
  }
  const head = afterCodePoints(text, cap);
  const tail = beforeCodePoints(text, cap);
  // head < tail exactly when some code point lies between: more than 2 * cap of them.
  return head < tail ? text.slice(0, head) + MARK + text.slice(tail) : text;
}

/** outputs.py `as_text`: nbformat's multiline strings (str or list of str) as one str. */
function asText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map(v => (typeof v === 'string' ? v : String(v))).join('');
  }
  return value === null || value === undefined ? '' : String(value);
}

/** Traceback entries (each capped), keeping head and tail entries within the budget. */
function capTraceback(traceback: unknown): unknown {
  if (!Array.isArray(traceback)) {
    return capText(asText(traceback));
  }
  const entries = traceback.map(x => capText(asText(x)));
  const size = (s: string): number => JSON.stringify(s).length + 1;
  let used = entries.reduce((sum, s) => sum + size(s), 0);
  if (used <= OUTPUT_LIMITS.traceback) {
    return entries;
  }
  // Frames nearest the raise (the tail) and the outermost call (the head) matter most.
  const head: string[] = [];
  const tail: string[] = [];
  let i = 0;
  let j = entries.length - 1;
  used = 0;
  while (i <= j) {
    const takeTail = tail.length <= head.length;
    const next = takeTail ? entries[j] : entries[i];
    if (used + size(next) > OUTPUT_LIMITS.traceback) {
      break;
    }
    used += size(next);
    if (takeTail) {
      tail.unshift(next);
      j--;
    } else {
      head.push(next);
      i++;
    }
  }
  const omitted = j - i + 1;
  return [...head, `... ${omitted} traceback entries omitted ...`, ...tail];
}

/**
 * One nbformat output with only the fields the server reads, each text capped. Of rich
 * data only `text/plain` is read; the other kinds count by name (the prompt says
 * "[image]", "[HTML output]"), so they travel as empty strings.
 */
export function capOutput(output: Output): Output {
  const kind = output.output_type;
  const out: Output = { output_type: typeof kind === 'string' ? capText(kind) : kind };
  if (kind === 'stream') {
    if (typeof output.name === 'string') {
      out.name = capText(output.name);
    }
    out.text = capText(asText(output.text));
    return out;
  }
  if (kind === 'error') {
    out.ename = capText(asText(output.ename));
    out.evalue = capText(asText(output.evalue));
    out.traceback = capTraceback(output.traceback);
    return out;
  }
  const data = output.data;
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const kept: Record<string, string> = {};
    for (const [mime, value] of Object.entries(data)) {
      kept[capText(mime)] = mime === 'text/plain' ? capText(asText(value)) : '';
    }
    out.data = kept;
  }
  if (typeof output.execution_count === 'number') {
    out.execution_count = output.execution_count;
  }
  return out;
}

/**
 * Cap every cell's outputs in place: each as `capOutput`, and all of them within
 * `OUTPUT_LIMITS.total`, spent on the cells nearest `current` first (the server's
 * prompt ranks cells by that distance; without a current cell, from the last one up).
 * An output that does not fit is left out whole.
 */
export function capCellOutputs(cells: INotebookCell[], current: number | null): void {
  const distance = (i: number): number => (current === null ? cells.length - i : Math.abs(i - current));
  const order = cells.map((_, i) => i).sort((a, b) => distance(a) - distance(b) || a - b);
  let left = OUTPUT_LIMITS.total;
  for (const i of order) {
    const cell = cells[i];
    if (!cell.outputs) {
      continue;
    }
    const kept: Output[] = [];
    for (const raw of cell.outputs) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        continue; // the server drops these too
      }
      const output = capOutput(raw);
      const size = JSON.stringify(output).length + 1;
      if (size <= left) {
        kept.push(output);
        left -= size;
      }
    }
    cell.outputs = kept;
  }
}

/** The longest head of `text` within `max` UTF-16 units that ends between code points. */
export function headWithin(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  const end = max > 0 && isHigh(text.charCodeAt(max - 1)) && isLow(text.charCodeAt(max)) ? max - 1 : max;
  return text.slice(0, end);
}
