import * as React from 'react';

import { IModelVersion } from './api';

const WIDTH = 260;
const HEIGHT = 120;
const PAD = 24;

/**
 * A small SVG line plot of one metric across versions (x: version number, y: value).
 */
export function MetricPlot(props: {
  versions: ReadonlyArray<IModelVersion>;
  metric: string;
}): JSX.Element {
  const points = props.versions
    .filter(v => typeof v.metrics[props.metric] === 'number')
    .map(v => ({ x: v.version, y: v.metrics[props.metric] }))
    .sort((a, b) => a.x - b.x);
  if (points.length === 0) {
    return <p className="labrig-empty">No version has {props.metric}.</p>;
  }
  const xs = points.map(p => p.x);
  const ys = points.map(p => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (WIDTH - 2 * PAD);
  const sy = (y: number) =>
    HEIGHT - PAD - (y1 === y0 ? 0.5 : (y - y0) / (y1 - y0)) * (HEIGHT - 2 * PAD);
  const line = points.map(p => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
  return (
    <svg
      className="labrig-MetricPlot"
      data-testid="labrig-metric-plot"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`${props.metric} across versions ${x0} to ${x1}`}
    >
      <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} className="labrig-Axis" />
      <line x1={PAD} y1={PAD} x2={PAD} y2={HEIGHT - PAD} className="labrig-Axis" />
      <text x={PAD} y={HEIGHT - 6} className="labrig-AxisLabel">
        v{x0}
      </text>
      <text x={WIDTH - PAD} y={HEIGHT - 6} textAnchor="end" className="labrig-AxisLabel">
        v{x1}
      </text>
      <text x={2} y={PAD - 6} className="labrig-AxisLabel">
        {formatNumber(y1)}
      </text>
      <text x={2} y={HEIGHT - PAD + 12} className="labrig-AxisLabel">
        {y1 === y0 ? '' : formatNumber(y0)}
      </text>
      <polyline points={line} className="labrig-PlotLine" fill="none" />
      {points.map(p => (
        <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={3} className="labrig-PlotPoint">
          <title>{`v${p.x}: ${formatNumber(p.y)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) {
    return String(value);
  }
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.001
    ? value.toExponential(2)
    : value.toPrecision(4).replace(/0+$/, '').replace(/\.$/, '');
}
