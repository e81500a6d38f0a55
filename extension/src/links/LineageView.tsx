/**
 * The lineage of a model version as a small graph in the panel: dataset versions -> notebook
 * snapshot (with its parameters) -> job (ranks, resources, duration, final state) -> the
 * version. Each node is a link; a node deleted since reads "(deleted)", and one that is another
 * user's (their job, its snapshot, their private dataset) is plain text saying so, with no more
 * than the server shows of it.
 *
 * The server returns the chain this draws (`GET /models/{name}/versions/{v}/lineage`): every
 * edge goes from one layer to the next, so layers stacked top to bottom with arrows between
 * them show it whole in the width of the sidebar.
 */
import * as React from 'react';

import { useLoad } from '../models/common';
import { formatBytes, formatNumber, plural } from '../panel/format';
import { getLineage, IJobResources, ILineageGraph, ILineageNode, short } from './api';
import { EntityLink, HiddenEntity } from './links';

/** Layers from the sources down to the version. */
const LAYERS: ReadonlyArray<ReadonlyArray<ILineageNode['kind']>> = [
  ['dataset'],
  ['snapshot', 'notebook'],
  ['job'],
  ['model_version']
];

export function layersOf(graph: ILineageGraph): ILineageNode[][] {
  return LAYERS.map(kinds => graph.nodes.filter(node => kinds.includes(node.kind))).filter(
    layer => layer.length > 0
  );
}

/** `lr=0.5, epochs=7`. */
export function describeParameters(parameters: { [name: string]: unknown } | undefined): string {
  return Object.entries(parameters ?? {})
    .map(
      ([name, value]) =>
        `${name}=${typeof value === 'number' ? formatNumber(value) : JSON.stringify(value)}`
    )
    .join(', ');
}

/** `2 ranks · 1 CPU · 2 GiB · 1 GPU (A100) per rank`. */
export function describeResources(resources: IJobResources | undefined, ranks?: number): string {
  const parts: string[] = [];
  if (ranks !== undefined) {
    parts.push(plural(ranks, 'rank'));
  }
  if (resources) {
    const each: string[] = [];
    if (resources.cpus !== null) {
      each.push(plural(resources.cpus, 'CPU'));
    }
    if (resources.memory !== null) {
      each.push(formatBytes(resources.memory));
    }
    if (resources.gpus > 0) {
      each.push(
        plural(resources.gpus, 'GPU') + (resources.gpu_type ? ` (${resources.gpu_type})` : '')
      );
    }
    if (each.length) {
      parts.push(`${each.join(', ')} per rank`);
    }
  }
  return parts.join(' · ');
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '';
  }
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 90 * 60) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The lines under a node's title. */
export function nodeDetails(node: ILineageNode): string[] {
  if (node.hidden && node.kind !== 'snapshot') {
    return []; // another user's job or private dataset: nothing more to say
  }
  switch (node.kind) {
    case 'dataset': {
      const version = node.version
        ? `version ${short(String(node.version))}`
        : 'version not recorded';
      const moved =
        node.exists && node.version && !node.current && node.current_version
          ? `pinned now: ${short(node.current_version)}`
          : '';
      return [version, moved].filter(Boolean);
    }
    case 'snapshot':
    case 'notebook':
      return [
        node.kind === 'snapshot'
          ? `snapshot ${short(node.sha256 ?? '')}`
          : 'notebook (no snapshot)',
        describeParameters(node.parameters)
      ].filter(Boolean);
    case 'job':
      if (!node.exists) {
        return [];
      }
      return [
        [node.status?.toLowerCase(), formatDuration(node.duration_seconds)]
          .filter(Boolean)
          .join(' · '),
        describeResources(node.resources, node.ranks)
      ].filter(Boolean);
    case 'model_version':
      return [
        Object.entries(node.metrics ?? {})
          .map(([name, value]) => `${name} ${formatNumber(value)}`)
          .join(', '),
        (node.aliases ?? []).join(', ')
      ].filter(Boolean);
  }
}

const KIND_LABELS: { [K in ILineageNode['kind']]: string } = {
  dataset: 'Dataset',
  snapshot: 'Notebook snapshot',
  notebook: 'Notebook',
  job: 'Job',
  model_version: 'Model version'
};

