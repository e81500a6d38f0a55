/**
 * Plot colours and fonts from JupyterLab's `--jp-*` variables, so plots follow the light, dark
 * and high-contrast themes, and a hook that re-renders when the theme changes.
 */
import * as React from 'react';

/**
 * Categorical colours of the series, as theme variables. Each must differ from the others in
 * both themes: JupyterLab's accent colours are its success colours (green), so they are not
 * used; the Material palette's variables fill in after the five semantic ones.
 */
export const SERIES = [
  '--jp-brand-color1',
  '--jp-warn-color1',
  '--jp-success-color1',
  '--jp-error-color1',
  '--md-purple-500',
  '--jp-info-color1',
  '--md-brown-500',
  '--md-pink-300'
];

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/**
 * The Vega config for the current theme (read at render time: the variables are resolved
 * colours there, which Vega needs).
 */
export function plotConfig(): { [key: string]: unknown } {
  const text = cssVar('--jp-ui-font-color1', 'currentColor');
  const muted = cssVar('--jp-ui-font-color2', text);
  const grid = cssVar('--jp-border-color2', muted);
  const font = cssVar('--jp-ui-font-family', 'sans-serif');
  return {
    background: 'transparent',
    font,
    axis: {
      labelColor: muted,
      titleColor: text,
      domainColor: grid,
      tickColor: grid,
      gridColor: grid,
      labelFont: font,
      titleFont: font,
      titleFontWeight: 'normal'
    },
    legend: { labelColor: text, titleColor: text, labelFont: font, titleFont: font },
    title: { color: text, font },
    view: { stroke: 'transparent' },
    range: { category: SERIES.map(name => cssVar(name, text)) }
  };
}

/**
 * A value that changes whenever JupyterLab switches theme (it sets `data-jp-theme-name` on
 * the body), so plots drawn with theme colours are drawn again.
 */
export function useThemeKey(): string {
  const read = (): string =>
    `${document.body.dataset.jpThemeName ?? ''}/${document.body.dataset.jpThemeLight ?? ''}`;
  const [key, setKey] = React.useState(read);
  React.useEffect(() => {
    const observer = new MutationObserver(() => setKey(read()));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => observer.disconnect();
  }, []);
  return key;
}
