/**
 * The links of the running application: each checks that its target exists, then opens it in
 * the panel (a dataset, a model version) or the main area (a job, a snapshot, a comparison, a
 * notebook), and says "… was deleted" instead when it is gone.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';

import { getDatasetInfo } from '../datasets/api';
import { createCompareWidget } from '../compare/widget';
import { ISide, loadJobSide, loadVersionSide } from '../compare/data';
import { getJobDetail } from '../jobs/api';
import { LabrigModel } from '../model';
import { getVersion } from '../models/api';
import { getSnapshot, short } from './api';
import { checkTarget, ILabrigLinks, ISnapshotContext, LinkOutcome } from './links';
import { createSnapshotWidget, ISnapshotServices } from './SnapshotView';
import { toLabrigError } from '../request';

export interface INavigatorOptions {
  app: JupyterFrontEnd;
  model: LabrigModel;
  /** The DOM id of the labrig sidebar. */
  panelId: string;
  /** Opens a job's live view (`JobsUI.openJob`). */
  openJobView: (id: string) => void;
  snapshots: ISnapshotServices;
}

export class LabrigNavigator implements ILabrigLinks {
  constructor(options: INavigatorOptions) {
    this._options = options;
  }

  async openJob(id: string): Promise<LinkOutcome> {
    const gone = await checkTarget(() => getJobDetail(id), `job ${short(id)} was deleted`);
    if (!gone) {
      this._options.openJobView(id);
    }
    return gone;
  }

  async openDataset(name: string): Promise<LinkOutcome> {
    const gone = await checkTarget(() => getDatasetInfo(name), `dataset ${name} was deleted`);
    if (!gone) {
      this._options.model.revealDataset(name);
      this._showPanel();
    }
    return gone;
  }

  async openModelVersion(model: string, version: number): Promise<LinkOutcome> {
    const gone = await checkTarget(
      () => getVersion(model, version),
      `${model} v${version} was deleted`
    );
    if (!gone) {
      this._options.model.showModels({ model, version });
      this._showPanel();
    }
    return gone;
  }

  async openSnapshot(sha256: string, context: ISnapshotContext = {}): Promise<LinkOutcome> {
    let snapshot;
    try {
      snapshot = await getSnapshot(sha256);
    } catch (reason) {
      // The server's 404 says why: "notebook snapshot 1a2b3c4d… was deleted: ...".
      return toLabrigError(reason).message;
    }
    const widget = createSnapshotWidget(snapshot, context, this._options.snapshots, this);
    // A tab beside the others, not a split: a notebook needs the width.
    this._options.app.shell.add(widget, 'main');
    this._options.app.shell.activateById(widget.id);
    return null;
  }

  async openNotebook(path: string): Promise<LinkOutcome> {
    const { app } = this._options;
    try {
      await app.serviceManager.contents.get(path, { content: false });
    } catch (reason) {
      const status = (reason as { response?: { status?: number } }).response?.status;
      return status === 404 ? `${path} was deleted or moved` : toLabrigError(reason).message;
    }
    await app.commands.execute('docmanager:open', { path });
    return null;
  }

  async compareJobs(a: string, b: string): Promise<LinkOutcome> {
    for (const id of [a, b]) {
      const gone = await checkTarget(() => getJobDetail(id), `job ${short(id)} was deleted`);
      if (gone) {
        return gone;
      }
    }
    return this._compare(
      `labrig-compare-jobs-${a}-${b}`,
      `Compare jobs ${short(a)} and ${short(b)}`,
      () => Promise.all([loadJobSide(a), loadJobSide(b)])
    );
  }

  async compareVersions(model: string, a: number, b: number): Promise<LinkOutcome> {
    const [first, second] = a < b ? [a, b] : [b, a];
    return this._compare(
      `labrig-compare-${model}-${first}-${second}`,
      `Compare ${model} v${first} and v${second}`,
      () => Promise.all([loadVersionSide(model, first), loadVersionSide(model, second)])
    );
  }

  private _compare(id: string, title: string, load: () => Promise<[ISide, ISide]>): LinkOutcome {
    const { shell } = this._options.app;
    // A comparison opened again reads both sides again.
    Array.from(shell.widgets('main'))
      .filter(existing => existing.id === id)
      .forEach(existing => existing.dispose());
    shell.add(createCompareWidget(id, title, load, this), 'main');
    shell.activateById(id);
    return null;
  }

  private _showPanel(): void {
    this._options.app.shell.activateById(this._options.panelId);
  }

  private _options: INavigatorOptions;
}
