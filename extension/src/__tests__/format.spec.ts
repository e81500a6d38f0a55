import { formatAbsolute, formatRelative } from '../panel/format';

describe('time formatting', () => {
  it('reads like JupyterLab: relative in words, absolute for tooltips', () => {
    const threeMinutesAgo = new Date(Date.now() - 3 * 60 * 1000 - 500).toISOString();
    expect(formatRelative(threeMinutesAgo)).toBe('3 minutes ago');
    expect(formatRelative(new Date(Date.now() + 2 * 3600 * 1000 + 5000).toISOString())).toBe(
      'in 2 hours'
    );
    expect(formatAbsolute('2024-01-02T03:04:00Z')).toMatch(/\d/);
    expect(formatRelative(null)).toBe('');
    expect(formatAbsolute('not a date')).toBe('');
  });

  it('builds one Intl formatter per language, not one per call', () => {
    const relative = jest.spyOn(Intl, 'RelativeTimeFormat');
    const absolute = jest.spyOn(Intl, 'DateTimeFormat');
    const when = new Date(Date.now() - 60 * 60 * 1000).toISOString();
    for (let i = 0; i < 50; i++) {
      formatRelative(when);
      formatAbsolute(when);
    }
    // At most one each (none when an earlier test already built them).
    expect(relative.mock.calls.length).toBeLessThanOrEqual(1);
    expect(absolute.mock.calls.length).toBeLessThanOrEqual(1);
    relative.mockRestore();
    absolute.mockRestore();
  });
});
