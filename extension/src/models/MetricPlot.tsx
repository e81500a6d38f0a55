/**
 * One metric across a model's versions (x: version number, y: value).
 */
import * as React from 'react';

import { formatNumber } from '../panel/format';
import { versionsSpec } from '../plots/specs';
import { VegaPlot } from '../plots/VegaPlot';
import { IModelVersion } from './api';

export { formatNumber };

export function MetricPlot(props: {
  versions: ReadonlyArray<IModelVersion>;
  metric: string;
}): JSX.Element {
  const points = props.versions
    .filter(v => typeof v.metrics[props.metric] === 'number')
    .map(v => ({ version: v.version, value: v.metrics[props.metric] }));
  if (points.length === 0) {
    return <p className="labrig-empty">No version has {props.metric}.</p>;
  }
  const spec = versionsSpec(props.metric, points);
  return (
    <VegaPlot
      spec={spec}
      label={(spec as { description: string }).description}
      testId="labrig-metric-plot"
      className="labrig-MetricPlot"
    />
  );
}
