/**
 * labrig in a real JupyterLab: the sidebar, its sections, the New model form,
 * the Run as job button, themes, and a screenshot of the panel.
 */
import * as fs from 'fs';

import { expect, test } from '@jupyterlab/galata';

import { LabrigPanelPage } from './pages/labrig-panel';

const EMPTY_STATES = {
  resources: "No resource requests yet — request CPU, memory or GPUs for a notebook's kernel",
  datasets: 'No datasets yet — add one with labrig datasets add',
  jobs: 'No jobs yet — open a notebook and click Run as job',
  models: 'No models yet — register one with labrig.models.register() or create one below'
} as const;

// The tests share one server and its labrig state; with one worker they run in file order, so
// the empty-state test sees a fresh registry.
test.describe('labrig', () => {
  test('JupyterLab starts with the labrig plugin and commands', async ({ page }) => {
    const state = await page.evaluate(() => {
      const app = (window as any).jupyterapp;
      return {
        activated: app.isPluginActivated('labrig:plugin'),
        commands: ['labrig:open-panel', 'labrig:run-as-job', 'labrig:refresh'].map(id =>
          app.commands.hasCommand(id)
        )
      };
    });
    expect(state.activated).toBe(true);
    expect(state.commands).toEqual([true, true, true]);

    const panel = new LabrigPanelPage(page);
    await expect(panel.tab).toBeVisible();
  });

  test('the sidebar icon opens the panel with four sections in their empty state', async ({
    page
  }) => {
    const panel = new LabrigPanelPage(page);
    await expect(panel.root).toBeHidden();

    await panel.open();

    await expect(panel.status).toContainText('labrig');
    for (const [id, text] of Object.entries(EMPTY_STATES)) {
      await expect(panel.empty(id as keyof typeof EMPTY_STATES)).toHaveText(text);
    }
    await expect(panel.root.getByRole('alert')).toHaveCount(0);
  });

  test('sections collapse and expand from the keyboard', async ({ page }) => {
    const panel = new LabrigPanelPage(page);
    await panel.open();

    const toggle = panel.toggle('datasets');
    await toggle.focus();
    await page.keyboard.press('Enter');
    await expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await expect(panel.empty('datasets')).toBeHidden();

    await page.keyboard.press('Space');
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await expect(panel.empty('datasets')).toBeVisible();
  });

  test('the palette lists the labrig commands', async ({ page }) => {
    await page.keyboard.press('Control+Shift+c');
    const palette = page.locator('#command-palette');
    await expect(palette).toBeVisible();
    await palette.locator('.lm-CommandPalette-input').fill('labrig');
    for (const label of ['Open labrig Panel', 'Refresh labrig', 'Run Notebook as Job']) {
      await expect(palette.locator('.lm-CommandPalette-item', { hasText: label })).toHaveCount(1);
    }
    await page.keyboard.press('Escape');
  });

  // Runs before the form tests so that the screenshot shows only these two models (the README's
  // screenshot comes from the end-to-end scenario, e2e.spec.ts).
  test('screenshot of the panel', async ({ page }, testInfo) => {
    const notebook = {
      cells: [
        {
          cell_type: 'code',
          execution_count: null,
          metadata: { tags: ['parameters'] },
          outputs: [],
          source: 'lr = 3e-4\nepochs = 10\nbatch_size = 256'
        },
        {
          cell_type: 'code',
          execution_count: null,
          metadata: {},
          outputs: [],
          source: 'import labrig\ntrain_dir = labrig.datasets.path("imagenet-mini")'
        }
      ],
      metadata: {
        kernelspec: { display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' }
      },
      nbformat: 4,
      nbformat_minor: 5
    };
    expect(await page.contents.uploadContent(JSON.stringify(notebook), 'text', 'train.ipynb')).toBe(
      true
    );
    for (const [name, description] of [
      ['resnet50-imagenet', 'ResNet-50 baseline on ImageNet-mini'],
      ['vit-small-patch16', 'ViT-S/16 fine-tuned on the demo set']
    ]) {
      const response = await page.request.post('/labrig/api/v1/models', {
        data: { name, description }
      });
      expect([201, 409]).toContain(response.status());
    }

    // At the server root (not in the test's folder), so the panel shows a short path.
    await page.evaluate(async () => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', { path: 'train.ipynb' });
    });
    await expect(page.locator('.jp-NotebookPanel .jp-Cell')).toHaveCount(2);
    await page.locator('.jp-NotebookPanel-toolbar .labrig-run-as-job').click();
    const panel = new LabrigPanelPage(page);
    await panel.open();
    await panel.root.getByRole('button', { name: 'Refresh' }).click();
    await expect(panel.model('vit-small-patch16')).toBeVisible();
    await expect(panel.selectedNotebook).toContainText('Selected notebook: train.ipynb');
    await page.mouse.move(900, 700);

    const panelShot = testInfo.outputPath('labrig-panel.png');
    const appShot = testInfo.outputPath('labrig-app.png');
    await panel.root.screenshot({ path: panelShot });
    await page.screenshot({ path: appShot });
    await testInfo.attach('labrig-panel', { path: panelShot, contentType: 'image/png' });
    await testInfo.attach('labrig-app', { path: appShot, contentType: 'image/png' });
    expect(fs.statSync(appShot).size).toBeGreaterThan(10000);
  });

  test('New model creates a model that appears in the list', async ({ page }) => {
    const panel = new LabrigPanelPage(page);
    await panel.open();

    const name = `resnet50-${Date.now()}`;
    await panel.submitNewModel(name, 'ImageNet baseline');

    await expect(panel.model(name)).toBeVisible();
    await expect(panel.model(name)).toContainText('ImageNet baseline');
    await expect(panel.section('models').getByRole('status')).toHaveText(`Created model ${name}.`);
    await expect(panel.empty('models')).toHaveCount(0);
    await expect(panel.newModelForm).toBeHidden();
  });

  test("a bad model name shows the server's message in the form", async ({ page }) => {
    const panel = new LabrigPanelPage(page);
    await panel.open();
    const badName = 'bad name!';

    // What the server itself says about this name.
    const response = await page.request.post('/labrig/api/v1/models', { data: { name: badName } });
    expect(response.status()).toBe(400);
    const body = await response.json();
    expect(typeof body.message).toBe('string');

    await panel.submitNewModel(badName);

    const alert = panel.newModelForm.getByRole('alert');
    await expect(alert).toHaveText(body.message);
    await expect(panel.newModelForm.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  });

  test('an existing model name shows the conflict message', async ({ page }) => {
    const panel = new LabrigPanelPage(page);
    await panel.open();
    const name = `dup-${Date.now()}`;
    await panel.submitNewModel(name);
    await expect(panel.model(name)).toBeVisible();

    await panel.submitNewModel(name);

    const alert = panel.newModelForm.getByRole('alert');
    await expect(alert).toBeVisible();
    await expect(alert).toContainText(name);
    await expect(alert).not.toContainText('{');
  });

  test('a notebook has a Run as job button that selects it in the Jobs section', async ({
    page,
    tmpPath
  }) => {
    const name = 'train.ipynb';
    await page.notebook.createNew(name);

    const button = page.locator('.jp-NotebookPanel-toolbar .labrig-run-as-job');
    await expect(button).toBeVisible();
    await expect(button).toContainText('Run as job');

    await button.click();

    const panel = new LabrigPanelPage(page);
    await expect(panel.root).toBeVisible();
    await expect(panel.toggle('jobs')).toHaveAttribute('aria-expanded', 'true');
    await expect(panel.selectedNotebook).toContainText(`Selected notebook: ${name}`);
    await expect(panel.selectedNotebook.locator('strong')).toHaveAttribute(
      'title',
      `${tmpPath}/${name}`
    );
  });

  test('the panel follows the dark theme', async ({ page }) => {
    const panel = new LabrigPanelPage(page);
    await panel.open();
    const background = () => panel.root.evaluate(node => getComputedStyle(node).backgroundColor);
    const light = await background();

    await page.theme.setDarkTheme();
    await panel.open();
    const dark = await background();

    expect(dark).not.toBe(light);
    await panel.root.screenshot({ path: test.info().outputPath('labrig-panel-dark.png') });
    await page.theme.setLightTheme();
  });
});