function NodeTitle(props: { node: ILineageNode; current: boolean }): JSX.Element {
  const { node } = props;
  const name = `${KIND_LABELS[node.kind]} ${node.label}`;
  const text = <span className="labrig-LineageNode-title">{node.label}</span>;
  if (props.current) {
    return <span aria-current="true">{text}</span>;
  }
  if (node.hidden) {
    return (
      <HiddenEntity note={node.kind === 'snapshot' ? "(another user's job)" : undefined}>
        {text}
      </HiddenEntity>
    );
  }
  switch (node.kind) {
    case 'dataset':
      return (
        <EntityLink
          exists={node.exists}
          label={`Open dataset ${node.label}`}
          open={l => l.openDataset(node.name ?? node.label)}
        >
          {text}
        </EntityLink>
      );
    case 'snapshot':
      return (
        <EntityLink
          exists={node.exists}
          label={`Open the notebook snapshot of ${node.label} read-only`}
          open={l =>
            l.openSnapshot(node.sha256 as string, {
              notebookPath: node.notebook_path,
              parameters: node.parameters
            })
          }
        >
          {text}
        </EntityLink>
      );
    case 'notebook':
      return (
        <EntityLink
          exists={node.exists}
          label={`Open notebook ${node.label}`}
          open={l => l.openNotebook(node.notebook_path as string)}
        >
          {text}
        </EntityLink>
      );
    case 'job':
      return (
        <EntityLink
          exists={node.exists}
          label={`Open job ${node.label}`}
          open={l => l.openJob(node.job_id as string)}
        >
          {text}
        </EntityLink>
      );
    case 'model_version':
      return (
        <EntityLink
          label={name}
          open={l => l.openModelVersion(node.model as string, Number(node.version))}
        >
          {text}
        </EntityLink>
      );
  }
}

/**
 * Arrows from every box of one layer to the (single) box of the next.
 */
function Connector(props: { from: number; label: string }): JSX.Element {
  const { from } = props;
  return (
    <div className="labrig-LineageEdge" aria-hidden="true">
      <svg viewBox="0 0 100 20" preserveAspectRatio="none" className="labrig-LineageEdge-lines">
        {Array.from({ length: from }, (_, i) => (
          <line
            key={i}
            x1={((i + 0.5) / from) * 100}
            y1={0}
            x2={50}
            y2={17}
            vectorEffect="non-scaling-stroke"
          />
        ))}
        <polygon points="47,15 53,15 50,20" />
      </svg>
      <span className="labrig-LineageEdge-label">{props.label}</span>
    </div>
  );
}

/**
 * A lineage graph, drawn; `current` is the node of the view it sits in (not a link).
 */
export function LineageGraphView(props: { graph: ILineageGraph; current?: string }): JSX.Element {
  const { graph } = props;
  const layers = layersOf(graph);
  const labelInto = (target: ILineageNode): string =>
    graph.edges.find(edge => edge.target === target.id)?.label ?? '';
  return (
    <div
      className="labrig-Lineage-graph"
      role="group"
      aria-label={`Lineage of ${graph.model} v${graph.version}`}
      data-testid="labrig-lineage-graph"
    >
      {layers.map((layer, index) => (
        <React.Fragment key={layer[0].id}>
          {index > 0 && <Connector from={layers[index - 1].length} label={labelInto(layer[0])} />}
          <ul className="labrig-LineageLayer" aria-label={KIND_LABELS[layer[0].kind]}>
            {layer.map(node => (
              <li
                key={node.id}
                className={`labrig-LineageNode labrig-LineageNode-${node.kind}${node.exists ? '' : ' labrig-mod-gone'}${node.hidden ? ' labrig-mod-hidden' : ''}`}
                data-testid={`labrig-lineage-${node.kind}`}
              >
                <span className="labrig-LineageNode-kind">{KIND_LABELS[node.kind]}</span>
                <NodeTitle node={node} current={node.id === props.current} />
                {nodeDetails(node).map(line => (
                  <span key={line} className="labrig-LineageNode-detail" title={line}>
                    {line}
                  </span>
                ))}
              </li>
            ))}
          </ul>
        </React.Fragment>
      ))}
    </div>
  );
}

/**
 * Loads and draws the lineage of one version.
 */
export function LineageView(props: { model: string; version: number }): JSX.Element {
  const { value: graph, error } = useLoad(
    () => getLineage(props.model, props.version),
    [props.model, props.version]
  );
  if (error) {
    return (
      <div className="labrig-Error" role="alert">
        {error}
      </div>
    );
  }
  if (!graph) {
    return <p className="labrig-Loading">Reading the lineage…</p>;
  }
  return (
    <LineageGraphView graph={graph} current={`model_version:${props.model}/${props.version}`} />
  );
}
