/**
 * A small SVG line plot of one metric (one line per rank), for the live job view.
 */
import * as React from 'react';

import { IMetricPoint } from './api';

const W = 260;
const H = 90;
const PAD = 4;

export function metricPaths(points: IMetricPoint[]): { rank: number; d: string }[] {
  if (!points.length) {
    return [];
  }
  const xs = points.map((p, i) => (p.step ?? i) as number);
  const ys = points.map(p => p.value);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * PAD);
  const sy = (y: number) => H - PAD - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * PAD);
  const byRank = new Map<number, string[]>();
  points.forEach((p, i) => {
    const parts = byRank.get(p.rank) ?? [];
    parts.push(`${parts.length ? 'L' : 'M'}${sx(xs[i]).toFixed(1)},${sy(p.value).toFixed(1)}`);
    byRank.set(p.rank, parts);
  });
  return [...byRank.entries()].map(([rank, parts]) => ({ rank, d: parts.join(' ') }));
}

export function MetricPlot(props: { name: string; points: IMetricPoint[] }): JSX.Element {
  const last = props.points[props.points.length - 1];
  return (
    <figure className="labrig-MetricPlot" data-testid="labrig-metric-plot">
      <figcaption>
        {props.name}
        {last ? ` = ${last.value.toPrecision(4)}` : ''}
      </figcaption>
      <svg width={W} height={H} role="img" aria-label={`${props.name} over steps`}>
        {metricPaths(props.points).map(({ rank, d }) => (
          <path
            key={rank}
            d={d}
            fill="none"
            stroke={`var(--jp-brand-color${rank % 4})`}
            strokeWidth={1.5}
          />
        ))}
      </svg>
    </figure>
  );
}
