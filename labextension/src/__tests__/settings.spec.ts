import { APIError } from '../shared/api';
import { describeError } from '../shared/errorNotice';
import schema from '../../schema/settings.json';
import { DEFAULT_SETTINGS, parseSettings, tokenLimit } from '../shared/settings';

describe('parseSettings', () => {
  it('gives the defaults for nothing', () => {
    expect(parseSettings(null)).toEqual(DEFAULT_SETTINGS);
  });

  it('has the defaults the settings page declares', () => {
    const declared = Object.fromEntries(
      Object.entries(schema.properties as Record<string, { default: unknown }>).map(([k, v]) => [k, v.default])
    );
    expect(declared).toEqual(DEFAULT_SETTINGS);
  });

  it('keeps valid values and drops hand-edited wrong ones', () => {
    const parsed = parseSettings({
      ghostText: { enabled: false, requestDelay: -5, maxTokens: 'many', disabledLanguages: ['markdown'] },
      nextEdit: 'off',
      fix: { showButton: false }
    });
    expect(parsed.ghostText).toEqual({
      ...DEFAULT_SETTINGS.ghostText,
      enabled: false,
      disabledLanguages: ['markdown']
    });
    expect(parsed.nextEdit).toEqual(DEFAULT_SETTINGS.nextEdit);
    expect(parsed.fix.showButton).toBe(false);
  });
});

describe('edit and fix limits', () => {
  it('reads them from the settings page, 0 by default (the server decides)', () => {
    expect(DEFAULT_SETTINGS.edit.maxTokens).toBe(0);
    expect(DEFAULT_SETTINGS.fix.maxTokens).toBe(0);
    const parsed = parseSettings({ edit: { maxTokens: 300 }, fix: { maxTokens: 64, showButton: false } });
    expect(parsed.edit.maxTokens).toBe(300);
    expect(parsed.fix).toEqual({ showButton: false, maxTokens: 64 });
  });

  it('sends a limit only when one is set', () => {
    expect(tokenLimit(0)).toEqual({});
    expect(tokenLimit(300)).toEqual({ max_tokens: 300 });
    expect(tokenLimit(12.7)).toEqual({ max_tokens: 12 }); // the server takes integers
  });
});

describe('describeError', () => {
  it('says what to do when the server is gone', () => {
    const advice = describeError(new TypeError('Failed to fetch'));
    expect(advice.message).toBe('The Jupyter server cannot be reached.');
    expect(advice.hint).toMatch(/jupyter lab is still running/);
    expect(advice.retryable).toBe(true);
  });

  it('points a failed load to the status panel', () => {
    const advice = describeError(new APIError(503, 'The model failed to load: boom'));
    expect(advice.hint).toMatch(/status/);
  });

  it('does not offer Retry for a rejected request', () => {
    expect(describeError(new APIError(400, 'bad')).retryable).toBe(false);
  });
});
