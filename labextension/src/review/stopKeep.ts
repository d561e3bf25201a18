// A rewrite stopped part-way (Esc, Stop): what Accept may write. The model rewrites a
// cell top to bottom, so what it did not reach is the original's tail: kept as it was,
// never shown as deleted. Pure: no DOM, no editor.

/** Line pairs past this are aligned greedily (the exact table would be too big). */
const MAX_TABLE = 4_000_000;

/** The last (original line, generated line) pair of a longest common subsequence. */
function lastMatch(orig: string[], gen: string[]): [number, number] | null {
  const n = orig.length;
  const m = gen.length;
  if (n * m > MAX_TABLE) {
    // Greedy: each generated line matches the next equal original line, if any.
    let i = 0;
    let last: [number, number] | null = null;
    for (let j = 0; j < m; j++) {
      const k = orig.indexOf(gen[j], i);
      if (k >= 0) {
        last = [k, j];
        i = k + 1;
      }
    }
    return last;
  }
  // suffix table: t[i][j] = LCS of orig[i:] and gen[j:]; then walk it from the start.
  const t: Uint32Array[] = [];
  for (let i = 0; i <= n; i++) {
    t.push(new Uint32Array(m + 1));
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i][j] = orig[i] === gen[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  let last: [number, number] | null = null;
  while (i < n && j < m) {
    if (orig[i] === gen[j]) {
      last = [i, j];
      i++;
      j++;
    } else if (t[i + 1][j] >= t[i][j + 1]) {
      i++;
    } else {
      j++;
    }
  }
  return last;
}

/**
 * The cell after a stopped rewrite: the generated lines, then the original lines the
 * generation had not reached. The last generated line may be cut mid-way, so it is left
 * out (the original line stays). Generated lines after the last one that matches an
 * original line replace as many original lines (a rewrite in progress); nothing
 * generated: the original, unchanged. Keeps the original's trailing newline.
 */
export function keepUnreached(partial: string, original: string): string {
  const newline = original.endsWith('\n');
  const origBody = newline ? original.slice(0, -1) : original;
  const orig = origBody.split('\n');
  const body = partial.replace(/\n+$/, '');
  const gen = body === '' ? [] : body.split('\n');
  gen.pop(); // possibly cut short
  if (gen.length === 0) {
    return original;
  }
  const match = lastMatch(orig, gen);
  const reached = match ? match[0] + 1 + (gen.length - 1 - match[1]) : gen.length;
  const lines = [...gen, ...orig.slice(Math.min(reached, orig.length))];
  return lines.join('\n') + (newline ? '\n' : '');
}
