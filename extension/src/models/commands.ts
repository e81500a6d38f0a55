/**
 * The "Register as model" command, in the file browser's context menu and the palette.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';

import { LabrigModel } from '../model';
import { showRegisterDialog } from './RegisterDialog';

export const REGISTER_MODEL_COMMAND = 'labrig:register-model';

/**
 * The path of the first selected item in the file browser, or null.
 */
function selectedPath(fileBrowser: IDefaultFileBrowser | null): string | null {
  if (!fileBrowser) {
    return null;
  }
  const first = fileBrowser.selectedItems().next();
  return first && !first.done ? first.value.path : null;
}

export function addRegisterModelCommand(
  app: JupyterFrontEnd,
  model: LabrigModel,
  fileBrowser: IDefaultFileBrowser | null,
  palette: ICommandPalette | null
): void {
  const pathOf = (args: { path?: unknown }): string | null =>
    typeof args.path === 'string' && args.path ? args.path : selectedPath(fileBrowser);

  app.commands.addCommand(REGISTER_MODEL_COMMAND, {
    label: 'Register as Model',
    caption: 'Register the selected file or folder as a new model version (labrig)',
    isEnabled: args => pathOf(args) !== null,
    execute: async args => {
      const path = pathOf(args);
      if (!path) {
        return null;
      }
      const names = model.section('models').items.map(item => item.name);
      const version = await showRegisterDialog(path, names);
      if (version) {
        await model.refreshSection('models');
      }
      return version;
    }
  });
  app.contextMenu.addItem({
    command: REGISTER_MODEL_COMMAND,
    selector: '.jp-DirListing-item[data-isdir]',
    rank: 12
  });
  palette?.addItem({ command: REGISTER_MODEL_COMMAND, category: 'labrig' });
}
