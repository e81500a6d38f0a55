/**
 * The jobs section's main-area widgets: the Run-as-job form and the live job view.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { runJobIcon } from '../icons';
import { ILabrigLinks, LinksContext, NO_LINKS } from '../links/links';
import { JobView } from './JobView';
import { RunJobForm } from './RunJobForm';

export class JobsUI {
  constructor(app: JupyterFrontEnd, onChanged: () => void = () => undefined) {
    this._app = app;
    this._onChanged = onChanged;
  }

  /** Where the job view's cross-links lead (set once the application's links exist). */
  links: ILabrigLinks = NO_LINKS;

  /**
   * Open the Run-as-job form for a notebook; on submit it shows the new job.
   */
  openRunForm(path: string): MainAreaWidget {
    const content = ReactWidget.create(
      <RunJobForm
        path={path}
        onSubmitted={result => {
          widget.dispose();
          this._onChanged();
          if (result.job) {
            this.openJob(result.job.id);
          }
        }}
      />
    );
    content.addClass('labrig-JobWidget');
    const widget = new MainAreaWidget({ content });
    widget.id = `labrig-run-job-${Date.now()}`;
    widget.title.label = `Run as job: ${path.split('/').pop()}`;
    widget.title.icon = runJobIcon;
    widget.title.closable = true;
    this._app.shell.add(widget, 'main', { mode: 'split-right' });
    return widget;
  }

  /**
   * Show one job live; re-uses the tab when it is open already.
   */
  openJob(jobId: string): MainAreaWidget {
    const id = `labrig-job-${jobId}`;
    for (const existing of this._app.shell.widgets('main')) {
      if (existing.id === id) {
        this._app.shell.activateById(id);
        return existing as MainAreaWidget;
      }
    }
    const content = ReactWidget.create(
      <LinksContext.Provider value={this.links}>
        <JobView
          jobId={jobId}
          onOpenNotebook={path => void this._app.commands.execute('docmanager:open', { path })}
          onOpenJob={other => {
            this._onChanged();
            this.openJob(other);
          }}
          onDeleted={() => {
            widget.dispose();
            this._onChanged();
          }}
        />
      </LinksContext.Provider>
    );
    content.addClass('labrig-JobWidget');
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.title.label = `Job ${jobId}`;
    widget.title.icon = runJobIcon;
    widget.title.closable = true;
    this._app.shell.add(widget, 'main', { mode: 'split-right' });
    return widget;
  }

  private _app: JupyterFrontEnd;
  private _onChanged: () => void;
}
