import { APIError } from '../shared/api';
import { describeError } from '../shared/errorNotice';
import schema from '../../schema/settings.json';
import { DEFAULT_SETTINGS, parseSettings } from '../shared/settings';

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
