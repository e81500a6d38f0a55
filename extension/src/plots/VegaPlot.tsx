/**
 * A Vega-Lite plot drawn with vega-embed, the renderer JupyterLab itself ships (the package is
 * shared with JupyterLab, not bundled twice). Themed from `--jp-*` variables and redrawn when
 * the theme changes; the drawing is torn down on unmount.
 */
import * as React from 'react';
import type { VisualizationSpec } from 'vega-embed';

import { plotConfig, useThemeKey } from './theme';

export interface IVegaPlotProps {
  spec: VisualizationSpec;
  /** The plot's accessible name (what it shows, in words). */
  label: string;
  testId?: string;
  className?: string;
}

export function VegaPlot(props: IVegaPlotProps): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const theme = useThemeKey();
  const [error, setError] = React.useState<string | null>(null);
  // Redraw only when what is drawn changes, not on every render of the parent.
  const specText = JSON.stringify(props.spec);

  React.useEffect(() => {
    const element = host.current;
    if (!element) {
      return;
    }
    let live = true;
    let finalize: (() => void) | null = null;
    const spec = { ...JSON.parse(specText), config: plotConfig() } as VisualizationSpec;
    import('vega-embed')
      .then(({ default: embed }) =>
        embed(element, spec, { renderer: 'svg', actions: false, tooltip: { theme: 'custom' } })
      )
      .then(result => {
        if (live) {
          finalize = () => result.finalize();
          setError(null);
        } else {
          result.finalize();
        }
      })
      .catch(reason => {
        if (live) {
          setError(reason instanceof Error ? reason.message : String(reason));
        }
      });
    return () => {
      live = false;
      finalize?.();
    };
  }, [specText, theme]);

  return (
    <figure
      className={`labrig-Plot${props.className ? ` ${props.className}` : ''}`}
      data-testid={props.testId}
    >
      <div ref={host} className="labrig-Plot-canvas" role="img" aria-label={props.label} />
      {error && (
        <figcaption className="labrig-Error-inline" role="status">
          The plot could not be drawn: {error}
        </figcaption>
      )}
    </figure>
  );
}
