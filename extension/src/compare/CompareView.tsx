/**
 * Two jobs or two model versions side by side: the parameters that differ, the metrics with
 * their change, and the curves logged with `labrig.log_metric` overlaid in one plot.
 */
import * as React from 'react';

import { EntityLink } from '../links/links';
import { formatNumber } from '../panel/format';
import { curvesSpec, jobCurves } from '../plots/specs';
import { VegaPlot } from '../plots/VegaPlot';
import { toLabrigError } from '../request';
import { diffRows, ISide, metricDelta } from './data';

function show(value: unknown): string {
  if (value === undefined) {
    return '–';
  }
  return typeof value === 'number' ? formatNumber(value) : JSON.stringify(value);
}

function SideLink(props: { side: ISide }): JSX.Element {
  const { side } = props;
  if (side.kind === 'job' && side.jobId) {
    return (
      <EntityLink label={`Open job ${side.title}`} open={l => l.openJob(side.jobId as string)}>
        {side.title}
      </EntityLink>
    );
  }
  return (
    <EntityLink
      label={`Open ${side.title}`}
      open={l => l.openModelVersion(side.model as string, side.version as number)}
    >
      {side.title}
    </EntityLink>
  );
}

function DiffTable(props: {
  caption: string;
  a: ISide;
  b: ISide;
  rows: ReturnType<typeof diffRows>;
  delta?: boolean;
  testId: string;
}): JSX.Element {
  const { a, b, rows } = props;
  return (
    <table className="labrig-CompareTable" data-testid={props.testId}>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">{a.title}</th>
          <th scope="col">{b.title}</th>
          {props.delta && <th scope="col">Change</th>}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={props.delta ? 4 : 3} className="labrig-Muted">
              none on either side
            </td>
          </tr>
        )}
        {rows.map(row => (
          <tr
            key={row.key}
            className={row.changed ? 'labrig-mod-changed' : undefined}
            data-testid="labrig-compare-row"
          >
            <th scope="row">
              {row.key}
              {row.changed && <span className="labrig-VisuallyHidden"> (differs)</span>}
            </th>
            <td>{show(row.a)}</td>
            <td>{show(row.b)}</td>
            {props.delta && (
              <td className="labrig-Number">
                {metricDelta(row.a as number | undefined, row.b as number | undefined)}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function CompareView(props: { load: () => Promise<[ISide, ISide]> }): JSX.Element {
  const [sides, setSides] = React.useState<[ISide, ISide] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [metric, setMetric] = React.useState<string | null>(null);
  const { load } = props;

  React.useEffect(() => {
    let live = true;
    load().then(
      value => live && setSides(value),
      reason => live && setError(toLabrigError(reason).message)
    );
    return () => {
      live = false;
    };
  }, [load]);

  if (error) {
    return (
      <div className="labrig-CompareView labrig-Error" role="alert">
        {error}
      </div>
    );
  }
  if (!sides) {
    return <div className="labrig-CompareView labrig-Loading">Reading both sides…</div>;
  }
  const [a, b] = sides;
  const names = [...new Set([...Object.keys(a.curves), ...Object.keys(b.curves)])].sort();
  const plotted = metric && names.includes(metric) ? metric : (names[0] ?? null);
  const points = plotted
    ? [
        ...jobCurves(a.curves[plotted] ?? [], a.title),
        ...jobCurves(b.curves[plotted] ?? [], b.title)
      ]
    : [];
  return (
    <div className="labrig-CompareView" data-testid="labrig-compare">
      <h3>
        <SideLink side={a} /> <span className="labrig-Muted">vs</span> <SideLink side={b} />
      </h3>
      <DiffTable
        caption="Parameters"
        a={a}
        b={b}
        rows={diffRows(a.parameters, b.parameters)}
        testId="labrig-compare-parameters"
      />
      <DiffTable
        caption="Metrics"
        a={a}
        b={b}
        rows={diffRows(a.metrics, b.metrics)}
        delta
        testId="labrig-compare-metrics"
      />
      <h4>Curves</h4>
      {plotted ? (
        <>
          <label>
            Metric{' '}
            <select
              value={plotted}
              onChange={event => setMetric(event.target.value)}
              aria-label="Metric to overlay"
            >
              {names.map(name => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <VegaPlot
            spec={curvesSpec(plotted, points, 220)}
            label={`${plotted} over steps: ${a.title} and ${b.title} overlaid`}
            testId="labrig-compare-plot"
          />
        </>
      ) : (
        <p className="labrig-Muted">Neither side logged metric curves with labrig.log_metric.</p>
      )}
      {[a, b]
        .filter(side => side.curvesNote)
        .map(side => (
          <p key={side.title} className="labrig-Muted">
            {side.title}: {side.curvesNote}
          </p>
        ))}
    </div>
  );
}
