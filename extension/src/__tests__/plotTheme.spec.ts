/**
 * Plot series colours come from the theme, and no two series share one: JupyterLab's light
 * theme gives its accent and success colours the same green, which drew two of four curves
 * of a comparison alike.
 */
import { plotConfig, SERIES } from '../plots/theme';

// The values of JupyterLab 4's light theme (theme-light-extension) for these variables.
const LIGHT: { [name: string]: string } = {
  '--jp-brand-color1': '#1976d2',
  '--jp-warn-color1': '#f57c00',
  '--jp-success-color1': '#388e3c',
  '--jp-accent-color1': '#388e3c',
  '--jp-error-color1': '#d32f2f',
  '--jp-info-color1': '#0097a7',
  '--md-purple-500': '#9c27b0',
  '--md-brown-500': '#795548',
  '--md-pink-300': '#f06292'
};

describe('plot series colours', () => {
  beforeEach(() => {
    for (const [name, value] of Object.entries(LIGHT)) {
      document.body.style.setProperty(name, value);
    }
  });

  afterEach(() => {
    document.body.removeAttribute('style');
  });

  it('are theme variables, each a different colour in the light theme', () => {
    const colours = (plotConfig().range as { category: string[] }).category;
    expect(colours).toHaveLength(SERIES.length);
    expect(colours.every(c => c.startsWith('#'))).toBe(true);
    expect(new Set(colours).size).toBe(colours.length);
  });
});
