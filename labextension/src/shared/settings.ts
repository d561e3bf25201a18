// The "Jupyter Assist" settings page (schema/settings.json), read once into a
// store every feature can consult without depending on the settings registry.
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

/** The plugin whose schema is the settings page (schema/settings.json). */
export const SETTINGS_PLUGIN_ID = 'jupyter-assist:settings';

export interface IGhostTextSettings {
  enabled: boolean;
  /** The one delay (ms) from the last key press to the model starting to answer. */
  requestDelay: number;
  /** 0: the server's completion_max_tokens. */
  maxTokens: number;
  disabledLanguages: string[];
  /** Seconds after an accept at which local telemetry checks the text survived. */
  survivalDelay: number;
}

export interface INextEditSettings {
  enabled: boolean;
  /** Which key accepts a proposal ('Tab' or 'shortcut': only the explicit shortcut). */
  acceptKey: string;
  /** 0: the server's next_edit_max_tokens. */
  maxTokens: number;
}

export interface IAssistSettings {
  ghostText: IGhostTextSettings;
  nextEdit: INextEditSettings;
  /** maxTokens 0: twice the cell plus 64 (the server clips any limit to the model's window). */
  edit: { maxTokens: number };
  fix: { showButton: boolean; maxTokens: number };
  /** maxTokens 0: the server's chat_max_tokens. */
  chat: { maxTokens: number };
  warm: { enabled: boolean };
}

export const DEFAULT_SETTINGS: IAssistSettings = {
  ghostText: {
    enabled: true,
    requestDelay: 150,
    maxTokens: 0,
    disabledLanguages: [],
    survivalDelay: 180
  },
  nextEdit: { enabled: true, acceptKey: 'Tab', maxTokens: 0 },
  edit: { maxTokens: 0 },
  fix: { showButton: true, maxTokens: 0 },
  chat: { maxTokens: 0 },
  warm: { enabled: true }
};

/** The `max_tokens` of a request body for a settings page limit (0: none sent). */
export function tokenLimit(maxTokens: number): { max_tokens?: number } {
  return maxTokens > 0 ? { max_tokens: Math.floor(maxTokens) } : {};
}

type Section = Record<string, unknown>;

/** `raw`'s value of `key` when it has the default's type (numbers: finite, >= 0). */
function pick<T>(raw: Section | undefined, key: string, fallback: T): T {
  const value = raw?.[key];
  if (typeof fallback === 'number') {
    return (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback) as T;
  }
  if (Array.isArray(fallback)) {
    return (Array.isArray(value) ? value.map(String) : fallback) as T;
  }
  return (typeof value === typeof fallback ? value : fallback) as T;
}

/** Composite settings (possibly partial or hand-edited) over the defaults. */
export function parseSettings(composite: ReadonlyPartialJSONObject | null | undefined): IAssistSettings {
  const out: Record<string, Section> = {};
  for (const [name, defaults] of Object.entries(DEFAULT_SETTINGS)) {
    const raw = composite?.[name];
    const section = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Section) : undefined;
    const parsed: Section = {};
    for (const [key, fallback] of Object.entries(defaults as Section)) {
      parsed[key] = pick(section, key, fallback);
    }
    out[name] = parsed;
  }
  return out as unknown as IAssistSettings;
}

/** The current settings and a signal when they change (the settings page, a toggle). */
class SettingsStore {
  get current(): IAssistSettings {
    return this._current;
  }

  get changed(): Signal<this, IAssistSettings> {
    return this._changed;
  }

  update(composite: ReadonlyPartialJSONObject | null | undefined): void {
    this._current = parseSettings(composite);
    this._changed.emit(this._current);
  }

  private _current: IAssistSettings = parseSettings(null);
  private _changed = new Signal<this, IAssistSettings>(this);
}

export const assistSettings = new SettingsStore();
