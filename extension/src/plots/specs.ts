/**
 * Vega-Lite specifications of labrig's plots, built from plain data so they can be tested
 * without drawing: metric curves (one line per series) and a metric across model versions.
 *
 * What users name (metrics, runs) travels as data only, never as a title: the Vega-Lite that
 * JupyterLab ships (5.6) splices field titles unescaped into the expressions of tooltips and
 * ARIA descriptions, so a metric named with a `"` broke the plot, and a crafted name could
 * rewrite the expression. The views name the metric above each plot.
 */
import type { VisualizationSpec } from 'vega-embed';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** One point of a curve: `series` names its line ("rank 0", "v3", "job a (rank 1)"). */
export interface ICurvePoint {
  series: string;
  step: number;
  value: number;
}

/** Lines with more points than this are drawn without point markers. */
const MAX_MARKED = 60;

/**
 * Curves of one metric over steps, one line per series, with a legend when there are several.
 */
export function curvesSpec(
  metric: string,
  points: ReadonlyArray<ICurvePoint>,
  height = 140
): VisualizationSpec {
  const series = new Set(points.map(p => p.series));
  const perLine = points.length / Math.max(1, series.size);
  return {
    $schema: SCHEMA,
    description: `${metric} over steps` + (series.size > 1 ? `, ${[...series].join(' vs ')}` : ''),
    width: 'container',
    height,
    autosize: { type: 'fit', contains: 'padding' },
    data: { values: points.map(p => ({ ...p, metric })) },
    mark: { type: 'line', point: perLine <= MAX_MARKED, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: 'value', scale: { zero: false } },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        legend: series.size > 1 ? { orient: 'bottom', direction: 'horizontal' } : null
      },
      tooltip: [
        { field: 'metric', type: 'nominal', title: 'metric' },
        { field: 'series', type: 'nominal', title: 'series' },
        { field: 'step', type: 'quantitative', title: 'step' },
        { field: 'value', type: 'quantitative', title: 'value' }
      ]
    }
  } as VisualizationSpec;
}

/**
 * One metric across a model's versions (x: version number), with a point per version.
 */
export function versionsSpec(
  metric: string,
  points: ReadonlyArray<{ version: number; value: number }>,
  height = 120
): VisualizationSpec {
  const sorted = [...points].sort((a, b) => a.version - b.version);
  return {
    $schema: SCHEMA,
    description: sorted.length
      ? `${metric} across versions ${sorted[0].version} to ${sorted[sorted.length - 1].version}`
      : `${metric} across versions`,
    width: 'container',
    height,
    autosize: { type: 'fit', contains: 'padding' },
    data: { values: sorted.map(p => ({ version: p.version, value: p.value, metric })) },
    mark: { type: 'line', point: true },
    encoding: {
      // Ordinal: one tick per version, never "v1.5".
      x: {
        field: 'version',
        type: 'ordinal',
        title: 'version',
        axis: { labelExpr: "'v' + datum.value", labelAngle: 0, labelOverlap: true }
      },
      y: { field: 'value', type: 'quantitative', title: 'value', scale: { zero: false } },
      tooltip: [
        { field: 'metric', type: 'nominal', title: 'metric' },
        { field: 'version', type: 'ordinal', title: 'version' },
        { field: 'value', type: 'quantitative', title: 'value' }
      ]
    }
  } as VisualizationSpec;
}

/**
 * The metric points a job logged, as curves: by rank within one job; `run` prefixes the series
 * when curves of several runs share one plot.
 */
export function jobCurves(
  points: ReadonlyArray<{ step: number | null; value: number; rank: number }>,
  run?: string
): ICurvePoint[] {
  const ranks = new Set(points.map(p => p.rank));
  const counters = new Map<number, number>();
  return points.map(p => {
    // A point logged without a step is placed after the previous one of its rank.
    const index = counters.get(p.rank) ?? 0;
    counters.set(p.rank, index + 1);
    const rank = `rank ${p.rank}`;
    const series = run ? (ranks.size > 1 ? `${run} (${rank})` : run) : rank;
    return { series, step: p.step ?? index, value: p.value };
  });
}
