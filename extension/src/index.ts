/**
 * labrig: the JupyterLab side of the ML research workspace.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';

import { labrigIcon, runJobIcon } from './icons';
import { JobsUI } from './jobs/widgets';
import { LabrigNavigator } from './links/navigator';
import { LabrigModel } from './model';
import { addRegisterModelCommand } from './models/commands';
import { TransitionNotifier } from './notifications';
import { LabrigPanel, PANEL_ID } from './panel/LabrigPanel';
import { watchKernelStops } from './resources/stopNotice';

export { LabrigAPIError, requestAPI } from './request';
export * from './api';
export { LabrigModel } from './model';
export { LabrigPanel, PANEL_ID } from './panel/LabrigPanel';

/**
 * The plugin id; also the id of its settings (`extension/schema/plugin.json`).
 */
export const PLUGIN_ID = 'labrig:plugin';

/**
 * Command ids.
 */
export namespace CommandIDs {
  export const openPanel = 'labrig:open-panel';
  export const runAsJob = 'labrig:run-as-job';
  export const runFileAsJob = 'labrig:run-file-as-job';
  export const refresh = 'labrig:refresh';
  export const openJob = 'labrig:open-job';
  export const openModelVersion = 'labrig:open-model-version';
  export const openSnapshot = 'labrig:open-snapshot';
  export const compare = 'labrig:compare';
}

/**
 * Start the kernel of the open notebook at `path` again: a restart when it has one, else a new
 * kernel of its preferred kind (after a start that was given up).
 */
async function restartNotebookKernel(
  notebooks: INotebookTracker | null,
  path: string
): Promise<void> {
  const panel = notebooks?.find(widget => widget.context.path === path);
  if (!panel) {
    throw new Error(`${path} is not open`);
  }
  const session = panel.sessionContext;
  if (session.session?.kernel) {
    await session.restartKernel();
  } else {
    await session.changeKernel({ name: session.kernelPreference.name });
  }
}

/**
 * The palette category of labrig's commands.
 */
export const PALETTE_CATEGORY = 'labrig';

/**
 * Adds a "Run as job" button to every notebook's toolbar.
 */
