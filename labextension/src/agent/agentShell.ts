// Cells auto-run never runs: shell escapes and magics that reach outside the kernel.

// `!cmd`, `%pip`/`%conda` (line magics that install), `%%bash`/`%%sh`/`%%script`/
// `%%system` cell magics, `%system`/`%sx`, and `x = !cmd` captures, on any line.
const SHELL = /^\s*(?:!|%{1,2}(?:pip|conda|mamba|bash|sh|script|system|sx|writefile|run|load)\b|[\w.,\s]+=\s*!)/m;

/** True when `source` holds a shell escape: auto-run never runs such a cell. */
export function isShellEscape(source: string): boolean {
  return SHELL.test(source);
}
