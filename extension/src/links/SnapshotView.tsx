/**
 * A job's notebook snapshot, opened read-only in the main area: a header saying what it is
 * (notebook, hash, the parameters it ran with, the jobs that ran it) above the notebook itself,
 * rendered by JupyterLab's own notebook widget with every cell read-only, untrusted and no kernel.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import * as nbformat from '@jupyterlab/nbformat';
import { NotebookModel, NotebookPanel, StaticNotebook } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import * as React from 'react';

import { basename } from '../panel/format';
import { ISnapshot, short } from './api';
import { describeParameters } from './LineageView';
import { EntityLink, ILabrigLinks, ISnapshotContext, LinksContext } from './links';

export function SnapshotHeader(props: {
  snapshot: ISnapshot;
  context: ISnapshotContext;
}): JSX.Element {
  const { snapshot, context } = props;
  const path = context.notebookPath ?? snapshot.notebook_path;
  const job = context.jobId ? snapshot.jobs.find(j => j.id === context.jobId) : undefined;
  const parameters = context.parameters ?? job?.parameters ?? snapshot.jobs[0]?.parameters ?? {};
  const text = describeParameters(parameters);
  return (
    <div className="labrig-SnapshotHeader" data-testid="labrig-snapshot-header">
      <p>
        <strong>{path ? basename(path) : 'Notebook'}</strong> as its job ran it · snapshot{' '}
        <code title={snapshot.sha256}>{short(snapshot.sha256, 12)}</code> ·{' '}
        <span className="labrig-Tag">read-only</span>
      </p>
      <p data-testid="labrig-snapshot-parameters">
        Parameters: {text || <span className="labrig-Muted">the notebook&apos;s defaults</span>}
      </p>
      {snapshot.jobs.length > 0 && (
        <p>
          Ran as{' '}
          {snapshot.jobs.slice(0, 5).map((j, index) => (
            <React.Fragment key={j.id}>
              {index > 0 && ', '}
              <EntityLink label={`Open job ${j.name} (${j.id})`} open={l => l.openJob(j.id)}>
                {j.name} ({short(j.id)})
              </EntityLink>
            </React.Fragment>
          ))}
          {snapshot.jobs.length > 5 && ` and ${snapshot.jobs.length - 5} more`}
        </p>
      )}
    </div>
  );
}

/**
 * The cells as plain read-only text, where JupyterLab's notebook widget is not available.
 */
export function SnapshotCells(props: { notebook: ISnapshot['notebook'] }): JSX.Element {
  const cells = props.notebook.cells as Array<{ cell_type: string; source: string | string[] }>;
  return (
    <ol className="labrig-SnapshotCells" aria-label="Cells">
      {cells.map((cell, index) => (
        <li key={index} className={`labrig-SnapshotCell labrig-mod-${cell.cell_type}`}>
          <pre>{Array.isArray(cell.source) ? cell.source.join('') : cell.source}</pre>
        </li>
      ))}
    </ol>
  );
}

export interface ISnapshotServices {
  rendermime: IRenderMimeRegistry | null;
  editorServices: IEditorServices | null;
}

/**
 * The snapshot's JSON with every cell untrusted. A snapshot is the bytes someone submitted,
 * read back raw (not through the contents API, which checks a notebook's signature): a cell
 * whose metadata says `trusted: true` would otherwise have its HTML outputs rendered unsanitised
 * and their scripts run in the browser of whoever opens the snapshot. Untrusted, JupyterLab
 * sanitises HTML and Markdown and runs no JavaScript output.
 */
export function untrustedNotebook(notebook: ISnapshot['notebook']): nbformat.INotebookContent {
  const cells = (notebook.cells as Array<{ metadata?: { [key: string]: unknown } }>).map(cell => {
    const metadata = { ...(cell.metadata ?? {}) };
    delete metadata.trusted;
    return { ...cell, metadata };
  });
  return { ...notebook, cells } as unknown as nbformat.INotebookContent;
}

function notebookWidget(notebook: ISnapshot['notebook'], services: ISnapshotServices): Widget {
  const { rendermime, editorServices } = services;
  if (!rendermime || !editorServices) {
    return ReactWidget.create(<SnapshotCells notebook={notebook} />);
  }
  const model = new NotebookModel();
  model.fromJSON(untrustedNotebook(notebook));
  const readOnly = { readOnly: true };
  const view = new StaticNotebook({
    rendermime,
    mimeTypeService: editorServices.mimeTypeService,
    contentFactory: new NotebookPanel.ContentFactory({
      editorFactory: editorServices.factoryService.newInlineEditor
    }),
    editorConfig: { code: readOnly, markdown: readOnly, raw: readOnly },
    notebookConfig: { ...StaticNotebook.defaultNotebookConfig, windowingMode: 'none' }
  });
  view.model = model;
  view.widgets.forEach(cell => {
    cell.readOnly = true;
  });
  view.disposed.connect(() => model.dispose());
  view.addClass('labrig-SnapshotNotebook');
  return view;
}

/**
 * The main-area widget of one snapshot.
 */
export function createSnapshotWidget(
  snapshot: ISnapshot,
  context: ISnapshotContext,
  services: ISnapshotServices,
  links: ILabrigLinks
): MainAreaWidget {
  const content = new Panel();
  content.addClass('labrig-SnapshotView');
  content.addWidget(
    ReactWidget.create(
      <LinksContext.Provider value={links}>
        <SnapshotHeader snapshot={snapshot} context={context} />
      </LinksContext.Provider>
    )
  );
  content.addWidget(notebookWidget(snapshot.notebook, services));
  const widget = new MainAreaWidget({ content });
  const path = context.notebookPath ?? snapshot.notebook_path;
  widget.id = `labrig-snapshot-${snapshot.sha256.slice(0, 16)}-${Date.now()}`;
  widget.title.label = `${path ? basename(path) : 'notebook'} @ ${short(snapshot.sha256)} (read-only)`;
  widget.title.caption = `Snapshot ${snapshot.sha256} of ${path ?? 'a notebook'}, read-only`;
  widget.title.closable = true;
  return widget;
}