export class RunAsJobButtonExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(commands: CommandRegistry) {
    this._commands = commands;
  }

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'labrig-run-as-job',
      icon: runJobIcon,
      label: 'Run as job',
      tooltip: 'Run this notebook as a training job (labrig)',
      onClick: () => {
        void this._commands.execute(CommandIDs.runAsJob, { path: panel.context.path });
      }
    });
    if (!panel.toolbar.insertAfter('cellType', 'labrigRunAsJob', button)) {
      panel.toolbar.insertItem(10, 'labrigRunAsJob', button);
    }
    return button;
  }

  private _commands: CommandRegistry;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'labrig side panel, commands and the Run as job notebook button.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    ISettingRegistry,
    IDefaultFileBrowser,
    IRenderMimeRegistry,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    fileBrowser: IDefaultFileBrowser | null,
    rendermime: IRenderMimeRegistry | null,
    editorServices: IEditorServices | null
  ): void => {
    const { commands, shell } = app;
    const model = new LabrigModel();
    const jobsUI = new JobsUI(app, () => void model.refresh());
    const links = new LabrigNavigator({
      app,
      model,
      panelId: PANEL_ID,
      openJobView: id => jobsUI.openJob(id),
      snapshots: { rendermime, editorServices }
    });
    jobsUI.links = links;
    new TransitionNotifier(model, links);
    const panel = new LabrigPanel(model, {
      onOpenJob: id => jobsUI.openJob(id),
      onRestartKernel: path => restartNotebookKernel(notebooks, path),
      links
    });
    shell.add(panel, 'left', { rank: 200 });
    if (restorer) {
      restorer.add(panel, 'labrig-panel');
    }
    void model.start();

    const currentNotebookPath = (args: { path?: unknown }): string | null => {
      if (typeof args.path === 'string' && args.path) {
        return args.path;
      }
      const current = notebooks?.currentWidget;
      return current ? current.context.path : null;
    };

    commands.addCommand(CommandIDs.openPanel, {
      label: 'Open labrig Panel',
      caption: 'Show the labrig side panel',
      icon: args => (args.isPalette ? undefined : labrigIcon),
      execute: () => {
        shell.activateById(panel.id);
      }
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh labrig',
      caption: 'Fetch resources, datasets, jobs and models from the server again',
      icon: args => (args.isPalette ? undefined : refreshIcon),
      execute: () => model.refresh()
    });

    commands.addCommand(CommandIDs.runAsJob, {
      label: 'Run Notebook as Job',
      caption: 'Run the current notebook as a (distributed) job with typed parameters',
      icon: args => (args.isPalette ? undefined : runJobIcon),
      isEnabled: args => currentNotebookPath(args) !== null,
      execute: args => {
        const path = currentNotebookPath(args);
        if (!path) {
          return;
        }
        model.selectNotebook(path);
        model.setExpanded('jobs', true);
        shell.activateById(panel.id);
        jobsUI.openRunForm(path);
      }
    });

    // Cross-links as commands, so the palette, other extensions and tests can follow them too.
    const say = (outcome: string | null): string | null => {
      if (outcome) {
        Notification.warning(outcome, { autoClose: 5000 });
      }
      return outcome;
    };
    commands.addCommand(CommandIDs.openJob, {
      label: 'Open labrig Job',
      execute: args => links.openJob(String(args.id)).then(say)
    });
    commands.addCommand(CommandIDs.openModelVersion, {
      label: 'Open labrig Model Version',
      execute: args => links.openModelVersion(String(args.model), Number(args.version)).then(say)
    });
    commands.addCommand(CommandIDs.openSnapshot, {
      label: 'Open Notebook Snapshot (read-only)',
      execute: args => links.openSnapshot(String(args.sha256)).then(say)
    });
    commands.addCommand(CommandIDs.compare, {
      label: 'Compare Two labrig Jobs or Model Versions',
      execute: args => {
        const ids = (args.jobs ?? []) as string[];
        const versions = (args.versions ?? []) as number[];
        const outcome =
          ids.length === 2
            ? links.compareJobs(ids[0], ids[1])
            : links.compareVersions(String(args.model), Number(versions[0]), Number(versions[1]));
        return outcome.then(say);
      }
    });

    if (fileBrowser) {
      const selectedNotebook = (): string | null => {
        const item = fileBrowser.selectedItems().next();
        return item && !item.done && item.value.type === 'notebook' ? item.value.path : null;
      };
      commands.addCommand(CommandIDs.runFileAsJob, {
        label: 'Run as Job',
        caption: 'Run the selected notebook as a (distributed) job with typed parameters',
        icon: runJobIcon,
        isVisible: () => selectedNotebook() !== null,
        execute: () => {
          const path = selectedNotebook();
          return path ? commands.execute(CommandIDs.runAsJob, { path }) : undefined;
        }
      });
      app.contextMenu.addItem({
        command: CommandIDs.runFileAsJob,
        selector: '.jp-DirListing-item[data-file-type="notebook"]',
        rank: 3
      });
    }

    if (notebooks) {
      const focus = (): void => {
        model.setFocusedNotebook(notebooks.currentWidget?.context.path ?? null);
      };
      notebooks.currentChanged.connect(() => {
        commands.notifyCommandChanged(CommandIDs.runAsJob);
        focus();
      });
      focus();
      notebooks.widgetAdded.connect((_, notebook) => void watchKernelStops(notebook));
    }

    if (palette) {
      for (const command of [CommandIDs.openPanel, CommandIDs.refresh, CommandIDs.runAsJob]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    app.docRegistry.addWidgetExtension('Notebook', new RunAsJobButtonExtension(commands));
    addRegisterModelCommand(app, model, fileBrowser, palette);

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings): void => {
        const seconds = settings.get('refreshInterval').composite as number;
        if (typeof seconds === 'number' && seconds > 0) {
          model.refreshInterval = seconds * 1000;
        }
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error('labrig: could not load settings', reason);
        });
    }
  }
};

export default plugin;
