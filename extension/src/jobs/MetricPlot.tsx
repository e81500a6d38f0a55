/**
 * One metric of the live job view, one line per rank, with its latest value.
 */
import * as React from 'react';

import { formatNumber } from '../panel/format';
import { curvesSpec, jobCurves } from '../plots/specs';
import { VegaPlot } from '../plots/VegaPlot';
import { IMetricPoint } from './api';

export function MetricPlot(props: { name: string; points: IMetricPoint[] }): JSX.Element {
  const { name, points } = props;
  const last = points[points.length - 1];
  const ranks = new Set(points.map(p => p.rank)).size;
  return (
    <div className="labrig-MetricPlot" data-testid="labrig-metric-plot">
      <div className="labrig-MetricPlot-title">
        {name}
        {last ? ` = ${formatNumber(last.value)}` : ''}
      </div>
      <VegaPlot
        spec={curvesSpec(name, jobCurves(points))}
        label={`${name} over steps, ${ranks === 1 ? 'one rank' : `${ranks} ranks`}`}
      />
    </div>
  );
}
